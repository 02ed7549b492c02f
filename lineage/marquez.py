"""The Marquez lineage response shape, folded from the portal's richer graph. No ORM.

As in Marquez, dataset versions fold into their dataset and runs into their job, so edges join
datasets and jobs; the portal's other kinds keep their own type names (COMMIT, MODEL_VERSION,
DEPLOYMENT). Nodes are sorted by id and edges by origin then destination, like Marquez.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TYPE_NAMES = {"dataset": "DATASET", "job": "JOB", "commit": "COMMIT", "modelVersion": "MODEL_VERSION",
              "deployment": "DEPLOYMENT"}


@dataclass(frozen=True, slots=True)
class FoldNode:
    pk: int
    node_id: str
    kind: str
    namespace: str
    name: str
    parent_pk: int | None
    facets: dict[str, Any]
    attrs: dict[str, Any]
    tags: tuple[str, ...]
    state: str
    version: str


def _fields(facets: dict[str, Any]) -> list[dict[str, Any]]:
    schema = facets.get("schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list):
        return []
    return [{"name": f.get("name"), "type": f.get("type"), "tags": [], "description": f.get("description")}
            for f in schema["fields"] if isinstance(f, dict)]


def _data(n: FoldNode, ins: list[FoldNode], outs: list[FoldNode]) -> dict[str, Any]:
    ident = {"namespace": n.namespace, "name": n.name}
    if n.kind == "job":
        return {"id": ident, "type": "BATCH", "name": n.name, "simpleName": n.name.rsplit(".", 1)[-1],
                "parentJobName": None, "namespace": n.namespace,
                "inputs": [{"namespace": d.namespace, "name": d.name} for d in ins if d.kind == "dataset"],
                "outputs": [{"namespace": d.namespace, "name": d.name} for d in outs if d.kind == "dataset"],
                "latestRun": None, "facets": n.facets}
    if n.kind == "dataset":
        documentation = n.facets.get("documentation")
        doc: dict[str, Any] = documentation if isinstance(documentation, dict) else {}
        return {"id": ident, "type": "DB_TABLE", "name": n.name, "physicalName": n.name, "namespace": n.namespace,
                "sourceName": n.namespace, "fields": _fields(n.facets), "tags": list(n.tags),
                "description": doc.get("description"), "facets": n.facets}
    return {"id": ident, "type": TYPE_NAMES.get(n.kind, n.kind.upper()), "name": n.name, "namespace": n.namespace,
            "version": n.version, "state": n.state, "attrs": n.attrs}


def fold(nodes: dict[int, FoldNode], edges: list[tuple[int, int, str]]) -> dict[str, Any]:
    """Fold a portal subgraph into Marquez's ``{"graph": [...]}``. ``nodes`` must include fold targets."""

    def target(pk: int) -> FoldNode | None:
        n = nodes.get(pk)
        if n is None:
            return None
        if n.kind in ("datasetVersion", "run") and n.parent_pk in nodes:
            return nodes[n.parent_pk]
        if n.kind in ("datasetVersion", "run"):
            return None
        return n

    def mid(n: FoldNode) -> str:
        return n.node_id if n.kind not in ("dataset", "job") else f"{n.kind}:{n.namespace}:{n.name}"

    folded: dict[str, FoldNode] = {}
    for pk in nodes:
        t = target(pk)
        if t is not None:
            folded[mid(t)] = t
    links: set[tuple[str, str]] = set()
    for s, d, _ in edges:
        ts, td = target(s), target(d)
        if ts is None or td is None or ts.pk == td.pk:
            continue
        links.add((mid(ts), mid(td)))
    ins: dict[str, list[str]] = {k: [] for k in folded}
    outs: dict[str, list[str]] = {k: [] for k in folded}
    for origin, destination in sorted(links):
        outs[origin].append(destination)
        ins[destination].append(origin)
    graph = []
    for key in sorted(folded):
        n = folded[key]
        graph.append({
            "id": key,
            "type": TYPE_NAMES.get(n.kind, n.kind.upper()),
            "data": _data(n, [folded[o] for o in ins[key]], [folded[d] for d in outs[key]]),
            "inEdges": [{"origin": o, "destination": key} for o in ins[key]],
            "outEdges": [{"origin": key, "destination": d} for d in outs[key]],
        })
    return {"graph": graph}
