"""The test suite's settings: production's (DEBUG off, every header and policy on), except that the test
client and the live servers speak plain HTTP, so the switch for a test server on plain HTTP is on
(OPENPAAS_HTTPS=false: no redirect to HTTPS, cookies without Secure). tests/security/test_configuration.py
checks what the settings are in production."""

import os

os.environ["OPENPAAS_HTTPS"] = "false"

from config.settings import *  # noqa: E402,F401,F403

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not Django's shared in-memory database: in memory SQLite locks whole tables and never waits
    # for a writer (no busy timeout), so tests where two requests meet would see errors production cannot
    # have. One file per test process (pytest-xdist adds the worker's suffix), deleted at the end.
    import tempfile

    DATABASES["default"]["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), f"openpaas-test-{os.getpid()}.sqlite3")}  # noqa: F405
