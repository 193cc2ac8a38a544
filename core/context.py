"""The current request's id and client address, readable anywhere (audit events, log records)
without handing the request down."""

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    client_ip: str | None
    user_agent: str


# Read by audit.record() and the log filter, so neither has to be handed the request.
_current = contextvars.ContextVar("openpaas_request_context", default=None)


def current_request_context() -> RequestContext | None:
    return _current.get()


def set_request_context(context):
    return _current.set(context)


def reset_request_context(token):
    _current.reset(token)
