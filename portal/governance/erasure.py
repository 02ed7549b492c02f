"""GDPR Art. 17 erasure requests: open one (its impact becomes a list of dispositions to decide), decide each
affected dataset and model version, and log the response. Each write is audited; the raw subject key is
never stored or audited, only its SHA-256.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from lineage.governance_fields import subject_key_hash
from lineage.models import Node
from lineage.selectors import erasure_impact
from portal.accounts.models import User
from portal.accounts.permissions import CURATE_ROLES, has_role
from portal.audit.services import audit_record
from portal.lib.errors import DomainError, FieldError

from .models import ErasureDisposition, ErasureRequest
from .selectors import subject_key_datasets

RESPONSE_DAYS = 30  # Art. 12(3): one month
EXTENSION_DAYS = 60  # … extendable by two further months
DATASET_OUTCOMES = {"erased", "anonymised", "exempt"}
MODEL_OUTCOMES = {"retrained", "no_personal_data", "exempt"}


class ErasureForbidden(DomainError):
    status_code = 403


def due_at(request: ErasureRequest) -> datetime:
    return request.received_at + timedelta(days=RESPONSE_DAYS + (EXTENSION_DAYS if request.extended else 0))


def _guard(by: User) -> None:
    if not has_role(by, CURATE_ROLES):
        raise ErasureForbidden("Only compliance officers and admins handle erasure requests.")


@transaction.atomic
def erasure_request_open(*, by: User, subject_key: str = "", dataset: str = "",
                         received_at: datetime | None = None) -> ErasureRequest:
    """Record a request and list what it touches: the datasets holding the subject (or the dataset named) and
    every model version derived from them, each with a pending disposition."""
    _guard(by)
    if bool(subject_key.strip()) == bool(dataset.strip()):
        raise FieldError("subject_key", "give exactly one of subject_key or dataset")
    received_at = received_at or timezone.now()
    if received_at > timezone.now():
        raise FieldError("received_at", "cannot be in the future")
    digest = subject_key_hash(subject_key) if subject_key.strip() else ""
    if digest:
        sources = subject_key_datasets(subject_key)
        if not sources:
            raise FieldError("subject_key", "no dataset's subject index holds this key")
        target = None
    else:
        target = Node.objects.filter(node_id=dataset.strip(), kind="dataset").first()
        if target is None:
            raise FieldError("dataset", f"no dataset {dataset.strip()!r}")
        sources = [target]
    impact = erasure_impact(sources=sources)
    request = ErasureRequest.objects.create(subject_key_hash=digest, dataset=target, received_at=received_at,
                                            created_by=by)
    affected = [s.pk for s in sources]
    models = [a["node_id"] for a in impact["affected"] if a["kind"] == "modelVersion"]
    affected += list(Node.objects.filter(node_id__in=models).values_list("pk", flat=True))
    ErasureDisposition.objects.bulk_create([ErasureDisposition(request=request, node_id=pk) for pk in affected])
    audit_record(actor=by, action="governance.erasure_requested", target_kind="erasure_request",
                 target_id=str(request.pk),
                 payload={"subject_key_hash": digest, "dataset": target.node_id if target else None,
                          "received_at": received_at.isoformat(), "datasets": [s.node_id for s in sources],
                          "model_versions": models, "truncated": impact["truncated"]})
    return request


@transaction.atomic
def erasure_disposition_set(*, by: User, request: ErasureRequest, node_id: str, outcome: str,
                            reason: str) -> ErasureDisposition:
    _guard(by)
    d = ErasureDisposition.objects.select_for_update().select_related("node").filter(
        request=request, node__node_id=node_id).first()
    if d is None:
        raise FieldError("node_id", "not among the nodes this request affects")
    allowed = DATASET_OUTCOMES if d.node.kind == "dataset" else MODEL_OUTCOMES
    if outcome not in allowed:
        raise FieldError("outcome", f"for a {d.node.kind}: one of {', '.join(sorted(allowed))}")
    if outcome == "exempt" and not reason.strip():
        raise FieldError("reason", "an Art. 17(3) exemption needs its ground")
    d.outcome, d.reason, d.decided_at, d.decided_by = outcome, reason.strip(), timezone.now(), by
    d.save()
    audit_record(actor=by, action="governance.erasure_disposition", target_kind="erasure_request",
                 target_id=str(request.pk), payload={"node": node_id, "outcome": outcome, "reason": d.reason})
    return d


@transaction.atomic
def erasure_request_respond(*, by: User, request: ErasureRequest, response: str, extended: bool = False,
                            extension_reason: str = "") -> ErasureRequest:
    """Log the response to the data subject. Every affected dataset must be decided first."""
    _guard(by)
    request = ErasureRequest.objects.select_for_update().get(pk=request.pk)
    if request.responded_at:
        raise DomainError("This request was already answered.")
    pending = list(request.dispositions.filter(node__kind="dataset", outcome="pending")
                   .values_list("node__node_id", flat=True))
    if pending:
        raise FieldError("response", f"decide the datasets first: {', '.join(pending)}")
    if not response.strip():
        raise FieldError("response", "say what the data subject was told")
    if extended and not extension_reason.strip():
        raise FieldError("extension_reason", "an extension needs its reason (Art. 12(3))")
    request.responded_at, request.response = timezone.now(), response.strip()
    request.extended, request.extension_reason = extended, extension_reason.strip()
    request.save()
    audit_record(actor=by, action="governance.erasure_responded", target_kind="erasure_request",
                 target_id=str(request.pk), payload={"due": due_at(request).isoformat(), "extended": extended})
    return request


def erasure_request_dict(request: ErasureRequest) -> dict[str, Any]:
    return {"id": request.pk, "subject_key_hash": request.subject_key_hash or None,
            "dataset": request.dataset.node_id if request.dataset_id else None,
            "received_at": request.received_at, "due_at": due_at(request), "extended": request.extended,
            "responded_at": request.responded_at, "response": request.response,
            "dispositions": [{"node_id": d.node.node_id, "kind": d.node.kind, "outcome": d.outcome,
                              "reason": d.reason, "decided_at": d.decided_at,
                              "decided_by": d.decided_by.username if d.decided_by_id else None}
                             for d in request.dispositions.select_related("node", "decided_by").order_by("pk")]}
