"""Audit API: entries and verification for auditors; checkpoints, the public key and proofs for anyone signed in."""

from __future__ import annotations

import base64
from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.permissions import CanAudit
from portal.lib.errors import FieldError, query_datetime
from portal.lib.pagination import BoundedPagination, page_parameters

from . import keys
from .merkle import ChainTree
from .models import AuditCheckpoint, AuditEntry, AuditPending
from .services import audit_verify, entry_for


def _b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(i).decode() for i in items]


def _int_param(request: Request, name: str, *, required: bool = False) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if required:
            raise FieldError(name, "this query parameter is required")
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise FieldError(name, "must be an integer") from exc
    if value < 0:
        raise FieldError(name, "must not be negative")
    return value


def _latest_checkpoint() -> AuditCheckpoint:
    cp = AuditCheckpoint.objects.order_by("-tree_size", "-id").first()
    if cp is None:
        raise FieldError(None, "no checkpoint has been signed yet")
    return cp


def _tree_size_param(request: Request, name: str) -> int:
    """The tree size the query parameter ``name`` asks for; by default the latest signed checkpoint's."""
    size = _int_param(request, name)
    return _latest_checkpoint().tree_size if size is None else size


def _chain_within(size: int, name: str) -> None:
    """Refuse (naming the parameter ``name``) a tree larger than the chain holds."""
    head = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    if size > head:
        raise FieldError(name, f"the chain has only {head} entries")


def entry_filter(qs: QuerySet[AuditEntry], params: dict[str, str]) -> QuerySet[AuditEntry]:
    """Filters shared by the API and the audit log page. Unknown or malformed values raise FieldError."""
    if params.get("actor"):
        actor = params["actor"]
        qs = qs.filter(Q(actor_name__icontains=actor) | Q(actor_token=actor)
                       | Q(actor_id=int(actor) if actor.isdigit() else -1))
    if params.get("action"):
        qs = qs.filter(action__startswith=params["action"])
    if params.get("target_kind"):
        qs = qs.filter(target_kind=params["target_kind"])
    if params.get("target_id"):
        qs = qs.filter(target_id=params["target_id"])
    for name, lookup in (("since", "time__gte"), ("until", "time__lt")):
        value = query_datetime(params, name)
        if value is not None:
            qs = qs.filter(**{lookup: value})
    return qs


class AuditEntryListApi(APIView):
    permission_classes = [CanAudit]

    @extend_schema(operation_id="audit_entries", parameters=[
        OpenApiParameter(p, str) for p in ("actor", "action", "target_kind", "target_id", "since", "until")
    ] + page_parameters(), responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        qs = entry_filter(AuditEntry.objects.order_by("-seq"), request.query_params)
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(qs, request, view=self) or []
        return paginator.get_paginated_response([entry_for(request.user, e) for e in page])


class AuditVerifyApi(APIView):
    permission_classes = [CanAudit]

    @extend_schema(operation_id="audit_verify", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        v = audit_verify()
        return Response({"ok": v.ok, "entries": v.entries, "head": v.head, "message": v.message,
                         "firstBadSeq": v.first_bad_seq, "checkpoints": v.checkpoints, "notes": v.notes})


class CheckpointLatestApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="audit_checkpoint_latest", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response(_latest_checkpoint().as_dict())


class PublicKeyApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="audit_public_key", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response({"algorithm": "Ed25519", "key_id": keys.public_key_id(),
                         "pem": keys.public_key_pem().decode()})


class InclusionProofApi(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer[Any]):
        seq = serializers.IntegerField()
        leaf_index = serializers.IntegerField()
        tree_size = serializers.IntegerField()
        entry_hash = serializers.CharField()
        root = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.root, as the API has it
        proof = serializers.ListField(child=serializers.CharField(), help_text="base64 hashes, leaf to root")

    @extend_schema(operation_id="audit_inclusion_proof",
                   parameters=[OpenApiParameter("seq", int, required=True),
                               OpenApiParameter("tree_size", int, description="Default: the latest checkpoint.")],
                   responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        seq = _int_param(request, "seq", required=True)
        size = _tree_size_param(request, "tree_size")
        assert seq is not None
        if seq > size and (AuditPending.objects.exists() or AuditEntry.objects.filter(seq=seq).exists()):
            raise FieldError("seq", f"entry {seq} is not yet covered by a signed checkpoint (the newest covers "
                                    f"{size}); the sequencer signs one within seconds, ask again")
        if not 1 <= seq <= size:
            raise FieldError("seq", f"must be between 1 and the tree size {size}")
        _chain_within(size, "tree_size")
        entry = AuditEntry.objects.get(seq=seq)
        tree = ChainTree(size)
        proof = tree.inclusion_proof(seq - 1)
        return Response({"seq": seq, "leaf_index": seq - 1, "tree_size": size, "entry_hash": entry.entry_hash,
                         "root": tree.root().hex(), "proof": _b64(proof)})


class ConsistencyProofApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="audit_consistency_proof",
                   parameters=[OpenApiParameter("from", int, required=True), OpenApiParameter("to", int)],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        old = _int_param(request, "from", required=True)
        new = _tree_size_param(request, "to")
        assert old is not None
        _chain_within(new, "to")
        if not 1 <= old <= new:
            raise FieldError("from", f"must be between 1 and {new}")
        tree = ChainTree(new)
        return Response({"from": old, "to": new, "old_root": ChainTree(old).root().hex(), "new_root": tree.root().hex(),
                         "proof": _b64(tree.consistency_proof(old))})
