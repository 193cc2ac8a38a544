"""SQLite, the embedded default, holds a small team: people signing in, refreshing tokens and writing
through the API at the same moment, on gunicorn with two worker processes, never get a 500 "database is
locked" (config/settings.py: IMMEDIATE write transactions, WAL, a busy timeout)."""

import json
import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.server import platform_process

PEOPLE = 8
ROUNDS = 4
PASSWORD = "a long shared test password 42"

SET_UP_PEOPLE = f"""
import json
from accounts.auth.jwt import issue_tokens
from accounts.models import Member, Organization, User
org = Organization.objects.get()
people = []
for n in range({PEOPLE}):
    user = User.objects.create_user(email=f"dev{{n}}@server-tests.example", password={PASSWORD!r})
    member = Member.unscoped.create(organization=org, user=user, role="developer")
    _, refresh = issue_tokens(member, livemode=False)
    people.append({{"email": user.email, "refresh": refresh}})
print(json.dumps(people))
"""


def _csrf(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def _person_works(server, person, start):
    """One person's rounds of everything that writes: statuses seen, in order."""
    statuses = []
    key = {"Authorization": f"Bearer {server.org['test_key']}"}
    refresh = person["refresh"]
    with httpx.Client(base_url=server.url, timeout=60) as http:
        start.wait()
        for n in range(ROUNDS):
            rotated = http.post("/api/v1/auth/token/refresh", json={"refresh": refresh})
            statuses.append(("refresh", rotated.status_code))
            if rotated.status_code == 200:
                refresh = rotated.json()["refresh"]
            signed_in = http.post("/api/v1/auth/token", json={
                "email": person["email"], "password": PASSWORD, "organization": server.org["organization"]})
            statuses.append(("jwt sign-in", signed_in.status_code))
            created = http.post("/api/v1/connectors", headers=key, json={
                "name": f"{person['email']} {n}", "type": "csv", "config": {"delimiter": ","}})
            statuses.append(("api write", created.status_code))
            page = http.get("/login")
            posted = http.post("/login", data={"email": person["email"], "password": PASSWORD,
                                               "csrfmiddlewaretoken": _csrf(page.text)},
                               headers={"Referer": f"{server.url}/login"})
            statuses.append(("browser sign-in", posted.status_code))
            http.cookies.clear()
    return statuses


def test_concurrent_writers_on_sqlite_get_no_server_errors(tmp_path):
    rates = {"OPENPAAS_RATE_SIGN_IN": "100000/m", "OPENPAAS_RATE_PER_CREDENTIAL": "100000/s",
             "OPENPAAS_RATE_PER_ORGANIZATION": "100000/s"}
    with platform_process(tmp_path, workers=2, threads=4, **rates) as server:
        people = json.loads(server.shell(SET_UP_PEOPLE))
        start = threading.Barrier(PEOPLE)
        with ThreadPoolExecutor(PEOPLE) as pool:
            results = list(pool.map(lambda person: _person_works(server, person, start), people))
        log = server.log.read_text()

    seen = [entry for statuses in results for entry in statuses]
    failures = [entry for entry in seen if entry[1] >= 500]
    assert not failures, f"{len(failures)} server errors: {failures[:10]}\n{log[-3000:]}"
    expected = {"refresh": {200}, "jwt sign-in": {200}, "api write": {201}, "browser sign-in": {302}}
    assert all(status in expected[what] for what, status in seen), seen
    assert "database is locked" not in log
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        created = db.execute("SELECT count(*) FROM connectors_connector").fetchone()[0]
    assert created == PEOPLE * ROUNDS
