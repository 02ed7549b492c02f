"""GDPR Art. 17 erasure impact: everything derived from a dataset, with the path from it to each.

Given datasets (or a data-subject key resolved to the datasets holding it), walk downstream through
runs (not jobs) and return every derived dataset version, run, model version and deployment with one
shortest path back to a source. Bounded by the lineage depth and a node cap, and says when it was cut.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from typing import Any

from django.conf import settings

from lineage.models import Node
from lineage.selectors import lineage_walk

AFFECTED_KINDS = ("datasetVersion", "run", "modelVersion", "deployment")


def erasure_impact(*, sources: list[Node]) -> dict[str, Any]:
    seeds_by_source: dict[int, int] = {}
    for src in sources:
        seeds_by_source[src.pk] = src.pk
        for pk in Node.objects.filter(parent=src).values_list("pk", flat=True):
            seeds_by_source[pk] = src.pk
    if not seeds_by_source:
        return {"sources": [], "affected": [], "counts": {k: 0 for k in AFFECTED_KINDS}, "truncated": False}
    walk = lineage_walk(seeds=list(seeds_by_source), direction="downstream", depth=settings.LINEAGE_MAX_DEPTH,
                        max_nodes=settings.PORTAL_REPORT_MAX_NODES)
    children: dict[int, list[int]] = {}
    for s, d, _ in walk.edges:
        children.setdefault(s, []).append(d)
    # Breadth-first from every seed at once: the first parent to reach a node gives its shortest path.
    parent: dict[int, int | None] = {pk: None for pk in seeds_by_source}
    queue = deque(seeds_by_source)
    while queue:
        pk = queue.popleft()
        for nxt in sorted(children.get(pk, [])):
            if nxt not in parent:
                parent[nxt] = pk
                queue.append(nxt)
    rows = {r["pk"]: r for r in Node.objects.filter(pk__in=list(parent)).values(
        "pk", "node_id", "kind", "name", "namespace", "version", "environment", "state", "parent_id")}
    own_versions = set(seeds_by_source) - {s.pk for s in sources}
    affected = []
    for pk in parent:
        row = rows.get(pk)
        if row is None or row["kind"] not in AFFECTED_KINDS or pk in own_versions:
            continue
        path, at, root = [], pk, pk
        while at is not None:
            path.append(rows[at]["node_id"])
            root, at = at, parent[at]
        if seeds_by_source[root] != root:  # reached from a version: start the path at its dataset
            path.append(rows[seeds_by_source[root]]["node_id"])
        path.reverse()
        active = []
        if row["kind"] == "modelVersion":
            active = [rows[c]["node_id"] for c in children.get(pk, [])
                      if c in rows and rows[c]["kind"] == "deployment" and rows[c]["state"] == "active"]
        elif row["kind"] == "deployment" and row["state"] == "active":
            active = [row["node_id"]]
        affected.append({"node_id": row["node_id"], "kind": row["kind"], "name": _label(row),
                         "namespace": row["namespace"], "active_deployments": active, "path": path})
    order = {k: i for i, k in enumerate(AFFECTED_KINDS)}
    affected.sort(key=lambda a: (order[a["kind"]], a["node_id"]))
    counts = {k: sum(a["kind"] == k for a in affected) for k in AFFECTED_KINDS}
    return {"sources": [{"node_id": s.node_id, "name": s.name} for s in sources], "affected": affected,
            "counts": counts, "truncated": walk.cut_by_depth or walk.cut_by_size}


def _label(row: dict[str, Any]) -> str:
    if row["kind"] == "modelVersion":
        return f"{row['name']} v{row['version']}"
    if row["kind"] == "deployment":
        return f"{row['name']} v{row['version']} @ {row['environment']}"
    return row["name"] + (f" #{row['version']}" if row["version"] and row["kind"] == "datasetVersion" else "")


def erasure_csv(erasure: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["kind", "node_id", "name", "namespace", "active_deployments", "path"])
    for a in erasure["affected"]:
        w.writerow([a["kind"], _csv_safe(a["node_id"]), _csv_safe(a["name"]), _csv_safe(a["namespace"]),
                    " ; ".join(_csv_safe(x) for x in a["active_deployments"]),
                    " > ".join(_csv_safe(x) for x in a["path"])])
    return out.getvalue()


def _csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas in user data (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
