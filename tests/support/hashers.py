"""A cheap Argon2 for the test suite: the same algorithm and stored format as production's (tests that
read a stored hash still see ``argon2$argon2id$``), at the lowest cost. Production's hasher costs tens of
milliseconds a password by design, which the suite pays for every person it makes.
tests/accounts/test_passwords.py proves production's settings hash with Django's Argon2 at its cost."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class CheapArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 8  # KiB: Argon2's minimum for one lane
    parallelism = 1
