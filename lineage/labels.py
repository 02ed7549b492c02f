"""How a lineage node is named and coloured, everywhere: pages, the explorer (through the graph API), the PDF
reports and the erasure impact. One function and one table, so the places cannot drift apart.

Pure: no ORM, no Django. Callers pass the node's plain fields (and a run's job name, which lives on its parent).
"""

from __future__ import annotations

# fill, stroke: one pair per node kind, light enough for dark text on the fill. Unknown kinds are grey.
KIND_COLOURS: dict[str, tuple[str, str]] = {
    "dataset": ("#dbeafe", "#1d4ed8"),
    "datasetVersion": ("#eff6ff", "#3b82f6"),
    "job": ("#fef9c3", "#a16207"),
    "run": ("#ffedd5", "#c2410c"),
    "commit": ("#f3f4f6", "#4b5563"),
    "modelVersion": ("#ede9fe", "#6d28d9"),
    "deployment": ("#dcfce7", "#15803d"),
}
OTHER_COLOURS = ("#f9fafb", "#6b7280")


def kind_colours(kind: str) -> tuple[str, str]:
    """The (fill, stroke) of a kind."""
    return KIND_COLOURS.get(kind, OTHER_COLOURS)


def node_label(*, kind: str, name: str, version: str = "", environment: str = "", job: str = "") -> str:
    """A node's readable name: a run by its job and short run id, a commit by its short sha, a model version
    and a deployment by model name and version (``credit v7``, ``credit v7 @ prod``), a dataset version by
    its dataset and short version."""
    if kind == "run":
        return f"{job or 'run'} · {name[:8]}"
    if kind == "commit":
        return name[:10]
    if kind == "modelVersion":
        return f"{name} v{version}"
    if kind == "deployment":
        return f"{name} v{version} @ {environment}"
    if kind == "datasetVersion" and version:
        return f"{name} #{version[:12]}"
    return name


# Edges between a dataset and its versions are drawn by the explorer but are not lineage edges (no EdgeKind).
_EDGE_WORDS = {"version": "has version"}


def edge_label(kind: str) -> str:
    """An edge kind in words, as the explorer, the node pages and the reports print it: "built from", not
    ``built_from`` (the ``EdgeKind`` values read as verbs from source to target)."""
    return _EDGE_WORDS.get(kind, kind.replace("_", " "))
