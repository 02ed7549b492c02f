"""Approval pages: the approver's inbox, the release page with the sign form, and the policy editor."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from lineage.models import Node, Tag
from lineage.redaction import redact_for
from portal.accounts.mfa import second_factor_required
from portal.accounts.models import Role, Team, User
from portal.evidence import selectors as evidence_selectors
from portal.evidence.models import DocumentType
from portal.lib.errors import DomainError, flatten_errors

from . import services
from .models import Policy, Release, Signature, Violation
from .serializers import PolicyInputSerializer, policy_form_data


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
    recent = Release.objects.visible_to(request.user).exclude(state=Release.State.PENDING).select_related(
        "model_version")[:20]
    violations = Violation.objects.filter(model_version__in=Node.objects.visible_to(request.user)).select_related(
        "deployment", "model_version")[:20]
    return render(request, "approvals/inbox.html", {"waiting": waiting, "blocked": blocked, "mine": mine,
                                                    "recent": recent, "violations": violations})


@login_required
def release_detail(request: HttpRequest, pk: int) -> HttpResponse:
    release = services.release_refresh(release=_visible(request, pk), by=request.user)
    prefetch_related_objects([release], "policy__groups__team")  # read once, by every eligibility check below
    met, _, missing = services.release_quorum(release)
    team_ids = [g.team_id for g in release.policy.groups.all()]
    approvers = (User.objects.filter(teams__in=team_ids, role__in=services.VOTING_ROLES).distinct()
                 .order_by("username").prefetch_related("teams", "extra_emails"))
    eligibility = [(u, services.ineligibility(release=release, user=u)) for u in approvers]
    return render(request, "approvals/release.html", {
        "release": release, "subject": redact_for(request.user, release.subject), "quorum_met": met, "missing": missing,
        "signatures": release.signatures.select_related("signer"), "eligibility": eligibility,
        "my_problems": services.ineligibility(release=release, user=request.user),
        "meanings": [(m, m.label) for m in (Signature.Meaning.APPROVAL, Signature.Meaning.REVIEW,
                                            Signature.Meaning.RESPONSIBILITY)],
        "is_admin": request.user.is_superuser or request.user.role == Role.ADMIN,
        "needs_code": second_factor_required(request.user),
        "missing_evidence": evidence_selectors.evidence_missing(release=release),
        "release_documents": evidence_selectors.release_documents(user=request.user, release=release),
    })


@login_required
@require_POST
def release_sign(request: HttpRequest, pk: int) -> HttpResponse:
    release = _visible(request, pk)
    action = request.POST.get("action", "approve")
    password, reason = request.POST.get("password", ""), request.POST.get("reason", "")
    otp = request.POST.get("otp", "")
    try:
        if action == "reject":
            services.release_reject(release=release, by=request.user, password=password, reason=reason, otp=otp)
        elif action == "withdraw":
            services.release_withdraw(release=release, by=request.user, reason=reason)
        elif action == "break-glass":
            services.release_break_glass(release=release, by=request.user, password=password, reason=reason,
                                         otp=otp)
        else:
            services.release_sign(release=release, by=request.user, password=password, otp=otp,
                                  meaning=request.POST.get("meaning", "approval"), reason=reason)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Recorded.")
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
        data = PolicyInputSerializer(data=policy_form_data(request.POST))
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
    return render(request, "approvals/policies.html", {
        "policies": Policy.objects.prefetch_related("groups__team").select_related("created_by"),
        "is_admin": is_admin, "teams": Team.objects.order_by("name"), "tags": Tag.values,
        "document_types": DocumentType.values,
    })
