"""How a lineage node is named on the pages: readable labels instead of raw ids."""

from __future__ import annotations

from django import template

from lineage.models import Node

register = template.Library()


@register.filter
def node_label(node: Node) -> str:
    """A run is named after its job (load runs with ``select_related("parent")``), a commit by its short sha."""
    if node.kind == "run":
        job = node.parent.name if node.parent_id and node.parent else "run"
        return f"{job} · {node.name[:8]}"
    if node.kind == "commit":
        return node.name[:10]
    if node.kind == "modelVersion":
        return f"{node.name} v{node.version}"
    if node.kind == "deployment":
        return f"{node.name} {node.version} @ {node.environment}"
    if node.kind == "datasetVersion":
        return f"{node.name} #{node.version[:12]}"
    return node.name


@register.filter
def tag_names(node: Node) -> list[str]:
    """The distinct tags on a node or any of its columns (load with ``prefetch_related("tags")``)."""
    return sorted({t.tag for t in node.tags.all()})
