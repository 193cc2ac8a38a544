"""Public ids: a type prefix and 24 random base62 characters (about 143 bits), never a sequence."""

import secrets
import string

from django.db import models
from django.utils.deconstruct import deconstructible

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ID_RANDOM_CHARS = 24


def new_id(prefix: str) -> str:
    return f"{prefix}_" + "".join(secrets.choice(BASE62) for _ in range(ID_RANDOM_CHARS))


@deconstructible
class IdFactory:
    def __init__(self, prefix):
        self.prefix = prefix

    def __call__(self):
        return new_id(self.prefix)

    def __eq__(self, other):
        return isinstance(other, IdFactory) and other.prefix == self.prefix


class PublicIdField(models.CharField):
    """Primary key holding a prefixed random id such as ``conn_4fQ...``."""

    def __init__(self, prefix, **kwargs):
        self.prefix = prefix
        kwargs.setdefault("max_length", len(prefix) + 1 + ID_RANDOM_CHARS)
        kwargs.setdefault("primary_key", True)
        kwargs.setdefault("editable", False)
        kwargs["default"] = IdFactory(prefix)
        super().__init__(**kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("default", None)
        kwargs["prefix"] = self.prefix
        return name, path, args, kwargs
