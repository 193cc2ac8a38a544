"""The test suite's settings: production's (DEBUG off, every header and policy on), except that the test
client and the live servers speak plain HTTP, so the switch for a test server on plain HTTP is on
(OPENPAAS_HTTPS=false: no redirect to HTTPS, cookies without Secure). tests/security/test_configuration.py
checks what the settings are in production."""

import os

os.environ["OPENPAAS_HTTPS"] = "false"

# pytest-xdist: each test process has a Redis database of its own (the next ones after REDIS_URL's), as it
# has a test database of its own: counters per client address (every test is 127.0.0.1) and cache.clear()
# must not reach the other process's tests.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if os.environ.get("REDIS_URL") and _worker.startswith("gw"):
    from urllib.parse import urlsplit, urlunsplit

    _url = urlsplit(os.environ["REDIS_URL"])
    _db = (int(_url.path.strip("/") or 0) + int(_worker[2:])) % 16  # Redis has databases 0 to 15
    os.environ["REDIS_URL"] = urlunsplit(_url._replace(path=f"/{_db}"))

from config.settings import *  # noqa: E402,F401,F403

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not Django's shared in-memory database: in memory SQLite locks whole tables and never waits
    # for a writer (no busy timeout), so tests where two requests meet would see errors production cannot
    # have. One file per test process (pytest-xdist adds the worker's suffix), deleted at the end.
    import tempfile

    DATABASES["default"]["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), f"openpaas-test-{os.getpid()}.sqlite3")}  # noqa: F405

# Production's Argon2 at the lowest cost (tests/support/hashers.py): Argon2 still, so stored hashes read the same.
PASSWORD_HASHERS = ["tests.support.hashers.CheapArgon2PasswordHasher",
                    *(hasher for hasher in PASSWORD_HASHERS if not hasher.endswith(".Argon2PasswordHasher"))]  # noqa: F405
