"""Evidence pages: the list with filters, a document's page (approve, attach, delete), upload, download."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from lineage.models import Node
from portal.accounts.mfa import second_factor_required
from portal.accounts.permissions import has_role
from portal.approvals.models import Release
from portal.lib.errors import DomainError, FieldError
from portal.web.reauth_views import needs_reauth, reauth_begin, reauth_form

from . import selectors, services
from .api import content_response
from .forms import UploadForm
from .models import Document, DocumentType


def _visible(request: HttpRequest, pk: object) -> Document:
    doc = Document.objects.visible_to(request.user).defer("content").select_related(
        "author", "approved_by", "supersedes").filter(pk=pk).first()
    if doc is None:
        raise Http404
    return doc


@login_required
def document_list(request: HttpRequest) -> HttpResponse:
    g = request.GET
    doc_type = g.get("type", "") if g.get("type", "") in DocumentType.values else ""
    status = g.get("status", "") if g.get("status", "") in ("approved", "awaiting") else ""
    node = Node.objects.visible_to(request.user).filter(node_id=g["node"]).first() if g.get("node") else None
    release = None
    if g.get("release", "").isdigit():
        release = Release.objects.visible_to(request.user).filter(pk=int(g["release"])).first()
    documents = selectors.document_list(
        user=request.user, node=node, release=release, doc_type=doc_type or None, q=g.get("q", "").strip() or None,
        approved={"approved": True, "awaiting": False}.get(status))
    return render(request, "evidence/list.html", {
        "documents": documents[:200], "types": DocumentType.choices, "type": doc_type, "status": status,
        "q": g.get("q", ""), "node": g.get("node", ""), "release": g.get("release", ""),
        "node_unknown": bool(g.get("node")) and node is None,
        "may_upload": has_role(request.user, services.UPLOAD_ROLES),
    })


@login_required
def document_detail(request: HttpRequest, pk: object) -> HttpResponse:
    doc = _visible(request, pk)
    user = request.user
    superseded_by = Document.objects.visible_to(user).filter(supersedes=doc).defer("content").first()
    releases = Release.objects.visible_to(user).filter(documents=doc).select_related("model_version")
    may_attach = has_role(user, services.ATTACH_ROLES) or (doc.author_id == user.pk
                                                           and has_role(user, services.UPLOAD_ROLES))
    return render(request, "evidence/document.html", {
        "doc": doc, "node_ids": selectors.node_ids_visible(user=user, document=doc), "releases": releases,
        "superseded_by": superseded_by, "in_effect": doc.in_effect_at(),
        "may_approve": doc.approved_at is None and doc.author_id != user.pk
        and has_role(user, services.APPROVE_ROLES),
        "may_attach": may_attach, "may_delete": has_role(user, services.DELETE_ROLES),
        "locked": doc.retention_until > timezone.now().date(), "needs_code": second_factor_required(user),
    })


@login_required
def document_download(request: HttpRequest, pk: object) -> HttpResponse:
    doc = _visible(request, pk)
    return content_response(Document.objects.get(pk=doc.pk))


@login_required
def document_upload(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        # The role before the form, so a refusal never depends on what was sent (as on the API).
        if not has_role(request.user, services.UPLOAD_ROLES):
            raise PermissionDenied(services.UPLOAD_REFUSED)
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            v = dict(form.cleaned_data)
            upload = v.pop("file")
            supersedes = None
            if v["supersedes"]:
                supersedes = Document.objects.visible_to(request.user).filter(pk=v["supersedes"]).first()
            try:
                if v["supersedes"] and supersedes is None:
                    raise FieldError("supersedes", "No such document is known.")
                v["supersedes"] = supersedes
                v["effective_from"] = v["effective_from"] or timezone.now()
                doc = services.document_upload(by=request.user, file_name=upload.name or "",
                                               content=upload.read(), content_type=upload.content_type or "", **v)
            except (FieldError, DomainError) as exc:
                field = (exc.field or "").split(".")[0]  # attributes.<key> belongs to the attributes box
                message = exc.message if field == exc.field else f"{exc.field}: {exc.message}"
                form.add_error(field if field in form.fields else None, message)
            else:
                messages.success(request, "Uploaded. It needs an approval before it counts as evidence.")
                return redirect("evidence:document", pk=doc.pk)
    else:
        initial = {"node_ids": request.GET.get("node", ""), "release_ids": request.GET.get("release", "")}
        form = UploadForm(initial=initial)
    return render(request, "evidence/upload.html", {
        "form": form, "may_upload": has_role(request.user, services.UPLOAD_ROLES)})


@login_required
@require_POST
def document_approve(request: HttpRequest, pk: object) -> HttpResponse:
    doc = _visible(request, pk)
    if needs_reauth(request):
        return reauth_begin(request, back=reverse("evidence:document", args=[doc.pk]))
    try:
        services.document_approve(document=doc, by=request.user, password=request.POST.get("password", ""),
                                  reason=request.POST.get("reason", ""), otp=request.POST.get("otp", ""),
                                  reauth=reauth_form(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Approved.")
    return redirect("evidence:document", pk=doc.pk)


@login_required
@require_POST
def document_attachments(request: HttpRequest, pk: object) -> HttpResponse:
    doc = _visible(request, pk)
    node_ids = [n for n in request.POST.getlist("node_id") if n.strip()]
    release_ids = [r.strip().lstrip("#") for r in request.POST.getlist("release_id") if r.strip()]
    try:
        if not all(r.isdigit() for r in release_ids):
            raise FieldError("release_ids", "Release ids are numbers.")
        write = services.document_detach if request.POST.get("action") == "detach" else services.document_attach
        write(document=doc, by=request.user, node_ids=node_ids, release_ids=[int(r) for r in release_ids])
    except (DomainError, FieldError) as exc:
        messages.error(request, getattr(exc, "message", str(exc)))
    else:
        messages.success(request, "Attachments updated.")
    return redirect("evidence:document", pk=doc.pk)


@login_required
@require_POST
def document_delete(request: HttpRequest, pk: object) -> HttpResponse:
    doc = _visible(request, pk)
    try:
        services.document_delete(document=doc, by=request.user, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("evidence:document", pk=doc.pk)
    messages.success(request, "Deleted.")
    return redirect("evidence:list")
