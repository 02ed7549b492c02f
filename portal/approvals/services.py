"""Release lifecycle: request, sign, reject, withdraw, refresh, break-glass; policies; the deploy gate.

Rules live here, not in views. Each public write runs in one transaction and writes its audit entry in it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from lineage.models import Node
from portal.accounts.models import Role, Team, User
from portal.accounts.reauth import Confirmation, signer_confirm
from portal.accounts.selectors import namespace_visible, user_emails
from portal.audit import keys
from portal.audit.services import Change, audit_record, audit_record_many, time_text
from portal.audit.verifier import canonical
from portal.evidence.models import DocumentType
from portal.evidence.selectors import evidence_missing
from portal.lib.errors import DomainError

from . import materiality
from .diff import lineage_capture
from .models import Policy, PolicyGroup, Release, Signature, Violation, policy_key
from .quorum import quorum_assign
from .subject import (
    Lineage,
    lineage_of,
    subject_build,
    subject_diff,
    subject_diff_for,
    subject_digest,
    truncated_reason,
)

VOTING_ROLES = {Role.APPROVER, Role.COMPLIANCE_OFFICER, Role.ADMIN}
OPEN_STATES = {Release.State.PENDING, Release.State.DRAFT}


class ApprovalError(DomainError):
    status_code = 400


class NotAllowed(DomainError):
    status_code = 403


class SubjectChanged(DomainError):
    """The signer reviewed another subject digest than the release has now: 409, naming what changed."""

    status_code = 409

    def __init__(self, *, reviewed: str, current: str, changes: list[str]) -> None:
        what = "; ".join(changes) if changes else "the digest you reviewed is not one this release has had"
        super().__init__(f"Release changed since you loaded it (subject digest {reviewed[:12]}… is now "
                         f"{current[:12]}…): {what}. Nothing was signed; review it again.", field="subject_digest")
        self.changes = changes


# -- policies --------------------------------------------------------------------------------------------
@transaction.atomic
def policy_create(*, by: User, environment: str, groups: list[tuple[str, int]], reason: str,
                  namespace: str = "", model_name: str = "", sensitive_tag: str = "", governed: bool = True,
                  approval_expiry_days: int = 30, min_wait_hours: int = 0, required_evidence: list[str] | None = None,
                  retrospective_days: int = 5, effective_from: Any = None,
                  material_change: dict[str, Any] | None = None) -> Policy:
    """Add a new version of the policy identified by environment and scope. Admins only; ``reason`` required.
    ``material_change`` (``materiality``): the rules left out keep their defaults; the version stores them all."""
    if not (by.is_superuser or by.role == Role.ADMIN):
        raise NotAllowed("Only admins may change approval policies.")
    if not reason.strip():
        raise ApprovalError("A policy change needs a reason.", field="reason")
    if governed and (not groups or any(n < 1 for _, n in groups)):
        raise ApprovalError("A policy needs at least one approver group with at least one approval.", field="groups")
    if not governed and groups:
        raise ApprovalError("An ungoverned environment has no approver groups.", field="groups")
    unknown = [e for e in required_evidence or [] if e not in DocumentType.values]
    if unknown:
        raise ApprovalError(f"Unknown document types {', '.join(map(repr, unknown))}; expected some of "
                            f"{', '.join(DocumentType.values)}.", field="required_evidence")
    if problems := materiality.validate(material_change or {}):
        raise ApprovalError(problems[0][1], field=problems[0][0])
    rules = materiality.normalise(material_change)
    key = policy_key(environment, namespace, model_name, sensitive_tag)
    previous = Policy.objects.select_for_update().filter(key=key).order_by("-version").first()
    policy = Policy.objects.create(
        key=key, environment=environment, namespace=namespace, model_name=model_name, sensitive_tag=sensitive_tag,
        version=(previous.version + 1) if previous else 1, effective_from=effective_from or timezone.now(),
        governed=governed,
        approval_expiry_days=approval_expiry_days, min_wait_hours=min_wait_hours,
        required_evidence=required_evidence or [], retrospective_days=retrospective_days, created_by=by,
        reason=reason, material_change=rules,
    )
    for team_name, n in groups:
        team = Team.objects.filter(name=team_name).first()
        if team is None:
            raise ApprovalError(f"No team named {team_name!r}.", field="groups")
        PolicyGroup.objects.create(policy=policy, team=team, min_approvals=n)
    audit_record(actor=by, action="approval.policy_changed", target_kind="policy", target_id=key,
                 payload={"before": previous.version if previous else None, "after": policy.version,
                          "governed": governed, "groups": groups, "reason": reason, "expiry_days": approval_expiry_days,
                          "wait_hours": min_wait_hours, "required_evidence": required_evidence or [],
                          "material_change": rules})
    return policy


def policies_effective(*, environments: Iterable[str], at: Any = None) -> dict[str, list[Policy]]:
    """Per environment, the policies ``policy_in_force`` chooses from: the latest version of each key effective at
    ``at``. One query for all the environments."""
    latest: dict[str, dict[str, Policy]] = {e: {} for e in environments}
    candidates = Policy.objects.filter(environment__in=list(latest), effective_from__lte=at or timezone.now())
    for p in candidates.order_by("environment", "key", "-version"):
        latest[p.environment].setdefault(p.key, p)
    return {e: list(by_key.values()) for e, by_key in latest.items()}


def policy_in_force(*, model_version: Node, environment: str, at: Any = None,
                    lineage: Lineage | None = None, effective: list[Policy] | None = None) -> Policy | None:
    """The most specific policy for this model version and environment, latest version effective at ``at``.

    Specificity: model name > namespace > sensitive tag > the environment's default. A tag policy applies
    when that tag reaches the model from anywhere upstream (``lineage_of``: the whole lineage, not a bounded walk).
    ``effective``: ``policies_effective`` of the environment, when the caller chooses for many releases.
    """
    latest = policies_effective(environments=[environment], at=at)[environment] if effective is None else effective
    if not latest:
        return None
    tags = set((lineage or lineage_of(model_version)).sensitive)

    def score(p: Policy) -> int | None:
        if p.model_name and p.model_name != model_version.name:
            return None
        if p.namespace and p.namespace != model_version.namespace:
            return None
        if p.sensitive_tag and p.sensitive_tag not in tags:
            return None
        return (8 if p.model_name else 0) + (4 if p.namespace else 0) + (2 if p.sensitive_tag else 0)

    scored = [(s, p) for p in latest if (s := score(p)) is not None]
    return max(scored, key=lambda sp: (sp[0], sp[1].pk))[1] if scored else None


# -- who may vote ------------------------------------------------------------------------------------------
def ineligibility(*, release: Release, user: User) -> list[str]:
    """Why ``user`` may not approve ``release`` (empty when they may). Each reason names the node."""
    reasons = []
    if not (user.is_superuser or user.role in VOTING_ROLES):
        reasons.append("you do not have an approver role")
    if release.requester_id == user.pk:
        reasons.append("you requested this release")
    emails = user_emails(user)
    names = emails | {user.username.lower()}
    for c in release.subject.get("commits", []):
        if c.get("author_email", "").lower() in emails:
            reasons.append(f"you authored {c['id']}, which is upstream of this model")
        elif c.get("committer_email", "").lower() in emails:
            reasons.append(f"you committed {c['id']}, which is upstream of this model")
    for r in release.subject.get("runs", []):
        if (r.get("launched_by") or "").lower() in names:
            reasons.append(f"you launched {r['id']}, which is upstream of this model")
    teams = {t.pk for t in user.teams.all()}
    if not any(g.team_id in teams for g in release.policy.groups.all()):
        reasons.append("you are in none of the policy's approver groups")
    return reasons


def third_person(reason: str) -> str:
    return reason.replace("you do not", "does not").replace("you are", "is").removeprefix("you ")


def approver_pool(*, release: Release) -> list[tuple[str, User, list[str]]]:
    """Every member of each of the policy's approver groups, as (group, user, why they may not sign this release:
    empty when they may). A person in two groups appears in both."""
    groups = list(release.policy.groups.select_related("team"))
    members = (User.objects.filter(teams__in=[g.team_id for g in groups], is_active=True).distinct()
               .order_by("username").prefetch_related("teams", "extra_emails"))
    verdicts = [(u, {t.pk for t in u.teams.all()}, ineligibility(release=release, user=u)) for u in members]
    return [(g.team.name, u, reasons) for g in groups for u, teams, reasons in verdicts if g.team_id in teams]


def quorum_feasibility(*, release: Release) -> tuple[bool, dict[str, int], list[tuple[str, User, list[str]]]]:
    """Could the eligible members meet the quorum, with the matching that counts votes (one person, one group)?
    Returns (feasible, approvals that could never be given per group, the pool)."""
    pool = approver_pool(release=release)
    needs = {g.team.name: g.min_approvals for g in release.policy.groups.select_related("team")}
    voters: dict[str, set[str]] = {}
    for group, user, reasons in pool:
        if not reasons:
            voters.setdefault(user.username, set()).add(group)
    met, _, missing = quorum_assign(needs, voters)
    return met, missing, pool


class DuplicateRelease(DomainError):
    status_code = 409


def release_quorum(release: Release) -> tuple[bool, dict[str, str], dict[str, int]]:
    needs = {g.team.name: g.min_approvals for g in release.policy.groups.select_related("team")}
    voters: dict[str, set[str]] = {}
    votes = release.signatures.filter(voided_at__isnull=True, meaning=Signature.Meaning.APPROVAL).select_related(
        "signer").prefetch_related("signer__teams")
    for s in votes:
        voters[s.signer.username] = {t.name for t in s.signer.teams.all() if t.name in needs}
    return quorum_assign(needs, voters)


# -- lifecycle ---------------------------------------------------------------------------------------------
def _notify(release: Release, event: str) -> None:
    from .tasks import release_notify_task

    transaction.on_commit(lambda: release_notify_task.delay(release.pk, event))


def _find_model_version(namespace: str | None, name: str, version: str, user: User) -> Node:
    """One exact model version: namespace, name and version. The name is resolved over every namespace, not
    only those the caller sees, so a model of the same name in a namespace the caller happens to see (a shadow)
    never answers for the one they meant: when the name lives in several namespaces, ``namespace`` is required.
    The caller may ask about namespaces their teams own or no team owns (``visible_to``); any other is answered
    exactly like a model version that does not exist."""
    if not namespace and Node.objects.filter(kind="modelVersion", name=name).values("namespace").distinct()[1:2]:
        raise ApprovalError(f"Model name {name!r} is used in several namespaces; give the namespace.",
                            field="namespace")
    qs = Node.objects.filter(kind="modelVersion", name=name, version=version)
    if namespace:
        qs = qs.filter(namespace=namespace)
    found = qs.first()
    if found is None or not namespace_visible(user, found.namespace):
        raise ApprovalError(f"No model version {name} {version} is known.", field="version")
    return found


@transaction.atomic
def release_request(*, by: User, model: str, version: str, environment: str, justification: str,
                    namespace: str | None = None) -> Release:
    mv = _find_model_version(namespace, model, version, by)
    if not justification.strip():
        raise ApprovalError("A release needs a justification.", field="justification")
    Node.objects.select_for_update().filter(pk=mv.pk).first()  # one request at a time per model version
    waiting = Release.objects.filter(model_version=mv, environment=environment, state=Release.State.PENDING).first()
    if waiting is not None:
        raise DuplicateRelease(f"release {waiting.pk} already waits for approval of {mv.name} {mv.version} to "
                               f"{environment} (/api/v1/releases/{waiting.pk}); sign, reject or withdraw it.",
                               field="environment")
    lineage = lineage_of(mv)
    policy = policy_in_force(model_version=mv, environment=environment, lineage=lineage)
    if policy is None:
        raise ApprovalError(f"No approval policy governs environment {environment!r}.", field="environment")
    if not policy.governed:
        raise ApprovalError(f"Environment {environment!r} needs no approval under policy {policy.scope_label} "
                            f"v{policy.version}: {policy.reason}", field="environment")
    subject = subject_build(model_version=mv, policy=policy, lineage=lineage)
    release = Release(model_version=mv, environment=environment, requester=by, justification=justification,
                      policy=policy, subject=subject, subject_digest=subject_digest(subject),
                      state_reason=truncated_reason() if subject["truncated"] else "")
    feasible, short, pool = quorum_feasibility(release=release)
    if not feasible:
        raise ApprovalError(_infeasible(policy, short, pool), field="policy")
    release.save()
    audit_record(actor=by, action="approval.release_requested", target_kind="release", target_id=str(release.pk),
                 payload={"model_version": mv.node_id, "environment": environment, "policy": policy.key,
                          "policy_version": policy.version, "subject_digest": release.subject_digest})
    _notify(release, "waiting")
    return release


def _infeasible(policy: Policy, short: dict[str, int], pool: list[tuple[str, User, list[str]]]) -> str:
    parts = []
    for g in policy.groups.select_related("team"):
        if g.team.name not in short:
            continue
        members = [(u, reasons) for group, u, reasons in pool if group == g.team.name]
        eligible = sum(1 for _, reasons in members if not reasons)
        excluded = [f"{u.username}: {'; '.join(third_person(r) for r in reasons)}"
                    for u, reasons in members if reasons]
        parts.append(f"{g.team.name} needs {g.min_approvals}, {eligible} eligible"
                     + (f" (a person counts for one group only: {short[g.team.name]} short)"
                        if eligible >= g.min_approvals else "")
                     + (f"; excluded: {', '.join(excluded)}" if excluded else ""))
    return ("This release could never be approved: not enough eligible approvers under policy "
            f"{policy.scope_label} v{policy.version}: " + ". ".join(parts) + ".")


def _void_votes(release: Release, reason: str, by: User | None) -> int:
    now = timezone.now()
    voided = release.signatures.filter(voided_at__isnull=True).update(voided_at=now, void_reason=reason)
    if voided:
        audit_record(actor=by, action="approval.votes_voided", target_kind="release", target_id=str(release.pk),
                     payload={"votes": voided, "reason": reason})
    return voided


def _refresh_locked(release: Release, by: User | None) -> Release:
    """Bring a locked release up to date: a changed subject voids votes; old approvals expire."""
    lineage: Lineage | None = None
    if release.state in OPEN_STATES | {Release.State.APPROVED} and not release.break_glass:
        lineage = lineage_of(release.model_version)
        policy = policy_in_force(model_version=release.model_version, environment=release.environment,
                                 lineage=lineage)
        if policy is not None and policy.governed:
            subject = subject_build(model_version=release.model_version, policy=policy, lineage=lineage)
            digest = subject_digest(subject)
            if digest != release.subject_digest:
                changes = [k for k in subject if subject.get(k) != release.subject.get(k)]
                reason = f"the subject changed ({', '.join(changes)}); votes cast on the old digest are void"
                before, old_subject = release.subject_digest, release.subject
                release.subject, release.subject_digest, release.policy = subject, digest, policy
                release.state, release.state_reason, release.approved_at = Release.State.PENDING, reason, None
                release.save()
                _void_votes(release, reason, by)
                audit_record(actor=by, action="approval.subject_changed", target_kind="release",
                             target_id=str(release.pk),
                             payload={"before": before, "after": digest, "changed": changes,
                                      "diff": subject_diff(old_subject, subject)[:100]})
    expired = release.approved_at is not None and (
        timezone.now() > release.approved_at + timedelta(days=release.policy.approval_expiry_days))
    if release.state == Release.State.APPROVED and expired and not release.break_glass:
        release.state, release.state_reason = Release.State.EXPIRED, "the approvals expired"
        release.save()
        audit_record(actor=by, action="approval.release_expired", target_kind="release", target_id=str(release.pk))
    if release.state == Release.State.PENDING:
        _maybe_approve(release, by, lineage)
    return release


def _maybe_approve(release: Release, by: User | None, lineage: Lineage | None = None) -> None:
    """Approve when the quorum is met, the policy's required evidence is attached and the wait is over; never
    when the subject's lineage walk reached its safety bound. ``lineage``: the walk the caller already made under
    the same lock, kept as the lineage approved instead of walking again."""
    met, assigned, missing = release_quorum(release)
    if release.subject.get("truncated"):
        reason = ("quorum met, but " if met else "") + truncated_reason()
        if release.state_reason != reason:
            release.state_reason = reason
            release.save(update_fields=["state_reason", "updated_at"])
        return
    if not met:
        return
    lacking = evidence_missing(release=release)
    if lacking:
        reason = f"quorum met; missing evidence: {', '.join(lacking)}"
        if release.state_reason != reason:
            release.state_reason = reason
            release.save(update_fields=["state_reason", "updated_at"])
        return
    wait_until = release.created_at + timedelta(hours=release.policy.min_wait_hours)
    if timezone.now() < wait_until:
        release.state_reason = f"quorum met; waiting until {time_text(wait_until)} under the policy's wait time"
        release.save(update_fields=["state_reason", "updated_at"])
        return
    for username, group in assigned.items():
        release.signatures.filter(signer__username=username, voided_at__isnull=True).update(counted_for=group)
    release.state, release.state_reason, release.approved_at = Release.State.APPROVED, "quorum met", timezone.now()
    release.approved_lineage = lineage_capture(model_version=release.model_version, subject=release.subject,
                                               lineage=lineage, approved_at=release.approved_at)
    release.save()
    audit_record(actor=by, action="approval.release_approved", target_kind="release", target_id=str(release.pk),
                 payload={"counted": assigned, "subject_digest": release.subject_digest,
                          "approved_lineage": _lineage_digest(release)})
    _notify(release, "decided")
    older = list(Release.objects.filter(
        model_version__name=release.model_version.name, model_version__namespace=release.model_version.namespace,
        environment=release.environment, state=Release.State.APPROVED,
    ).exclude(pk=release.pk).exclude(model_version=release.model_version).values_list("pk", flat=True))
    if older:
        Release.objects.filter(pk__in=older).update(state=Release.State.SUPERSEDED,
                                                    state_reason=f"superseded by release {release.pk}")
        audit_record_many(actor=by, changes=[
            Change("approval.release_superseded", "release", str(pk), {"before": Release.State.APPROVED,
                                                                       "after": Release.State.SUPERSEDED,
                                                                       "by_release": release.pk})
            for pk in older])


def _lineage_digest(release: Release) -> str:
    """What the audit entry of an approval pins: the SHA-256 of the lineage kept as approved."""
    return hashlib.sha256(canonical(release.approved_lineage)).hexdigest()


def _locked(release: Release) -> Release:
    return Release.objects.select_for_update().select_related("policy", "model_version").get(pk=release.pk)


@transaction.atomic
def release_refresh(*, release: Release, by: User | None = None) -> Release:
    return _refresh_locked(_locked(release), by)


def _binding(release_id: int, signer: User, digest: str, meaning: str, reason: str, stamp: str) -> str:
    return hashlib.sha256(canonical({"release": release_id, "signer": signer.pk, "printed_name": signer.printed_name,
                                     "subject_digest": digest, "meaning": meaning, "reason": reason,
                                     "time": stamp})).hexdigest()


def _reauthenticate(user: User, password: str, otp: str, release: Release, reauth: str = "") -> Confirmation:
    """A signature needs the signer's password now, not their session, and their second factor when they have
    or need one; or, for an SSO user, ``reauth``: the one-time result id of a fresh sign-in at the provider
    (``portal.accounts.reauth``). A refusal is recorded and kept."""
    return signer_confirm(user=user, password=password, otp=otp, reauth=reauth,
                          refused_action="approval.signature_refused", target_kind="release",
                          target_id=str(release.pk),
                          wrong_password=ApprovalError("The password is wrong; nothing was signed.", field="password"))


def release_sign_check(*, release: Release, by: User) -> None:
    """Refuse (403, naming every reason) a user who may not sign. Asked before the request body is read and
    before the password, so a refusal never depends on what was sent; asked again under the lock."""
    problems = ineligibility(release=release, user=by)
    if problems:
        raise NotAllowed("You may not sign this release: " + "; ".join(problems) + ".")


def subject_changed_payload_for(user: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """An ``approval.subject_changed`` entry's payload as ``user`` may read it: its change list with the same
    redaction as the 409 (another team's node is "a dataset of another team")."""
    diff = payload.get("diff")
    if not isinstance(diff, list) or not all(isinstance(x, str) for x in diff):
        return payload
    return {**payload, "diff": subject_diff_for(user, diff)}


def subject_changes_since(*, release: Release, digest: str) -> list[str]:
    """What changed in ``release``'s subject since it had ``digest``, from its ``approval.subject_changed``
    audit entries (each records its diff). Empty when the release never had that digest."""
    from portal.audit.models import AuditEntry

    lines: list[str] = []
    seen = False
    for payload in AuditEntry.objects.filter(action="approval.subject_changed", target_kind="release",
                                             target_id=str(release.pk)).order_by("seq").values_list("payload",
                                                                                                    flat=True):
        entry = json.loads(payload)
        seen = seen or entry.get("before") == digest
        if seen:
            lines += entry.get("diff") or [f"changed: {', '.join(entry.get('changed', []))}"]
    return lines


def release_sign(*, release: Release, by: User, password: str, meaning: str, reason: str,
                 reviewed_digest: str, otp: str = "", reauth: str = "") -> Release:
    """Cast an electronic signature: approval, review, responsibility or rejection, on the subject digest the
    signer reviewed. If the release's digest is another one (now, or after it is brought up to date under the
    lock), nothing is signed: 409 naming what changed. A digest already stale is refused before the password.
    ``reauth`` replaces the password for a single-sign-on user (``_reauthenticate``); it is recorded in the
    signature's audit entry."""
    release_sign_check(release=release, by=by)
    if meaning not in Signature.Meaning.values:
        raise ApprovalError(f"Unknown meaning {meaning!r}.", field="meaning")
    if not reason.strip():
        raise ApprovalError("A signature needs a reason.", field="reason")
    if not reviewed_digest:
        raise ApprovalError("A signature carries the subject digest its signer reviewed.", field="subject_digest")
    stored = Release.objects.filter(pk=release.pk).values_list("subject_digest", flat=True).get()
    if reviewed_digest != stored:
        raise SubjectChanged(reviewed=reviewed_digest, current=stored, changes=subject_diff_for(
            by, subject_changes_since(release=release, digest=reviewed_digest)))
    confirmed = _reauthenticate(by, password, otp, release, reauth)
    release, changes = _release_sign(release=release, by=by, meaning=meaning, reason=reason,
                                     reviewed_digest=reviewed_digest, confirmed=confirmed)
    if changes is not None:  # raised after the commit: the refresh that found the change is kept
        raise SubjectChanged(reviewed=reviewed_digest, current=release.subject_digest,
                             changes=subject_diff_for(by, changes))
    return release


@transaction.atomic
def _release_sign(*, release: Release, by: User, meaning: str, reason: str, reviewed_digest: str,
                  confirmed: Confirmation) -> tuple[Release, list[str] | None]:
    release = _locked(release)
    before = release.subject
    _refresh_locked(release, by)
    if release.subject_digest != reviewed_digest:
        return release, subject_diff(before, release.subject)
    if release.state not in OPEN_STATES:
        raise ApprovalError(f"Release {release.pk} is {release.state}; it can no longer be signed.", field="state")
    release_sign_check(release=release, by=by)
    if release.signatures.filter(signer=by, voided_at__isnull=True).exists():
        raise ApprovalError("You have already signed this release.", field="signer")
    now = timezone.now()
    stamp = time_text(now)
    sig = Signature.objects.create(release=release, signer=by, printed_name=by.printed_name, meaning=meaning,
                                   reason=reason, signed_at=now, subject_digest=release.subject_digest,
                                   binding=_binding(release.pk, by, release.subject_digest, meaning, reason, stamp),
                                   auth_methods=confirmed.methods)
    audit_record(actor=by, action="approval.signed", target_kind="release", target_id=str(release.pk),
                 payload={"signature": sig.pk, "printed_name": sig.printed_name, "meaning": meaning, "reason": reason,
                          "time": stamp, "subject_digest": sig.subject_digest, "reviewed_digest": reviewed_digest,
                          "binding": sig.binding, **confirmed.audit()})
    if meaning == Signature.Meaning.REJECTION:
        release.state, release.state_reason = Release.State.REJECTED, f"rejected by {by.printed_name}: {reason}"
        release.save()
        audit_record(actor=by, action="approval.release_rejected", target_kind="release",
                     target_id=str(release.pk), payload={"reason": reason})
        _notify(release, "decided")
    elif meaning == Signature.Meaning.APPROVAL:
        _maybe_approve(release, by)
    return release, None


def release_reject(*, release: Release, by: User, password: str, reason: str, reviewed_digest: str,
                   otp: str = "", reauth: str = "") -> Release:
    return release_sign(release=release, by=by, password=password, meaning=Signature.Meaning.REJECTION, reason=reason,
                        reviewed_digest=reviewed_digest, otp=otp, reauth=reauth)


def release_withdraw_check(*, release: Release, by: User) -> None:
    """Only the requester or an admin may withdraw: the API asks before it reads the body, the service again."""
    if release.requester_id != by.pk and not (by.is_superuser or by.role == Role.ADMIN):
        raise NotAllowed("Only the requester or an admin may withdraw a release.")


@transaction.atomic
def release_withdraw(*, release: Release, by: User, reason: str) -> Release:
    release = _locked(release)
    release_withdraw_check(release=release, by=by)
    if not reason.strip():
        raise ApprovalError("Withdrawing needs a reason.", field="reason")
    if release.state not in OPEN_STATES | {Release.State.APPROVED}:
        raise ApprovalError(f"Release {release.pk} is {release.state}; it cannot be withdrawn.", field="state")
    before = release.state
    release.state, release.state_reason = Release.State.WITHDRAWN, reason
    release.save()
    audit_record(actor=by, action="approval.release_withdrawn", target_kind="release", target_id=str(release.pk),
                 payload={"before": before, "reason": reason})
    return release


def release_break_glass_check(*, by: User) -> None:
    if not (by.is_superuser or by.role == Role.ADMIN):
        raise NotAllowed("Only admins may use break-glass.")


def release_break_glass(*, release: Release, by: User, password: str, reason: str, otp: str = "",
                        reauth: str = "") -> Release:
    """An admin authorises an emergency deploy. It is flagged everywhere and opens a retrospective review."""
    release_break_glass_check(by=by)
    if not reason.strip():
        raise ApprovalError("Break-glass needs a reason.", field="reason")
    confirmed = _reauthenticate(by, password, otp, release, reauth)
    with transaction.atomic():
        release = _locked(release)
        if release.state not in OPEN_STATES:
            raise ApprovalError(f"Release {release.pk} is {release.state}; break-glass is for pending releases.",
                                field="state")
        now = timezone.now()
        release.state, release.break_glass, release.break_glass_reason = Release.State.APPROVED, True, reason
        release.state_reason, release.approved_at = f"break-glass by {by.printed_name}: {reason}", now
        release.approved_lineage = lineage_capture(model_version=release.model_version, subject=release.subject,
                                                   approved_at=now)
        release.save()
        retro = Release.objects.create(
            model_version=release.model_version, environment=release.environment, requester=release.requester,
            justification=f"Retrospective review of break-glass release {release.pk}: {reason}",
            policy=release.policy, subject=release.subject, subject_digest=release.subject_digest,
            retrospective_of=release, retrospective_due=now + timedelta(days=release.policy.retrospective_days))
        audit_record(actor=by, action="approval.break_glass", target_kind="release", target_id=str(release.pk),
                     payload={"reason": reason, "retrospective": retro.pk, **confirmed.audit(),
                              "approved_lineage": _lineage_digest(release),
                              "retrospective_due": time_text(retro.retrospective_due)})
    return release


# -- the gate ----------------------------------------------------------------------------------------------
def _attest(body: dict[str, Any]) -> dict[str, Any]:
    signature = base64.b64encode(keys.private_key().sign(canonical(body))).decode()
    return {"algorithm": "Ed25519", "key_id": keys.public_key_id(), "signed": body, "signature": signature}


@dataclass(slots=True)
class EnvironmentRule:
    """Whether deploying a model version to an environment needs an approved release, and why."""

    governed: bool
    policy: Policy | None
    reason: str


def environment_rule(*, model_version: Node, environment: str) -> EnvironmentRule:
    """The policy in force decides; a policy may declare the environment ungoverned (with its reason). With no
    policy at all, ``PORTAL_UNPOLICED_ENVIRONMENTS`` decides: ``governed`` (the default) or ``open``."""
    policy = policy_in_force(model_version=model_version, environment=environment)
    if policy is None:
        if settings.APPROVALS_UNPOLICED_ENVIRONMENTS == "open":
            return EnvironmentRule(False, None, f"no approval policy governs {environment} and "
                                   "PORTAL_UNPOLICED_ENVIRONMENTS=open: it needs no approval")
        return EnvironmentRule(True, None, f"no approval policy governs {environment} "
                               "(PORTAL_UNPOLICED_ENVIRONMENTS=governed: it needs an approved release)")
    if not policy.governed:
        return EnvironmentRule(False, policy, f"{environment} needs no approval under policy "
                               f"{policy.scope_label} v{policy.version}: {policy.reason}")
    return EnvironmentRule(True, policy, "")


def version_live(*, model_version: Node, environment: str) -> bool:
    """Is this model version serving in ``environment`` now (an active deployment of it)?"""
    return Node.objects.filter(kind="deployment", environment=environment, state="active",
                               attrs__model_version=model_version.node_id).exists()


def _superseded_release(mv: Node, environment: str) -> Release | None:
    return Release.objects.filter(model_version=mv, environment=environment, state=Release.State.SUPERSEDED,
                                  approved_at__isnull=False).order_by("-approved_at").first()


def _policy_body(policy: Policy | None) -> dict[str, Any] | None:
    return {"key": policy.key, "version": policy.version, "governed": policy.governed} if policy else None


def _alias_reason(mv: Node, alias: str) -> tuple[bool, str]:
    """Whether the model version holds a registry alias (``champion``; importers record them), and why."""
    held = mv.attrs.get("aliases") or []
    if alias not in held:
        return False, f"{mv.node_id} does not hold the alias {alias!r} (it holds {', '.join(held) or 'none'})"
    moves = [h for h in mv.attrs.get("alias_history") or [] if h.get("alias") == alias and h.get("to") == mv.version]
    since = f" since {moves[-1].get('at')}" if moves else ""
    return True, f"{mv.node_id} holds the alias {alias!r}{since}"


@transaction.atomic
def gate_check(*, user: User, model: str, version: str, environment: str, namespace: str | None = None,
               alias: str | None = None) -> dict[str, Any]:
    """May this model version be deployed to this environment now? With a signed attestation to keep.

    Allowed with an approved release; with a release superseded by a newer version's while this version is still
    live there (a rollback or a staged roll-out keeps its approval); or when the environment needs no approval
    (``environment_rule``). Never on a release whose lineage walk was cut (it cannot be approved).
    With ``alias``, the version must also hold that registry alias (MLflow's ``champion``) right now."""
    mv = _find_model_version(namespace, model, version, user)
    reasons: list[str] = []
    release = None
    allowed = True
    policy = None
    candidates = Release.objects.select_for_update().filter(
        model_version=mv, environment=environment, state__in=[*OPEN_STATES, Release.State.APPROVED]
    ).order_by("-approved_at", "-created_at")
    for r in candidates:
        r = _refresh_locked(r, user)
        if r.state == Release.State.APPROVED:
            release = r
            break
    superseded = _superseded_release(mv, environment) if release is None else None
    if superseded is not None and version_live(model_version=mv, environment=environment):
        release = superseded
    if release is None:
        rule = environment_rule(model_version=mv, environment=environment)
        policy = rule.policy
        allowed = not rule.governed
        if rule.reason:
            reasons.append(rule.reason)
        if rule.governed:
            reasons.append(f"no approved release of {mv.node_id} for {environment}")
        if superseded is not None:
            reasons.append(f"release {superseded.pk} was {superseded.state_reason}; {mv.name} {mv.version} is no "
                           f"longer live in {environment}")
        pending = Release.objects.filter(model_version=mv, environment=environment, state=Release.State.PENDING)
        for p in pending[:3] if rule.governed else []:
            _, _, missing = release_quorum(p)
            waits = [f"{n} more from {g}" for g, n in missing.items()]
            if lacking := evidence_missing(release=p):
                waits.append(f"missing evidence: {', '.join(lacking)}")
            if p.subject.get("truncated"):
                waits.append(truncated_reason())
            reasons.append(f"release {p.pk} is pending: " + (", ".join(waits) or p.state_reason))
    else:
        policy = release.policy
        reasons.append(f"release {release.pk} approved at {time_text(release.approved_at)}")
        if release.state == Release.State.SUPERSEDED:
            reasons[-1] += (f", {release.state_reason}; it stays valid while {mv.name} {mv.version} is live in "
                            f"{environment}")
        lacking = evidence_missing(release=release)
        if lacking and release.break_glass:
            reasons.append(f"EXCEPTION: missing evidence: {', '.join(lacking)}")
        elif lacking:
            # Evidence can lapse after approval (superseded, expired, detached): the gate looks again each time.
            reasons.append(f"missing evidence: {', '.join(lacking)}")
            allowed = False
        if release.break_glass:
            reasons.append(f"EXCEPTION: break-glass release ({release.break_glass_reason})")
            overdue = release.retrospectives.filter(retrospective_due__lt=timezone.now()).exclude(
                state=Release.State.APPROVED)
            for retro in overdue:
                reasons.append(f"EXCEPTION: retrospective review {retro.pk} overdue since "
                               f"{time_text(retro.retrospective_due)}")
    if alias:
        holds, why = _alias_reason(mv, alias)
        reasons.append(why)
        allowed = allowed and holds
    body = {"allowed": allowed, "release": release.pk if release else None,
            "model_version": mv.node_id, "namespace": mv.namespace, "model": mv.name, "version": mv.version,
            "environment": environment, "policy": _policy_body(policy),
            "subject_digest": release.subject_digest if release else None,
            "break_glass": bool(release and release.break_glass), "reasons": reasons,
            "time": time_text(timezone.now())}
    if alias:
        body["alias"] = alias
    return {"allowed": body["allowed"], "release": body["release"], "reasons": reasons,
            "break_glass": body["break_glass"], "attestation": _attest(body)}


# -- violations --------------------------------------------------------------------------------------------
def deployments_observe(node_ids: list[str]) -> None:
    """Called by lineage ingestion, in its transaction, for each active deployment it wrote."""
    deployments = Node.objects.filter(node_id__in=node_ids, kind="deployment", state="active")
    for dep in deployments:
        mv = Node.objects.filter(node_id=dep.attrs.get("model_version")).first()
        if mv is None:
            continue
        # A superseded release was approved when it was current: replayed or late deploy events still count.
        approved = Release.objects.filter(model_version=mv, environment=dep.environment).filter(
            Q(state=Release.State.APPROVED) | Q(state=Release.State.SUPERSEDED, approved_at__isnull=False)).exists()
        if approved or Violation.objects.filter(deployment=dep).exists():
            continue
        if not environment_rule(model_version=mv, environment=dep.environment).governed:
            continue  # recorded in the lineage like every deployment; no approval was needed
        v = Violation.objects.create(deployment=dep, model_version=mv, environment=dep.environment,
                                     reason=f"deployed to {dep.environment} without an approved release",
                                     detected_at=timezone.now())
        audit_record(actor=None, action="approval.violation_recorded", target_kind="deployment",
                     target_id=dep.node_id, payload={"violation": v.pk, "model_version": mv.node_id})
