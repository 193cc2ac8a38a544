"""The test suite's settings: production's (DEBUG off, every header and policy on), except that the test
client and the live servers speak plain HTTP, so the switch for a test server on plain HTTP is on
(OPENPAAS_HTTPS=false: no redirect to HTTPS, cookies without Secure). tests/security/test_configuration.py
checks what the settings are in production."""

import os

os.environ["OPENPAAS_HTTPS"] = "false"

from config.settings import *  # noqa: E402,F401,F403
