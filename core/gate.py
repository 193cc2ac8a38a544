"""What every authenticated request reads from the shared cache, in one round trip: the organization's
access generation (which tells cached credentials they are stale) and its rate-limit counters.

Refusals (a credential that fails authentication, a request denied for its scope or mode) take another
round trip, on their path only: ``refuse`` counts them per client address and per credential, so that a
flood of them is answered 429 before anything is written, and tells which of them to audit (the first of
each minute, standing for those held back since).

DRF's SimpleRateThrottle costs a GET and a SET per throttle (four round trips for two limits, and a
race between workers); with Redis this is one script call. Counters are windows that start at their
first request and last the limit's period, so a limit of N per second admits at most N requests in any
such window.
"""

import functools
import logging
import os
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from redis import exceptions as redis_exceptions

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


def headers(counts):
    """X-RateLimit-Limit, -Remaining and -Reset (GitHub's names; Reset in epoch seconds) for the budget
    closest to running out, from the counts a request was read with; {} without counts."""
    if not counts:
        return {}
    tightest = min(counts, key=lambda count: (count.limit.allowed - count.used, -count.retry_after))
    return {
        "X-RateLimit-Limit": str(tightest.limit.allowed),
        "X-RateLimit-Remaining": str(max(tightest.limit.allowed - tightest.used, 0)),
        "X-RateLimit-Reset": str(int(time.time()) + tightest.retry_after),
    }


def parse_rate(rate: str) -> tuple[int, int]:
    """'100/s' -> (100, 1); the period is s, m, h or d (a longer word such as 'min' also works)."""
    number, period = rate.split("/")
    return int(number), _PERIODS[period.strip()[0]]


def _generation_key(organization_id):
    return f"openpaas:authgen:{organization_id}"


def _counter_key(limit):
    return f"openpaas:rl:{limit.key}"


def _audit_window_key(audit_key):
    return f"openpaas:refused:{audit_key}:window"


def _held_key(audit_key):
    return f"openpaas:refused:{audit_key}:held"


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


# The refusal path: KEYS[1..n] counters as above (n = ARGV[1], windows ARGV[2..n+1]); then, optionally,
# KEYS[n+1] the marker of the current audit window (ARGV[n+2] seconds) and KEYS[n+2] the refusals held back
# since the last audited one. Returns {used1, ttl1, ..., record}: record is 0 when this refusal is held
# back, else how many refusals its event stands for (this one and those held back).
_REFUSE_SCRIPT = """
local n = tonumber(ARGV[1])
local out = {}
for i = 1, n do
  local used = redis.call('INCR', KEYS[i])
  local ttl = redis.call('TTL', KEYS[i])
  if ttl < 0 then
    redis.call('EXPIRE', KEYS[i], ARGV[i + 1])
    ttl = tonumber(ARGV[i + 1])
  end
  out[#out + 1] = used
  out[#out + 1] = ttl
end
if #KEYS > n then
  if redis.call('SET', KEYS[n + 1], '1', 'NX', 'EX', ARGV[n + 2]) then
    local held = tonumber(redis.call('GET', KEYS[n + 2]) or '0')
    redis.call('DEL', KEYS[n + 2])
    out[#out + 1] = held + 1
  else
    redis.call('INCR', KEYS[n + 2])
    redis.call('EXPIRE', KEYS[n + 2], ARGV[n + 3])
    out[#out + 1] = 0
  end
end
return out
"""

# How long refusals held back are remembered without a new one to carry them into an event.
_HELD_SECONDS = 86400

# Each thread's own connection for read(), the call every authenticated request makes: the same round
# trip as client.evalsha, without redis-py's per-command machinery around it (pool checkout and release,
# the retry and observability wrappers, the Script wrapper), which costs several times the round trip
# itself in CPU. Not shared with the pool, so nothing else can leave a reply unread on it (a read sent
# ahead, PendingRead, is read before the next command); dropped in a forked child (the socket would be
# the parent's) and when the cache's pool changes (settings).
_own = threading.local()
os.register_at_fork(after_in_child=lambda: _own.__dict__.clear())


class _RedisState:
    _scripts = {}

    def __init__(self, client):
        self.client = client
        if id(client) not in self._scripts:
            self._scripts[id(client)] = (client.register_script(_READ_SCRIPT), client.register_script(_REFUSE_SCRIPT))
        self.script, self.refuse_script = self._scripts[id(client)]

    def _connection(self):
        pool = self.client.connection_pool
        connection = getattr(_own, "connection", None)
        if connection is None or _own.pool is not pool:
            connection = pool.connection_class(**pool.connection_kwargs)  # connects on first use
            _own.connection, _own.pool = connection, pool
        pending = getattr(_own, "pending", None)
        if pending is not None:
            pending.settle()  # a reply sent ahead is read before anything else is sent on this connection
        return connection

    def _send(self, reading):
        """Sends the reading's EVALSHA on this thread's own connection; returns the connection, or None
        when sending failed."""
        connection = self._connection()
        if reading.packed is None:  # packed once per reading: encoding it costs more than sending it
            reading.packed = connection.pack_command("EVALSHA", self.script.sha, len(reading.keys), *reading.keys,
                                                     *reading.args)
        try:
            connection.send_packed_command(reading.packed, check_health=False)
        except redis_exceptions.ConnectionError:
            return None
        return connection

    def _receive(self, connection, reading):
        if connection is not None:
            try:
                return reading.result(connection.read_response())
            except (redis_exceptions.ConnectionError, redis_exceptions.NoScriptError):
                pass
        # A connection the server closed (a restart: redis-py disconnected it, the next use reconnects), or
        # a script it no longer has: once through redis-py, which checks out a tested connection and loads
        # the script, as before. A timeout is not tried again, as redis-py does not.
        return reading.result(self.script(keys=reading.keys, args=reading.args))

    def read(self, reading):
        return self._receive(self._send(reading), reading)

    def read_ahead(self, reading):
        connection = self._send(reading)
        _own.pending = PendingRead(lambda: self._receive(connection, reading))
        return _own.pending

    def refuse(self, limits, audit_key, audit_seconds):
        keys = [_counter_key(limit) for limit in limits]
        args = [len(limits)] + [limit.seconds for limit in limits]
        if audit_key:
            keys += [_audit_window_key(audit_key), _held_key(audit_key)]
            args += [audit_seconds, _HELD_SECONDS]
        result = self.refuse_script(keys=keys, args=args)
        counts = [Count(limit, int(result[2 * i]), max(int(result[2 * i + 1]), 1)) for i, limit in enumerate(limits)]
        record = (int(result[-1]) or None) if audit_key else None
        return counts, record

    def bump(self, organization_id):
        self.client.incr(_generation_key(organization_id))

    def uncount(self, limits):
        pipeline = self.client.pipeline(transaction=False)
        for limit in limits:
            pipeline.decr(_counter_key(limit))
        pipeline.execute()


class PendingRead:
    """A read() whose command is sent and whose reply is read later, by ``result()``: the round trip runs
    while the request does other work. Its reply is read on the thread that sent it before anything else
    is sent there (``settle``), so a reply never collected cannot be taken for another command's; and
    ``close()`` gives back the counts of a reply nobody used."""

    def __init__(self, receive, outcome=None):
        self._receive = receive
        self._thread = threading.get_ident()
        self._outcome = outcome
        self._used = False

    @classmethod
    def failed(cls):
        """Nothing could be sent: as read() answers when the cache is unreachable (nothing trusted, no
        limit), without trying again for this request."""
        return cls(None, outcome=(None, []))

    def settle(self):
        """Reads the reply, once; the sending thread's own connection is then free again. Only the
        sending thread may read it: any other (never in Django's request handling, which keeps a request
        on one thread) gets what an unreachable cache gives, and the sender's next command reads it."""
        if self._outcome is None:
            if threading.get_ident() != self._thread:
                return None, []
            if getattr(_own, "pending", None) is self:
                _own.pending = None
            try:
                self._outcome = self._receive()
            except Exception:  # as in read(): the cache client's errors differ per backend
                logger.exception("Shared cache unreachable: rate limits and the credential cache are bypassed.")
                self._outcome = (None, [])
        return self._outcome

    def result(self):
        """(generation or None, counts), as read() returns them; the counts are now the caller's."""
        self._used = True
        return self.settle()

    def close(self):
        """When the request is over: if nobody took the result (the request was answered before it was
        authenticated: a 404, a 413, a credential in the URL), the reply is read and its counts given back,
        so that only authenticated requests spend a budget."""
        if not self._used:
            self._used = True
            _, counts = self.settle()
            if counts:
                uncount(*(count.limit for count in counts))


class _CacheState:
    """Any Django cache. Shared between processes only if the cache is (local memory is not), which is
    why cached credentials are switched off without Redis."""

    def read(self, reading):
        generation = cache.get(reading.keys[0], 0)
        return generation, [self._count(limit) for limit in reading.limits]

    @staticmethod
    def _count(limit):
        now = time.time()
        key = _counter_key(limit)
        cache.add(f"{key}:ends", now + limit.seconds, limit.seconds)
        cache.add(key, 0, limit.seconds)
        try:
            used = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, limit.seconds)
            used = 1
        ends = cache.get(f"{key}:ends", now + limit.seconds)
        return Count(limit, used, max(int(ends - now + 0.999), 1))

    def refuse(self, limits, audit_key, audit_seconds):
        counts = [self._count(limit) for limit in limits]
        record = None
        if audit_key:
            held_key = _held_key(audit_key)
            if cache.add(_audit_window_key(audit_key), 1, audit_seconds):
                record = (cache.get(held_key) or 0) + 1
                cache.delete(held_key)
            else:
                cache.add(held_key, 0, _HELD_SECONDS)
                try:
                    cache.incr(held_key)
                except ValueError:  # expired between add and incr
                    cache.set(held_key, 1, _HELD_SECONDS)
        return counts, record

    def bump(self, organization_id):
        key = _generation_key(organization_id)
        cache.add(key, 0, None)
        cache.incr(key)

    def uncount(self, limits):
        for limit in limits:
            try:
                cache.decr(_counter_key(limit))
            except ValueError:
                pass


def _state():
    # Looked up once (django-redis's lookup of its client costs as much again as the rest of read()), and
    # again once the cache settings change.
    global _current_state
    state = _current_state
    if state is None:
        if settings.REDIS_URL and "django_redis" in settings.CACHES["default"]["BACKEND"]:
            from django_redis import get_redis_connection

            state = _RedisState(get_redis_connection("default"))
        else:
            state = _CacheState()
        _current_state = state
    return state


_current_state = None


@receiver(setting_changed)
def _forget_state(setting, **kwargs):
    global _current_state
    if setting in ("CACHES", "REDIS_URL"):
        _current_state = None
    if setting == "REST_FRAMEWORK":  # the rates
        reading_for.cache_clear()


class Reading:
    """What read() asks the cache about one credential: its organization's access generation and the
    counters of its limits. Built once per credential and kept (reading_for), with its command packed
    for Redis on first use, so that a request only sends it."""

    __slots__ = ("organization_id", "limits", "keys", "args", "packed")

    def __init__(self, organization_id, limits):
        self.organization_id = organization_id
        self.limits = limits
        self.keys = (_generation_key(organization_id), *(_counter_key(limit) for limit in limits))
        self.args = tuple(limit.seconds for limit in limits)
        self.packed = None

    def result(self, reply):
        """The read script's reply {generation, used1, ttl1, ...} as (generation, [Count])."""
        counts = [Count(limit, int(reply[1 + 2 * i]), max(int(reply[2 + 2 * i]), 1))
                  for i, limit in enumerate(self.limits)]
        return int(reply[0]), counts


@functools.lru_cache(maxsize=10_000)
def reading_for(credential_id, organization_id, livemode):
    """The Reading of a credential under the current rates (forgotten when the settings change)."""
    from rest_framework.settings import api_settings

    rates = api_settings.DEFAULT_THROTTLE_RATES
    limits = []
    for name, ident in (("credential", credential_id), ("organization", f"{organization_id}:{int(livemode)}")):
        if rates.get(name):
            allowed, seconds = parse_rate(rates[name])
            limits.append(Limit(name, f"{name}:{ident}", allowed, seconds))
    return Reading(organization_id, tuple(limits))


@dataclass(frozen=True)
class Refusal:
    counts: list  # the refusal budgets, this refusal counted
    record: int | None  # None: not to be audited (held back); else how many refusals its event stands for

    @property
    def retry_after(self):
        """Seconds until every exceeded budget has room again, or None when none is exceeded."""
        exceeded = [count.retry_after for count in self.counts if count.exceeded]
        return max(exceeded) if exceeded else None


# The budgets of refusals, by rate name (DEFAULT_THROTTLE_RATES) and what they are counted per.
REFUSED_PER_ADDRESS = "refused_address"
REFUSED_PER_CREDENTIAL = "refused_credential"


def refusal_limits(*, address=None, credential=None):
    """The budgets a refusal counts against: its client address and its credential (an API key's lookup
    prefix, or a token's digest, or a valid credential's id), each when known and its rate is set."""
    from rest_framework.settings import api_settings

    rates = api_settings.DEFAULT_THROTTLE_RATES
    limits = []
    for name, ident in ((REFUSED_PER_ADDRESS, address), (REFUSED_PER_CREDENTIAL, credential)):
        if ident and rates.get(name):
            allowed, seconds = parse_rate(rates[name])
            limits.append(Limit(name, f"{name}:{ident}", allowed, seconds))
    return limits


def refuse(limits, audit_key=None, audit_seconds=60):
    """Count a refusal against ``limits`` and say whether to audit it: the first refusal of ``audit_key``
    in each ``audit_seconds`` is audited, with the count of those held back since. One cache round trip.
    If the cache is unreachable no limit applies and every refusal is audited (the failure is logged)."""
    try:
        counts, record = _state().refuse(limits, audit_key, audit_seconds)
    except Exception:  # as in read(): the cache client's errors differ per backend
        logger.exception("Shared cache unreachable: refusals are neither limited nor collapsed.")
        return Refusal([], 1 if audit_key else None)
    return Refusal(counts, record)


def read(reading):
    """(generation or None, counts) of a Reading (reading_for). If the cache is unreachable the request
    goes on: no cached credential is trusted (generation None) and no limit is applied, and the failure
    is logged."""
    try:
        return _state().read(reading)
    except Exception:  # the cache client's errors differ per backend; none may take the API down
        logger.exception("Shared cache unreachable: rate limits and the credential cache are bypassed.")
        return None, []


def read_ahead(reading):
    """Sends read()'s command now and returns a PendingRead, whose ``result()`` is what read() would
    return: the round trip overlaps with whatever the caller does until it needs the answer; its
    ``close()`` must be called when the request is over. None with a cache other than Redis (then call
    read()). If the cache is unreachable, a PendingRead that answers as read() would (logged once)."""
    try:
        state = _state()
        return state.read_ahead(reading) if isinstance(state, _RedisState) else None
    except Exception:  # as in read()
        logger.exception("Shared cache unreachable: rate limits and the credential cache are bypassed.")
        return PendingRead.failed()


def uncount(*limits):
    """Gives back one request to each of ``limits``."""
    try:
        _state().uncount(limits)
    except Exception:
        logger.exception("Shared cache unreachable while correcting a rate-limit counter.")


def bump_generation(organization_id):
    """Mark every cached credential of the organization stale, once the current transaction commits."""

    def bump():
        _state().bump(organization_id)

    # robust: a cache failure must not turn a committed change into an error; cached entries also
    # expire (OPENPAAS_CREDENTIAL_CACHE_SECONDS), which bounds how long a missed bump can matter.
    transaction.on_commit(bump, robust=True)
