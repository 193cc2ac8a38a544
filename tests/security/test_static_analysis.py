"""Static checks on the application code: bandit finds nothing (weak random, SQL built by string
formatting, weak hashes, hard-coded secrets, unsafe deserialization, ...). ASVS 11.5.1, 1.2.4."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ["accounts", "audit", "config", "connectors", "idempotency", "keystore", "webhooks"]


SETTINGS = "config/settings.py"


def bandit(*args):
    result = subprocess.run([sys.executable, "-m", "bandit", "-q", *args, "-f", "json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    report = json.loads(result.stdout)
    assert not report["errors"]
    return report


def findings(report):
    return [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in report["results"]]


def test_bandit_finds_nothing_in_the_application_code():
    report = bandit("-r", *APPS, "-x", SETTINGS)
    assert findings(report) == []
    assert report["metrics"]["_totals"]["loc"] > 1000, "bandit read the code"


def test_bandit_finds_nothing_in_the_settings_but_token_named_settings():
    # B105 reads every string under a name containing TOKEN as a password; in the settings those are
    # lifetimes and import paths. The secrets come from the environment or the state directory.
    assert findings(bandit("-s", "B105", SETTINGS)) == []
