"""Schemathesis hooks for tests/security/test_schemathesis.py, loaded in its process through
SCHEMATHESIS_HOOKS (no Django there)."""

import base64
import json

import schemathesis
from hypothesis import strategies as st


def _cursor(values):
    # As api.pagination.encode_cursor: urlsafe base64 of compact JSON, without padding.
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


# A list's cursor (api.pagination, format "cursor") is opaque: only one this server issued is valid,
# and its lists are ordered by (created_at, id). Valid cursors, before, among and after any rows.
schemathesis.openapi.format("cursor", st.builds(
    lambda moment, object_id: _cursor([moment, object_id]),
    st.sampled_from(["2000-01-01T00:00:00+00:00", "2026-06-01T12:00:00.123456+00:00", "2999-12-31T23:59:59+00:00"]),
    st.from_regex(r"[a-z]{2,4}_[A-Za-z0-9]{1,24}", fullmatch=True),
))
