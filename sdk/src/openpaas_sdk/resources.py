"""The API's resources. Objects are plain dicts, exactly as the server sends them."""

from __future__ import annotations

import json
import urllib.parse
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from openpaas_sdk.errors import APIError

if TYPE_CHECKING:
    from openpaas_sdk.client import OpenPaaSClient

Object = dict[str, Any]


def _segment(value: str) -> str:
    """An id as one path segment: never empty, never able to climb to another route."""
    if not isinstance(value, str) or not value:
        raise ValueError("An id is a non-empty string.")
    return urllib.parse.quote(value, safe="")


class ListIterator(Iterator[Object]):
    """Iterates every object of a list, fetching pages lazily by cursor (``limit`` per page).

    Nothing is requested until the first ``next()``; each further page only when the previous one is
    used up. ``pages_fetched``, ``has_more`` and ``next_cursor`` tell where it stands."""

    def __init__(self, client: OpenPaaSClient, path: str, params: Mapping[str, Any]) -> None:
        self._client = client
        self._path = path
        self._params = {name: value for name, value in params.items() if name != "cursor"}
        self.next_cursor: str | None = params.get("cursor")
        self.has_more = True
        self.pages_fetched = 0
        self._buffer: deque[Object] = deque()
        self._broken: APIError | None = None

    def __iter__(self) -> ListIterator:
        return self

    def __next__(self) -> Object:
        while not self._buffer:
            if self._broken is not None:
                raise self._broken
            if not self.has_more:
                raise StopIteration
            self._fetch_page()
        return self._buffer.popleft()

    def _fetch_page(self) -> None:
        cursor = self.next_cursor
        page = self._client.request("GET", self._path, params={**self._params, "cursor": cursor})
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise APIError(f"GET {self._path} did not answer with a list.")
        self.pages_fetched += 1
        self.has_more = bool(page.get("has_more"))
        next_cursor = page.get("next_cursor")
        if self.has_more and (not isinstance(next_cursor, str) or not next_cursor or next_cursor == cursor):
            # Hand out this page, then fail rather than loop over the same page forever.
            self._broken = APIError(f"GET {self._path} said has_more without a new next_cursor.")
        self.next_cursor = next_cursor if self.has_more else None
        self._buffer.extend(page["data"])


class Resource:
    path: ClassVar[str]

    def __init__(self, client: OpenPaaSClient) -> None:
        self._client = client

    def _item(self, id: str, *rest: str) -> str:
        return "/".join((self.path, _segment(id), *rest))


class _List(Resource):
    def list(self, *, limit: int | None = None, **params: Any) -> ListIterator:
        """Every object, newest first, ``limit`` (1-100) per page; other keyword arguments are query
        parameters (``cursor`` starts from a saved position)."""
        return ListIterator(self._client, self.path, {"limit": limit, **params})


class _Retrieve(Resource):
    def retrieve(self, id: str) -> Object:
        result: Object = self._client.request("GET", self._item(id))
        return result


class _Create(Resource):
    def create(self, *, idempotency_key: str | None = None, **fields: Any) -> Object:
        result: Object = self._client.request("POST", self.path, json=fields, idempotency_key=idempotency_key)
        return result


class _Update(Resource):
    def update(self, id: str, *, idempotency_key: str | None = None, **fields: Any) -> Object:
        """PATCH: only the fields given change."""
        result: Object = self._client.request("PATCH", self._item(id), json=fields, idempotency_key=idempotency_key)
        return result


class _Delete(Resource):
    def delete(self, id: str) -> None:
        self._client.request("DELETE", self._item(id))


class _CRUD(_List, _Retrieve, _Create, _Update, _Delete):
    pass


class Connectors(_CRUD):
    """``create(name=..., type="http", config={...}, credentials={...})``; credentials are write-only."""

    path = "connectors"


class Workflows(_CRUD):
    """``create(name=..., connector=<connector id>, steps=[...])``."""

    path = "workflows"


class WebhookEndpoints(_CRUD):
    """``create(url="https://...", events=[...])``; the response's ``secret`` (``whsec_...``) is shown
    once: keep it for ``openpaas_sdk.webhooks.verify``."""

    path = "webhook-endpoints"


class Members(_CRUD):
    """Members and roles. ``create(role="service", name=..., scopes=[...])`` makes a Service member
    (people join by invitation); ``update(id, role=...)``; ``delete(id)`` removes one and their keys."""

    path = "members"


class Invitations(_List, _Retrieve):
    """Pending and past invitations; ``members.create(email=..., role=...)`` invites. ``list(status="pending")``
    filters; ``resend(id)`` mails the link again (a new link: the old one stops working); ``cancel(id)``."""

    path = "invitations"

    def resend(self, id: str, *, idempotency_key: str | None = None) -> Object:
        result: Object = self._client.request("POST", self._item(id, "resend"), json={}, idempotency_key=idempotency_key)
        return result

    def cancel(self, id: str) -> None:
        """The link stops working at once."""
        self._client.request("DELETE", self._item(id))


class OAuthApplications(_CRUD):
    """OAuth 2.0 clients of the organization: ``create(name=..., client_type="confidential",
    grant_types=["client-credentials"], allowed_scopes=[...], redirect_uris=[...])`` answers with the
    ``client_id`` and, for a confidential client, the ``client_secret`` (shown once)."""

    path = "oauth-applications"


class AuditEvents(_List, _Retrieve):
    """The audit log, newest first; ``list(action="connector.created")`` filters."""

    path = "audit-events"


class APIKeys(_List, _Retrieve, _Create):
    """API keys in the caller's mode. ``create(name=..., scopes=[...], member=None, expires_at=None)``
    answers with the ``secret``, shown once."""

    path = "api-keys"

    def revoke(self, id: str) -> None:
        """The key stops working at once."""
        self._client.request("DELETE", self._item(id))

    def roll(self, id: str, *, expires_in: int | None = None, idempotency_key: str | None = None) -> Object:
        """A new key (with its ``secret``) replacing this one; the old key keeps working for
        ``expires_in`` seconds (server default 24 h; 0 = stops now)."""
        body = {} if expires_in is None else {"expires_in": expires_in}
        result: Object = self._client.request("POST", self._item(id, "roll"), json=body, idempotency_key=idempotency_key)
        return result


class Datasets(_CRUD):
    """``create(name=..., description=...)``; ``records(id)`` appends and queries a dataset's records."""

    path = "datasets"

    def records(self, dataset_id: str) -> Records:
        return Records(self._client, self._item(dataset_id, "records"))


def _filter_value(value: Any, param: str) -> str:
    """A filter value as JSON text, so that the server reads back exactly this value and type:
    ``"10"`` stays a string, ``10`` a number, ``True`` true, ``None`` null."""
    if value is not None and not isinstance(value, (str, int, float, bool)):
        raise TypeError(f"{param}: filter values are str, int, float, bool or None, not {type(value).__name__}.")
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise ValueError(f"{param}: numbers must be finite.") from None


class Records:
    """The records of one dataset: ``append([...])`` and ``list(**filters, order_by=...)``."""

    def __init__(self, client: OpenPaaSClient, path: str) -> None:
        self._client = client
        self.path = path

    def append(self, records: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None) -> Object:
        """Append up to 1000 records (JSON objects) in one batch. Answers ``{"appended", "first_seq",
        "record_count", ...}``."""
        if isinstance(records, Mapping):
            raise TypeError("append() takes a list of records; wrap a single record in a list.")
        result: Object = self._client.request("POST", self.path, json={"records": [dict(r) for r in records]},
                                              idempotency_key=idempotency_key)
        return result

    def list(self, *, limit: int | None = None, order_by: str | None = None, cursor: str | None = None,
             **filters: Any) -> ListIterator:
        """Records matching every filter, ordered by ``order_by`` (``seq`` by default, ``-seq``, a field,
        ``-field``). Filters are ``field=value`` or ``field__op=value`` with op in ne, gt, gte, lt, lte,
        in (a list). Values keep their JSON type: ``status="10"`` matches the string, ``status=10`` the
        number."""
        params: dict[str, Any] = {"limit": limit, "order_by": order_by, "cursor": cursor}
        for param, value in filters.items():
            if param.rpartition("__")[2] == "in" and "__" in param:
                if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
                    raise TypeError(f"{param}: give a list of values.")
                parts = [_filter_value(item, param) for item in value]
                if not parts or any("," in part for part in parts):
                    raise ValueError(f"{param}: needs at least one value, and values cannot contain commas "
                                     "(the server splits the list on them).")
                params[param] = ",".join(parts)
            else:
                params[param] = _filter_value(value, param)
        return ListIterator(self._client, self.path, params)
