"""Who is asking: every credential becomes one Principal; views read it and never re-derive it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    organization: "accounts.models.Organization"  # noqa: F821
    member: "accounts.models.Member"  # noqa: F821
    livemode: bool
    scopes: frozenset  # effective: the credential's scopes intersected with the member's current role
    credential_kind: str  # "api_key"; OAuth and JWT come next
    credential_id: str

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def role(self) -> str:
        return self.member.role
