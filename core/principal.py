"""Who is asking: every credential becomes one Principal; views read it and never re-derive it."""

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable


@dataclass(frozen=True)
class Principal:
    organization_id: str
    member_id: str
    role: str
    livemode: bool
    scopes: frozenset  # effective: the credential's scopes intersected with the member's current role
    credential_kind: str  # "api_key"; OAuth and JWT come next
    credential_id: str
    # Builds (organization, member) model instances. Deferred because most requests (reads of tenant
    # data) need only the ids above, and building models on every request costs measurable time.
    load_models: Callable = field(repr=False, compare=False)

    # DRF's request.user is the Principal too: it is what an API request is authenticated as.
    is_authenticated = True
    is_anonymous = False

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @cached_property
    def _models(self):
        return self.load_models()

    @property
    def organization(self):
        return self._models[0]

    @property
    def member(self):
        return self._models[1]


def session_principal(member, livemode=True):
    """The Principal of a person acting through a browser session (their pages, the admin): the same
    shape as an API credential's, so services and audit events treat both alike."""
    return Principal(
        organization_id=member.organization_id, member_id=member.id, role=member.role, livemode=livemode,
        scopes=member.max_scopes(), credential_kind="session", credential_id="",
        load_models=lambda: (member.organization, member),
    )
