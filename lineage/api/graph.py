"""The explorer's reads: a node's neighbourhood laid out for drawing, and the path between two nodes."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.permissions import CanRead, request_user
from portal.lib.errors import FieldError
from portal.lib.pagination import bounded_int_parameter

from .. import asof, graph, selectors
from ..labels import edge_label, kind_colours
from ..layout import layout
from ..models import EdgeKind, Node, NodeKind
from .asof import ASOF_PARAMETERS, asof_param, node_at_or_404
from .common import DEPTH_PARAMETER, ERRORS, NodeSummarySerializer, depth_param, int_param, node_or_404

GRAPH_DEFAULT_DEPTH = 5
GRAPH_DEFAULT_NODES = 300
GRAPH_MAX_NODES = 1000
GRAPH_MAX_EXPAND = 20
GRID_COLUMN, GRID_ROW = 220.0, 60.0


# Each kind's name and colours (labels.py, the table the PDF draws with): the explorer paints with these.
_KINDS = {kind: {"name": str(name), "fill": kind_colours(kind)[0], "stroke": kind_colours(kind)[1]}
          for kind, name in NodeKind.choices}
# Each edge kind in words ("built from") and in a sentence ("commit builds job or run"), for labels and tooltips.
_EDGE_KINDS = {kind: {"name": edge_label(kind), "description": str(description)}
               for kind, description in [*EdgeKind.choices, ("version", "dataset has this version")]}


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
            *ASOF_PARAMETERS,
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
            "kinds": serializers.DictField(child=inline_serializer("GraphKind", {
                "name": serializers.CharField(), "fill": serializers.CharField(),
                "stroke": serializers.CharField()})),
            "edgeKinds": serializers.DictField(child=inline_serializer("GraphEdgeKind", {
                "name": serializers.CharField(), "description": serializers.CharField()})),
            "grid": inline_serializer("GraphGrid", {"column": serializers.FloatField(),
                                                    "row": serializers.FloatField()}),
        }), **ERRORS},
        description="Nodes carry their summary, ``displayName`` (the label the pages and reports print), "
        "``distance`` from the node, ``side`` (root, upstream or "
        "downstream), ``sensitive`` (the sensitive tags that reach them from anywhere upstream, stopping at "
        "de-identifying runs) and ``x``/``y``/``layer`` from the layered layout. Edges of kind ``version`` join a "
        "dataset to its versions when both are drawn; the others are lineage edges. ``kinds`` gives each node kind's "
        "name and colours, ``edgeKinds`` each edge kind's words (``built from``) and sentence; ``grid`` the column "
        "and row steps the positions were computed with, so a client may redraw them at another scale or turned.",
    )
    def get(self, request: Request, node_id: str) -> Response:
        at = asof_param(request)
        node = node_at_or_404(request, node_id, at)
        direction = request.query_params.get("direction", "both")
        if direction not in ("both", "upstream", "downstream"):
            raise FieldError("direction", "must be both, upstream or downstream")
        limit = int_param(request, "limit", GRAPH_DEFAULT_NODES, 1, GRAPH_MAX_NODES)
        expand_ids = list(dict.fromkeys(request.query_params.getlist("expand")))
        if len(expand_ids) > GRAPH_MAX_EXPAND:
            raise FieldError("expand", f"at most {GRAPH_MAX_EXPAND} nodes may be expanded")
        if not expand_ids:
            expand = []
        elif at is None:
            expand = list(Node.objects.visible_to(request.user).filter(node_id__in=expand_ids))
        else:  # as of a time, a node that did not exist then is no such node either; one dropped since is
            expand = asof.nodes_get(user=request_user(request), node_ids=expand_ids, at=at)
        if len(expand) != len(expand_ids):
            raise FieldError("expand", "no such node")
        depth = depth_param(request, default=GRAPH_DEFAULT_DEPTH)
        directions = ("upstream", "downstream") if direction == "both" else (direction,)
        if at is None:
            sub = selectors.lineage_graph(user=request_user(request), node=node, depth=depth, directions=directions,
                                          max_nodes=limit, expand=expand)
        else:
            sub = asof.lineage_graph(user=request_user(request), node=node, depth=depth, directions=directions,
                                     max_nodes=limit, expand=expand, at=at)
        placed = layout([pk for pk in sub.nodes], [(s, d) for s, d, _ in sub.edges], column_width=GRID_COLUMN,
                        row_height=GRID_ROW)
        nodes = [{**sub.nodes[pk], "distance": sub.distance[pk], "side": sub.side[pk],
                  "sensitive": sub.sensitive.get(pk, []), "layer": placed.positions[pk].layer,
                  "x": placed.positions[pk].x, "y": placed.positions[pk].y} for pk in sub.nodes]
        nodes.sort(key=lambda n: (n["distance"], n["id"]))
        edges = [{"source": sub.nodes[s]["id"], "target": sub.nodes[d]["id"], "kind": k} for s, d, k in sub.edges]
        return Response({"root": node.node_id, "direction": direction, "depth": depth,
                         "truncated": {"depth": sub.cut_by_depth, "size": sub.cut_by_size},
                         "sensitiveIncomplete": sub.sensitive_incomplete,
                         "width": placed.width, "height": placed.height, "nodes": nodes, "edges": edges,
                         "kinds": _KINDS, "edgeKinds": _EDGE_KINDS,
                         "grid": {"column": GRID_COLUMN, "row": GRID_ROW}})


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
            ends.append(node_or_404(request, value))
        source, target = ends
        depth = depth_param(request)
        walk = selectors.lineage_walk(seeds=selectors.walk_seeds(source), direction="downstream", depth=depth)
        # Only through nodes this reader may see: a path that crosses another team's node does not exist for
        # them, and the answer is the same "found": false as when there is none at all.
        visible = set(Node.objects.visible_to(request_user(request)).filter(pk__in=list(walk.distance))
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
        nodes = selectors.nodes_by_pk(user=request_user(request), pks=best)
        kinds = {(s, d): k for s, d, k in walk.edges}
        return Response({
            "from": source.node_id, "to": target.node_id, "found": True,
            "nodes": [NodeSummarySerializer(nodes[pk]).data for pk in best],
            "edges": [{"source": nodes[a].node_id, "target": nodes[b].node_id, "kind": kinds[(a, b)]}
                      for a, b in zip(best, best[1:], strict=False)],
            "truncated": {"depth": walk.cut_by_depth, "size": walk.cut_by_size},
        })
