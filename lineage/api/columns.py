"""Columns: a column's upstream and downstream over column edges, with the transformations on each edge."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.permissions import CanRead, request_user
from portal.lib.errors import FieldError

from .. import column_selectors as cs
from .. import ids, marquez
from ..models import Node
from .common import DEPTH_PARAMETER, ERRORS, depth_param, node_or_404

_TYPES = {"DIRECT": frozenset({"DIRECT"}), "INDIRECT": frozenset({"INDIRECT"}), "ALL": None}

_TRANSFORMATION = inline_serializer("ColumnTransformation", {
    "type": serializers.CharField(), "subtype": serializers.CharField(), "description": serializers.CharField(),
    "masking": serializers.BooleanField()})
_COLUMN = inline_serializer("ColumnRef", {
    "dataset": serializers.CharField(), "datasetVersion": serializers.CharField(allow_null=True),
    "field": serializers.CharField(allow_null=True, help_text="null: the whole dataset (filters, join keys)")})
COLUMN_WALK = inline_serializer("ColumnWalk", {
    "root": _COLUMN, "direction": serializers.CharField(), "depth": serializers.IntegerField(),
    "truncated": inline_serializer("ColumnWalkTruncated", {"depth": serializers.BooleanField(),
                                                           "size": serializers.BooleanField()}),
    "columns": serializers.ListField(child=inline_serializer("ColumnWalkNode", {
        "dataset": serializers.CharField(), "datasetVersion": serializers.CharField(allow_null=True),
        "namespace": serializers.CharField(), "name": serializers.CharField(), "version": serializers.CharField(),
        "field": serializers.CharField(allow_null=True), "distance": serializers.IntegerField()})),
    "edges": serializers.ListField(child=inline_serializer("ColumnWalkEdge", {
        "source": _COLUMN, "target": _COLUMN, "transformations": serializers.ListField(child=_TRANSFORMATION)})),
})


def _field(name: str) -> str | None:
    return name or None


def _edge_key(e: dict[str, Any]) -> tuple[str, str, str, str]:
    a, b = e["source"], e["target"]
    return (a["datasetVersion"] or "", a["field"] or "", b["datasetVersion"] or "", b["field"] or "")


def column_walk_response(root: Node, field_name: str, walk: cs.ColumnWalk, nodes: dict[int, dict[str, Any]]
                         ) -> dict[str, Any]:
    """The walk as the API answers it: only columns of datasets the reader may see, and edges between them."""

    def ref(c: cs.Column) -> dict[str, Any]:
        n = nodes[c[0]]
        return {"dataset": n["dataset"], "datasetVersion": n["datasetVersion"], "field": _field(c[1])}

    columns = [{**nodes[c[0]], "field": _field(c[1]), "distance": d}
               for c, d in sorted(walk.distance.items(), key=lambda kv: (kv[1], nodes.get(kv[0][0], {}).get(
                   "datasetVersion") or "", kv[0][1])) if c[0] in nodes and d > 0]
    edges = [{"source": ref(a), "target": ref(b),
              "transformations": [{"type": t, "subtype": s, "description": desc, "masking": m}
                                  for t, s, desc, m in sorted(ts)]}
             for (a, b), ts in walk.edges.items() if a[0] in nodes and b[0] in nodes]
    edges.sort(key=_edge_key)
    return {"root": {"dataset": ids.dataset_id(root.namespace, root.name),
                     "datasetVersion": root.node_id if root.kind == "datasetVersion" else None, "field": field_name},
            "direction": walk.direction, "depth": walk.depth,
            "truncated": {"depth": walk.cut_by_depth, "size": walk.cut_by_size},
            "columns": columns, "edges": edges}


class ColumnWalkApi(APIView):
    permission_classes = [CanRead]
    direction = "upstream"

    @extend_schema(
        parameters=[DEPTH_PARAMETER,
                    OpenApiParameter("type", str, enum=list(_TYPES),
                                     description="Follow only DIRECT or only INDIRECT edges (default ALL).")],
        responses={200: COLUMN_WALK, **ERRORS},
        description="A column's lineage over the ``columnLineage`` facets of the runs that wrote each version. "
        "The node is a dataset (its column in every version) or a dataset version. Each edge lists its "
        "transformations (type DIRECT/INDIRECT, subtype IDENTITY, TRANSFORMATION, AGGREGATION, FILTER, JOIN, "
        "GROUP_BY, SORT, WINDOW, CONDITIONAL, as the producer sent them). A ``field`` of null is the whole "
        "dataset: a column that filters or joins the rows. Columns of datasets you may not see are left out, "
        "uncounted (as in node walks).",
    )
    def get(self, request: Request, node_id: str, field_name: str) -> Response:
        node = node_or_404(request, node_id)
        if node.kind not in ("dataset", "datasetVersion"):
            raise FieldError("id", "columns belong to datasets and dataset versions")
        kind = request.query_params.get("type", "ALL").upper()
        if kind not in _TYPES:
            raise FieldError("type", "must be DIRECT, INDIRECT or ALL")
        seeds = cs.column_seeds(node, field_name)
        if not seeds or not cs.column_known(seeds):
            raise Http404
        walk = cs.column_walk(seeds=seeds, direction=self.direction, depth=depth_param(request),
                              types=_TYPES[kind])
        nodes = cs.column_nodes(user=request_user(request), pks=sorted({c[0] for c in walk.distance}))
        return Response(column_walk_response(node, field_name, walk, nodes))


class ColumnUpstreamApi(ColumnWalkApi):
    direction = "upstream"


class ColumnDownstreamApi(ColumnWalkApi):
    direction = "downstream"


def column_lineage_marquez(request: Request, marquez_id: str) -> dict[str, Any]:
    """``GET /api/v1/lineage?nodeId=datasetField:<ns>:<dataset>:<field>``: Marquez's column-lineage graph.

    Upstream of the column in every version of its dataset, and downstream too with ``withDownstream=true``,
    as Marquez's column lineage answers; columns of datasets the reader may not see are left out, and an
    unknown column (or one of a dataset the reader may not see) is a 404, as Marquez's "could not find node".
    """
    try:
        _, ns, rest = ids.split_marquez_id(marquez_id)
    except ValueError as exc:
        raise FieldError("nodeId", str(exc)) from exc
    name, sep, field_name = rest.rpartition(":")
    if not sep or not name or not field_name:
        raise FieldError("nodeId", "a datasetField id is datasetField:<namespace>:<dataset>:<field>")
    downstream = request.query_params.get("withDownstream", "false").lower()
    if downstream not in ("true", "false"):
        raise FieldError("withDownstream", "must be true or false")
    node = node_or_404(request, ids.dataset_id(ns, name))
    seeds = cs.column_seeds(node, field_name)
    if not seeds or not cs.column_known(seeds):
        raise Http404
    depth = depth_param(request, default=20)
    edges = dict(cs.column_walk(seeds=seeds, direction="upstream", depth=depth).edges)
    if downstream == "true":
        edges.update(cs.column_walk(seeds=seeds, direction="downstream", depth=depth).edges)
    nodes = cs.column_nodes(user=request_user(request), pks=sorted({c[0] for e in edges for c in e}))

    def fold(c: cs.Column) -> marquez.FoldColumn:
        return marquez.FoldColumn(nodes[c[0]]["namespace"], nodes[c[0]]["name"], c[1])

    folded: dict[tuple[marquez.FoldColumn, marquez.FoldColumn], list[cs.Transformation]] = {}
    for (a, b), ts in edges.items():
        if a[0] in nodes and b[0] in nodes and a[1] and b[1]:  # Marquez has no whole-dataset column
            merged = folded.setdefault((fold(a), fold(b)), [])
            merged.extend(t for t in ts if t not in merged)
    return marquez.fold_columns(folded)


def column_sensitivity_body(s: cs.ColumnSensitivity) -> dict[str, Any]:
    """``columnSensitivity`` of a node's answer: sensitive column tags carried (DIRECT paths) or only influencing."""

    def srcs(m: dict[str, list[tuple[str, str]]]) -> dict[str, list[dict[str, str]]]:
        return {tag: [{"dataset": d, "field": f} for d, f in v] for tag, v in sorted(m.items())}

    return {"trainedOn": [{"dataset": d, "field": f} for d, f in s.trained_on],
            "carries": srcs(s.carries), "influencedBy": srcs(s.influenced_by),
            "columns": {name: {"carries": srcs(c["carries"]), "influencedBy": srcs(c["influencedBy"])}
                        for name, c in sorted(s.columns.items())},
            "hidden": s.hidden > 0, "truncated": s.cut}


class DatasetColumnEdgeSerializer(serializers.Serializer[Any]):
    """One end of a column's edges, folded to its dataset: field null is the whole dataset."""

    dataset = serializers.CharField()
    field = serializers.CharField(allow_null=True)
    transformations = serializers.ListField(child=inline_serializer("DatasetColumnTransformation", {
        "type": serializers.CharField(), "subtype": serializers.CharField(), "description": serializers.CharField()}))


DATASET_COLUMNS = inline_serializer("DatasetColumns", {
    "id": serializers.CharField(),
    "columns": serializers.ListField(child=inline_serializer("DatasetColumn", {
        "name": serializers.CharField(), "type": serializers.CharField(),
        "tags": serializers.ListField(child=serializers.CharField()),
        "upstream": DatasetColumnEdgeSerializer(many=True), "downstream": DatasetColumnEdgeSerializer(many=True),
        "reaching": serializers.DictField(help_text="Sensitive tags of upstream columns: {carries, influencedBy}, "
                                                    "tag -> [{dataset, field}] (as `columnSensitivity.columns`).")})),
    "wholeDataset": DatasetColumnEdgeSerializer(many=True, help_text="Columns that filter or join its rows."),
    "hidden": serializers.BooleanField(help_text="Edges to datasets you may not see were left out."),
    "truncated": serializers.BooleanField()})


class DatasetColumnsApi(APIView):
    permission_classes = [CanRead]

    @extend_schema(operation_id="node_columns", responses={200: DATASET_COLUMNS, **ERRORS},
                   description="The columns of a dataset (all its versions) or dataset version, each with its "
                   "classification tags, its column edges one step up and down (folded to datasets, with their "
                   "transformations) and the sensitive tags that reach it over column lineage. Datasets you may "
                   "not see are left out; `hidden` says some were.")
    def get(self, request: Request, node_id: str) -> Response:
        node = node_or_404(request, node_id)
        if node.kind not in ("dataset", "datasetVersion"):
            raise FieldError("id", "columns belong to datasets and dataset versions")
        user = request_user(request)
        found = cs.dataset_columns(user=user, node=node)
        reaching = column_sensitivity_body(cs.column_sensitivity(user=user, node=node))
        empty: dict[str, dict[str, Any]] = {"carries": {}, "influencedBy": {}}
        return Response({
            "id": node.node_id,
            "columns": [{**c, "reaching": reaching["columns"].get(c["name"], empty)} for c in found.columns],
            "wholeDataset": found.whole, "hidden": found.hidden or reaching["hidden"],
            "truncated": found.truncated or reaching["truncated"]})
