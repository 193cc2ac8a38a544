"""Static checks on the application code: bandit finds nothing (weak random, SQL built by string
formatting, weak hashes, hard-coded secrets, unsafe deserialization, ...). ASVS 11.5.1, 1.2.4."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ["accounts", "audit", "config", "connectors", "keystore", "webhooks"]


def test_bandit_finds_nothing_in_the_application_code():
    result = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-r", *APPS, "-f", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    report = json.loads(result.stdout)
    findings = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in report["results"]]
    assert findings == []
    assert not report["errors"]
    assert report["metrics"]["_totals"]["loc"] > 1000, "bandit read the code"
