"""Reads over column edges: a column's upstream or downstream, bounded like node walks.

A column is ``(dataset version pk, field)``; field "" is the whole dataset (the facet's dataset-wide list).
Walking upstream from a column also follows the edges into its dataset's whole-dataset column; walking
downstream from a whole-dataset column continues from every column of that version. The walk goes one level
per query (an indexed ``IN`` on the edge table), so it stops at ``depth`` levels or ``max_nodes`` columns.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from portal.accounts.models import User

from . import ids
from .columns import WHOLE_DATASET
from .models import ColumnEdge, Node

Column = tuple[int, str]
Transformation = tuple[str, str, str, bool]  # type, subtype, description, masking


@dataclass(slots=True)
class ColumnWalk:
    direction: str
    depth: int
    distance: dict[Column, int] = field(default_factory=dict)
    edges: dict[tuple[Column, Column], list[Transformation]] = field(default_factory=dict)
    cut_by_depth: bool = False
    cut_by_size: bool = False


def _step(frontier: set[Column], direction: str) -> list[tuple[Column, Column, Transformation]]:
    """Edges one level away from ``frontier``, as (from, to, transformation) in the walk's direction."""
    by_node: dict[int, set[str]] = defaultdict(set)
    for pk, f in frontier:
        by_node[pk].add(f)
    out: list[tuple[Column, Column, Transformation]] = []
    near, far = ("dst", "src") if direction == "upstream" else ("src", "dst")
    pks = sorted(by_node)
    for i in range(0, len(pks), 2000):
        rows = ColumnEdge.objects.filter(**{f"{near}_id__in": pks[i : i + 2000]}).values_list(
            f"{near}_id", f"{near}_field", f"{far}_id", f"{far}_field", "type", "subtype", "description", "masking")
        for n, nf, fpk, ff, kind, subtype, description, masking in rows.iterator():
            fields = by_node[n]
            if direction == "upstream":
                # A column depends on what feeds it and on what feeds its whole dataset.
                hit = nf in fields or (nf == WHOLE_DATASET and any(f != WHOLE_DATASET for f in fields))
                start = (n, nf)
            else:
                hit = nf in fields or WHOLE_DATASET in fields
                start = (n, nf if nf in fields else WHOLE_DATASET)
            if hit:
                out.append((start, (fpk, ff), (kind, subtype, description, masking)))
    return out


def column_walk(*, seeds: list[Column], direction: str, depth: int, max_nodes: int | None = None,
                types: frozenset[str] | None = None) -> ColumnWalk:
    """Walk column edges from ``seeds`` for at most ``depth`` levels; ``types`` keeps only DIRECT or INDIRECT."""
    max_nodes = max_nodes or settings.LINEAGE_MAX_NODES
    walk = ColumnWalk(direction=direction, depth=depth)
    walk.distance = {c: 0 for c in seeds}
    frontier = set(seeds)
    level = 0
    while frontier:
        steps = [s for s in _step(frontier, direction) if types is None or s[2][0] in types]
        if level == depth:
            walk.cut_by_depth = bool(steps)
            break
        level += 1
        nxt: set[Column] = set()
        for a, b, t in steps:
            if b not in walk.distance:
                if len(walk.distance) >= max_nodes:
                    walk.cut_by_size = True
                    continue
                walk.distance[b] = level
                nxt.add(b)
            walk.distance.setdefault(a, level - 1)  # a whole dataset reached through one of its columns
            key = (b, a) if direction == "upstream" else (a, b)  # edges keep the direction data flows
            ts = walk.edges.setdefault(key, [])
            if t not in ts:
                ts.append(t)
        frontier = nxt
    return walk


def column_seeds(node: Node, field_name: str) -> list[Column]:
    """A dataset's column stands for that column in each of its versions; a version's for its own."""
    if node.kind == "dataset":
        pks = list(Node.objects.filter(parent=node, kind="datasetVersion").values_list("pk", flat=True)
                   [: settings.LINEAGE_MAX_NODES])
        return [(pk, field_name) for pk in sorted(pks)]
    return [(node.pk, field_name)]


def column_known(seeds: list[Column]) -> bool:
    """Whether any column edge touches one of ``seeds``."""
    pks = [pk for pk, _ in seeds]
    name = seeds[0][1] if seeds else ""
    return (ColumnEdge.objects.filter(src_id__in=pks, src_field=name).exists()
            or ColumnEdge.objects.filter(dst_id__in=pks, dst_field=name).exists())


def column_nodes(*, user: User, pks: list[int]) -> dict[int, dict[str, Any]]:
    """The dataset versions among ``pks`` that ``user`` may see, with their dataset's id."""
    out: dict[int, dict[str, Any]] = {}
    for i in range(0, len(pks), 5000):
        rows = Node.objects.visible_to(user).filter(pk__in=pks[i : i + 5000]).values_list(
            "pk", "node_id", "kind", "namespace", "name", "version")
        for pk, node_id, kind, ns, name, version in rows:
            dataset = node_id if kind == "dataset" else ids.dataset_id(ns, name)
            out[pk] = {"dataset": dataset, "datasetVersion": node_id if kind == "datasetVersion" else None,
                       "namespace": ns, "name": name, "version": version}
    return out
