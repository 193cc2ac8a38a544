"""Health endpoints for load balancers and orchestrators: ``GET /healthz`` (the process answers) and
``GET /readyz`` (the database and the cache answer too).

Plain Django views, not DRF: no authentication, no rate limit (a probe every second from every balancer
must never be refused), no session read or written, no CSRF token. They say nothing but a status: which
dependency failed goes to the log, never to the caller.
"""

import logging
import secrets

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_safe

logger = logging.getLogger("openpaas.health")

READY_KEY = "openpaas:readyz"


def _status(status, http_status=200):
    response = JsonResponse({"status": status}, status=http_status)
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def healthz(request):
    """The process is up and serving requests."""
    return _status("ok")


def _database_answers():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def _cache_answers():
    # A write and a read: Redis (production) must answer both; the local-memory cache always does.
    token = secrets.token_hex(8)
    cache.set(READY_KEY, token, timeout=10)
    return cache.get(READY_KEY) == token


@require_safe
def readyz(request):
    """The process can serve real requests: the database and the cache answer (503 otherwise)."""
    for name, check in (("database", _database_answers), ("cache", _cache_answers)):
        try:
            ok = check()
        except Exception:  # whatever the driver raises, the answer is "not ready"; the log says why
            logger.warning("readiness check failed: %s", name, exc_info=True)
            ok = False
        if not ok:
            response = _status("unavailable", 503)
            response["Retry-After"] = "5"
            return response
    return _status("ok")
