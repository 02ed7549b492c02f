"""``?asOf=`` on the lineage reads: parsing the parameters, and the answers only an as-of read needs (a node's
detail then, Marquez's fold of the nodes then). The walks and the graph are in ``lineage/asof.py``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from portal.accounts.permissions import request_user
from portal.lib.errors import FieldError, query_datetime

from .. import asof, marquez, selectors, stops
from ..models import Node, NodeRetired
from .common import NodeDetailSerializer, node_or_404

ASOF_PARAMETERS = [
    OpenApiParameter("asOf", OpenApiTypes.DATETIME, description="Answer as of this moment (ISO 8601; without a "
                     "zone, UTC): only the nodes and edges of then, with their state and tags then. A node that did "
                     "not exist then is a 404."),
    OpenApiParameter("asOfKind", str, enum=list(asof.KINDS), description="The clock ``asOf`` is read on: "
                     "``received`` (default: what the portal had been told by then, what an approver saw) or "
                     "``event`` (what was true then by the event times of everything received since)."),
]


def asof_param(request: Request) -> asof.AsOf | None:
    """The request's ``asOf``/``asOfKind``, or None for the current graph. Bad values are a 400 naming them."""
    return asof_from(request.query_params)


def asof_from(params: Mapping[str, Any]) -> asof.AsOf | None:
    """``asOf``/``asOfKind`` of query parameters (the API's, or a page's ``request.GET``), or None for the current
    graph; a bad value is a ``FieldError`` naming it."""
    at = query_datetime(params, "asOf")
    kind = params.get("asOfKind")
    if kind is not None and kind not in asof.KINDS:
        raise FieldError("asOfKind", "must be received or event")
    if at is None:
        if kind is not None:
            raise FieldError("asOf", "required with asOfKind")
        return None
    return asof.AsOf(at=at, kind=kind or "received")


def node_at_or_404(request: Request, node_id: str, at: asof.AsOf | None) -> Node:
    """The node the reader may see, and (with ``at``) that existed then, dropped since or not; else 404."""
    if at is None:
        return node_or_404(request, node_id, as_of_answered=True)
    found = asof.nodes_get(user=request_user(request), node_ids=[node_id], at=at)
    if not found:
        raise Http404
    return found[0]


MEMBERS_SHOWN = selectors.MEMBERS_SHOWN


def node_detail_body(request: Request, node: Node, at: asof.AsOf) -> dict[str, Any]:
    """``NodeDetailApi``'s answer as of then: members, parent, state, tags, sensitive upstream and the
    de-identifying runs that did not stop a tag, of then. Facets and attributes are the node's current ones (no
    history is kept of them); column sensitivity is left out."""
    user = request_user(request)
    data = dict(NodeDetailSerializer(node).data)
    summary = asof.node_summaries(user=user, pks=[node.pk], at=at)[node.pk]
    data.update(state=summary["state"], tags=summary["tags"], updatedAt=summary["updatedAt"])
    # The newest 50 of then by event time, as the live answer; a job's thousands of runs are not summarised.
    members = asof.members_newest(node.pk, at, MEMBERS_SHOWN)
    rows = asof.node_summaries(user=user, pks=members, at=at)
    data["members"] = [rows[pk] for pk in members if pk in rows]
    if node.parent_id:
        parent = Node.objects.visible_to(user).filter(pk=node.parent_id).first()
        data["parent"] = parent.node_id if parent else None
    data["sensitiveUpstream"], passed = asof.sensitive_upstream_explained(node, at)
    notes, hidden = stops.deid_notes(user=user, run_pks=passed)
    data["deidentificationNotStopping"] = {"runs": notes, "hidden": hidden}
    return data


def marquez_nodes(request: Request, pks: list[int], at: asof.AsOf) -> dict[int, marquez.FoldNode]:
    """The visible nodes among ``pks`` (and their parents) that existed then, as Marquez's fold takes them."""
    user = request_user(request)
    summaries = asof.node_summaries(user=user, pks=pks, at=at)
    parents = {p for p in asof.nodes_existing(list(summaries), at).values() if p and p not in summaries}
    summaries.update(asof.node_summaries(user=user, pks=sorted(parents), at=at))
    parent_of = asof.nodes_existing(list(summaries), at)
    rows: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {
        pk: (facets, attrs) for pk, facets, attrs in
        Node.objects.filter(pk__in=list(summaries)).values_list("pk", "facets", "attrs")}
    retired = NodeRetired.objects.filter(pk__in=list(summaries)).values_list("pk", flat=True)
    rows.update((pk, ({}, {})) for pk in retired)
    return {pk: marquez.FoldNode(pk, s["id"], s["kind"], s["namespace"], s["name"], parent_of.get(pk),
                                 rows[pk][0], rows[pk][1], tuple(sorted({t["tag"] for t in s["tags"]})), s["state"],
                                 s["version"])
            for pk, s in summaries.items()}
