"""Nodes: list, detail, upstream and downstream walks, and a dataset's classification tags."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.permissions import CanCurate, CanRead, request_user
from portal.lib.errors import DomainError, FieldError
from portal.lib.pagination import BoundedPagination, page_parameters
from portal.lib.schema import paginated

from .. import asof, selectors, services, stops
from ..column_selectors import column_sensitivity
from ..models import Node, NodeKind, Tag
from ..redaction import RawJSON
from .asof import ASOF_PARAMETERS, asof_param, node_at_or_404, node_detail_body
from .columns import column_sensitivity_body
from .common import DEPTH_PARAMETER, ERRORS, NodeDetailSerializer, NodeSummarySerializer, depth_param, node_or_404


class NotAppliedYet(DomainError):
    """A run or job whose events are all still waiting to be applied (``docs/lineage-ingest.md``): 404 with
    ``pending``, so a client that just sent them knows to ask again instead of concluding they were lost."""

    status_code = 404

    def __init__(self, node_id: str, pending: dict[str, Any]) -> None:
        super().__init__(f"{node_id} is not in the lineage graph yet: {pending['events']} of its events wait to be "
                         f"applied (the oldest received at {pending['since'].isoformat()})")
        self.extra = {"pending": {"events": pending["events"], "since": pending["since"].isoformat()}}


def walk_response(root: Node, walk: selectors.Walk, nodes: dict[int, dict[str, Any]], kinds: set[str] | None
                  ) -> dict[str, Any]:
    out_nodes = [{**nodes[pk], "distance": dist}
                 for pk, dist in sorted(walk.distance.items(), key=lambda kv: (kv[1], kv[0]))
                 if pk in nodes and (not kinds or nodes[pk]["kind"] in kinds)]
    edges = [{"source": nodes[s]["id"], "target": nodes[d]["id"], "kind": k}
             for s, d, k in sorted(walk.edges) if s in nodes and d in nodes]
    # No count of the nodes left out: the number of another team's nodes upstream is theirs to know.
    return {"root": root.node_id, "direction": walk.direction, "depth": walk.depth,
            "truncated": {"depth": walk.cut_by_depth, "size": walk.cut_by_size},
            "nodes": out_nodes, "edges": edges}


class NodeListApi(APIView):
    permission_classes = [CanRead]

    @extend_schema(
        operation_id="node_list",
        parameters=[OpenApiParameter("kind", str, enum=NodeKind.values), OpenApiParameter("q", str),
                    OpenApiParameter("tag", str, enum=Tag.values), *page_parameters()],
        responses={200: paginated(NodeSummarySerializer), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        kind, tag = request.query_params.get("kind"), request.query_params.get("tag")
        if kind and kind not in NodeKind.values:
            raise FieldError("kind", f"unknown kind; expected one of {', '.join(NodeKind.values)}")
        if tag and tag not in Tag.values:
            raise FieldError("tag", f"unknown tag; expected one of {', '.join(Tag.values)}")
        qs = selectors.node_list(user=request_user(request), kind=kind, q=request.query_params.get("q"), tag=tag)
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(qs.prefetch_related("tags"), request, view=self)
        return paginator.get_paginated_response(NodeSummarySerializer(page, many=True).data)


class NodeDetailApi(APIView):
    permission_classes = [CanRead]

    class OutputSerializer(NodeDetailSerializer):
        """The node with what the view adds: its visible members, its parent and the sensitive tags reaching it."""

        members = NodeSummarySerializer(many=True, help_text="Up to 50 visible versions or runs of a dataset or job.")
        # A declared field (DRF's metaclass takes it off the class), not Field.parent, whatever the stubs say.
        parent = serializers.CharField(  # type: ignore[assignment]
            required=False, allow_null=True,
            help_text="The dataset or job it belongs to (absent when it has none; null when the caller may not "
                      "see it).")
        sensitiveUpstream = serializers.DictField(  # noqa: N815 - the API's camelCase key
            child=serializers.ListField(child=serializers.CharField()),
            help_text="Sensitive tag -> ids of the upstream datasets that carry it, stopping at de-identifying runs "
                      "(for PHI, unless configured otherwise, only at those with an approved de-identification "
                      "determination attached).")
        deidentificationNotStopping = serializers.DictField(  # noqa: N815 - the API's camelCase key
            help_text="De-identifying runs a tag went through for want of an approved de-identification "
                      "determination: `runs` [{run, job, reason, tags}] the caller may see (`tags`: those that "
                      "need one), `hidden` whether others did too.")
        pending = serializers.DictField(
            required=False,
            help_text="A run or job: `events` of it stored but not yet applied to the graph (deferred ingestion) "
                      "and `since`, the receipt time of the oldest of them (null when none waits).")

    @extend_schema(operation_id="node_detail", parameters=ASOF_PARAMETERS, responses={200: OutputSerializer, **ERRORS})
    def get(self, request: Request, node_id: str) -> Response:
        at = asof_param(request)
        try:
            node = node_at_or_404(request, node_id, at)
        except Http404:
            not_yet = selectors.pending_not_applied(user=request_user(request), node_id=node_id) if at is None else None
            if not_yet is not None:
                raise NotAppliedYet(node_id, not_yet) from None
            raise
        if at is not None:
            return Response(node_detail_body(request, node, at))
        data = dict(NodeDetailSerializer(node).data)
        members = selectors.node_members(user=request_user(request), node=node)
        data["members"] = NodeSummarySerializer(members.prefetch_related("tags"), many=True).data
        if node.parent_id:
            parent = Node.objects.visible_to(request.user).filter(pk=node.parent_id).first()
            data["parent"] = parent.node_id if parent else None
        user = request_user(request)
        data["sensitiveUpstream"], passed = selectors.sensitive_upstream_explained(node=node)
        columns = column_sensitivity(user=user, node=node)
        data["columnSensitivity"] = column_sensitivity_body(columns)
        notes, hidden = stops.deid_notes(user=user, run_pks=passed | set(columns.passed))
        data["deidentificationNotStopping"] = {"runs": notes, "hidden": hidden}
        pending = selectors.node_pending(node=node)
        if pending is not None:
            data["pending"] = pending
        return Response(data)


class NodeWalkApi(APIView):
    permission_classes = [CanRead]
    direction = "upstream"

    @extend_schema(
        parameters=[DEPTH_PARAMETER, OpenApiParameter(
            "kinds", str, description="Comma-separated node kinds to return (the walk crosses every kind). A "
            "dataset version counts as its dataset when `dataset` is asked, a run as its job when `job` is."),
            *ASOF_PARAMETERS],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request, node_id: str) -> Response:
        at = asof_param(request)
        node = node_at_or_404(request, node_id, at)
        kinds = {k for k in request.query_params.get("kinds", "").split(",") if k}
        bad = kinds - set(NodeKind.values)
        if bad:
            raise FieldError("kinds", f"unknown kind(s) {', '.join(sorted(bad))}")
        depth = depth_param(request)
        if at is None:
            text = selectors.walk_json(user=request_user(request), root=node, direction=self.direction, depth=depth,
                                       kinds=kinds or None)
            if text is not None:
                return Response(RawJSON(text))
            walk = selectors.lineage_walk(seeds=selectors.walk_seeds(node), direction=self.direction, depth=depth)
        else:
            walk = asof.lineage_walk(seeds=asof.walk_seeds(node, at), direction=self.direction, depth=depth, at=at)
        selectors.walk_fold(walk, kinds=kinds)
        nodes = (selectors.node_summaries(user=request_user(request), pks=list(walk.distance)) if at is None
                 else asof.node_summaries(user=request_user(request), pks=list(walk.distance), at=at))
        return Response(walk_response(node, walk, nodes, kinds or None))


class NodeUpstreamApi(NodeWalkApi):
    direction = "upstream"


class NodeDownstreamApi(NodeWalkApi):
    direction = "downstream"


class NodeTagsApi(APIView):
    """A node's own classification tags (``GET``), set one (``POST``) or remove one (``DELETE``)."""

    class InputSerializer(serializers.Serializer[Any]):
        tag = serializers.ChoiceField(choices=Tag.values)
        field = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)

    def get_permissions(self) -> list[BasePermission]:
        return [CanRead()] if self.request.method == "GET" else [CanCurate()]

    @extend_schema(operation_id="node_tags", responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request: Request, node_id: str) -> Response:
        node = node_or_404(request, node_id)
        return Response(self._body(node))

    def _body(self, node: Node) -> dict[str, Any]:
        return {"id": node.node_id, "tags": [{"field": t.field, "tag": t.tag, "source": t.source}
                                              for t in selectors.node_tags(node)],
                "sensitiveUpstream": selectors.sensitive_upstream(node=node)}

    def _input(self, request: Request, node_id: str) -> tuple[Node, dict[str, Any]]:
        node = node_or_404(request, node_id)
        if node.kind != "dataset":
            raise FieldError("id", "classification tags are set on datasets")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return node, data.validated_data

    @extend_schema(operation_id="node_tag_set", request=InputSerializer,
                   responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def post(self, request: Request, node_id: str) -> Response:
        node, v = self._input(request, node_id)
        services.node_tag_set(node=node, tag=v["tag"], field=v["field"], by=request_user(request))
        return Response(self._body(node))

    @extend_schema(operation_id="node_tag_remove", request=InputSerializer,
                   responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def delete(self, request: Request, node_id: str) -> Response:
        node, v = self._input(request, node_id)
        if not services.node_tag_remove(node=node, tag=v["tag"], field=v["field"], by=request_user(request)):
            raise Http404
        return Response(self._body(node))
