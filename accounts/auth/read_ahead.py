"""The cache round trip of an API request's authentication, started at the door.

Authenticating a cached credential costs one Redis round trip (core.gate.read: the organization's access
generation and the rate-limit counters), and on a request that does a few milliseconds of other work
that round trip costs two or three times what it does back to back: Redis sleeps between requests
and waking it up is most of the wait. So the first middleware finds the bearer credential in the
process's credential cache and sends the command; the middleware, URL resolution and DRF's request
set-up run meanwhile; BearerAuthentication then reads a reply that is usually already there.

Nothing is trusted earlier than before: the reply is checked where it was (authentication), and a
request that carries a credential not in the cache, or no credential, sends nothing ahead. The read
counts the request against its credential's and organization's rate limits, as authentication's did;
a request answered without being authenticated (a 404 under /api/, a 413, a credential in the URL, a
view with no authentication) has its reply read on the way out and its counts given back, so only
authenticated requests spend a budget, as before.
"""

import logging


from typing import NamedTuple

from accounts.auth import authentication, credential_cache
from core import gate

API_PATH_PREFIX = "/api/"  # where BearerAuthentication authenticates requests

logger = logging.getLogger("openpaas.gate")


class ReadAhead(NamedTuple):
    """What the door found for the Authorization header, so that authentication does not find it again."""

    header: str
    token: str
    loader: authentication.CredentialLoader
    cache_key: str | None  # None: refused before any query (a malformed key)
    entry: credential_cache.CredentialSnapshot | None  # None: not in the cache, to be loaded
    pending: gate.PendingRead | None  # the gate read sent for the entry (None without one, or without Redis)


def read_ahead(request):
    """Finds ``request``'s credential, and its entry in the credential cache; starts the gate read of an
    entry found. Returns a ReadAhead, or None for a header with no credential a loader takes. Makes no
    query and refuses nothing: authentication does both."""
    header = request.META.get("HTTP_AUTHORIZATION")
    store = credential_cache.store
    if header is None or not store.enabled():
        return None
    token = authentication.header_credential(header)
    loader = authentication.loader_for(token) if token else None
    if loader is None:
        return None
    cache_key = loader.cache_key(token)
    entry = store.get(cache_key) if cache_key else None
    pending = gate.read_ahead(authentication.reading_of(entry)) if entry else None
    return ReadAhead(header, token, loader, cache_key, entry, pending)


class CredentialReadAheadMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        ahead = None
        if request.path_info.startswith(API_PATH_PREFIX):
            try:
                ahead = read_ahead(request)
            except Exception:  # a speed-up: whatever goes wrong here, authentication does the work as before
                logger.exception("Reading the credential's gate ahead failed.")
        request.openpaas_read_ahead = ahead
        try:
            return self.get_response(request)
        finally:
            if ahead is not None and ahead.pending is not None:
                ahead.pending.close()
