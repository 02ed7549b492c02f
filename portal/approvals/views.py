"""Approval pages: the approver's inbox, the release page with the sign form, and the policy editor."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from lineage.models import Node, Tag
from lineage.redaction import REDACTED_LABELS, redact_for
from portal.accounts.mfa import second_factor_required
from portal.accounts.models import Role, Team, User
from portal.accounts.reauth import signs_at_provider
from portal.evidence import selectors as evidence_selectors
from portal.evidence.models import DocumentType
from portal.lib.errors import DomainError, flatten_errors
from portal.web.reauth_views import needs_reauth, reauth_begin, reauth_form

from . import diff, materiality, selectors, services
from .models import Policy, Release, Signature, Violation
from .serializers import PolicyInputSerializer, policy_form_data, policy_form_initial


def _visible(request: HttpRequest, pk: int) -> Release:
    release = Release.objects.visible_to(request.user).select_related("model_version", "policy", "requester").filter(
        pk=pk).first()
    if release is None:
        raise Http404
    return release


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    pending = Release.objects.visible_to(request.user).filter(state=Release.State.PENDING).select_related(
        "model_version", "requester", "policy").prefetch_related("policy__groups")
    # Eligibility for every pending release from one profile of the user: no queries per release.
    me = User.objects.prefetch_related("teams", "extra_emails").get(pk=request.user.pk)
    signed = set(Signature.objects.filter(signer=me, voided_at__isnull=True, release__in=pending)
                 .values_list("release_id", flat=True))
    waiting, blocked = [], []
    for r in pending:
        if r.pk in signed:
            continue
        problems = services.ineligibility(release=r, user=me)
        (blocked if problems else waiting).append((r, problems))
    mine = Release.objects.filter(requester=request.user).select_related("model_version")[:20]
    # What I signed, whatever became of it: a signed release leaves "waiting for me" but stays findable here.
    my_signatures = (Signature.objects.filter(signer=me, release__in=Release.objects.visible_to(request.user))
                     .select_related("release__model_version").order_by("-signed_at")[:50])
    recent = Release.objects.visible_to(request.user).exclude(state__in=services.OPEN_STATES).select_related(
        "model_version").order_by("-updated_at")[:20]
    violations = Violation.objects.filter(model_version__in=Node.objects.visible_to(request.user)).select_related(
        "deployment", "model_version")[:20]
    return render(request, "approvals/inbox.html", {"waiting": waiting, "blocked": blocked, "mine": mine,
                                                    "my_signatures": my_signatures, "recent": recent,
                                                    "violations": violations})


@login_required
def release_detail(request: HttpRequest, pk: int) -> HttpResponse:
    release = services.release_refresh(release=_visible(request, pk), by=request.user)
    return _release_page(request, release)


def _release_page(request: HttpRequest, release: Release, *, typed: dict[str, str] | None = None,
                  error: DomainError | None = None) -> HttpResponse:
    """The release page; after a refused form, with the refusal and what was typed (never the password)."""
    prefetch_related_objects([release], "policy__groups__team")  # read once, by every eligibility check below
    met, assigned, missing = services.release_quorum(release)
    team_ids = [g.team_id for g in release.policy.groups.all()]
    approvers = (User.objects.filter(teams__in=team_ids, role__in=services.VOTING_ROLES).distinct()
                 .order_by("username").prefetch_related("teams", "extra_emails"))
    signatures = list(release.signatures.select_related("signer"))
    live = {s.signer_id: s for s in signatures if s.voided_at is None}
    eligibility = [(u, services.ineligibility(release=release, user=u), live.get(u.pk)) for u in approvers]
    return render(request, "approvals/release.html", {
        "release": release, "subject": redact_for(request.user, release.subject), "quorum_met": met,
        "missing": missing,
        "signatures": [(s, _counts(s, assigned)) for s in signatures], "eligibility": eligibility,
        "my_signature": live.get(request.user.pk),
        "my_problems": services.ineligibility(release=release, user=request.user),
        "meanings": [(m, m.label) for m in (Signature.Meaning.APPROVAL, Signature.Meaning.REVIEW,
                                            Signature.Meaning.RESPONSIBILITY)],
        "is_admin": request.user.is_superuser or request.user.role == Role.ADMIN,
        "needs_code": second_factor_required(request.user),
        "sso_signer": signs_at_provider(request.user), "sso_label": settings.PORTAL_OIDC_LABEL,
        "missing_evidence": evidence_selectors.evidence_missing(release=release),
        "release_documents": evidence_selectors.release_documents(user=request.user, release=release),
        "typed": typed or {}, "error": error,
        "changes": getattr(error, "changes", None),
        "since": _since_approval(request, release),
    }, status=error.status_code if error else 200)


def _since_approval(request: HttpRequest, release: Release) -> dict[str, object]:
    """The diff as the page shows it: rule titles beside rule names, links only to nodes the reader may see."""
    answer = diff.release_diff(release=release, user=request.user)
    for c in answer["changes"]:
        c["rule_titles"] = [materiality.BY_NAME[r].title for r in c["rules"]]
        c["short_triggers"] = [materiality.SHORT[t] for t in c["triggers"]]
        c["linked"] = bool(c["node"]) and c["node"] not in REDACTED_LABELS and c["element"] not in ("policy", "walk")
        c["target_linked"] = bool(c["target"]) and c["target"] not in REDACTED_LABELS
    answer["node_changes"] = [c for c in answer["changes"] if c["element"] != "edge"]
    answer["edge_changes"] = [c for c in answer["changes"] if c["element"] == "edge"]
    for t in answer["triggers"]:
        t["rule_titles"] = [materiality.BY_NAME[r].title.lower() for r in t["rules"]]
    for n in answer["approved_lineage"]:
        n["attr_text"] = ", ".join(f"{k} {v}" for k, v in n["attrs"].items() if v)
        n["tag_pairs"] = [(t, t.split("@", 1)[0]) for t in n["tags"]]
    rules = answer["rules"]
    if rules:
        answer["rule_lines"] = [
            f"{r.title}: {'on' if rules['values']['rules'][r.name]['enabled'] else 'off'}"
            + (f" (worse by more than {rules['values']['metric_drop_percent']:g}%)" if r.name == "metric_drop" else "")
            + (f"; may trigger {', '.join(rules['values']['rules'][r.name]['triggers'])}"
               if rules["values"]["rules"][r.name]["triggers"] else "")
            for r in materiality.RULES]
    return answer


def _counts(sig: Signature, assigned: dict[str, str]) -> str:
    """What a live vote does for the quorum: recorded once approved, else the group the matching gives it now."""
    if sig.counted_for:
        return f"counted for {sig.counted_for}"
    if sig.meaning != Signature.Meaning.APPROVAL:
        return f"a {sig.meaning} signature: not an approval vote"
    group = assigned.get(sig.signer.username)
    return f"counts for {group}" if group else "not needed for any group's quorum"


def _outcome(release: Release, action: str) -> str:
    """The confirmation after a form: which release, what was done, and the state it is in now."""
    mv = release.model_version
    what = {"reject": "Rejected", "withdraw": "Withdrew", "break-glass": "Authorised an emergency deploy of"}.get(
        action, "Signed")
    text = f"{what} release #{release.pk} ({mv.name} {mv.version} → {release.environment}). It is now {release.state}"
    if release.state == Release.State.PENDING:
        _, _, missing = services.release_quorum(release)
        waits = [f"{n} more from {g}" for g, n in missing.items()]
        lacking = evidence_selectors.evidence_missing(release=release)
        waits += [f"evidence: {', '.join(lacking)}"] if lacking else []
        text += ": waiting for " + ", ".join(waits) if waits else f": {release.state_reason}"
    elif release.state_reason:
        text += f": {release.state_reason}"
    return text + "."


@login_required
@require_POST
def release_sign(request: HttpRequest, pk: int) -> HttpResponse:
    release = _visible(request, pk)
    action = request.POST.get("action", "approve")
    password, reason = request.POST.get("password", ""), request.POST.get("reason", "")
    reviewed = request.POST.get("subject_digest", "")
    otp = request.POST.get("otp", "")
    try:
        if action == "reject" and request.POST.get("confirm") != "yes":
            raise services.ApprovalError("Tick the box to confirm that you reject this release.", field="confirm")
        if action != "withdraw" and needs_reauth(request):
            if action == "break-glass":
                services.release_break_glass_check(by=request.user)
            else:
                services.release_sign_check(release=release, by=request.user)
            return reauth_begin(request, back=reverse("approvals:release", args=[release.pk]))
        if action == "reject":
            services.release_reject(release=release, by=request.user, password=password, reason=reason,
                                    reviewed_digest=reviewed, otp=otp, reauth=reauth_form(request))
        elif action == "withdraw":
            services.release_withdraw(release=release, by=request.user, reason=reason)
        elif action == "break-glass":
            services.release_break_glass(release=release, by=request.user, password=password, reason=reason,
                                         otp=otp, reauth=reauth_form(request))
        else:
            services.release_sign(release=release, by=request.user, password=password,
                                  meaning=request.POST.get("meaning", "approval"), reason=reason,
                                  reviewed_digest=reviewed, otp=otp, reauth=reauth_form(request))
    except DomainError as exc:
        typed = {"action": action, "reason": reason, "meaning": request.POST.get("meaning", "")}
        release = services.release_refresh(release=_visible(request, pk), by=request.user)
        return _release_page(request, release, typed=typed, error=exc)
    release.refresh_from_db()
    messages.success(request, _outcome(release, action))
    return redirect("approvals:release", pk=release.pk)


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    if request.user.role == Role.INGESTOR:
        raise Http404
    is_admin = request.user.is_superuser or request.user.role == Role.ADMIN
    if request.method == "POST":
        if not is_admin:
            messages.error(request, "Only admins may change approval policies.")
            return redirect("approvals:policies")
        # What the form does not show comes from the version it follows, or (a new scope) the one it was filled from.
        follows = selectors.policy_latest(**{k: request.POST.get(k, "").strip() for k in (
            "environment", "namespace", "model_name", "sensitive_tag")})
        filled_from = request.POST.get("from_version", "")
        if follows is None and filled_from.isdigit() and len(filled_from) < 12:
            follows = Policy.objects.filter(pk=int(filled_from)).first()
        data = PolicyInputSerializer(data=policy_form_data(request.POST, follows=follows))
        try:
            data.is_valid(raise_exception=True)
            services.policy_create(by=request.user, **data.validated_data)
        except ValidationError as exc:
            for e in flatten_errors(exc.detail):
                messages.error(request, f"{e['field']}: {e['message']}" if e["field"] else e["message"])
        except DomainError as exc:
            messages.error(request, f"{exc.field}: {exc.message}" if exc.field else exc.message)
        else:
            messages.success(request, "Policy saved as a new version.")
        return redirect("approvals:policies")
    policies = list(Policy.objects.prefetch_related("groups__team").select_related("created_by"))
    for p in policies:
        p.material_text = materiality.describe(p.material_change)  # type: ignore[attr-defined]
    editing = None
    if "edit" in request.GET:  # a version shown in the form, to save as the next version with what was changed
        editing = next((p for p in policies if str(p.pk) == request.GET["edit"]), None)
        if editing is None:
            raise Http404
    return render(request, "approvals/policies.html", {
        "policies": policies, "material_rules": materiality.RULES, "editing": editing,
        "form": policy_form_initial(editing),
        "is_admin": is_admin, "teams": Team.objects.order_by("name"), "tags": Tag.values,
        "document_types": DocumentType.values, "unpoliced": settings.APPROVALS_UNPOLICED_ENVIRONMENTS,
        "unpoliced_open": settings.APPROVALS_UNPOLICED_ENVIRONMENTS == "open",
    })
