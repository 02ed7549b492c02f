"""The Marquez lineage response shape, folded from the portal's richer graph. No ORM.

As in Marquez, dataset versions fold into their dataset and runs into their job, and the graph holds
only jobs and datasets joined by job-dataset edges: the portal's other kinds (commits, model versions,
deployments) have their own API. A parent run's job is named in its child job's ``parentJobName``, as
Marquez does, not linked by an edge. The graph is the root's connected component over those edges. Nodes
are sorted by id and edges by origin then destination, like Marquez.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TYPE_NAMES = {"dataset": "DATASET", "job": "JOB"}


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


def _data(n: FoldNode, ins: list[FoldNode], outs: list[FoldNode], parent: str | None = None) -> dict[str, Any]:
    ident = {"namespace": n.namespace, "name": n.name}
    if n.kind == "job":
        return {"id": ident, "type": "BATCH", "name": n.name, "simpleName": n.name.rsplit(".", 1)[-1],
                "parentJobName": parent, "namespace": n.namespace,
                "inputs": [{"namespace": d.namespace, "name": d.name} for d in ins if d.kind == "dataset"],
                "outputs": [{"namespace": d.namespace, "name": d.name} for d in outs if d.kind == "dataset"],
                "latestRun": None, "facets": n.facets}
    documentation = n.facets.get("documentation")
    doc: dict[str, Any] = documentation if isinstance(documentation, dict) else {}
    return {"id": ident, "type": "DB_TABLE", "name": n.name, "physicalName": n.name, "namespace": n.namespace,
            "sourceName": n.namespace, "fields": _fields(n.facets), "tags": list(n.tags),
            "description": doc.get("description"), "facets": n.facets}


def _component(start: str, links: set[tuple[str, str]]) -> set[str]:
    near: dict[str, set[str]] = {}
    for o, d in links:
        near.setdefault(o, set()).add(d)
        near.setdefault(d, set()).add(o)
    seen, todo = {start}, [start]
    while todo:
        for n in near.get(todo.pop(), ()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def fold(nodes: dict[int, FoldNode], edges: list[tuple[int, int, str]], root: int | None = None) -> dict[str, Any]:
    """Fold a portal subgraph into Marquez's ``{"graph": [...]}``. ``nodes`` must include fold targets.

    With ``root`` (a node pk), only the component joined to the root's folded node is kept."""

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
        if t is not None and t.kind in ("dataset", "job"):
            folded[mid(t)] = t
    links: set[tuple[str, str]] = set()
    parents: dict[str, str] = {}
    for s, d, kind in edges:
        ts, td = target(s), target(d)
        if ts is None or td is None or ts.pk == td.pk:
            continue
        if kind == "parent_of" and ts.kind == "job" and td.kind == "job":
            parents.setdefault(mid(td), ts.name)
        elif {ts.kind, td.kind} == {"dataset", "job"}:
            links.add((mid(ts), mid(td)))
    start = target(root) if root is not None else None
    if start is not None and start.kind in ("dataset", "job"):
        keep = _component(mid(start), links)
        folded = {k: v for k, v in folded.items() if k in keep}
        links = {(o, d) for o, d in links if o in keep and d in keep}
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
            "type": TYPE_NAMES[n.kind],
            "data": _data(n, [folded[o] for o in ins[key]], [folded[d] for d in outs[key]], parents.get(key)),
            "inEdges": [{"origin": o, "destination": key} for o in ins[key]],
            "outEdges": [{"origin": key, "destination": d} for d in outs[key]],
        })
    return {"graph": graph}


@dataclass(frozen=True, slots=True)
class FoldColumn:
    namespace: str
    dataset: str
    field: str


def field_node_id(c: FoldColumn) -> str:
    return f"datasetField:{c.namespace}:{c.dataset}:{c.field}"


def fold_columns(edges: dict[tuple[FoldColumn, FoldColumn], list[tuple[str, str, str, bool]]]) -> dict[str, Any]:
    """Marquez's column-lineage graph (``DATASET_FIELD`` nodes) from column edges, versions folded away.

    As in Marquez, a column that is derived from others carries its ``inputFields`` in ``data`` (a column
    only ever read has ``data`` null), and each edge runs from the input column to the derived one. Each
    input field's ``transformationType``/``transformationDescription`` is its first transformation; all of
    them are in ``transformations``.
    """
    inputs: dict[FoldColumn, dict[FoldColumn, list[tuple[str, str, str, bool]]]] = {}
    outputs: dict[FoldColumn, set[FoldColumn]] = {}
    nodes: set[FoldColumn] = set()
    for (a, b), ts in edges.items():
        nodes.update((a, b))
        outputs.setdefault(a, set()).add(b)
        merged = inputs.setdefault(b, {}).setdefault(a, [])
        merged.extend(t for t in ts if t not in merged)
    graph = []
    for c in sorted(nodes, key=field_node_id):
        key = field_node_id(c)
        data = None
        if c in inputs:
            fields = []
            for a in sorted(inputs[c], key=field_node_id):
                ts = sorted(inputs[c][a])
                fields.append({"namespace": a.namespace, "dataset": a.dataset, "datasetVersion": None,
                               "field": a.field, "transformationDescription": ts[0][2] or None,
                               "transformationType": ts[0][1] or ts[0][0],
                               "transformations": [{"type": t, "subtype": s, "description": d, "masking": m}
                                                   for t, s, d, m in ts]})
            data = {"namespace": c.namespace, "dataset": c.dataset, "datasetVersion": None, "field": c.field,
                    "fieldType": None, "transformationDescription": None, "transformationType": None,
                    "inputFields": fields}
        ins = sorted(field_node_id(a) for a in inputs.get(c, {}))
        outs = sorted(field_node_id(b) for b in outputs.get(c, ()))
        graph.append({"id": key, "type": "DATASET_FIELD", "data": data,
                      "inEdges": [{"origin": o, "destination": key} for o in ins],
                      "outEdges": [{"origin": key, "destination": d} for d in outs]})
    return {"graph": graph}
