"""What every authenticated request reads from the shared cache, in one round trip: the organization's
access generation (which tells cached credentials they are stale) and its rate-limit counters.

DRF's SimpleRateThrottle costs a GET and a SET per throttle (four round trips for two limits, and a
race between workers); with Redis this is one script call. Counters are windows that start at their
first request and last the limit's period, so a limit of N per second admits at most N requests in any
such window.
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger("openpaas.gate")

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Limit:
    name: str  # "credential" or "organization": which budget, for messages
    key: str
    allowed: int
    seconds: int


@dataclass(frozen=True)
class Count:
    limit: Limit
    used: int  # requests in the current window, this one included
    retry_after: int  # seconds until the window ends

    @property
    def exceeded(self):
        return self.used > self.limit.allowed


def parse_rate(rate: str) -> tuple[int, int]:
    """'100/s' -> (100, 1); the period is s, m, h or d (a longer word such as 'min' also works)."""
    number, period = rate.split("/")
    return int(number), _PERIODS[period.strip()[0]]


def _generation_key(organization_id):
    return f"openpaas:authgen:{organization_id}"


def _counter_key(limit):
    return f"openpaas:rl:{limit.key}"


# One EVALSHA instead of a pipeline of GET, INCR, EXPIRE and TTL: each command costs the client time to
# encode and parse, and this runs on every request. KEYS[1] is the generation; KEYS[2..] counters whose
# window lengths are ARGV[1..]. Returns {generation, used1, ttl1, used2, ttl2, ...}. All keys live on one
# server (a Redis Cluster would need them in one hash slot).
_READ_SCRIPT = """
local out = {tonumber(redis.call('GET', KEYS[1]) or '0')}
for i = 2, #KEYS do
  local used = redis.call('INCR', KEYS[i])
  local ttl = redis.call('TTL', KEYS[i])
  if ttl < 0 then
    redis.call('EXPIRE', KEYS[i], ARGV[i - 1])
    ttl = tonumber(ARGV[i - 1])
  end
  out[#out + 1] = used
  out[#out + 1] = ttl
end
return out
"""


class _RedisState:
    _scripts = {}

    def __init__(self, client):
        self.client = client
        if id(client) not in self._scripts:
            self._scripts[id(client)] = client.register_script(_READ_SCRIPT)
        self.script = self._scripts[id(client)]

    def read(self, organization_id, limits):
        keys = [_generation_key(organization_id)] + [_counter_key(limit) for limit in limits]
        result = self.script(keys=keys, args=[limit.seconds for limit in limits])
        counts = [Count(limit, int(result[1 + 2 * i]), max(int(result[2 + 2 * i]), 1)) for i, limit in enumerate(limits)]
        return int(result[0]), counts

    def bump(self, organization_id):
        self.client.incr(_generation_key(organization_id))

    def uncount(self, limit):
        self.client.decr(_counter_key(limit))


class _CacheState:
    """Any Django cache. Shared between processes only if the cache is (local memory is not), which is
    why cached credentials are switched off without Redis."""

    def read(self, organization_id, limits):
        generation = cache.get(_generation_key(organization_id), 0)
        now = time.time()
        counts = []
        for limit in limits:
            key = _counter_key(limit)
            cache.add(f"{key}:ends", now + limit.seconds, limit.seconds)
            cache.add(key, 0, limit.seconds)
            try:
                used = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, limit.seconds)
                used = 1
            ends = cache.get(f"{key}:ends", now + limit.seconds)
            counts.append(Count(limit, used, max(int(ends - now + 0.999), 1)))
        return generation, counts

    def bump(self, organization_id):
        key = _generation_key(organization_id)
        cache.add(key, 0, None)
        cache.incr(key)

    def uncount(self, limit):
        try:
            cache.decr(_counter_key(limit))
        except ValueError:
            pass


def _state():
    if settings.REDIS_URL and "django_redis" in settings.CACHES["default"]["BACKEND"]:
        from django_redis import get_redis_connection

        return _RedisState(get_redis_connection("default"))
    return _CacheState()


def limits_for(credential_id, organization_id, livemode):
    from rest_framework.settings import api_settings

    rates = api_settings.DEFAULT_THROTTLE_RATES
    limits = []
    for name, ident in (("credential", credential_id), ("organization", f"{organization_id}:{int(livemode)}")):
        if rates.get(name):
            allowed, seconds = parse_rate(rates[name])
            limits.append(Limit(name, f"{name}:{ident}", allowed, seconds))
    return limits


def read(organization_id, limits):
    """(generation or None, counts). If the cache is unreachable the request goes on: no cached
    credential is trusted (generation None) and no limit is applied, and the failure is logged."""
    try:
        return _state().read(organization_id, limits)
    except Exception:  # the cache client's errors differ per backend; none may take the API down
        logger.exception("Shared cache unreachable: rate limits and the credential cache are bypassed.")
        return None, []


def uncount(limit):
    try:
        _state().uncount(limit)
    except Exception:
        logger.exception("Shared cache unreachable while correcting a rate-limit counter.")


def bump_generation(organization_id):
    """Mark every cached credential of the organization stale, once the current transaction commits."""

    def bump():
        _state().bump(organization_id)

    # robust: a cache failure must not turn a committed change into an error; cached entries also
    # expire (OPENPAAS_CREDENTIAL_CACHE_SECONDS), which bounds how long a missed bump can matter.
    transaction.on_commit(bump, robust=True)
