"""The real platform in a subprocess (gunicorn, as in production), on a database of its own, for behaviour
that lives in a running server: several processes sharing one SQLite file, what it writes to its logs.

    with platform_process(tmp_path) as server:
        httpx.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {server.org['test_key']}"})
"""

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(workdir, **overrides):
    """Production-like: DEBUG off, generated secrets of its own, a SQLite file unless DATABASE_URL is given,
    no inherited OPENPAAS_* or Redis settings."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("OPENPAAS_", "DJANGO_")) and name not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY"}}
    env.update({
        "DATABASE_URL": f"sqlite:///{Path(workdir) / 'db.sqlite3'}",
        "OPENPAAS_STATE_DIR": str(Path(workdir) / "state"),
        "OPENPAAS_MASTER_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OPENPAAS_HTTPS": "false",  # plain HTTP on loopback: no redirect to HTTPS, cookies without Secure
        "PYTHONUNBUFFERED": "1",
    })
    env.update(overrides)
    return env


def manage(env, *args, input=None):
    result = subprocess.run([sys.executable, str(REPO / "manage.py"), *args], cwd=REPO, env=env, input=input,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass
class Server:
    url: str
    env: dict
    org: dict  # create_org's JSON: organization, owner_email, password, live_key, test_key
    log: Path

    def shell(self, code):
        """Run Python in the server's Django (``manage.py shell``); returns what it printed."""
        return manage(self.env, "shell", "--no-imports", "-c", code)


@contextmanager
def platform_process(workdir, *, workers=2, threads=4, **env_overrides):
    """A migrated database with one organization, served by gunicorn; stopped on exit."""
    workdir = Path(workdir)
    env = server_env(workdir, **env_overrides)
    manage(env, "migrate", "--no-input")
    org = json.loads(manage(env, "create_org", "Server Tests", "--owner-email", "owner@server-tests.example"))
    log = workdir / "server.log"
    for _ in range(3):  # the free port may be taken between choosing and binding it
        port = free_port()
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
                 "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread"],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        if _answers(url, process):
            break
        _stop(process)
    else:
        raise RuntimeError(f"the server did not start; see {log}:\n{log.read_text()[-4000:]}")
    try:
        yield Server(url=url, env=env, org=org, log=log)
    finally:
        _stop(process)


def _answers(url, process, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"{url}/api/v1/me", timeout=1)
            return True
        except httpx.TransportError:
            time.sleep(0.1)
    return False


def _stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
