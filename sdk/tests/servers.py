"""Test servers: the real Open PaaS platform in a subprocess, and a tiny scripted HTTP(S) server of our
own for behaviour the platform cannot be made to show on demand (a 503, a token endpoint, a TLS peer)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import html as htmllib
import json
import os
import re
import secrets
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]  # sdk/tests/servers.py -> the repository root
MANAGE = REPO / "manage.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the real platform ------------------------------------------------------------------------------------


@dataclass
class Platform:
    base_url: str
    env: dict[str, str]
    org: dict[str, Any]  # create_org's JSON: organization, owner_email, password, live_key, test_key
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def test_key(self) -> str:
        return str(self.org["test_key"])

    @property
    def live_key(self) -> str:
        return str(self.org["live_key"])

    def backup_code(self) -> str:
        """One of the owner's single-use backup codes (Admins must have a second factor to sign in)."""
        codes: list[str] = self.org["backup_codes"]
        assert codes, "the owner's ten backup codes are used up: enrol_owner gives more tests than ten sign-ins"
        return codes.pop()


def platform_env(workdir: Path, **overrides: str) -> dict[str, str]:
    """The server's environment: a temp SQLite database, its own state directory and keys, DEBUG off over
    plain HTTP, no Redis and no inherited DATABASE_URL (the SDK tests test the client, on the embedded
    defaults)."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("OPENPAAS_") and name not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY"}}
    env.update({
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "OPENPAAS_STATE_DIR": str(workdir / "state"),
        "OPENPAAS_MASTER_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OPENPAAS_HTTPS": "false",  # a test server on plain HTTP: no redirect to HTTPS, cookies without Secure
        "OPENPAAS_RATE_PER_CREDENTIAL": "100000/s",
        "OPENPAAS_RATE_PER_ORGANIZATION": "100000/s",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, str(MANAGE), *args], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=180)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def start_platform(workdir: Path, env: dict[str, str], org: dict[str, Any], name: str) -> Platform:
    """``manage.py runserver --noreload`` on a free port; returns once it answers."""
    last_error: Exception | None = None
    for _ in range(3):  # the free port may be taken between choosing and binding it
        port = free_port()
        log = workdir / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(f"{base_url}/api/v1/me", timeout=1)
                return Platform(base_url=base_url, env=env, org=org, process=process, log=log)
            except httpx.TransportError as exc:
                last_error = exc
                time.sleep(0.1)
        stop_platform(Platform(base_url=base_url, env=env, org=org, process=process, log=log))
    raise RuntimeError(f"the platform did not start ({last_error}); see {workdir}")


def hidden_inputs(html: str) -> dict[str, str]:
    """The hidden fields of a server-rendered form (the CSRF token, ``next``)."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="hidden"' in tag:
            fields[name.group(1)] = htmllib.unescape(value.group(1) if value else "")
    return fields


def totp_now(secret_base32: str, step: int = 30, digits: int = 6) -> str:
    """RFC 6238 with SHA-1, as an authenticator app computes it from the secret shown on the page."""
    counter = int(time.time()) // step
    digest = hmac.new(base64.b32decode(secret_base32), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def enrol_owner(platform: Platform) -> None:
    """Enrol the organization owner in TOTP the way a person does (sign in, be sent to enrolment, confirm
    a code computed from the secret on the page) and keep the ten backup codes in ``platform.org``."""
    org = platform.org
    with httpx.Client(base_url=platform.base_url, follow_redirects=False) as browser:
        page = browser.get("/login")
        signed_in = browser.post("/login", data={**hidden_inputs(page.text), "email": org["owner_email"],
                                                 "password": org["password"]})
        assert signed_in.status_code == 302, signed_in.text[:500]
        enrolment = browser.get("/account/security/enrol")
        secret = re.search(r'id="totp-secret">([A-Z2-7=]+)<', enrolment.text)
        assert enrolment.status_code == 200 and secret, enrolment.text[:500]
        confirmed = browser.post("/account/security/enrol",
                                 data={**hidden_inputs(enrolment.text), "code": totp_now(secret.group(1))})
        assert confirmed.status_code == 200, confirmed.text[:500]
    org["backup_codes"] = re.findall(r"<li><code>([^<]+)</code></li>", confirmed.text)
    assert len(org["backup_codes"]) == 10, confirmed.text[:500]


def stop_platform(platform: Platform) -> None:
    if platform.process is not None and platform.process.poll() is None:
        platform.process.terminate()
        try:
            platform.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            platform.process.kill()
            platform.process.wait()


# -- a scripted local HTTP server -------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        from urllib.parse import parse_qsl
        return dict(parse_qsl(self.body.decode()))


Reply = tuple[int, dict[str, str], Any]  # status, headers, body (bytes, or JSON-able)
Handler = Callable[[Recorded], Reply]


@dataclass
class LocalServer:
    url: str
    requests: list[Recorded] = field(default_factory=list)


@contextmanager
def local_server(handler: Handler, tls: ssl.SSLContext | None = None) -> Iterator[LocalServer]:
    """A threaded HTTP(S) server on 127.0.0.1 that records every request and answers with ``handler``."""
    state = LocalServer(url="")

    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            recorded = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                self.rfile.read(length))
            state.requests.append(recorded)
            status, headers, body = handler(recorded)
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            if not isinstance(body, bytes):
                self.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that gave up (timeout tests) or refused the TLS peer (pinning tests)

    server = Server(("127.0.0.1", 0), RequestHandler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    state.url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def scripted(*replies: Reply) -> Handler:
    """Answers the given replies in order, then repeats the last one."""
    queue = list(replies)

    def handle(_: Recorded) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handle


def error_body(status: int, code: str, message: str = "test", **extra: Any) -> dict[str, Any]:
    return {"error": {"type": "api_error", "code": code, "message": message, "request_id": "req_local", **extra}}


# -- a self-signed certificate ----------------------------------------------------------------------------


@dataclass
class Certificate:
    cert_pem: Path
    key_pem: Path
    der: bytes
    spki_der: bytes


def self_signed_certificate(directory: Path, name: str = "server") -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, made with ``cryptography``."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"openpaas-sdk-test-{name}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem, key_pem = directory / f"{name}.pem", directory / f"{name}.key"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return Certificate(cert_pem, key_pem, cert.public_bytes(serialization.Encoding.DER), spki)


def server_tls_context(certificate: Certificate) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert_pem, certificate.key_pem)
    return context
