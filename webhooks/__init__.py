"""Webhooks: the endpoints organizations register, and the events sent to them. The public face other
apps use is ``emit``; the event types are webhooks.events'."""


class NotYetDelivered(Exception):
    """Events are not delivered yet: the outbox, signing and delivery are the webhooks issue's. Raised
    rather than dropping the event silently, so no caller believes an event went out."""


def emit(event_type: str, *, organization, livemode: bool, data: dict) -> None:
    """Queue ``event_type`` with ``data`` for ``organization``'s endpoints of that mode subscribed to it,
    in the caller's transaction (an event of a change that rolls back is never sent)."""
    from webhooks.events import EVENT_TYPES

    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown webhook event type {event_type!r}.")
    raise NotYetDelivered(f"Webhook delivery is not built yet: {event_type!r} was not sent.")
