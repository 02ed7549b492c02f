"""Reads over column edges: a column's upstream or downstream, bounded like node walks.

A column is ``(dataset version pk, field)``; field "" is the whole dataset (the facet's dataset-wide list).
Walking upstream from a column also follows the edges into its dataset's whole-dataset column; walking
downstream from a whole-dataset column continues from every column of that version. ``column_walk`` is one
statement (a recursive CTE); the sensitivity questions below still go one level per query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection

from portal.accounts.models import User

from . import ids, stops
from .columns import WHOLE_DATASET
from .models import SENSITIVE_TAGS, ColumnEdge, Edge, Node, NodeTag

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
        for n, nf, fpk, ff, kind, subtype, description, masking in rows:
            fields = by_node[n]
            if direction == "upstream":
                # A column depends on what feeds it and on what feeds its whole dataset.
                hit = nf in fields or (nf == WHOLE_DATASET and any(f != WHOLE_DATASET for f in fields))
            else:
                # What reaches a whole dataset reaches each of its columns, and so what they feed.
                hit = nf in fields or WHOLE_DATASET in fields
            if hit:
                out.append(((n, nf), (fpk, ff), (kind, subtype, description, masking)))
    return out


def _column_seeds_sql(seeds: list[Column]) -> tuple[str, list[Any]]:
    if connection.vendor == "postgresql":  # two array parameters, not thousands of placeholders
        return "SELECT * FROM unnest(%s::bigint[], %s::text[])", [[pk for pk, _ in seeds], [f for _, f in seeds]]
    return "VALUES " + ", ".join(["(%s, %s)"] * len(seeds)), [v for seed in seeds for v in seed]


def column_walk(*, seeds: list[Column], direction: str, depth: int, max_nodes: int | None = None,
                types: frozenset[str] | None = None, edges: tuple[str, Sequence[Any]] = ("lineage_columnedge", ()),
                ) -> ColumnWalk:
    """Walk column edges from ``seeds`` for at most ``depth`` levels; ``types`` keeps only DIRECT or INDIRECT.

    One statement on both engines: a recursive CTE over (version, field, distance) for the columns reached (each
    at its least distance), the ``max_nodes`` nearest kept (by distance, version pk, field), and the edges
    leaving each kept column short of the bound towards a kept one. ``edges`` names the column edges walked (SQL
    relation and parameters, ``lineage_columnedge`` by default; lineage as of a time passes a filtered one).
    A column the walk goes through without an edge (see below) has the distance of the column it came from.
    """
    max_nodes = max_nodes or settings.LINEAGE_MAX_NODES
    walk = ColumnWalk(direction=direction, depth=depth)
    if not seeds:
        return walk
    # Besides the edges, a step that keeps its distance: upstream, a column goes through its whole dataset's column
    # when edges feed that; downstream, a whole dataset's column goes through each of its columns that feeds on.
    # Each branch matches the edge's near column by equality where it can, so (version, field) stays an index key.
    if direction == "upstream":
        near, far = ("dst", "src")
        branch = "b.k = 0 OR w.field <> ''"
        match = "e.dst_field = CASE b.k WHEN 0 THEN w.field ELSE '' END"
        to_field = "''"
        hit = "(e.dst_field = w.field OR (e.dst_field = '' AND w.field <> ''))"
    else:
        near, far = ("src", "dst")
        branch = "b.k = 0 OR w.field = ''"
        match = "(b.k = 1 OR e.src_field = w.field)"
        to_field = "e.src_field"
        hit = "(e.src_field = w.field OR w.field = '')"
    rel, rel_params = edges
    type_sql = f"WHERE type IN ({', '.join(['%s'] * len(types))})" if types else ""
    seeds_sql, seed_params = _column_seeds_sql(list(dict.fromkeys(seeds)))
    sql = f"""
WITH RECURSIVE c_edge AS NOT MATERIALIZED (
    SELECT src_id, src_field, dst_id, dst_field, type, subtype, description, masking FROM {rel} ce {type_sql}),
seeds(id, field) AS ({seeds_sql}),
walk(id, field, depth) AS (
    SELECT id, field, 0 FROM seeds
    UNION
    SELECT CASE b.k WHEN 0 THEN e.{far}_id ELSE w.id END, CASE b.k WHEN 0 THEN e.{far}_field ELSE {to_field} END,
           w.depth + 1 - b.k
    FROM walk w JOIN (SELECT 0 AS k UNION ALL SELECT 1) b ON {branch}
    JOIN c_edge e ON e.{near}_id = w.id AND {match}
    WHERE w.depth < %s
),
reached(id, field, d) AS (SELECT id, field, MIN(depth) FROM walk GROUP BY id, field),
kept(id, field, d) AS (SELECT id, field, d FROM reached ORDER BY d, id, field LIMIT %s)
SELECT 0, id, field, d, NULL, NULL, NULL, NULL, NULL, NULL FROM kept
UNION ALL
SELECT 1, e.{near}_id, e.{near}_field, w.d, e.{far}_id, e.{far}_field, e.type, e.subtype, e.description, e.masking
FROM kept w JOIN c_edge e ON e.{near}_id = w.id AND e.{near}_field = w.field
JOIN kept o ON o.id = e.{far}_id AND o.field = e.{far}_field
WHERE w.d < %s
UNION ALL
SELECT 2, (SELECT COUNT(*) FROM reached), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
UNION ALL
SELECT 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE EXISTS (
    SELECT 1 FROM kept w JOIN c_edge e ON e.{near}_id = w.id AND {hit} WHERE w.d = %s)"""  # noqa: S608
    with connection.cursor() as cur:
        cur.execute(sql, [*rel_params, *sorted(types or ()), *seed_params, depth, max_nodes, depth, depth])
        rows = cur.fetchall()
    for row in rows:
        if row[0] == 0:
            walk.distance[(row[1], row[2])] = row[3]
        elif row[0] == 2:
            walk.cut_by_size = row[1] > max_nodes
        elif row[0] == 3:
            walk.cut_by_depth = True
    for _, pk, fld, _, fpk, ffld, kind, subtype, description, masking in (r for r in rows if r[0] == 1):
        a, b = (pk, fld), (fpk, ffld)
        key = (b, a) if direction == "upstream" else (a, b)  # edges keep the direction data flows
        t = (kind, subtype, description, bool(masking))
        ts = walk.edges.setdefault(key, [])
        if t not in ts:
            ts.append(t)
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


def column_nodes(*, user: User | None, pks: list[int]) -> dict[int, dict[str, Any]]:
    """The dataset versions among ``pks`` that ``user`` may see, with their dataset's id. ``user`` None: every
    one, for reports, which show a model's whole lineage to their readers."""
    out: dict[int, dict[str, Any]] = {}
    nodes = Node.objects.all() if user is None else Node.objects.visible_to(user)
    for i in range(0, len(pks), 5000):
        rows = nodes.filter(pk__in=pks[i : i + 5000]).values_list(
            "pk", "node_id", "kind", "namespace", "name", "version")
        for pk, node_id, kind, ns, name, version in rows:
            dataset = node_id if kind == "dataset" else ids.dataset_id(ns, name)
            out[pk] = {"dataset": dataset, "datasetVersion": node_id if kind == "datasetVersion" else None,
                       "namespace": ns, "name": name, "version": version}
    return out


# -- sensitive columns -------------------------------------------------------------------------------------
@dataclass(slots=True)
class ColumnSensitivity:
    """Which sensitive column tags reach a node's columns, and through which kind of path.

    ``carries``: tag -> source columns (dataset id, field) it reaches through DIRECT edges only, so the values
    are derived from the tagged column. ``influenced_by``: tag -> source columns that reach only through a path
    with an INDIRECT edge (a filter, join, group by): they shape which rows exist, never a value. ``columns``:
    per column of the node (for a model, the columns it was trained on), the same two maps. ``hidden``: source
    columns of datasets the reader may not see (their tags count, their names are left out).
    """

    trained_on: list[tuple[str, str]] = field(default_factory=list)
    carries: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    influenced_by: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    columns: dict[str, dict[str, dict[str, list[tuple[str, str]]]]] = field(default_factory=dict)
    hidden: int = 0
    cut: bool = False
    passed: list[int] = field(default_factory=list)  # de-identifying runs an evidence-requiring tag got through
    # (tag, "carries" | "influencedBy", source dataset, source field, node's dataset, node's column)
    paths: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)


def _deid_writers(pks: set[int]) -> dict[int, int]:
    """Dataset version pk -> the de-identifying run that wrote it, among ``pks``."""
    out: dict[int, int] = {}
    ordered = sorted(pks)
    for i in range(0, len(ordered), 5000):
        out.update((version, run) for run, version in Edge.objects.filter(
            kind="writes", dst_id__in=ordered[i : i + 5000], src__deidentifies=True).values_list("src_id", "dst_id"))
    return out


def _node_columns(node: Node) -> list[Column]:
    """The columns a node stands for: a dataset's or version's own; a model's, those of the versions its
    training run read."""
    versions: Any
    if node.kind == "modelVersion":
        runs = Edge.objects.filter(dst=node, kind="produces").values("src_id")
        versions = Edge.objects.filter(dst_id__in=runs, kind="reads").values("src_id")
    elif node.kind == "dataset":
        versions = Node.objects.filter(parent=node, kind="datasetVersion").values("pk")
    elif node.kind == "datasetVersion":
        versions = [node.pk]
    else:
        return []
    # One query (subqueries, a union): a page pays the same whatever the number of versions.
    into = ColumnEdge.objects.filter(dst_id__in=versions).exclude(dst_field=WHOLE_DATASET).values_list(
        "dst_id", "dst_field")
    out_of = ColumnEdge.objects.filter(src_id__in=versions).values_list("src_id", "src_field")
    return sorted(set(into.union(out_of)))


def _upstream_by_seed(seeds: list[Column], depth: int, types: frozenset[str] | None,
                      passable: frozenset[int] = frozenset()) -> tuple[dict[Column, set[Column]], bool, set[int]]:
    """Every column upstream of each seed, in one walk for all seeds: a query per level, not per seed.

    Each column carries the set of seeds it lies upstream of; a column is walked again when that set grows,
    so the answer per seed is what a walk from that seed alone would reach (within ``depth``). The walk does not
    go upstream of a version a de-identifying run wrote, unless that run is in ``passable`` (``lineage.stops``).
    Returns seed -> columns, whether the depth or size bound cut the walk, and the runs it stopped at.
    """
    max_nodes = settings.LINEAGE_MAX_NODES
    origins: dict[Column, set[Column]] = {c: {c} for c in seeds}
    changed: dict[Column, set[Column]] = {c: {c} for c in seeds}
    cut = False
    stopped: set[int] = set()
    for level in range(depth + 1):
        writers = _deid_writers({pk for pk, _ in changed})
        halted = {v for v, run in writers.items() if run not in passable}
        stopped |= {writers[v] for v in halted}
        changed = {c: o for c, o in changed.items() if c[0] not in halted}
        if not changed:
            break
        steps = [st for st in _step(set(changed), "upstream") if types is None or st[2][0] in types]
        if level == depth:
            cut = bool(steps)
            break
        grown: dict[Column, set[Column]] = {}
        per_node: dict[int, set[Column]] = {}  # what feeds a whole dataset feeds each of its columns
        for (pk, _), seeds_of in changed.items():
            per_node.setdefault(pk, set()).update(seeds_of)
        for a, b, _ in steps:
            new = (changed.get(a, set()) if a[1] else per_node.get(a[0], set())) - origins.get(b, set())
            if not new:
                continue
            if b not in origins and len(origins) >= max_nodes:
                cut = True
                continue
            origins.setdefault(b, set()).update(new)
            grown.setdefault(b, set()).update(new)
        changed = grown
    by_seed: dict[Column, set[Column]] = {}
    for col, seeds_of in origins.items():
        for seed in seeds_of:
            by_seed.setdefault(seed, set()).add(col)
    return by_seed, cut, stopped


def _tags_note(cols: set[Column], version_parent: dict[int, int | None],
               tagged: dict[tuple[int, str], set[str]]) -> bool:
    """Add the sensitive tags of ``cols`` (set on their dataset) to ``tagged``, and their versions' datasets to
    ``version_parent``; whether any of ``cols`` carries one."""
    new = {pk for pk, _ in cols} - set(version_parent)
    version_parent.update(Node.objects.filter(pk__in=new).values_list("pk", "parent_id"))
    holders = {version_parent.get(pk) or pk for pk in new}
    for ds, fld, tag in NodeTag.objects.filter(node_id__in=holders, tag__in=SENSITIVE_TAGS).exclude(
            field="").values_list("node_id", "field", "tag"):
        tagged.setdefault((ds, fld), set()).add(tag)
    return any((version_parent.get(pk) or pk, fld) in tagged for pk, fld in cols)


def column_sensitivity(*, user: User | None, node: Node, depth: int | None = None) -> ColumnSensitivity:
    """Sensitive column tags reaching ``node``'s columns over column edges (see ``ColumnSensitivity``).

    A column carries the tags set on it (``NodeTag`` with its field, on its dataset). Two bounded walks
    upstream from all the columns at once, one over DIRECT edges only and one over all, each remembering which
    of the node's columns every column feeds: what the second reaches and the first does not is "influenced
    by". The walks stop at versions written by de-identifying runs as ``lineage.stops`` says, per tag. Tags set
    on a whole dataset travel with the dataset-level walk (``selectors.sensitive_upstream``), not here.
    """
    depth = depth if depth is not None else min(20, settings.LINEAGE_MAX_DEPTH)
    out = ColumnSensitivity()
    seeds = _node_columns(node)
    if not seeds:
        return out
    visible = column_nodes(user=user, pks=sorted({pk for pk, _ in seeds}))
    out.trained_on = sorted({(visible[pk]["dataset"], f) for pk, f in seeds if pk in visible})
    Reach = tuple[dict[Column, set[Column]], dict[Column, set[Column]]]  # noqa: N806 - a local alias

    version_parent: dict[int, int | None] = {}
    tagged: dict[tuple[int, str], set[str]] = {}

    def walk(passable: frozenset[int]) -> tuple[Reach, set[int]]:
        every, cut_e, stopped = _upstream_by_seed(seeds, depth, None, passable)
        out.cut = out.cut or cut_e
        if not _tags_note({c for cols in every.values() for c in cols}, version_parent, tagged):
            return (every, {}), stopped  # no tagged column upstream: the DIRECT walk could find none either
        direct, cut_d, _ = _upstream_by_seed(seeds, depth, frozenset({"DIRECT"}), passable)
        out.cut = out.cut or cut_d
        return (every, direct), stopped  # the DIRECT walk stops where the other does, or before

    split = stops.split_walk(walk)
    every_cols = {c for cols in split.evidence_stops[0].values() for c in cols}
    if not tagged:
        return out
    holders = {p if p else pk for pk, p in version_parent.items()}
    if split.passed:
        before = {c for cols in split.all_stops[0].values() for c in cols}
        if any(t in split.tags for pk, fld in every_cols - before
               for t in tagged.get((version_parent.get(pk) or pk, fld), ())):
            out.passed = sorted(split.passed)
    names = column_nodes(user=user, pks=sorted(holders))
    hidden: set[tuple[int, str]] = set()

    def note(target: dict[str, list[tuple[str, str]]], cols: set[Column], evidence: bool) -> None:
        for pk, fld in cols:
            holder = version_parent.get(pk) or pk
            for tag in tagged.get((holder, fld), ()):
                if (tag in split.tags) != evidence:
                    continue  # the other walk answers for this tag
                if holder not in names:
                    hidden.add((holder, fld))
                    target.setdefault(tag, [])
                    continue
                src = (names[holder]["dataset"], fld)
                if src not in target.setdefault(tag, []):
                    target[tag].append(src)

    for seed in seeds:
        if seed[0] not in visible:
            continue
        per: dict[str, dict[str, list[tuple[str, str]]]] = {"carries": {}, "influencedBy": {}}
        for evidence, (every, direct) in ((False, split.all_stops), (True, split.evidence_stops)):
            by_direct, by_any = direct.get(seed, set()), every.get(seed, set())
            note(per["carries"], by_direct, evidence)
            note(per["influencedBy"], by_any - by_direct, evidence)
            note(out.carries, by_direct, evidence)
            note(out.influenced_by, by_any - by_direct, evidence)
        for kind in ("carries", "influencedBy"):
            for tag, srcs in per[kind].items():
                out.paths.extend((tag, kind, d, f, visible[seed[0]]["dataset"], seed[1]) for d, f in srcs)
        if per["carries"] or per["influencedBy"]:
            col = out.columns.setdefault(seed[1], {"carries": {}, "influencedBy": {}})
            for kind in ("carries", "influencedBy"):
                for tag, srcs in per[kind].items():
                    merged = col[kind].setdefault(tag, [])
                    merged.extend(s for s in srcs if s not in merged)
    # A source that reaches some column directly is carried; it is not also "only influencing".
    for tag, srcs in list(out.influenced_by.items()):
        out.influenced_by[tag] = [s for s in srcs if s not in out.carries.get(tag, [])]
        if not out.influenced_by[tag] and tag in out.carries:
            del out.influenced_by[tag]
    for maps in (out.carries, out.influenced_by, *[m for c in out.columns.values() for m in c.values()]):
        for tag in maps:
            maps[tag].sort()
    out.hidden = len(hidden)
    out.paths = sorted(set(out.paths))
    return out


# -- a dataset's columns, for the explorer ----------------------------------------------------------------
@dataclass(slots=True)
class DatasetColumns:
    """A dataset's (or version's) columns: the schema's, the tagged ones and those column edges name, each with
    its tags and its one-step column edges folded to datasets (``upstream``: what feeds it; ``downstream``: what
    it feeds), plus the columns that filter or join the whole dataset (``whole``). ``hidden``: edges to datasets
    the reader may not see were left out."""

    columns: list[dict[str, Any]] = field(default_factory=list)
    whole: list[dict[str, Any]] = field(default_factory=list)
    hidden: bool = False
    truncated: bool = False


def dataset_columns(*, user: User, node: Node, limit: int = 2000) -> DatasetColumns:
    """The columns of ``node`` (a dataset: every version; a version: its own), at most ``limit`` edges a way."""
    dataset = node if node.kind == "dataset" else (node.parent or node)
    versions = [node.pk] if node.kind == "datasetVersion" else list(
        Node.objects.filter(parent=node, kind="datasetVersion").values_list("pk", flat=True)
        [: settings.LINEAGE_MAX_NODES])
    out = DatasetColumns()
    rows_in = list(ColumnEdge.objects.filter(dst_id__in=versions).values_list(
        "src_id", "src_field", "dst_field", "type", "subtype", "description")[: limit + 1])
    rows_out = list(ColumnEdge.objects.filter(src_id__in=[*versions, dataset.pk]).values_list(
        "dst_id", "dst_field", "src_field", "type", "subtype", "description")[: limit + 1])
    out.truncated = len(rows_in) > limit or len(rows_out) > limit
    far = column_nodes(user=user, pks=sorted({r[0] for r in rows_in[:limit]} | {r[0] for r in rows_out[:limit]}))
    tags: dict[str, set[str]] = {}
    for fld, tag in NodeTag.objects.filter(node=dataset).exclude(field="").values_list("field", "tag"):
        tags.setdefault(fld, set()).add(tag)
    schema = [f for f in ((dataset.facets or {}).get("schema") or {}).get("fields") or [] if isinstance(f, dict)]
    if node.kind == "datasetVersion":
        schema = [f for f in ((node.facets or {}).get("schema") or {}).get("fields") or []
                  if isinstance(f, dict)] or schema
    cols: dict[str, dict[str, Any]] = {}

    def col(name: str, kind: str = "") -> dict[str, Any]:
        return cols.setdefault(name, {"name": name, "type": kind, "tags": [], "upstream": [], "downstream": []})

    for f in schema:
        if isinstance(f.get("name"), str) and f["name"]:
            col(f["name"], str(f.get("type") or ""))
    for name in tags:
        col(name)
    whole: dict[tuple[str, str], dict[str, Any]] = {}

    def add(target: list[dict[str, Any]], pk: int, fld: str, t: tuple[str, str, str],
            index: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
        if pk not in far:
            out.hidden = True
            return
        key = (far[pk]["dataset"], fld)
        found = index.get(key) if index is not None else next(
            (e for e in target if (e["dataset"], e["field"]) == key), None)
        if found is None:
            found = {"dataset": key[0], "field": fld or None, "transformations": []}
            target.append(found)
            if index is not None:
                index[key] = found
        tr = {"type": t[0], "subtype": t[1], "description": t[2]}
        if tr not in found["transformations"]:
            found["transformations"].append(tr)

    for src, sf, df, *t in rows_in[:limit]:
        if df == WHOLE_DATASET:
            add(out.whole, src, sf, (t[0], t[1], t[2]), whole)
        else:
            add(col(df)["upstream"], src, sf, (t[0], t[1], t[2]))
    for dst, df, sf, *t in rows_out[:limit]:
        add(col(sf)["downstream"], dst, df, (t[0], t[1], t[2]))
    for name, c in cols.items():
        c["tags"] = sorted(tags.get(name, ()))
        for way in ("upstream", "downstream"):
            c[way].sort(key=lambda e: (e["dataset"], e["field"] or ""))
            for e in c[way]:
                e["transformations"].sort(key=lambda x: (x["type"], x["subtype"]))
    out.whole.sort(key=lambda e: (e["dataset"], e["field"] or ""))
    order = {f.get("name"): i for i, f in enumerate(schema)}
    out.columns = sorted(cols.values(), key=lambda c: (order.get(c["name"], len(order)), c["name"]))
    return out
