"""Access reviews: an Admin lists who holds access to the organization, decides for each member and
service credential whether to keep it, change its role or revoke it, and completing the review applies
every decision (each through the same service functions, and audit events, as the API)."""

import csv
import io
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

import audit
from accounts.actions import mfa
from accounts.actions.api_keys import revoke_api_key
from accounts.actions.members import remove_member, update_member
from core import scopes as scope_registry
from accounts.models import AccessReview, AccessReviewItem, APIKey, Member
from core.principal import session_principal
from core.errors import Conflict


def _audit(action, review, member, metadata=None):
    audit.record(action, organization=review.organization, livemode=True, principal=session_principal(member),
                 target=review, metadata=metadata)


def _who(member):
    """(label, member id) kept on the review: who acted, still readable after that member is removed."""
    return member.display_name[:254], member.pk


def start(*, organization, started_by, due_date):
    """A new review listing every member and every active key of a Service member, as they are now."""
    now = timezone.now()
    with transaction.atomic():
        label, member_id = _who(started_by)
        review = AccessReview.objects.create(organization=organization, started_by=started_by, due_date=due_date,
                                             started_by_label=label, started_by_member_id=member_id)
        members = Member.objects.filter(organization=organization).select_related("user").annotate(
            last_key_use=Max("api_keys__last_used_at"))
        items = []
        for member in members:
            items.append(AccessReviewItem(
                review=review, member=member, kind=AccessReviewItem.MEMBER, subject=member.display_name[:254],
                role=member.role, scopes=sorted(member.max_scopes()),
                last_login=member.user.last_login if member.user_id else None,
                last_key_use=member.last_key_use,
                mfa_enabled=bool(member.user_id) and mfa.has_second_factor(member.user),
            ))
        service_keys = APIKey.objects.usable(now).filter(organization=organization, member__role=scope_registry.SERVICE)
        for api_key in service_keys.select_related("member"):
            items.append(AccessReviewItem(
                review=review, api_key=api_key, kind=AccessReviewItem.CREDENTIAL,
                subject=f"{api_key.name} ({api_key.masked}) of {api_key.member.display_name}"[:254],
                role=scope_registry.SERVICE, scopes=api_key.scopes, last_key_use=api_key.last_used_at,
                key_age_days=(now - api_key.created_at).days,
            ))
        AccessReviewItem.objects.bulk_create(items)
        _audit("access_review.started", review, started_by, {"due_date": due_date.isoformat(), "items": len(items)})
    return review


def decide(*, item, decision, decided_by, new_role="", note=""):
    if decision not in dict(AccessReviewItem.DECISIONS):
        raise Conflict("Decide keep, change_role or revoke.")
    if decision == AccessReviewItem.CHANGE_ROLE:
        if item.is_credential or new_role not in scope_registry.HUMAN_ROLE_IDS or item.role == scope_registry.SERVICE:
            raise Conflict("Only a person's role can be changed, to Admin, Developer or Viewer.")
    with transaction.atomic():
        # Locked, as complete() locks it: a decision cannot slip in after the decisions were applied.
        if AccessReview.unscoped.select_for_update().get(pk=item.review_id).completed_at:  # the review of the item in hand
            raise Conflict("This review is completed.")
        item.decision, item.new_role, item.note = decision, new_role if decision == AccessReviewItem.CHANGE_ROLE else "", note
        item.decided_by, item.decided_at = decided_by, timezone.now()
        item.decided_by_label, item.decided_by_member_id = _who(decided_by)
        item.save()
        _audit("access_review.item_decided", item.review, decided_by,
               {"item": item.subject, "decision": decision, "new_role": item.new_role, "note": note})
    return item


@dataclass(frozen=True)
class Decision:
    """One item of a review and what was decided for it, as plain data: what plan_completion reads."""

    item_id: int
    subject: str
    decision: str
    is_credential: bool
    member_id: int | None  # None once the member is removed (and on a credential's item)
    api_key_id: int | None  # None once the key is deleted (and on a member's item)
    new_role: str = ""

    @classmethod
    def of(cls, item):
        return cls(item_id=item.pk, subject=item.subject, decision=item.decision, is_credential=item.is_credential,
                   member_id=item.member_id, api_key_id=item.api_key_id, new_role=item.new_role)

    @property
    def is_gone(self):
        """A decision to change something that no longer exists: the member removed, the key deleted with its
        member, since the review started. Keeping what is gone changes nothing either way."""
        subject_id = self.api_key_id if self.is_credential else self.member_id
        return self.decision != AccessReviewItem.KEEP and subject_id is None


@dataclass(frozen=True)
class CompletionPlan:
    """What completing a review does, in order: revoke keys, change roles, remove members."""

    revoked_keys: tuple[Decision, ...]
    role_changes: tuple[Decision, ...]  # promotions first
    removals: tuple[Decision, ...]
    kept: tuple[Decision, ...]
    skipped: tuple[Decision, ...]  # gone: applied to nothing, not counted
    reviewed_key_ids: frozenset[int]  # keys with their own entry, which follow their own decision

    @property
    def completed_metadata(self):
        """The metadata of the access_review.completed event."""
        return {
            "kept": len(self.kept),
            "changed": len(self.role_changes),
            "revoked": len(self.revoked_keys) + len(self.removals),
            "skipped": [{"item": d.subject, "decision": d.decision,
                         "reason": "key deleted" if d.is_credential else "member removed"} for d in self.skipped],
        }


def plan_completion(decisions, *, completed_by_id):
    """The plan for completing a review with these decisions (in the items' order), by the member
    ``completed_by_id``. Conflict if an item is undecided or the review would remove the one completing it."""
    undecided = [d.subject for d in decisions if not d.decision]
    if undecided:
        raise Conflict(f"Decide on every entry first: {', '.join(undecided[:5])}.")
    if any(d.decision == AccessReviewItem.REVOKE and d.member_id == completed_by_id for d in decisions):
        raise Conflict("A review cannot remove the Admin who completes it; another Admin must complete it.")
    applied = [d for d in decisions if not d.is_gone]
    revoke = [d for d in applied if d.decision == AccessReviewItem.REVOKE]
    # Keys first (a removed member's keys are deleted with them), then promotions before demotions (so
    # that an Admin handing over is not refused as the last one), then removals.
    return CompletionPlan(
        revoked_keys=tuple(d for d in revoke if d.is_credential),
        role_changes=tuple(sorted((d for d in applied if d.decision == AccessReviewItem.CHANGE_ROLE),
                                  key=lambda d: d.new_role != scope_registry.ADMIN)),
        removals=tuple(d for d in revoke if not d.is_credential),
        kept=tuple(d for d in applied if d.decision == AccessReviewItem.KEEP),
        skipped=tuple(d for d in decisions if d.is_gone),
        reviewed_key_ids=frozenset(d.api_key_id for d in applied if d.is_credential),
    )


def complete(*, review, completed_by):
    """Apply every decision, all or nothing; every item must have one. A decision whose member or key is
    gone by now is skipped: named in the completion event and in ``skipped`` on the returned review."""
    with transaction.atomic():
        review = AccessReview.objects.select_for_update().get(pk=review.pk, organization_id=review.organization_id)
        if review.completed_at:
            raise Conflict("This review is already completed.")
        items = {item.pk: item for item in review.items.select_related("member", "api_key").order_by("id")}
        plan = plan_completion([Decision.of(item) for item in items.values()], completed_by_id=completed_by.pk)
        _apply(plan, items, session_principal(completed_by))
        review.completed_at, review.completed_by = timezone.now(), completed_by
        review.completed_by_label, review.completed_by_member_id = _who(completed_by)
        review.save(update_fields=["completed_at", "completed_by", "completed_by_label", "completed_by_member_id"])
        _audit("access_review.completed", review, completed_by, plan.completed_metadata)
    review.skipped = [items[d.item_id] for d in plan.skipped]
    return review


def _apply(plan, items, principal):
    """Carry out the plan through the services (each audits its own change); ``items`` by id."""
    for decision in plan.revoked_keys:
        _revoke_with_successors(principal, items[decision.item_id].api_key, plan.reviewed_key_ids)
    for decision in plan.role_changes:
        update_member(principal=principal, member=items[decision.item_id].member, role=decision.new_role)
    for decision in plan.removals:
        remove_member(principal=principal, member=items[decision.item_id].member)


def _revoke_with_successors(principal, api_key, reviewed_keys):
    """Revoke the key and every key that replaced it (rolled while the review was open): a revoked key
    must not live on as its replacement. A successor with its own entry in the review (rolled before it
    started) follows its own decision. Each successor is read once its predecessor is revoked and locked,
    so no roll slips in between; a key already revoked is left as it is (the service's no-op)."""
    stop = set(reviewed_keys) - {api_key.pk}
    while api_key is not None and api_key.pk not in stop:
        stop.add(api_key.pk)
        api_key = revoke_api_key(principal=principal, api_key=api_key).rolled_to


CSV_COLUMNS = ["subject", "kind", "role", "scopes", "last_login", "last_key_use", "mfa_enabled", "key_age_days",
               "decision", "new_role", "note", "decided_by", "decided_by_member_id", "decided_at"]


FORMULA_STARTS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")  # and their full-width forms
CONTROL_STARTS = ("\t", "\r", "\n", "\0")


def _cell(value):
    # A cell that a spreadsheet would run as a formula is prefixed, so an exported name cannot be code
    # (OWASP CSV injection, ASVS 1.2.10): also when the formula hides behind whitespace or a control character.
    text = "" if value is None else str(value)
    dangerous = text.startswith(CONTROL_STARTS) or text.lstrip(" \t\r\n\0").startswith(FORMULA_STARTS)
    return "'" + text if dangerous else text


def export_csv(review) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item in review.items.order_by("id"):
        writer.writerow([_cell(v) for v in (
            item.subject, item.kind, item.role, " ".join(item.scopes),
            item.last_login and item.last_login.isoformat(), item.last_key_use and item.last_key_use.isoformat(),
            item.mfa_enabled, item.key_age_days, item.decision, item.new_role, item.note,
            item.decided_by_label, item.decided_by_member_id, item.decided_at and item.decided_at.isoformat(),
        )])
    return out.getvalue()
