"""REST API for lineage: OpenLineage ingestion (Marquez-compatible), portal records and graph queries."""

from __future__ import annotations

import uuid
import zlib
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.permissions import CanCurate, CanIngest, CanRead
from portal.governance.serializers import InventoryFields, ProfileFields, record_fields_split
from portal.lib.errors import FieldError, TooLarge
from portal.lib.pagination import BoundedPagination, bounded_int_parameter, int_param, page_parameters
from portal.lib.schema import ErrorSerializer, paginated

from . import facets as F
from . import graph, ids, marquez, selectors, services
from .layout import layout
from .models import Node, NodeKind, Tag
from .openlineage import (
    MAX_NAME_BYTES,
    MAX_NAMESPACE_BYTES,
    MAX_VERSION_BYTES,
    EventError,
    ParsedEvent,
    name_problem,
    parse_event,
    split_batch,
)

ERROR_SCHEMA = ErrorSerializer
ERRORS = {400: ERROR_SCHEMA, 401: ERROR_SCHEMA, 403: ERROR_SCHEMA, 404: ERROR_SCHEMA}
INGEST_ERRORS = {**ERRORS, 413: ERROR_SCHEMA}


def read_body(request: Request, limit: int) -> bytes:
    """The request body, gunzipped if ``Content-Encoding: gzip``, refusing anything over ``limit`` bytes (413)."""
    too_big = f"the body is larger than the limit of {limit} bytes"
    length = request.META.get("CONTENT_LENGTH")
    if length and length.isdigit() and int(length) > limit:
        raise TooLarge(too_big, field="body")
    try:
        body = request.body
    except RequestDataTooBig as exc:
        raise TooLarge(too_big, field="body") from exc
    if len(body) > limit:
        raise TooLarge(too_big, field="body")
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise FieldError("body", f"not valid gzip: {exc}") from exc
        if len(body) > limit or inflater.unconsumed_tail:
            raise TooLarge(f"the decompressed body is larger than the limit of {limit} bytes", field="body")
    elif encoding not in ("", "identity"):
        raise FieldError("Content-Encoding", f"unsupported encoding {encoding!r}; use gzip or none")
    if not body.strip():
        raise FieldError("body", "the body is empty")
    return body


def _fits(limit: int) -> Any:
    """A serializer validator: the value can be stored as part of a node id (see openlineage.name_problem)."""
    def check(value: str) -> None:
        problem = name_problem(value, limit)
        if problem:
            raise serializers.ValidationError(problem)
    return check


def _parse(raw: bytes) -> ParsedEvent:
    try:
        return parse_event(raw)
    except EventError as exc:
        raise FieldError(exc.field, exc.message) from exc


class _ReadOrIngest(BasePermission):
    """GET is a lineage read; POST is ingestion."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        perm = CanRead() if request.method in ("GET", "HEAD", "OPTIONS") else CanIngest()
        self.message = perm.message
        return perm.has_permission(request, view)


# -- node output ---------------------------------------------------------------------------------------
class NodeSummarySerializer(serializers.Serializer):
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


def _walk_response(root: Node, walk: selectors.Walk, nodes: dict[int, dict], kinds: set[str] | None) -> dict:
    out_nodes = [{**nodes[pk], "distance": dist}
                 for pk, dist in sorted(walk.distance.items(), key=lambda kv: (kv[1], kv[0]))
                 if pk in nodes and (not kinds or nodes[pk]["kind"] in kinds)]
    edges = [{"source": nodes[s]["id"], "target": nodes[d]["id"], "kind": k}
             for s, d, k in sorted(walk.edges) if s in nodes and d in nodes]
    # No count of the nodes left out: the number of another team's nodes upstream is theirs to know.
    return {"root": root.node_id, "direction": walk.direction, "depth": walk.depth,
            "truncated": {"depth": walk.cut_by_depth, "size": walk.cut_by_size},
            "nodes": out_nodes, "edges": edges}


DEPTH_PARAMETER = bounded_int_parameter("depth", low=0, high=settings.LINEAGE_MAX_DEPTH)


def _depth(request: Request, default: int | None = None) -> int:
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


def _node_or_404(request: Request, node_id: str) -> Node:
    node = selectors.node_get(user=request.user, node_id=node_id)
    if node is None:
        raise Http404
    return node


# -- ingestion -------------------------------------------------------------------------------------------
class LineageApi(APIView):
    """``POST`` one OpenLineage event (Marquez-compatible); ``GET`` the Marquez-shaped lineage graph."""

    permission_classes = [_ReadOrIngest]

    @extend_schema(
        operation_id="lineage_ingest",
        request={"application/json": OpenApiTypes.OBJECT},
        responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT, **INGEST_ERRORS},
        description="One OpenLineage RunEvent, DatasetEvent or JobEvent (spec 2-0-x), optionally gzip-encoded. "
        "201 for a new event, 200 for an exact duplicate (same run, event type, event time and job).",
    )
    def post(self, request: Request) -> Response:
        event = _parse(read_body(request, settings.LINEAGE_MAX_EVENT_BYTES))
        (outcome,) = services.events_ingest(events=[event], by=request.user)
        code = status.HTTP_201_CREATED if outcome.status == "created" else status.HTTP_200_OK
        return Response({"status": outcome.status, "warnings": outcome.warnings}, status=code)

    @extend_schema(
        operation_id="lineage_graph_marquez",
        parameters=[
            OpenApiParameter("nodeId", str, required=True,
                             description="Marquez node id: dataset:<ns>:<name>, job:<ns>:<name>, run:<uuid>, "
                             "or any portal node id."),
            bounded_int_parameter("depth", low=0, high=settings.LINEAGE_MAX_DEPTH,
                                  description="Job hops, as in Marquez (default 20)."),
        ],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        node_id = request.query_params.get("nodeId")
        if not node_id:
            raise FieldError("nodeId", "this query parameter is required")
        node_id = node_id.split("#", 1)[0] if node_id.startswith(("dataset:", "job:")) else node_id
        if node_id.startswith("datasetField:"):
            try:
                _, ns, rest = ids.split_marquez_id(node_id)
            except ValueError as exc:
                raise FieldError("nodeId", str(exc)) from exc
            node_id = ids.dataset_id(ns, rest.rsplit(":", 1)[0])
        node = _node_or_404(request, node_id)
        hops = _depth(request, default=20)
        walk_depth = min(2 * hops + 1, 2 * settings.LINEAGE_MAX_DEPTH)
        seeds = selectors.walk_seeds(node)
        up = selectors.lineage_walk(seeds=seeds, direction="upstream", depth=walk_depth)
        down = selectors.lineage_walk(seeds=seeds, direction="downstream", depth=walk_depth)
        pks = set(up.distance) | set(down.distance)
        nodes = selectors.nodes_by_pk(user=request.user, pks=list(pks))
        parent_pks = {n.parent_id for n in nodes.values() if n.parent_id and n.parent_id not in nodes}
        nodes.update(selectors.nodes_by_pk(user=request.user, pks=list(parent_pks)))
        fold_nodes = {
            pk: marquez.FoldNode(pk, n.node_id, n.kind, n.namespace, n.name, n.parent_id, n.facets, n.attrs,
                                 tuple(sorted({t.tag for t in n.tags.all()})), n.state, n.version)
            for pk, n in nodes.items()
        }
        return Response(marquez.fold(fold_nodes, up.edges + down.edges))


class LineageBatchApi(APIView):
    """Many OpenLineage events in one request (JSON array or NDJSON), applied in one transaction."""

    permission_classes = [CanIngest]

    @extend_schema(
        operation_id="lineage_ingest_batch",
        request={"application/json": OpenApiTypes.OBJECT, "application/x-ndjson": OpenApiTypes.STR},
        parameters=[OpenApiParameter("atomic", bool, description="Refuse the whole batch if any event is "
                                     "invalid (default: store the valid ones and report the rest).")],
        responses={200: OpenApiTypes.OBJECT, **INGEST_ERRORS},
    )
    def post(self, request: Request) -> Response:
        body = read_body(request, settings.LINEAGE_MAX_BATCH_BYTES)
        try:
            items = split_batch(body)
        except EventError as exc:
            raise FieldError("body", exc.message) from exc
        if len(items) > settings.LINEAGE_MAX_BATCH_EVENTS:
            raise FieldError("body", f"{len(items)} events is over the batch limit of "
                             f"{settings.LINEAGE_MAX_BATCH_EVENTS}")
        results: list[dict[str, Any]] = [{} for _ in items]
        good: list[tuple[int, ParsedEvent]] = []
        for i, raw in enumerate(items):
            try:
                if len(raw) > settings.LINEAGE_MAX_EVENT_BYTES:
                    raise EventError(None, f"the event is larger than {settings.LINEAGE_MAX_EVENT_BYTES} bytes")
                good.append((i, parse_event(raw)))
            except EventError as exc:
                results[i] = {"index": i, "status": "error", "warnings": [],
                              "error": {"field": exc.field, "message": exc.message}}
        errors = len(items) - len(good)
        if errors and request.query_params.get("atomic", "").lower() in ("1", "true", "yes"):
            first = next(r for r in results if r)
            return Response({"detail": f"{errors} of {len(items)} events are invalid; nothing was stored.",
                             "errors": [{"field": f"[{r['index']}]" + (f".{r['error']['field']}"
                                                                       if r["error"]["field"] else ""),
                                         "message": r["error"]["message"]} for r in results if r],
                             "first": first}, status=400)
        outcomes = services.events_ingest(events=[ev for _, ev in good], by=request.user) if good else []
        for (i, _), outcome in zip(good, outcomes, strict=True):
            results[i] = {"index": i, "status": outcome.status, "error": None, "warnings": outcome.warnings}
        counts = {s: sum(1 for r in results if r["status"] == s) for s in ("created", "duplicate", "error")}
        return Response({**counts, "results": results}, status=status.HTTP_200_OK)


# -- portal records --------------------------------------------------------------------------------------
class _PersonSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)


class CommitCreateApi(APIView):
    permission_classes = [CanIngest]

    class InputSerializer(serializers.Serializer):
        repo = serializers.CharField(max_length=MAX_NAMESPACE_BYTES, validators=[_fits(MAX_NAMESPACE_BYTES)])
        sha = serializers.RegexField(r"^[0-9a-fA-F]{7,64}$", error_messages={"invalid": "must be a hex git sha"})
        author = _PersonSerializer(required=False)
        committer = _PersonSerializer(required=False)
        message = serializers.CharField(required=False, allow_blank=True, max_length=20000)
        branch = serializers.CharField(required=False, allow_blank=True, max_length=500)
        time = serializers.DateTimeField()

    @extend_schema(operation_id="commit_create", request=InputSerializer,
                   responses={201: NodeDetailSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        payload = {"repo": v["repo"], "sha": v["sha"].lower(), "message": v.get("message", ""),
                   "branch": v.get("branch", ""), "time": v["time"].isoformat()}
        for role in ("author", "committer"):
            person = v.get(role) or {}
            payload[f"{role}_name"] = person.get("name", "")
            payload[f"{role}_email"] = (person.get("email") or "").lower()
        node = services.portal_record_ingest(kind="commit", payload=payload, by=request.user)
        return Response(NodeDetailSerializer(node).data, status=status.HTTP_201_CREATED)


class _ModelSerializer(serializers.Serializer):
    namespace = serializers.CharField(max_length=MAX_NAMESPACE_BYTES, validators=[_fits(MAX_NAMESPACE_BYTES)])
    name = serializers.CharField(max_length=500, validators=[_fits(MAX_NAME_BYTES)])
    version = serializers.CharField(max_length=MAX_VERSION_BYTES, validators=[_fits(MAX_VERSION_BYTES)])


class ModelVersionCreateApi(APIView):
    permission_classes = [CanIngest]

    class InputSerializer(_ModelSerializer, InventoryFields):
        framework = serializers.CharField(required=False, allow_blank=True, max_length=100)
        metrics = serializers.DictField(child=serializers.FloatField(), required=False)
        parameters = serializers.DictField(required=False)
        description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
        run_id = serializers.UUIDField(required=False, help_text="The run that trained this version.")
        time = serializers.DateTimeField(required=False)

    @extend_schema(operation_id="model_version_create", request=InputSerializer,
                   responses={201: NodeDetailSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        if v.get("run_id"):
            v["run_id"] = str(v["run_id"])
            if not Node.objects.filter(node_id=ids.run_id(v["run_id"])).exists():
                raise FieldError("run_id", "no run with this id has been ingested")
        v["time"] = (v.get("time") or timezone.now()).isoformat()
        record_fields_split(v, "inventory")
        node = services.portal_record_ingest(kind="modelVersion", payload=v, by=request.user)
        return Response(NodeDetailSerializer(node).data, status=status.HTTP_201_CREATED)


class DeploymentCreateApi(APIView):
    permission_classes = [CanIngest]

    class InputSerializer(ProfileFields):
        model = _ModelSerializer()
        environment = serializers.RegexField(r"^[A-Za-z0-9_.-]{1,100}$",
                                             error_messages={"invalid": "letters, digits, . _ - only"})
        action = serializers.ChoiceField(choices=F.DEPLOY_ACTIONS, default="deploy")
        endpoint = serializers.CharField(required=False, allow_blank=True, max_length=1000)
        time = serializers.DateTimeField(required=False)

    @extend_schema(operation_id="deployment_create", request=InputSerializer,
                   responses={201: NodeDetailSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        m = v["model"]
        if not Node.objects.filter(node_id=ids.model_version_id(m["namespace"], m["name"], m["version"])).exists():
            raise FieldError("model", "no such model version; register it first (POST /api/v1/model-versions)")
        v["model"] = dict(m)
        v["time"] = (v.get("time") or timezone.now()).isoformat()
        record_fields_split(v, "profile")
        node = services.portal_record_ingest(kind="deployment", payload=v, by=request.user)
        return Response(NodeDetailSerializer(node).data, status=status.HTTP_201_CREATED)


# -- queries ---------------------------------------------------------------------------------------------
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
        qs = selectors.node_list(user=request.user, kind=kind, q=request.query_params.get("q"), tag=tag)
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(qs.prefetch_related("tags"), request, view=self)
        return paginator.get_paginated_response(NodeSummarySerializer(page, many=True).data)


class NodeDetailApi(APIView):
    permission_classes = [CanRead]

    @extend_schema(operation_id="node_detail", responses={200: NodeDetailSerializer, **ERRORS})
    def get(self, request: Request, node_id: str) -> Response:
        node = _node_or_404(request, node_id)
        data = dict(NodeDetailSerializer(node).data)
        members = Node.objects.visible_to(request.user).filter(parent=node).order_by("-event_time")[:50]
        data["members"] = NodeSummarySerializer(members.prefetch_related("tags"), many=True).data
        if node.parent_id:
            parent = Node.objects.visible_to(request.user).filter(pk=node.parent_id).first()
            data["parent"] = parent.node_id if parent else None
        data["sensitiveUpstream"] = selectors.sensitive_upstream(node=node)
        return Response(data)


class NodeWalkApi(APIView):
    permission_classes = [CanRead]
    direction = "upstream"

    @extend_schema(
        parameters=[DEPTH_PARAMETER, OpenApiParameter(
            "kinds", str, description="Comma-separated node kinds to return (the walk crosses every kind).")],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request, node_id: str) -> Response:
        node = _node_or_404(request, node_id)
        kinds = {k for k in request.query_params.get("kinds", "").split(",") if k}
        bad = kinds - set(NodeKind.values)
        if bad:
            raise FieldError("kinds", f"unknown kind(s) {', '.join(sorted(bad))}")
        walk = selectors.lineage_walk(seeds=selectors.walk_seeds(node), direction=self.direction,
                                      depth=_depth(request))
        nodes = selectors.node_summaries(user=request.user, pks=list(walk.distance))
        return Response(_walk_response(node, walk, nodes, kinds or None))


GRAPH_DEFAULT_DEPTH = 5
GRAPH_DEFAULT_NODES = 300
GRAPH_MAX_NODES = 1000
GRAPH_MAX_EXPAND = 20


class NodeGraphApi(APIView):
    """A node's neighbourhood laid out for drawing: the explorer draws the server's positions, as the PDF does."""

    permission_classes = [CanRead]

    @extend_schema(
        operation_id="node_graph",
        parameters=[
            bounded_int_parameter("depth", low=0, high=settings.LINEAGE_MAX_DEPTH,
                                  description=f"Edges from the node (default {GRAPH_DEFAULT_DEPTH})."),
            OpenApiParameter("direction", str, enum=["both", "upstream", "downstream"]),
            OpenApiParameter("expand", {"type": "array", "items": {"type": "string"}, "maxItems": GRAPH_MAX_EXPAND},
                             description="Node ids to expand in place: their neighbours one edge away are added."),
            bounded_int_parameter("limit", low=1, high=GRAPH_MAX_NODES, description=f"Most nodes returned (default "
                                  f"{GRAPH_DEFAULT_NODES}); the nearest to the node are kept."),
        ],
        responses={200: inline_serializer("NodeGraph", {
            "root": serializers.CharField(), "direction": serializers.CharField(),
            "depth": serializers.IntegerField(),
            "truncated": inline_serializer("GraphTruncated", {"depth": serializers.BooleanField(),
                                                              "size": serializers.BooleanField()}),
            "sensitiveIncomplete": serializers.BooleanField(),
            "width": serializers.FloatField(), "height": serializers.FloatField(),
            "nodes": serializers.ListField(child=serializers.DictField()),
            "edges": serializers.ListField(child=serializers.DictField()),
        }), **ERRORS},
        description="Nodes carry their summary, ``distance`` from the node, ``side`` (root, upstream or "
        "downstream), ``sensitive`` (the sensitive tags that reach them from anywhere upstream, stopping at "
        "de-identifying runs) and ``x``/``y``/``layer`` from the layered layout. Edges of kind ``version`` join a "
        "dataset to its versions when both are drawn; the others are lineage edges.",
    )
    def get(self, request: Request, node_id: str) -> Response:
        node = _node_or_404(request, node_id)
        direction = request.query_params.get("direction", "both")
        if direction not in ("both", "upstream", "downstream"):
            raise FieldError("direction", "must be both, upstream or downstream")
        limit = int_param(request, "limit", GRAPH_DEFAULT_NODES, 1, GRAPH_MAX_NODES)
        expand_ids = list(dict.fromkeys(request.query_params.getlist("expand")))
        if len(expand_ids) > GRAPH_MAX_EXPAND:
            raise FieldError("expand", f"at most {GRAPH_MAX_EXPAND} nodes may be expanded")
        expand = list(Node.objects.visible_to(request.user).filter(node_id__in=expand_ids)) if expand_ids else []
        if len(expand) != len(expand_ids):
            raise FieldError("expand", "no such node")
        depth = _depth(request, default=GRAPH_DEFAULT_DEPTH)
        directions = ("upstream", "downstream") if direction == "both" else (direction,)
        sub = selectors.lineage_graph(user=request.user, node=node, depth=depth, directions=directions,
                                      max_nodes=limit, expand=expand)
        placed = layout([pk for pk in sub.nodes], [(s, d) for s, d, _ in sub.edges])
        nodes = [{**sub.nodes[pk], "distance": sub.distance[pk], "side": sub.side[pk],
                  "sensitive": sub.sensitive.get(pk, []), "layer": placed.positions[pk].layer,
                  "x": placed.positions[pk].x, "y": placed.positions[pk].y} for pk in sub.nodes]
        nodes.sort(key=lambda n: (n["distance"], n["id"]))
        edges = [{"source": sub.nodes[s]["id"], "target": sub.nodes[d]["id"], "kind": k} for s, d, k in sub.edges]
        return Response({"root": node.node_id, "direction": direction, "depth": depth,
                         "truncated": {"depth": sub.cut_by_depth, "size": sub.cut_by_size},
                         "sensitiveIncomplete": sub.sensitive_incomplete,
                         "width": placed.width, "height": placed.height, "nodes": nodes, "edges": edges})


class NodeUpstreamApi(NodeWalkApi):
    direction = "upstream"


class NodeDownstreamApi(NodeWalkApi):
    direction = "downstream"


class NodeTagsApi(APIView):
    """A node's own classification tags (``GET``), set one (``POST``) or remove one (``DELETE``)."""

    class InputSerializer(serializers.Serializer):
        tag = serializers.ChoiceField(choices=Tag.values)
        field = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)

    def get_permissions(self) -> list[BasePermission]:
        return [CanRead()] if self.request.method == "GET" else [CanCurate()]

    @extend_schema(operation_id="node_tags", responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request: Request, node_id: str) -> Response:
        node = _node_or_404(request, node_id)
        return Response(self._body(node))

    def _body(self, node: Node) -> dict[str, Any]:
        return {"id": node.node_id, "tags": [{"field": t.field, "tag": t.tag, "source": t.source}
                                              for t in selectors.node_tags(node)],
                "sensitiveUpstream": selectors.sensitive_upstream(node=node)}

    def _input(self, request: Request, node_id: str) -> tuple[Node, dict[str, Any]]:
        node = _node_or_404(request, node_id)
        if node.kind != "dataset":
            raise FieldError("id", "classification tags are set on datasets")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return node, data.validated_data

    @extend_schema(operation_id="node_tag_set", request=InputSerializer,
                   responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def post(self, request: Request, node_id: str) -> Response:
        node, v = self._input(request, node_id)
        services.node_tag_set(node=node, tag=v["tag"], field=v["field"], by=request.user)
        return Response(self._body(node))

    @extend_schema(operation_id="node_tag_remove", request=InputSerializer,
                   responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def delete(self, request: Request, node_id: str) -> Response:
        node, v = self._input(request, node_id)
        if not services.node_tag_remove(node=node, tag=v["tag"], field=v["field"], by=request.user):
            raise Http404
        return Response(self._body(node))


class PathApi(APIView):
    permission_classes = [CanRead]

    @extend_schema(
        operation_id="lineage_path",
        parameters=[OpenApiParameter("from", str, required=True), OpenApiParameter("to", str, required=True),
                    DEPTH_PARAMETER],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        ends = []
        for param in ("from", "to"):
            value = request.query_params.get(param)
            if not value:
                raise FieldError(param, "this query parameter is required")
            ends.append(_node_or_404(request, value))
        source, target = ends
        depth = _depth(request)
        walk = selectors.lineage_walk(seeds=selectors.walk_seeds(source), direction="downstream", depth=depth)
        # Only through nodes this reader may see: a path that crosses another team's node does not exist for
        # them, and the answer is the same "found": false as when there is none at all.
        visible = set(Node.objects.visible_to(request.user).filter(pk__in=list(walk.distance))
                      .values_list("pk", flat=True))
        g = graph.build_graph({pk: d for pk, d in walk.distance.items() if pk in visible},
                              [(s, d, k) for s, d, k in walk.edges if s in visible and d in visible])
        seeds = [pk for pk in selectors.walk_seeds(source) if pk in g]
        targets = [target.pk, *[pk for pk in selectors.walk_seeds(target) if pk in g]]
        best: list[int] | None = None
        for s in seeds:
            for t in targets:
                p = graph.shortest_path(g, s, t)
                if p and (best is None or len(p) < len(best)):
                    best = p
        if best is None:
            return Response({"from": source.node_id, "to": target.node_id, "found": False, "nodes": [],
                             "edges": [], "truncated": {"depth": walk.cut_by_depth, "size": walk.cut_by_size}})
        nodes = selectors.nodes_by_pk(user=request.user, pks=best)
        kinds = {(s, d): k for s, d, k in walk.edges}
        return Response({
            "from": source.node_id, "to": target.node_id, "found": True,
            "nodes": [NodeSummarySerializer(nodes[pk]).data for pk in best],
            "edges": [{"source": nodes[a].node_id, "target": nodes[b].node_id, "kind": kinds[(a, b)]}
                      for a, b in zip(best, best[1:], strict=False)],
            "truncated": {"depth": walk.cut_by_depth, "size": walk.cut_by_size},
        })


class RunDetailApi(APIView):
    permission_classes = [CanRead]

    @extend_schema(operation_id="run_detail", responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request: Request, run_uuid: str) -> Response:
        try:
            run_uuid = str(uuid.UUID(run_uuid))
        except ValueError as exc:
            raise Http404 from exc
        run = _node_or_404(request, ids.run_id(run_uuid))
        edges = list(run.in_edges.select_related("src").all()) + list(run.out_edges.select_related("dst").all())
        inputs = [e.src.node_id for e in edges if e.kind == "reads" and e.dst_id == run.pk]
        outputs = [e.dst.node_id for e in edges if e.kind == "writes" and e.src_id == run.pk]
        commits = [e.src.node_id for e in edges if e.kind == "built_from" and e.dst_id == run.pk]
        models = [e.dst.node_id for e in edges if e.kind == "produces" and e.src_id == run.pk]
        parents = [e.src.node_id for e in edges if e.kind == "parent_of" and e.dst_id == run.pk]
        history = [{"eventType": e.event_type, "eventTime": e.event_time, "receivedAt": e.received_at,
                    "warnings": e.warnings}
                   for e in selectors.run_events(run_uuid=run_uuid).only("event_type", "event_time", "received_at",
                                                                          "warnings")]
        return Response({
            "runId": run_uuid, "id": run.node_id, "state": run.state or "NEW",
            "job": run.attrs.get("job"), "startedAt": run.attrs.get("started_at"),
            "endedAt": run.attrs.get("ended_at"), "launchedBy": run.attrs.get("launched_by"),
            "deidentifies": run.deidentifies, "inputs": sorted(inputs), "outputs": sorted(outputs),
            "commit": commits[0] if commits else None, "commits": sorted(commits), "modelVersions": sorted(models),
            "parentRun": parents[0] if parents else None, "facets": run.facets, "stateHistory": history,
        })
