"""How a lineage node is named on the pages: the lineage core's label (``lineage/labels.py``)."""

from __future__ import annotations

from django import template

from lineage import labels
from lineage.models import Node, NodeKind

register = template.Library()


@register.filter
def node_label(node: Node) -> str:
    """A run is named after its job (load runs with ``select_related("parent")``), a commit by its short sha."""
    job = node.parent.name if node.kind == "run" and node.parent_id and node.parent else ""
    return labels.node_label(kind=node.kind, name=node.name, version=node.version, environment=node.environment,
                             job=job)


@register.filter
def tag_names(node: Node) -> list[str]:
    """The distinct tags on a node or any of its columns (load with ``prefetch_related("tags")``)."""
    return sorted({t.tag for t in node.tags.all()})


@register.filter
def kind_name(kind: str) -> str:
    """A node kind in words ("Dataset version", not ``datasetVersion``); other values pass through."""
    return str(NodeKind(kind).label) if kind in NodeKind.values else kind


@register.filter
def edge_name(kind: str) -> str:
    """An edge kind in words: "built from", not ``built_from`` (the lineage core's words)."""
    return labels.edge_label(kind)
