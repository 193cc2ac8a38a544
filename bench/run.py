"""`make bench`: what authentication costs on a list request, for each kind of bearer credential.

Creates a fresh PostgreSQL database, loads organizations with connectors, members, API keys and a
client-credentials OAuth application, serves the platform with gunicorn, then times GET
/api/v1/connectors with an sk_live_ key, a live-mode JWT and an OAuth access token (oat_, obtained from
POST /oauth/token/) against /bench/baseline/connectors (the same view without authentication,
permissions or throttling) and /bench/floor/connectors (the baseline plus one SHA-256 and one Redis
round trip, what no authentication can avoid), the five interleaved over keep-alive connections. Prints
auth_list_p50_ratio and auth_list_p99_ratio (key / baseline), floor_p50_ratio (floor / baseline),
auth_vs_floor_p50_ratio, jwt_vs_key_p50_ratio and oauth_vs_key_p50_ratio.
"""

import base64
import http.client
import itertools
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
DB_NAME = os.environ.get("BENCH_DB", "openpaas_bench")
REDIS_URL = "redis://127.0.0.1:6379/14"

ORGANIZATIONS = 50
CONNECTORS_PER_MODE = 200
WARMUP = 200  # rounds (one request of each kind) not measured
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))  # measured requests of each kind
# Lifetime of the JWT and OAuth access tokens, set for the server and for this process (which signs
# the JWTs): long enough for any sensible BENCH_REQUESTS; measure() refuses to run past it.
TOKEN_SECONDS = int(os.environ.get("BENCH_TOKEN_SECONDS", "3600"))
KINDS = ("key", "jwt", "oauth", "floor", "baseline")
# Every order of the five kinds, taken in turn: each kind is first, second, third and last equally
# often, and follows each other kind equally often, so noise and connection effects fall on all alike.
ORDERS = list(itertools.permutations(range(len(KINDS))))


def _rsa_private_key_pem():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


os.environ.update(
    DJANGO_SETTINGS_MODULE="bench.settings",
    DATABASE_URL=f"{PG_SERVER}/{DB_NAME}",
    REDIS_URL=REDIS_URL,
    DEBUG="0",
    OPENPAAS_HTTPS="false",  # gunicorn is reached over plain HTTP here (production ends TLS in front of it)
    LOG_LEVEL="WARNING",
    # All given, so nothing is generated in (or read from) the developer's state directory.
    SECRET_KEY=secrets.token_urlsafe(50),
    OPENPAAS_MASTER_KEY=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="),
    OPENPAAS_JWT_SIGNING_KEY=secrets.token_urlsafe(50),  # this process signs, gunicorn verifies
    OPENPAAS_OIDC_RSA_PRIVATE_KEY=_rsa_private_key_pem(),
    OPENPAAS_JWT_ACCESS_SECONDS=str(TOKEN_SECONDS),
    OPENPAAS_OAUTH_ACCESS_TOKEN_SECONDS=str(TOKEN_SECONDS),
)
sys.path.insert(0, str(ROOT))


def recreate_database(drop_only=False):
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


class BenchOrg:
    """One organization's credentials for the run: all live mode, all able to list connectors."""

    def __init__(self, org_id, key, developer_id, oauth_client_id, oauth_client_secret):
        self.org_id = org_id
        self.key = key  # the Developer's sk_live_ key (connectors:read, connectors:write, data:read)
        self.developer_id = developer_id
        self.oauth_client_id = oauth_client_id
        self.oauth_client_secret = oauth_client_secret
        self.jwt = None  # issued once the server is up (issue_jwts), so their lifetime counts from there
        self.oauth = None  # obtained from POST /oauth/token/ (obtain_oauth_tokens)


READ_WRITE = ["connectors:read", "connectors:write", "data:read"]


def load_data():
    """Organizations with four members (Admin, Developer, Viewer, Service), six API keys, a live
    confidential OAuth application with the client credentials grant (which brings its own Service
    member) and CONNECTORS_PER_MODE connectors in each mode. Returns [BenchOrg]."""
    from django.contrib.auth.hashers import make_password
    from django.db import connections

    from core import scopes
    from accounts.models import Member, Organization, User
    from accounts.actions.api_keys import create_api_key
    from accounts.actions.oauth_applications import create_oauth_application
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

    admin_scopes = sorted(scopes.ROLES_BY_ID["admin"].scopes)
    bench_orgs = []
    for i, org in enumerate(orgs):
        admin, developer, viewer, service = members[i * 4:i * 4 + 4]
        for member, livemode, key_scopes in [(admin, True, admin_scopes), (admin, False, admin_scopes),
                                             (developer, False, READ_WRITE), (viewer, True, ["connectors:read"]),
                                             (service, True, ["connectors:read"])]:
            create_api_key(member=member, livemode=livemode, name="Bench key", scopes=key_scopes)
        _, secret = create_api_key(member=developer, livemode=True, name="Bench live key", scopes=READ_WRITE)
        application, client_secret = create_oauth_application(
            organization=org, livemode=True, name="Bench sync", client_type="confidential",
            grant_types=["client-credentials"], redirect_uris=[], allowed_scopes=["connectors:read"],
        )
        bench_orgs.append(BenchOrg(org.id, secret, developer.id, application.client_id, client_secret))

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
    return bench_orgs


def issue_jwts(bench_orgs):
    """A live-mode JWT session for each organization's Developer, with the scopes of their key, so the
    JWT and the key authenticate the same member with the same scopes. Returns the earliest expiry
    (epoch seconds)."""
    from django.db import connections
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.auth.jwt import issue_tokens
    from accounts.models import Member

    developers = Member.unscoped.select_related("organization", "user").in_bulk([b.developer_id for b in bench_orgs])
    for bench in bench_orgs:
        bench.jwt, _ = issue_tokens(developers[bench.developer_id], livemode=True, scopes=READ_WRITE)
    connections.close_all()
    return min(AccessToken(b.jwt)["exp"] for b in bench_orgs)


def obtain_oauth_tokens(port, bench_orgs):
    """An access token for each organization's application, from the token endpoint with the client
    credentials grant (client authenticated with HTTP Basic, RFC 6749 2.3.1). Returns the earliest
    expiry (epoch seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    expiries = []
    for bench in bench_orgs:
        basic = ":".join(urllib.parse.quote(part, safe="") for part in (bench.oauth_client_id, bench.oauth_client_secret))
        asked_at = time.time()
        conn.request("POST", "/oauth/token/", body=urllib.parse.urlencode(
            {"grant_type": "client_credentials", "scope": "connectors:read"}),
            headers={"Authorization": "Basic " + base64.b64encode(basic.encode()).decode(),
                     "Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST /oauth/token/: {response.status} {body[:300]!r}")
        token = json.loads(body)
        if not token["access_token"].startswith("oat_") or token["scope"] != "connectors:read":
            raise RuntimeError(f"unexpected token response {token!r}")
        bench.oauth = token["access_token"]
        expiries.append(asked_at + token["expires_in"])
    conn.close()
    return min(expiries)


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


def measure(port, bench_orgs, tokens_expire_at):
    """Rounds of one request of each kind for the same organization, cycling through the
    organizations (so each credential, and each organization's live budget, stays far below its rate
    limit); the order within a round goes through every permutation in turn. Each kind has its own
    keep-alive connection. Returns {kind: [milliseconds]}."""
    conns = {kind: http.client.HTTPConnection("127.0.0.1", port, timeout=10) for kind in KINDS}
    times = {kind: [] for kind in KINDS}
    for i in range(WARMUP + REQUESTS):
        if time.time() > tokens_expire_at - 5:
            raise RuntimeError("the JWTs or OAuth tokens are about to expire: lower BENCH_REQUESTS or raise "
                               "BENCH_TOKEN_SECONDS")
        bench = bench_orgs[i % len(bench_orgs)]
        requests = {
            "key": ("/api/v1/connectors", {"Authorization": f"Bearer {bench.key}"}),
            "jwt": ("/api/v1/connectors", {"Authorization": f"Bearer {bench.jwt}"}),
            "oauth": ("/api/v1/connectors", {"Authorization": f"Bearer {bench.oauth}"}),
            # The key's header, so the floor hashes as much as the key's authentication does.
            "floor": (f"/bench/floor/connectors?org={bench.org_id}", {"Authorization": f"Bearer {bench.key}"}),
            "baseline": (f"/bench/baseline/connectors?org={bench.org_id}", {}),
        }
        bodies = {}
        for index in ORDERS[i % len(ORDERS)]:
            kind = KINDS[index]
            path, headers = requests[kind]
            elapsed, bodies[kind] = timed_get(conns[kind], path, headers)
            if i >= WARMUP:
                times[kind].append(elapsed * 1000)
        if i < WARMUP and len(set(bodies.values())) != 1:
            different = [kind for kind in KINDS if bodies[kind] != bodies["baseline"]]
            raise RuntimeError(f"the baseline does not answer what the API answers with {different}")
    for conn in conns.values():
        conn.close()
    return times


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
        bench_orgs = load_data()
        print(f"loaded {ORGANIZATIONS} organizations, {ORGANIZATIONS * CONNECTORS_PER_MODE * 2} connectors "
              f"in {time.monotonic() - started:.1f}s", flush=True)

        port = free_port()
        server = start_gunicorn(port)
        wait_until_serving(server, port, bench_orgs[0].org_id)
        started = time.monotonic()
        tokens_expire_at = min(issue_jwts(bench_orgs), obtain_oauth_tokens(port, bench_orgs))
        print(f"issued {len(bench_orgs)} JWTs and obtained {len(bench_orgs)} OAuth tokens (POST /oauth/token/) "
              f"in {time.monotonic() - started:.1f}s; the first expires in {tokens_expire_at - time.time():.0f}s",
              flush=True)
        started = time.monotonic()
        times = measure(port, bench_orgs, tokens_expire_at)
        measured_seconds = time.monotonic() - started
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if os.environ.get("BENCH_KEEP_DB") != "1":
            recreate_database(drop_only=True)

    p50, p99 = {}, {}
    for kind in KINDS:
        p50[kind], p99[kind] = percentiles(times[kind])
    print(f"requests={REQUESTS} of each kind ({', '.join(KINDS)}), interleaved, after {WARMUP} "
          f"warm-up rounds, in {measured_seconds:.1f}s")
    print(f"auth_list_p50_ms={p50['key']:.3f}")
    print(f"auth_list_p99_ms={p99['key']:.3f}")
    print(f"jwt_list_p50_ms={p50['jwt']:.3f}")
    print(f"jwt_list_p99_ms={p99['jwt']:.3f}")
    print(f"oauth_list_p50_ms={p50['oauth']:.3f}")
    print(f"oauth_list_p99_ms={p99['oauth']:.3f}")
    print(f"floor_list_p50_ms={p50['floor']:.3f}")
    print(f"floor_list_p99_ms={p99['floor']:.3f}")
    print(f"baseline_list_p50_ms={p50['baseline']:.3f}")
    print(f"baseline_list_p99_ms={p99['baseline']:.3f}")
    print(f"auth_list_p50_ratio={p50['key'] / p50['baseline']:.3f}")
    print(f"auth_list_p99_ratio={p99['key'] / p99['baseline']:.3f}")
    print(f"floor_p50_ratio={p50['floor'] / p50['baseline']:.3f}")
    print(f"auth_vs_floor_p50_ratio={p50['key'] / p50['floor']:.3f}")
    print(f"jwt_vs_key_p50_ratio={p50['jwt'] / p50['key']:.3f}")
    print(f"oauth_vs_key_p50_ratio={p50['oauth'] / p50['key']:.3f}")


if __name__ == "__main__":
    main()
