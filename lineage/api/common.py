"""What the lineage API's resources share: error shapes, the node serializers and query-parameter parsing."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404
from rest_framework import serializers
from rest_framework.request import Request

from portal.accounts.permissions import request_user
from portal.lib.errors import FieldError
from portal.lib.pagination import bounded_int_parameter, int_param
from portal.lib.schema import ErrorSerializer

from .. import selectors
from ..models import Node

__all__ = ["int_param"]  # re-exported: the resources parse their bounded parameters with portal.lib's
ERROR_SCHEMA = ErrorSerializer
ERRORS = {400: ERROR_SCHEMA, 401: ERROR_SCHEMA, 403: ERROR_SCHEMA, 404: ERROR_SCHEMA}
INGEST_ERRORS = {**ERRORS, 413: ERROR_SCHEMA}


class NodeSummarySerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="node_id")
    kind = serializers.CharField()
    namespace = serializers.CharField()
    name = serializers.CharField()
    version = serializers.CharField()
    environment = serializers.CharField()
    state = serializers.CharField()
    owners = serializers.ListField(child=serializers.CharField())
    tags = serializers.SerializerMethodField()
    updatedAt = serializers.DateTimeField(source="updated_at")

    def get_tags(self, node: Node) -> list[dict[str, str]]:
        return [{"field": t.field, "tag": t.tag, "source": t.source} for t in node.tags.all()]


class NodeDetailSerializer(NodeSummarySerializer):
    facets = serializers.JSONField()
    attrs = serializers.JSONField()
    deidentifies = serializers.BooleanField()
    eventTime = serializers.DateTimeField(source="event_time")
    createdAt = serializers.DateTimeField(source="created_at")


def depth_param(request: Request, default: int | None = None) -> int:
    raw = request.query_params.get("depth")
    limit = settings.LINEAGE_MAX_DEPTH
    if raw is None:
        return default if default is not None else min(20, limit)
    try:
        depth = int(raw)
    except ValueError as exc:
        raise FieldError("depth", "must be an integer") from exc
    if not 0 <= depth <= limit:
        raise FieldError("depth", f"must be between 0 and {limit}")
    return depth


DEPTH_PARAMETER = bounded_int_parameter("depth", low=0, high=settings.LINEAGE_MAX_DEPTH)


def node_or_404(request: Request, node_id: str, *, as_of_answered: bool = False) -> Node:
    """The node the reader may see, else 404. An endpoint that does not answer as of a time (``api/asof.py``)
    refuses ``asOf`` with a 400 rather than answer with the graph of now as if it were then."""
    if not as_of_answered and {"asOf", "asOfKind"} & request.query_params.keys():
        raise FieldError("asOf",
                         "this endpoint does not answer as of a time (lineage, node, upstream, downstream and "
                         "graph do)")
    node = selectors.node_get(user=request_user(request), node_id=node_id)
    if node is None:
        raise Http404
    return node
