"""Every audit action, registered once with a stable dotted name (as Sentry's audit log does)."""

ACTIONS: dict[str, str] = {}
# Actions on the organization itself, its people and their sign-ins, which have no mode: recorded once, in
# live mode, and listed to readers of either mode. Every other action belongs to the mode it happened in.
ORGANIZATION_WIDE: set[str] = set()


def register(name: str, description: str, organization_wide: bool = False) -> str:
    if name in ACTIONS:
        raise ValueError(f"Audit action {name!r} is registered twice.")
    ACTIONS[name] = description
    if organization_wide:
        ORGANIZATION_WIDE.add(name)
    return name


def register_crud(resource: str, label: str):
    for verb in ("created", "updated", "deleted"):
        register(f"{resource}.{verb}", f"{label} {verb}")


register("organization.created", "Organization created", organization_wide=True)
register("member.created", "Member added", organization_wide=True)
register("member.updated", "Member's name or granted scopes changed", organization_wide=True)
register("member.role_changed", "Member's role changed", organization_wide=True)
register("member.removed", "Member removed", organization_wide=True)
register("api_key.created", "API key created")
register("api_key.rolled", "API key rolled: a new key replaces it after a grace period")
register("api_key.revoked", "API key revoked")
register("api_key.refused", "A revoked or expired key, or a key of a disabled person, was presented")
register("access.denied", "A request was refused: the credential lacks the scope the operation needs")
register("auth.token_issued", "A person signed in for a JWT session")
register("auth.token_refreshed", "A JWT session's refresh token was rotated")
register("auth.token_revoked", "A JWT session was ended (logout, or a reused refresh token)")
register("auth.login", "A person signed in to the browser", organization_wide=True)
register("auth.login_failed", "A sign-in (browser or JWT) or a sudo confirmation failed: wrong password or code, "
         "or (JWT) an organization the person is not in", organization_wide=True)
register("auth.sudo", "A person confirmed their password or a code before a sensitive action (sudo)", organization_wide=True)
register("auth.locked_out", "Too many failed sign-ins: the account was locked (django-axes)", organization_wide=True)
register("auth.logout", "A person signed out", organization_wide=True)
register("auth.password_changed", "A person changed their password", organization_wide=True)
register("auth.session_revoked", "A browser session was ended from the account security page", organization_wide=True)
register("mfa.enrolled", "A person confirmed an authenticator app", organization_wide=True)
register("mfa.disabled", "A person removed their second factors", organization_wide=True)
register("mfa.backup_codes_regenerated", "A person replaced their backup codes", organization_wide=True)
register("invitation.created", "A person was invited to join", organization_wide=True)
register("invitation.resent", "An invitation was sent again with a new link", organization_wide=True)
register("invitation.cancelled", "An invitation was cancelled", organization_wide=True)
register("invitation.accepted", "An invitation was accepted: the person joined", organization_wide=True)
register("access_review.started", "An access review was started", organization_wide=True)
register("access_review.item_decided", "A reviewer decided on a member or credential", organization_wide=True)
register("access_review.completed", "An access review was completed and its decisions applied", organization_wide=True)
register("access_review.exported", "A completed access review was exported as CSV", organization_wide=True)
register("auth.unlocked", "An administrator cleared an account's failed sign-ins (django-axes lockout)", organization_wide=True)
register("organization.updated", "Organization settings changed (such as requiring two-factor authentication)", organization_wide=True)
register_crud("oauth_application", "OAuth application")
register("oauth.token_issued", "An OAuth application was issued an access token")
register("oauth.token_revoked", "An OAuth application revoked one of its tokens (RFC 7009)")
register("oauth.code_reused", "An authorization code was presented again: the tokens it gave were revoked")
register("oauth.refresh_token_reused", "A revoked OAuth refresh token was presented: its whole grant was revoked")
register_crud("connector", "Connector")
register_crud("workflow", "Workflow")
register_crud("dataset", "Dataset")
register("dataset.records_appended", "Records appended to a dataset")
register_crud("webhook_endpoint", "Webhook endpoint")
