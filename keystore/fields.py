"""Model fields whose values are stored encrypted (keystore.crypto). Only ``isnull`` lookups work on
them: a random nonce makes equal plaintexts differ, so equality in SQL would silently never match."""

import json

from django.db import models

from keystore import crypto


class _EncryptedField(models.TextField):
    """Subclasses say how a value becomes bytes (encode) and back (decode)."""

    def contribute_to_class(self, cls, name, *args, **kwargs):
        super().contribute_to_class(cls, name, *args, **kwargs)
        self.crypto_context = f"{cls._meta.label}.{name}"

    def get_lookup(self, lookup_name):
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_prep_value(self, value):
        if value is None:
            return None
        return crypto.encrypt(self.encode(value), context=self.crypto_context)

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return self.decode(crypto.decrypt(value, context=self.crypto_context))

    def to_python(self, value):
        return value


class EncryptedTextField(_EncryptedField):
    def encode(self, value):
        return str(value).encode("utf-8")

    def decode(self, raw):
        return raw.decode("utf-8")


class EncryptedJSONField(_EncryptedField):
    def encode(self, value):
        return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")

    def decode(self, raw):
        return json.loads(raw)
