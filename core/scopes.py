"""Scopes and roles, as data in one place.

A view declares the scope it needs per HTTP method; a credential's effective scopes are its own scopes
intersected with its holder's current role, evaluated on every request.
"""

from dataclasses import dataclass

SCOPES = {
    "connectors:read": "View connector configurations",
    "connectors:write": "Create and modify connectors",
    "data:read": "Access processed data: datasets, records, workflows",
    "data:write": "Modify data and workflows",
    "webhooks:manage": "Manage webhook endpoints",
    "org:admin": "Manage members, roles and everyone's API keys",
    "audit:read": "Read the organization's audit log",
}

# The five scopes of the product's security model; the only ones a Service member can be granted.
SEED_SCOPES = frozenset({"connectors:read", "connectors:write", "data:read", "data:write", "webhooks:manage"})

# Write implies read, as in Sentry: a credential that may change a thing may also see it.
IMPLIED = {"connectors:write": {"connectors:read"}, "data:write": {"data:read"}}


@dataclass(frozen=True)
class Role:
    id: str
    name: str
    scopes: frozenset  # for Service, the most that may be granted; the member's grant decides
    human: bool = True


# Ordered from least to most privileged.
ROLES = (
    Role("service", "Service", SEED_SCOPES, human=False),
    Role("viewer", "Viewer", frozenset({"connectors:read", "data:read"})),
    Role("developer", "Developer", SEED_SCOPES),
    Role("admin", "Admin", frozenset(SCOPES)),
)
ROLES_BY_ID = {role.id: role for role in ROLES}
ROLE_CHOICES = [(role.id, role.name) for role in ROLES]
HUMAN_ROLE_IDS = [role.id for role in ROLES if role.human]
ADMIN = "admin"
SERVICE = "service"


def expand(scopes) -> frozenset:
    """The scopes together with those they imply."""
    result = set(scopes)
    for scope in scopes:
        result |= IMPLIED.get(scope, set())
    return frozenset(result)


def role_scopes(role_id: str, granted=()) -> frozenset:
    """What a member of this role may do at most; a Service member holds only what it was granted."""
    role = ROLES_BY_ID[role_id]
    if not role.human:
        return expand(role.scopes & set(granted))
    return expand(role.scopes)


def effective_scopes(credential_scopes, role_id: str, granted=()) -> frozenset:
    return expand(credential_scopes) & role_scopes(role_id, granted)


def unknown_scopes(scopes) -> list:
    return sorted(set(scopes) - set(SCOPES))
