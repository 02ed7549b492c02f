"""Evidence documents: upload, approve, attach, detach, delete.

Each public write runs in one transaction and writes its audit entry in it. Who may do what:

- upload: viewers, approvers, compliance officers and admins who can see every node and release they attach
  to, within their upload quota. Not service accounts (ingestors): evidence has a human author. Not auditors:
  they examine the evidence, they do not supply it. Only compliance officers and admins may lengthen the
  retention lock beyond the type's default, and nobody beyond the type's maximum: a lock nobody can lift is
  a denial of records management.
- approve: approvers, compliance officers and admins, re-authenticated with their password, never the author.
- attach and detach: the author, approvers, compliance officers and admins, on nodes and releases they can see.
- delete: compliance officers and admins (records management), only once the retention lock has passed.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Sequence, Set
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from lineage.models import Node
from portal.accounts.models import Role, User
from portal.accounts.permissions import has_role
from portal.accounts.reauth import Confirmation, signer_confirm
from portal.approvals.models import Release
from portal.approvals.services import release_refresh
from portal.audit.services import audit_record, time_text
from portal.lib.errors import DomainError, FieldError
from portal.lib.jsonbody import json_loads_bounded

from .attributes import attributes_check
from .models import Document, DocumentType

UPLOAD_ROLES = {Role.VIEWER, Role.APPROVER, Role.COMPLIANCE_OFFICER, Role.ADMIN}
APPROVE_ROLES = {Role.APPROVER, Role.COMPLIANCE_OFFICER, Role.ADMIN}
ATTACH_ROLES = APPROVE_ROLES
DELETE_ROLES = {Role.COMPLIANCE_OFFICER, Role.ADMIN}
UPLOAD_REFUSED = "Only people with the viewer, approver, compliance officer or admin role may upload evidence."
APPROVE_REFUSED = "Only approvers, compliance officers and admins may approve evidence."
DELETE_REFUSED = "Only compliance officers and admins may delete evidence."
RETENTION_ROLES = DELETE_ROLES
RETENTION_REFUSED = ("Only compliance officers and admins may set a retention lock longer than the document "
                     "type's default; leave the date empty.")

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEXT_TYPES = {"text/plain", "text/csv", "text/markdown"}
ALLOWED_TYPES = {PDF, DOCX, XLSX, *TEXT_TYPES, "application/json", "image/png", "image/jpeg"}
BY_EXTENSION = {
    ".pdf": PDF, ".docx": DOCX, ".xlsx": XLSX, ".csv": "text/csv", ".txt": "text/plain", ".md": "text/markdown",
    ".markdown": "text/markdown", ".json": "application/json", ".png": "image/png", ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}
ALIASES = {"text/x-markdown": "text/markdown", "image/jpg": "image/jpeg", "application/x-pdf": PDF}
# What clients send when they do not know: then the file name decides. Windows labels .csv files as Excel.
GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/vnd.ms-excel"}


class EvidenceError(DomainError):
    status_code = 400


class NotAllowed(DomainError):
    status_code = 403


class RetentionLocked(DomainError):
    status_code = 409


class QuotaExceeded(DomainError):
    """The uploader's documents would exceed ``PORTAL_EVIDENCE_QUOTA_BYTES``."""

    status_code = 413


# -- checks ------------------------------------------------------------------------------------------------
def require_role(user: User, roles: Set[str], message: str) -> None:
    if not has_role(user, roles):
        raise NotAllowed(message)


def clean_file_name(name: str) -> str:
    """The last path component, without control characters, at most 255 characters."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".")
    return name[-255:] or "document"


def _extension(file_name: str) -> str:
    dot = file_name.rfind(".")
    return file_name[dot:].lower() if dot > 0 else ""


def content_type_resolve(*, file_name: str, content_type: str) -> str:
    """The declared type, normalised; generic or missing declarations fall back to the file's extension."""
    declared = ALIASES.get(t := (content_type or "").split(";")[0].strip().lower(), t)
    if declared in GENERIC_TYPES:
        return BY_EXTENSION.get(_extension(file_name), declared or "application/octet-stream")
    return declared


def _zip_names(content: bytes) -> set[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            return set(z.namelist())  # reads the central directory only; nothing is decompressed
    except (zipfile.BadZipFile, ValueError):
        return set()


def _text(content: bytes) -> str | None:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def _matches(content_type: str, content: bytes) -> bool:
    """Do the bytes look like what the type says? Magic numbers, container members, or valid UTF-8 text."""
    if content_type == PDF:
        return b"%PDF-" in content[:1024]
    if content_type == DOCX:
        return "word/document.xml" in _zip_names(content)
    if content_type == XLSX:
        return "xl/workbook.xml" in _zip_names(content)
    if content_type == "image/png":
        return content.startswith(b"\x89PNG\r\n\x1a\n")
    if content_type == "image/jpeg":
        return content.startswith(b"\xff\xd8\xff")
    text = _text(content)
    if text is None:
        return False
    if content_type == "application/json":
        try:
            json_loads_bounded(text, field="file")
        except (ValueError, FieldError):
            return False
    return True


def content_check(*, file_name: str, content: bytes, content_type: str) -> str:
    """Refuse empty, oversized, unlisted or mislabelled files; return the content type to store."""
    limit = settings.PORTAL_EVIDENCE_MAX_BYTES
    if not content:
        raise FieldError("file", "The file is empty.")
    if len(content) > limit:
        raise FieldError("file", f"The file is {len(content)} bytes; the limit is {limit} bytes.")
    resolved = content_type_resolve(file_name=file_name, content_type=content_type)
    if resolved not in ALLOWED_TYPES:
        raise FieldError("file", f"Files of type {resolved!r} are not accepted; upload PDF, DOCX, XLSX, CSV, "
                                 "text, Markdown, JSON, PNG or JPEG.")
    if not _matches(resolved, content):
        hint = " (text must be UTF-8)" if resolved in TEXT_TYPES | {"application/json"} else ""
        raise FieldError("file", f"The file's content is not {resolved}{hint}.")
    return resolved


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def retention_default(*, doc_type: str, effective_from: datetime, effective_until: datetime | None = None) -> date:
    """Years by type (settings) from the later of today and the document's last day in effect."""
    years = settings.PORTAL_EVIDENCE_RETENTION_YEARS.get(doc_type, settings.PORTAL_EVIDENCE_RETENTION_DEFAULT_YEARS)
    last = max(timezone.now(), effective_from, effective_until or effective_from)
    return _add_years(last.date(), years)


def retention_check(*, by: User, doc_type: str, effective_from: datetime, effective_until: datetime | None,
                    retention_until: date | None) -> date:
    """The retention lock of a new document: the type's default, or a later date asked for by a compliance officer
    or an admin, at most the type's maximum (``PORTAL_EVIDENCE_RETENTION_MAX_YEARS``) from the same day."""
    floor = retention_default(doc_type=doc_type, effective_from=effective_from, effective_until=effective_until)
    if retention_until is None or retention_until <= floor:
        return floor
    if not has_role(by, RETENTION_ROLES):
        raise NotAllowed(RETENTION_REFUSED, field="retention_until")
    years = settings.PORTAL_EVIDENCE_RETENTION_MAX_YEARS.get(doc_type,
                                                               settings.PORTAL_EVIDENCE_RETENTION_MAX_DEFAULT_YEARS)
    last = max(timezone.now(), effective_from, effective_until or effective_from)
    ceiling = _add_years(last.date(), years)
    if retention_until > ceiling:
        raise FieldError("retention_until", f"A {doc_type} document may be locked for at most {years} years, "
                                            f"until {ceiling.isoformat()}.")
    return retention_until


def quota_check(*, by: User, size: int) -> None:
    """Refuse an upload that would take the user's stored evidence over their quota. The user's row is locked
    first, so two concurrent uploads cannot both fit the last free bytes."""
    quota = settings.PORTAL_EVIDENCE_QUOTA_BYTES
    if quota <= 0:
        return
    User.objects.select_for_update().filter(pk=by.pk).first()
    used = Document.objects.filter(author=by).aggregate(total=Sum("size"))["total"] or 0
    if used + size > quota:
        raise QuotaExceeded(f"This upload of {size} bytes would take your evidence to {used + size} bytes; your "
                            f"quota is {quota} bytes. Ask a compliance officer to delete superseded documents.",
                            field="file")


def _visible_nodes(user: User, node_ids: Iterable[str]) -> list[Node]:
    wanted = list(dict.fromkeys(n.strip() for n in node_ids if n and n.strip()))
    found = {n.node_id: n for n in Node.objects.visible_to(user).filter(node_id__in=wanted)}
    for node_id in wanted:
        if node_id not in found:
            raise FieldError("node_ids", f"No node {node_id} is known.")
    return [found[n] for n in wanted]


def _visible_releases(user: User, release_ids: Iterable[int]) -> list[Release]:
    wanted = list(dict.fromkeys(int(r) for r in release_ids))
    found = {r.pk: r for r in Release.objects.visible_to(user).filter(pk__in=wanted)}
    for pk in wanted:
        if pk not in found:
            raise FieldError("release_ids", f"No release {pk} is known.")
    return [found[pk] for pk in wanted]


def _refresh_waiting_releases(document: Document, by: User) -> None:
    """Pending releases whose policy requires this document's type may now be complete: re-evaluate them."""
    if document.approved_at is None:
        return
    waiting = Release.objects.filter(state=Release.State.PENDING).filter(
        Q(pk__in=document.releases.values("pk")) | Q(model_version__in=document.nodes.values("pk"))
    ).select_related("policy")
    for release in waiting:
        if document.doc_type in (release.policy.required_evidence or []):
            release_refresh(release=release, by=by)


# -- writes ------------------------------------------------------------------------------------------------
@transaction.atomic
def document_upload(
    *, by: User, file_name: str, content: bytes, content_type: str, doc_type: str, title: str, version: str,
    description: str, effective_from: datetime, effective_until: datetime | None = None,
    retention_until: date | None = None, sections: Sequence[str] = (), attributes: dict[str, Any] | None = None,
    node_ids: Sequence[str] = (), release_ids: Sequence[int] = (), supersedes: Document | None = None,
) -> Document:
    """Store a file as evidence, unapproved. Its SHA-256 and size are computed here.

    The retention lock is the type's default (settings) unless ``retention_until`` is later (``retention_check``);
    the upload must fit the user's quota (``quota_check``). Superseding ends
    the old document's effective period when the new one's begins, and extends the old one's retention to run
    from that day.
    """
    require_role(by, UPLOAD_ROLES, UPLOAD_REFUSED)
    if doc_type not in DocumentType.values:
        raise FieldError("doc_type", f"Unknown document type {doc_type!r}.")
    if not title.strip():
        raise FieldError("title", "A document needs a title.")
    if not version.strip():
        raise FieldError("version", "A document needs a version.")
    if effective_until is not None and effective_until <= effective_from:
        raise FieldError("effective_until", "The effective period must end after it starts.")
    if not isinstance(attributes or {}, dict):
        raise FieldError("attributes", "Attributes must be a JSON object.")
    attributes_check(doc_type=doc_type, attributes=attributes or {})
    if any(not isinstance(s, str) for s in sections):
        raise FieldError("sections", "Sections must be a list of strings.")
    file_name = clean_file_name(file_name)
    resolved_type = content_check(file_name=file_name, content=content, content_type=content_type)
    nodes = _visible_nodes(by, node_ids)
    releases = _visible_releases(by, release_ids)
    if supersedes is not None:
        supersedes = _supersedable(supersedes, by=by, doc_type=doc_type, effective_from=effective_from)
    retention = retention_check(by=by, doc_type=doc_type, effective_from=effective_from,
                                effective_until=effective_until, retention_until=retention_until)
    quota_check(by=by, size=len(content))
    sha256 = hashlib.sha256(content).hexdigest()
    doc = Document.objects.create(
        doc_type=doc_type, title=title.strip(), version=version.strip(), description=description,
        filename=file_name, content_type=resolved_type, size=len(content), sha256=sha256, content=content,
        author=by, effective_from=effective_from, effective_until=effective_until,
        retention_until=retention,
        sections=list(sections), attributes=attributes or {}, supersedes=supersedes,
    )
    doc.nodes.set(nodes)
    doc.releases.set(releases)
    audit_record(actor=by, action="evidence.uploaded", target_kind="document", target_id=str(doc.pk), payload={
        "sha256": sha256, "size": doc.size, "type": doc_type, "title": doc.title, "version": doc.version,
        "filename": file_name, "content_type": resolved_type, "nodes": [n.node_id for n in nodes],
        "releases": [r.pk for r in releases], "effective_from": time_text(effective_from),
        "retention_until": doc.retention_until.isoformat(), "supersedes": str(supersedes.pk) if supersedes else None,
    })
    if supersedes is not None:
        _supersede(supersedes, by=by, new=doc)
    return doc


def _supersedable(old: Document, *, by: User, doc_type: str, effective_from: datetime) -> Document:
    old = Document.objects.select_for_update().get(pk=old.pk)
    if not Document.objects.visible_to(by).filter(pk=old.pk).exists():
        raise FieldError("supersedes", "No such document is known.")
    if old.doc_type != doc_type:
        raise FieldError("supersedes", f"A {doc_type} cannot supersede a {old.doc_type}.")
    newer = Document.objects.filter(supersedes=old).values_list("pk", flat=True).first()
    if newer is not None:
        raise FieldError("supersedes", f"That document is already superseded by {newer}.")
    if effective_from <= old.effective_from:
        raise FieldError("effective_from", "A new version must take effect after the one it supersedes.")
    return old


def _supersede(old: Document, *, by: User, new: Document) -> None:
    until = new.effective_from if old.effective_until is None else min(old.effective_until, new.effective_from)
    retention = max(old.retention_until, retention_default(doc_type=old.doc_type, effective_from=old.effective_from,
                                                           effective_until=until))
    Document.objects.filter(pk=old.pk).update(effective_until=until, retention_until=retention)
    audit_record(actor=by, action="evidence.superseded", target_kind="document", target_id=str(old.pk), payload={
        "by_document": str(new.pk), "before": {"effective_until": time_text(old.effective_until)
                                               if old.effective_until else None,
                                               "retention_until": old.retention_until.isoformat()},
        "after": {"effective_until": time_text(until), "retention_until": retention.isoformat()},
    })


def document_approve(*, document: Document, by: User, password: str, reason: str, otp: str = "",
                     reauth: str = "") -> Document:
    """Approve a document with an electronic signature: the approver's password again, a reason, never the
    author. A wrong password is recorded (``evidence.approval_refused``) and kept.

    Approval can complete pending releases whose policy required this type: they are re-evaluated here.
    """
    require_role(by, APPROVE_ROLES, APPROVE_REFUSED)
    if document.author_id == by.pk:
        raise NotAllowed("You wrote this document; someone else must approve it.")
    if not reason.strip():
        raise EvidenceError("An approval needs a reason.", field="reason")
    confirmed = signer_confirm(user=by, password=password, otp=otp, reauth=reauth,
                               refused_action="evidence.approval_refused", target_kind="document",
                               target_id=str(document.pk), wrong_password=EvidenceError(
                                   "The password is wrong; nothing was approved.", field="password"))
    return _document_approve(document=document, by=by, reason=reason, confirmed=confirmed)


@transaction.atomic
def _document_approve(*, document: Document, by: User, reason: str, confirmed: Confirmation) -> Document:
    now = timezone.now()
    claimed = Document.objects.filter(pk=document.pk, approved_at__isnull=True).update(
        approved_by=by, approved_at=now, approval_reason=reason)
    if claimed != 1:
        raise EvidenceError("This document is already approved.", field="state")
    document.refresh_from_db()
    audit_record(actor=by, action="evidence.approved", target_kind="document", target_id=str(document.pk),
                 payload={"sha256": document.sha256, "type": document.doc_type, "printed_name": by.printed_name,
                          "reason": reason, "time": time_text(now), **confirmed.audit()})
    _refresh_waiting_releases(document, by)
    return document


@transaction.atomic
def document_attach(*, document: Document, by: User, node_ids: Sequence[str] = (),
                    release_ids: Sequence[int] = ()) -> Document:
    """Attach to more nodes or releases. An approved document can complete a pending release."""
    nodes, releases = _attachment_targets(document, by, node_ids, release_ids)
    new_nodes = [n for n in nodes if not document.nodes.filter(pk=n.pk).exists()]
    new_releases = [r for r in releases if not document.releases.filter(pk=r.pk).exists()]
    document.nodes.add(*new_nodes)
    document.releases.add(*new_releases)
    if new_nodes or new_releases:
        audit_record(actor=by, action="evidence.attached", target_kind="document", target_id=str(document.pk),
                     payload={"sha256": document.sha256, "nodes": [n.node_id for n in new_nodes],
                              "releases": [r.pk for r in new_releases]})
        _refresh_waiting_releases(document, by)
    return document


@transaction.atomic
def document_detach(*, document: Document, by: User, node_ids: Sequence[str] = (),
                    release_ids: Sequence[int] = ()) -> Document:
    """Detach from nodes or releases. The document itself stays; a release may then lack required evidence."""
    nodes, releases = _attachment_targets(document, by, node_ids, release_ids)
    old_nodes = [n for n in nodes if document.nodes.filter(pk=n.pk).exists()]
    old_releases = [r for r in releases if document.releases.filter(pk=r.pk).exists()]
    document.nodes.remove(*old_nodes)
    document.releases.remove(*old_releases)
    if old_nodes or old_releases:
        audit_record(actor=by, action="evidence.detached", target_kind="document", target_id=str(document.pk),
                     payload={"sha256": document.sha256, "nodes": [n.node_id for n in old_nodes],
                              "releases": [r.pk for r in old_releases]})
    return document


def _attachment_targets(document: Document, by: User, node_ids: Sequence[str], release_ids: Sequence[int]
                        ) -> tuple[list[Node], list[Release]]:
    """What attach and detach share: may ``by`` move this document, and which of the named nodes and releases
    (all visible to them, at least one) it is about."""
    _check_attacher(document, by)
    nodes = _visible_nodes(by, node_ids)
    releases = _visible_releases(by, release_ids)
    if not nodes and not releases:
        raise FieldError("node_ids", "Name at least one node or release.")
    return nodes, releases


def _check_attacher(document: Document, by: User) -> None:
    if document.author_id == by.pk and has_role(by, UPLOAD_ROLES):
        return
    require_role(by, ATTACH_ROLES, "Only the author, approvers, compliance officers and admins may change where a "
                               "document is attached.")


@transaction.atomic
def document_delete(*, document: Document, by: User, reason: str) -> None:
    """Delete a document whose retention lock has passed. The database refuses earlier deletes too."""
    require_role(by, DELETE_ROLES, DELETE_REFUSED)
    if not reason.strip():
        raise EvidenceError("Deleting evidence needs a reason.", field="reason")
    document = Document.objects.select_for_update().get(pk=document.pk)
    today = timezone.now().date()
    if document.retention_until > today:
        raise RetentionLocked(f"This document is under a retention lock until {document.retention_until}; "
                              "it cannot be deleted before then.")
    newer = Document.objects.filter(supersedes=document).values_list("pk", flat=True).first()
    if newer is not None:
        raise RetentionLocked(f"Document {newer} supersedes this one; delete that one first.")
    payload = {"sha256": document.sha256, "type": document.doc_type, "title": document.title,
               "version": document.version, "retention_until": document.retention_until.isoformat(),
               "nodes": list(document.nodes.values_list("node_id", flat=True)),
               "releases": list(document.releases.values_list("pk", flat=True)), "reason": reason}
    pk = str(document.pk)
    document.delete()
    audit_record(actor=by, action="evidence.deleted", target_kind="document", target_id=pk, payload=payload)
