"""Audit log pages for auditors and admins: filters, entry detail, chain status, export download."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal.accounts.permissions import AUDIT_ROLES, require_role
from portal.lib.errors import FieldError

from .api import entry_filter
from .export import ExportRefused, audit_export
from .models import AuditCheckpoint, AuditEntry, AuditVerification
from .services import entry_for, pending_count
from .tasks import audit_verify_task

NODE_KINDS = ("dataset", "datasetVersion", "job", "run", "commit", "modelVersion", "deployment")


def _require_auditor(request: HttpRequest) -> None:
    require_role(request.user, AUDIT_ROLES, "Only auditors and admins may read the audit trail.")


def chain_status() -> dict[str, object]:
    return {"verification": AuditVerification.objects.first(),
            "checkpoint": AuditCheckpoint.objects.order_by("-tree_size", "-id").first(),
            "head": AuditEntry.objects.order_by("-seq").only("seq", "entry_hash", "time").first(),
            "pending": pending_count()}


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    _require_auditor(request)
    error = None
    qs = AuditEntry.objects.order_by("-seq")
    try:
        qs = entry_filter(qs, request.GET)
    except FieldError as exc:
        error = f"{exc.field}: {exc.message}"
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(request, "audit/log.html", {"page": page, "filters": request.GET, "error": error,
                                              "node_kinds": NODE_KINDS,
                                              "query": params.urlencode(), **chain_status()})


@login_required
def audit_entry(request: HttpRequest, seq: int) -> HttpResponse:
    _require_auditor(request)
    entry = get_object_or_404(AuditEntry, seq=seq)
    return render(request, "audit/entry.html", {"entry": entry, "data": entry_for(request.user, entry),
                                                **chain_status()})


@login_required
@require_POST
def audit_verify_now(request: HttpRequest) -> HttpResponse:
    _require_auditor(request)
    audit_verify_task.delay()
    messages.info(request, "Verification started; the chain status updates when it finishes.")
    return redirect("audit:log")


@login_required
@require_POST
def audit_export_download(request: HttpRequest) -> HttpResponse:
    _require_auditor(request)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit-export"
        try:
            audit_export(out=out, by=request.user)
        except ExportRefused as exc:
            messages.error(request, f"Export refused: {exc}")
            return redirect("audit:log")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(out.iterdir()):
                zf.write(path, f"audit-export/{path.name}")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = HttpResponse(buf.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="audit-export-{stamp}.zip"'
    return response
