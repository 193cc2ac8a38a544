"""Choice errors that teach, as Stripe's do: ``"type": "Not one of csv, http, postgresql: 'HTTP'."``.

The rejected value is repeated only when it resembles one of the choices (a typo, another case) and does
not look like a credential; anything else is described, not quoted: it may be a secret pasted into the
wrong field, and an error message ends up in client logs and error trackers."""

import difflib

from rest_framework import serializers

from core.credentials import looks_like_credential

NOT_QUOTED = "a value that is not one of them"


def quoted(value, choices=()):
    """``value`` as an error message may repeat it, given the ``choices`` it was meant to be one of."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int) and abs(value) < 1000:
        return str(value)
    if not isinstance(value, str) or len(value) > 64 or looks_like_credential(value):
        return NOT_QUOTED
    names = [str(choice).lower() for choice in choices]
    if difflib.get_close_matches(value.lower(), names, n=1, cutoff=0.6):
        return f"'{value}'"
    return NOT_QUOTED


def not_one_of(choices, *values):
    """The message for ``values`` (one or more) that are none of ``choices``."""
    choices = [str(choice) for choice in choices]
    return f"Not one of {', '.join(choices)}: {', '.join(quoted(value, choices) for value in values)}."


class ChoiceField(serializers.ChoiceField):
    """DRF's ChoiceField, whose refusal lists the choices and names the value (``not_one_of``)."""

    def to_internal_value(self, data):
        if data == "" and self.allow_blank:
            return ""
        try:
            return self.choice_strings_to_values[str(data)]
        except (KeyError, TypeError):
            raise serializers.ValidationError(not_one_of(self.choice_strings_to_values, data), code="not_one_of")
