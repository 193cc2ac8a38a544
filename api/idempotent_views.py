"""``Idempotency-Key`` for DRF views: listed before the view class, it makes every POST the view serves
honour the header. GET, PATCH and DELETE ignore it.

Where things happen, in DRF's request cycle:

1. ``initial()``: after authentication, permissions and throttles (so 401, 403 and 429 claim nothing and
   a replay is only given to a caller who may make the request; its one-time secrets only to the very
   credential that made the first request), the key is read (400 when malformed),
   the body parsed and fingerprinted, and ``store.begin`` claims the key in its own committed
   transaction, or finds the response to replay (409 for a key reused with another request, or in use).
   The POST handler is then swapped for one that replays, or for one that runs the real handler
   inside ``transaction.atomic()``.
2. The handler's transaction: the view's change, its audit events, and the stored response (or the
   claim's release, for a response that is not kept) commit together or not at all.
3. ``dispatch()``, after DRF turned an exception from the handler into a response: the handler's
   transaction has rolled back; a replayable 4xx (a validation error, a 404) is recorded in a
   transaction of its own, anything else (5xx) releases the claim so that a retry runs again.
"""

import logging

from django.db import transaction

from api import idempotency as store

logger = logging.getLogger("openpaas.idempotency")


def _caller(request, principal):
    """The credential the request was authenticated with, as ``store.Caller``: its kind and id, and the
    bearer value that authenticated it (``openpaas_bearer``, left by the credential door whether it came
    as Bearer or as HTTP Basic's user name; a browser session has none)."""
    bearer = getattr(request, "openpaas_bearer", None)
    credential_id = getattr(principal, "credential_id", "")
    if not bearer or not credential_id:
        return store.Caller()
    return store.Caller(credential=f"{principal.credential_kind}:{credential_id}", bearer=bearer)


class IdempotentViewMixin:
    idempotent_methods = ("POST",)

    def dispatch(self, request, *args, **kwargs):
        self._idempotency_claim = None
        try:
            response = super().dispatch(request, *args, **kwargs)
        except BaseException:
            self._settle_idempotency(None)
            raise
        self._settle_idempotency(response)
        return response

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        method = request.method.lower()
        if (request.method not in self.idempotent_methods or method not in self.http_method_names
                or not hasattr(self, method)):
            return  # not served here: a 405 needs no key
        key = store.key_from(request)
        principal = request.auth
        if key is None or getattr(principal, "organization_id", None) is None:
            return
        outcome = store.begin(
            organization_id=principal.organization_id, livemode=principal.livemode, key=key,
            request_fingerprint=store.request_fingerprint(request),
            request_id=getattr(request, "request_id", "") or "",
            caller=_caller(request, principal),
        )
        if isinstance(outcome, store.Replay):
            setattr(self, method, lambda request, *args, **kwargs: outcome.response())
            return
        self._idempotency_claim = outcome
        setattr(self, method, self._idempotent_handler(getattr(self, method), outcome))

    def _idempotent_handler(self, handler, claim):
        def run(request, *args, **kwargs):
            with transaction.atomic():
                response = handler(request, *args, **kwargs)
                response = self.finalize_response(request, response, *args, **kwargs)
                claim.settle(response)  # recorded (or released) with the change, in one transaction
            claim.settled = True
            return response

        return run

    def _settle_idempotency(self, response):
        """The handler raised (or never ran): its transaction rolled back. Keep a replayable error
        response, release the claim otherwise."""
        claim = getattr(self, "_idempotency_claim", None)
        if claim is None or claim.settled:
            return
        claim.settled = True
        try:
            if response is None:
                claim.release()
                return
            try:
                with transaction.atomic():
                    claim.settle(response)
            except store.IdempotencyKeyInUse:
                pass  # the claim was taken over by another request; nothing of ours to keep
        except Exception:
            # The client still gets the view's answer; an unsettled claim lapses after the lock timeout.
            logger.exception("Could not settle the idempotency key claim %s", claim.record_id)
