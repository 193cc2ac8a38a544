"""Every audit action, registered once with a stable dotted name (as Sentry's audit log does)."""

import bisect

ACTIONS: dict[str, str] = {}
# Actions on the organization itself, its people and their sign-ins, which have no mode: recorded once, in
# live mode, and listed to readers of either mode. Every other action belongs to the mode it happened in.
ORGANIZATION_WIDE: set[str] = set()
# The names, sorted, kept current as apps register theirs (their ready()): the API's ?action= enum reads
# this list itself, whenever its module was imported.
ACTION_NAMES: list[str] = []


def register(name: str, description: str, organization_wide: bool = False) -> str:
    if name in ACTIONS:
        raise ValueError(f"Audit action {name!r} is registered twice.")
    ACTIONS[name] = description
    bisect.insort(ACTION_NAMES, name)
    if organization_wide:
        ORGANIZATION_WIDE.add(name)
    return name


def register_crud(resource: str, label: str):
    for verb in ("created", "updated", "deleted"):
        register(f"{resource}.{verb}", f"{label} {verb}")
