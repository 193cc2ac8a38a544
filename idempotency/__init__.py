"""Idempotency keys (as Stripe has them): a POST that carries ``Idempotency-Key`` runs once per key, and
a retry with the same key and the same request gets the first answer back instead of running again.

``api.idempotent_views.IdempotentViewMixin`` does it for a DRF view (every TenantViewSet has it);
``api.idempotency`` holds the rules: which keys are valid, which requests are the same, which
responses are kept, and the claim that keeps two concurrent requests from both running."""
