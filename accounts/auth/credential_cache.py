"""Resolved credentials (API keys, OAuth access tokens, JWTs), kept in each process so that the hot
path needs no database query.

An entry is trusted only while its organization's access generation (core.gate) is the one it was
loaded under; every change to a key, member, person or organization bumps that generation on commit,
so a revocation or demotion applies on the next request. Entries also expire after
OPENPAAS_CREDENTIAL_CACHE_SECONDS in case a bump was lost. An entry holds only what a Principal needs
(no password hash), and each request gets fresh model instances built from it.

A new entry is unverified (generation None): it was read from the database before the generation was,
so a change committed in between could be missing from it. The next request, having read the
generation first, reloads it; from then on it is served from memory.
"""

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from django.conf import settings

from core.scopes import effective_scopes

MAX_ENTRIES = 10_000


@dataclass
class CredentialSnapshot:
    credential_kind: str  # "api_key", "oauth" or "jwt"
    credential_id: str
    livemode: bool
    scopes: tuple  # the credential's own; the member's role narrows them on every request
    expires_at: object  # datetime or None
    organization_id: str
    organization_name: str
    member_id: str
    member_name: str
    member_role: str
    member_granted_scopes: tuple
    user_id: int | None
    user_email: str | None
    last_used_at: object = None  # API keys: datetime or None; advanced locally once written
    generation: int | None = None
    loaded_at: float = field(default_factory=time.monotonic)
    # The Principal's scopes: the credential's own narrowed by the member's role as loaded (an entry is
    # reloaded whenever the role can have changed, see above), worked out once, not on every request.
    principal_scopes: frozenset = field(init=False)

    def __post_init__(self):
        self.principal_scopes = effective_scopes(self.scopes, self.member_role, self.member_granted_scopes)

    @classmethod
    def of(cls, *, kind, credential_id, livemode, scopes, expires_at, member, generation, last_used_at=None):
        """From a member loaded with select_related("organization", "user")."""
        organization, user = member.organization, member.user
        return cls(
            credential_kind=kind, credential_id=credential_id, livemode=livemode, scopes=tuple(scopes),
            expires_at=expires_at, organization_id=organization.id, organization_name=organization.name,
            member_id=member.id, member_name=member.name, member_role=member.role,
            member_granted_scopes=tuple(member.granted_scopes),
            user_id=user.pk if user else None, user_email=user.email if user else None,
            last_used_at=last_used_at, generation=generation,
        )

    def models(self):
        """Fresh, unsaved-looking instances for this request: (organization, member)."""
        from accounts.models import Member, Organization, User

        organization = Organization(id=self.organization_id, name=self.organization_name)
        member = Member(id=self.member_id, organization=organization, name=self.member_name, role=self.member_role,
                        granted_scopes=list(self.member_granted_scopes))
        if self.user_id is not None:
            member.user = User(id=self.user_id, email=self.user_email, is_active=True)
        for instance in (organization, member, member.user if self.user_id else None):
            if instance is not None:
                instance._state.adding = False
        return organization, member


class _Store:
    def __init__(self):
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def enabled():
        return settings.OPENPAAS_CREDENTIAL_CACHE_SECONDS > 0

    def get(self, digest):
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries.move_to_end(digest)
            return entry

    def holds(self, digest):
        """Whether an entry is kept under ``digest``, fresh or not (one dict lookup, no lock)."""
        return digest in self._entries

    def put(self, digest, snapshot):
        with self._lock:
            self._entries[digest] = snapshot
            self._entries.move_to_end(digest)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)

    def discard(self, digest):
        with self._lock:
            self._entries.pop(digest, None)

    def clear(self):
        with self._lock:
            self._entries.clear()

    def fresh(self, entry, generation):
        return (
            generation is not None
            and entry.generation == generation
            and time.monotonic() - entry.loaded_at < settings.OPENPAAS_CREDENTIAL_CACHE_SECONDS
        )


store = _Store()
