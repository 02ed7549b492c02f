"""Report pages: list and start reports, watch progress, download, verify a PDF, the erasure tool."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from portal.accounts.models import Role
from portal.accounts.permissions import REPORT_ROLES, has_role, require_role
from portal.accounts.reauth import signs_at_provider
from portal.lib.errors import DomainError, FieldError
from portal.web.reauth_views import needs_reauth, reauth_begin, reauth_form

from . import selectors, services
from .catalog import FRAMEWORKS
from .erasure import erasure_csv
from .models import Report


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


class FrameworkForm(forms.Form):
    framework = forms.ChoiceField(choices=[(f.id, f.name) for f in FRAMEWORKS.values()])
    namespaces = forms.CharField(required=False, help_text="Comma-separated; empty = every namespace. Type to search.",
                                 widget=forms.TextInput(attrs={"data-picker-kind": "dataset",
                                                               "data-picker-value": "namespace",
                                                               "data-picker-multi": ""}))
    models = forms.CharField(required=False, help_text="Model names, comma-separated. Type to search.",
                             widget=forms.TextInput(attrs={"data-picker-kind": "modelVersion",
                                                           "data-picker-value": "name", "data-picker-multi": ""}))
    tags = forms.CharField(required=False, help_text="e.g. PHI, PII")
    period_start = forms.DateTimeField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateTimeField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


class DossierForm(forms.Form):
    model = forms.CharField(help_text="Type a model's name and pick the version (its node id is filled in).",
                            widget=forms.TextInput(attrs={"data-picker-kind": "modelVersion", "size": 60}))
    annex_iv = forms.BooleanField(required=False, label="Lay out as EU AI Act Annex IV")


class ErasureForm(forms.Form):
    dataset = forms.CharField(required=False, help_text="Type a dataset's name and pick it.",
                              widget=forms.TextInput(attrs={"data-picker-kind": "dataset", "size": 60}))
    subject_key = forms.CharField(required=False, help_text="Or a data subject's key (only its hash is kept)")


def _guard(request: HttpRequest) -> None:
    require_role(request.user, REPORT_ROLES, "Only compliance officers, auditors and admins may use reports.")


def _report(request: HttpRequest, pk: Any) -> Report:
    _guard(request)
    report = Report.objects.select_related("requested_by").filter(pk=pk).first()
    if report is None:
        raise Http404
    return report


@login_required
def report_list(request: HttpRequest) -> HttpResponse:
    _guard(request)
    reports = Report.objects.select_related("requested_by").defer("bundle", "pdf")[:100]
    return render(request, "reports/list.html", {
        "reports": reports, "framework_form": FrameworkForm(), "dossier_form": DossierForm(),
        "posture": _posture_rows()})


POSTURE_STATUSES = {"pass": "passing", "fail": "failing", "not_applicable": "not applicable (nothing in scope)",
                    "not_evaluated": "not evaluated", "evidence": "evidence only"}


@login_required
@require_GET
def posture_controls(request: HttpRequest, framework: str) -> HttpResponse:
    """The controls of a framework's latest posture evaluation with one outcome: what a posture cell counts."""
    _guard(request)
    fw = FRAMEWORKS.get(framework)
    if fw is None:
        raise Http404
    status = request.GET.get("status", "")
    if status and status not in POSTURE_STATUSES:
        return render(request, "reports/posture_controls.html", status=400, context={
            "framework": fw, "error": f"status: expected one of {', '.join(POSTURE_STATUSES)}"})
    snapshot = selectors.posture_latest().get(fw.id)
    outcomes = snapshot.controls if snapshot else {}
    controls = [(c, outcomes[c.id], outcomes[c.id].replace("_", " ")) for c in fw.controls
                if c.id in outcomes and (not status or outcomes[c.id] == status)]
    return render(request, "reports/posture_controls.html", {
        "framework": fw, "snapshot": snapshot, "status": status, "status_label": POSTURE_STATUSES.get(status, ""),
        "controls": controls, "statuses": POSTURE_STATUSES})


def _posture_rows() -> list[tuple[Any, Any]]:
    latest = selectors.posture_latest()
    return [(f, latest.get(f.id)) for f in FRAMEWORKS.values()]


def _start(request: HttpRequest, *, back: str = "reports:list", **fields: Any) -> HttpResponse:
    """Start a report and show it; on a refusal go back to the form (a named page, never the Referer)."""
    try:
        report = services.report_request(by=request.user, **fields)
    except (FieldError, DomainError) as exc:
        field = getattr(exc, "field", None)
        messages.error(request, f"{field}: {exc.message}" if field else exc.message)
        return redirect(back)
    return redirect("reports:detail", pk=report.pk)


@login_required
@require_POST
def report_start(request: HttpRequest) -> HttpResponse:
    _guard(request)
    kind = request.POST.get("kind", "framework")
    if kind == Report.Kind.DOSSIER:
        form = DossierForm(request.POST)
        if not form.is_valid():
            messages.error(request, f"Check the form: {form.errors.as_text()}")
            return redirect("reports:list")
        return _start(request, kind=kind, model=form.cleaned_data["model"].strip(),
                      annex_iv=form.cleaned_data["annex_iv"])
    form = FrameworkForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Check the form: {form.errors.as_text()}")
        return redirect("reports:list")
    d = form.cleaned_data
    scope = {"namespaces": _split(d["namespaces"]), "models": _split(d["models"]), "tags": _split(d["tags"])}
    return _start(request, kind=Report.Kind.FRAMEWORK, framework=d["framework"], scope=scope,
                  period_start=d["period_start"], period_end=d["period_end"])


@login_required
def report_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    report = _report(request, pk)
    bundle = report.bundle or {}
    signature = getattr(report, "countersignature", None) if report.state == Report.State.DONE else None
    may_countersign = (report.state == Report.State.DONE and signature is None
                       and has_role(request.user, {Role.AUDITOR}) and report.requested_by_id != request.user.pk)
    return render(request, "reports/detail.html", {
        "report": report, "controls": bundle.get("controls", []), "erasure": bundle.get("erasure"),
        "summary": bundle.get("summary"), "signature": signature, "may_countersign": may_countersign,
        "countersign_form": _countersign_form(request.user) if may_countersign else None,
        "file_name": services.report_file_name(report, "pdf")})


@login_required
def report_pdf(request: HttpRequest, pk: Any) -> HttpResponse:
    report = _report(request, pk)
    if report.state != Report.State.DONE:
        raise Http404("The report is not ready.")
    services.report_downloaded(report=report, by=request.user, fmt="pdf")
    response = HttpResponse(bytes(report.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{services.report_file_name(report, "pdf")}"'
    return response


@login_required
def report_csv(request: HttpRequest, pk: Any) -> HttpResponse:
    report = _report(request, pk)
    if report.state != Report.State.DONE or report.kind != Report.Kind.ERASURE:
        raise Http404
    services.report_downloaded(report=report, by=request.user, fmt="csv")
    response = HttpResponse(erasure_csv(report.bundle["erasure"]), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{services.report_file_name(report, "csv")}"'
    return response


def _countersign_form(user: Any) -> CountersignForm:
    form = CountersignForm()
    if signs_at_provider(user):
        del form.fields["password"]
    return form


class CountersignForm(forms.Form):
    # Not required: an SSO user signs in again at the provider instead (the service asks for one or the other).
    password = forms.CharField(widget=forms.PasswordInput, strip=False, required=False,
                               help_text="Your password again: this is an electronic signature.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000,
                             help_text="What you reviewed, e.g. 'Reviewed controls H1-H10 against the evidence.'")


@login_required
@require_POST
def report_countersign(request: HttpRequest, pk: Any) -> HttpResponse:
    report = _report(request, pk)
    require_role(request.user, {Role.AUDITOR}, "Only auditors countersign reports.")
    if needs_reauth(request):
        return reauth_begin(request, back=reverse("reports:detail", args=[report.pk]))
    form = CountersignForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Check the form: {form.errors.as_text()}")
        return redirect("reports:detail", pk=report.pk)
    try:
        services.report_countersign(report=report, by=request.user, reauth=reauth_form(request),
                                    **form.cleaned_data)
    except (FieldError, DomainError) as exc:
        field = getattr(exc, "field", None)
        messages.error(request, f"{field}: {exc.message}" if field else exc.message)
    else:
        messages.success(request, "Countersigned: the PDF now carries your reviewed-by block.")
    return redirect("reports:detail", pk=report.pk)


@login_required
def report_verify(request: HttpRequest) -> HttpResponse:
    verdict = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, "Choose a PDF file to verify.")
        else:
            verdict = services.report_verify(content=upload.read())
    return render(request, "reports/verify.html", {"verdict": verdict})


@login_required
def erasure_tool(request: HttpRequest) -> HttpResponse:
    _guard(request)
    form = ErasureForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return _start(request, back="reports:erasure", kind=Report.Kind.ERASURE,
                      dataset=form.cleaned_data["dataset"].strip(),
                      subject_key=form.cleaned_data["subject_key"])
    recent = Report.objects.filter(kind=Report.Kind.ERASURE).select_related("requested_by").defer("pdf")[:20]
    return render(request, "reports/erasure.html", {"form": form, "recent": recent})
