"""`make bench`: what authentication costs on a list request.

Creates a fresh PostgreSQL database, loads organizations with connectors, members and API keys,
serves the platform with gunicorn, then times GET /api/v1/connectors with an sk_live_ key against
/bench/baseline/connectors (the same view without authentication, permissions or throttling),
interleaved over keep-alive connections. Prints auth_list_p50_ratio and auth_list_p99_ratio.
"""

import base64
import http.client
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
DB_NAME = os.environ.get("BENCH_DB", "openpaas_bench")
REDIS_URL = "redis://127.0.0.1:6379/14"

ORGANIZATIONS = 50
CONNECTORS_PER_MODE = 200
WARMUP = 200  # request pairs not measured
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))  # measured requests of each kind

os.environ.update(
    DJANGO_SETTINGS_MODULE="bench.settings",
    DATABASE_URL=f"{PG_SERVER}/{DB_NAME}",
    REDIS_URL=REDIS_URL,
    DEBUG="0",
    LOG_LEVEL="WARNING",
    # Both given, so nothing is generated in (or read from) the developer's state directory.
    SECRET_KEY=secrets.token_urlsafe(50),
    OPENPAAS_MASTER_KEY=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="),
)
sys.path.insert(0, str(ROOT))


def recreate_database(drop_only=False):
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def load_data():
    """Organizations with four members (Admin, Developer, Viewer, Service), five API keys and
    CONNECTORS_PER_MODE connectors in each mode. Returns [(organization id, sk_live_ key)]."""
    from django.contrib.auth.hashers import make_password
    from django.db import connections

    from accounts import scopes
    from accounts.models import Member, Organization, User
    from accounts.services import create_api_key
    from connectors.models import Connector

    orgs = Organization.objects.bulk_create(Organization(name=f"Bench org {i}") for i in range(ORGANIZATIONS))
    human_roles = ["admin", "developer", "viewer"]
    users = User.objects.bulk_create(
        User(email=f"{role}{i}@bench.example", password=make_password(None))  # unusable: no Argon2 cost
        for i in range(ORGANIZATIONS) for role in human_roles
    )
    members = []
    for i, org in enumerate(orgs):
        members += [Member(organization=org, user=users[i * 3 + j], role=role) for j, role in enumerate(human_roles)]
        members.append(Member(organization=org, name="Sync service", role="service", granted_scopes=["connectors:read"]))
    members = Member.objects.bulk_create(members)

    read_write = ["connectors:read", "connectors:write", "data:read"]
    admin_scopes = sorted(scopes.ROLES_BY_ID["admin"].scopes)
    bench_keys = []
    for i, org in enumerate(orgs):
        admin, developer, viewer, service = members[i * 4:i * 4 + 4]
        for member, livemode, key_scopes in [(admin, True, admin_scopes), (admin, False, admin_scopes),
                                             (developer, False, read_write), (viewer, True, ["connectors:read"]),
                                             (service, True, ["connectors:read"])]:
            create_api_key(member=member, livemode=livemode, name="Bench key", scopes=key_scopes)
        _, secret = create_api_key(member=developer, livemode=True, name="Bench live key", scopes=read_write)
        bench_keys.append((org.id, secret))

        connectors = []
        for livemode in (True, False):
            for n in range(CONNECTORS_PER_MODE):
                kind = ("http", "postgresql", "csv")[n % 3]
                config, credentials = {
                    "http": ({"base_url": f"https://api{n}.example.com/v1", "headers": {"X-Tenant": org.id}},
                             {"token": secrets.token_urlsafe(32)}),
                    "postgresql": ({"host": f"db{n}.example.com", "port": 5432, "database": "sales", "user": "reader"},
                                   {"password": secrets.token_urlsafe(24)}),
                    "csv": ({"delimiter": ","}, None),
                }[kind]
                connectors.append(Connector(organization=org, livemode=livemode, name=f"{kind} {n}", type=kind,
                                            config=config, credentials=credentials))
        Connector.objects.bulk_create(connectors, batch_size=500)  # credentials encrypted by the field
    with connections["default"].cursor() as cursor:
        cursor.execute("ANALYZE")
    connections.close_all()
    return bench_keys


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port):
    # One worker, gthread (sync workers close every connection); the client sends one request at a time.
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--worker-class", "gthread", "--threads", "2", "--keep-alive", "120",
         "--no-control-socket", "--log-level", "warning"],
        cwd=ROOT,
    )


def wait_until_serving(server, port, org_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", f"/bench/baseline/connectors?org={org_id}")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer in time")


def timed_get(conn, path, headers):
    start = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
    if response.will_close:
        raise RuntimeError("the server closed the keep-alive connection")
    return elapsed, body


def measure(port, bench_keys):
    """Request pairs for the same organization, cycling through the organizations (so each key stays
    far below its rate limit); which of the two goes first alternates. Returns milliseconds."""
    auth_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    base_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    auth_times, base_times = [], []
    for i in range(WARMUP + REQUESTS):
        org_id, secret = bench_keys[i % len(bench_keys)]
        pair = [(auth_conn, "/api/v1/connectors", {"Authorization": f"Bearer {secret}"}, auth_times),
                (base_conn, f"/bench/baseline/connectors?org={org_id}", {}, base_times)]
        if i % 2:
            pair.reverse()
        bodies = []
        for conn, path, headers, times in pair:
            elapsed, body = timed_get(conn, path, headers)
            bodies.append(body)
            if i >= WARMUP:
                times.append(elapsed * 1000)
        if i < WARMUP and bodies[0] != bodies[1]:
            raise RuntimeError("the baseline does not answer what the API answers")
    auth_conn.close()
    base_conn.close()
    return auth_times, base_times


def percentiles(times_ms):
    cuts = statistics.quantiles(times_ms, n=100, method="inclusive")
    return cuts[49], cuts[98]


def main():
    import django

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the cleanup below runs
    server = None
    try:
        recreate_database()
        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        started = time.monotonic()
        bench_keys = load_data()
        print(f"loaded {ORGANIZATIONS} organizations, {ORGANIZATIONS * CONNECTORS_PER_MODE * 2} connectors "
              f"in {time.monotonic() - started:.1f}s", flush=True)

        port = free_port()
        server = start_gunicorn(port)
        wait_until_serving(server, port, bench_keys[0][0])
        auth_times, base_times = measure(port, bench_keys)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if os.environ.get("BENCH_KEEP_DB") != "1":
            recreate_database(drop_only=True)

    auth_p50, auth_p99 = percentiles(auth_times)
    base_p50, base_p99 = percentiles(base_times)
    print(f"requests={REQUESTS} each, interleaved, after {WARMUP} warm-up pairs")
    print(f"auth_list_p50_ms={auth_p50:.3f}")
    print(f"auth_list_p99_ms={auth_p99:.3f}")
    print(f"baseline_list_p50_ms={base_p50:.3f}")
    print(f"baseline_list_p99_ms={base_p99:.3f}")
    print(f"auth_list_p50_ratio={auth_p50 / base_p50:.3f}")
    print(f"auth_list_p99_ratio={auth_p99 / base_p99:.3f}")


if __name__ == "__main__":
    main()
