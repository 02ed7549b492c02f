"""Reads over the lineage graph.

Walks are one bounded recursive query (PostgreSQL and SQLite alike): depth-limited, and capped in the
number of nodes returned, so a request never loads more than its bound. networkx only ever sees the
bounded subgraph (``graph.py``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from portal.accounts.models import User
from portal.lib.sql import select_in

from . import graph, stops
from .labels import node_label
from .models import SENSITIVE_TAGS, Node, NodeTag, RawEvent

# Kinds that stand for a group of members: a walk from them starts from their members too.
AGGREGATE_KINDS = ("dataset", "job")


@dataclass(slots=True)
class Walk:
    """A bounded walk: node pks with their distance, the edges between them, and whether a bound cut it."""

    direction: str
    depth: int
    distance: dict[int, int] = field(default_factory=dict)
    edges: list[tuple[int, int, str]] = field(default_factory=list)
    cut_by_depth: bool = False
    cut_by_size: bool = False


_WALK_SQL = """
WITH RECURSIVE walk(id, depth) AS (
    SELECT id, 0 FROM lineage_node WHERE id IN ({seeds})
    UNION
    SELECT e.{next_col}, w.depth + 1
    FROM walk w
    JOIN lineage_edge e ON e.{this_col} = w.id
    {stop_join}
    WHERE w.depth < %s {stop_where}
)
SELECT id, MIN(depth) AS d FROM walk GROUP BY id ORDER BY d, id LIMIT %s
"""


def lineage_walk(
    *, seeds: list[int], direction: str, depth: int, max_nodes: int | None = None, stop_at_deidentifying: bool = False
) -> Walk:
    """Walk ``upstream`` (against the arrows) or ``downstream`` from ``seeds`` for at most ``depth`` edges.

    With ``stop_at_deidentifying`` the walk does not pass through a run that de-identifies its inputs.
    """
    max_nodes = max_nodes or settings.LINEAGE_MAX_NODES
    this_col, next_col = ("dst_id", "src_id") if direction == "upstream" else ("src_id", "dst_id")
    # A walk passes through runs, not through jobs: a job joins every run it ever had and every commit that
    # ever built it, which would flood the closure with unrelated history. Runs link their own commit.
    stop_join = "JOIN lineage_node n ON n.id = w.id"
    stop_where = "AND (n.kind <> %s OR w.depth = 0)"
    if stop_at_deidentifying:
        stop_where += " AND (n.deidentifies = %s OR w.depth = 0)"
    sql = _WALK_SQL.format(seeds=", ".join(["%s"] * len(seeds)), this_col=this_col, next_col=next_col,
                           stop_join=stop_join, stop_where=stop_where)
    params: list[Any] = [*seeds, depth, "job"]
    if stop_at_deidentifying:
        params.append(False)
    params.append(max_nodes + 1)
    walk = Walk(direction=direction, depth=depth)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    if len(rows) > max_nodes:
        walk.cut_by_size = True
        rows = rows[:max_nodes]
    walk.distance = {pk: d for pk, d in rows}
    if not walk.distance:
        return walk
    ids = list(walk.distance)
    edge_rows = select_in(f"SELECT src_id, dst_id, kind FROM lineage_edge WHERE {this_col}", ids)  # noqa: S608
    inside = walk.distance
    walk.edges = [(s, d, k) for s, d, k in edge_rows if s in inside and d in inside]
    frontier = [pk for pk, d in walk.distance.items() if d == depth]
    if frontier:
        walk.cut_by_depth = bool(select_in(f"SELECT 1 FROM lineage_edge WHERE {this_col}", frontier,  # noqa: S608
                                           suffix="LIMIT 1"))
    return walk


def walk_fold(walk: Walk, *, kinds: set[str] | None) -> None:
    """What a walk answers, beyond the members it crossed: runs reached downstream bring their job (as upstream
    reaches it through the ``executes`` edge), and when ``dataset`` (``job``) is asked for, a dataset version
    (run) on the walk counts as its dataset (job), at the member's distance, joined by a ``version``
    (``executes``) edge."""
    want = kinds or set()
    fold_kinds = {"run"} if walk.direction == "downstream" or "job" in want else set()
    if "dataset" in want:
        fold_kinds.add("datasetVersion")
    if not fold_kinds or not walk.distance:
        return
    rows = select_in("SELECT id, kind, parent_id FROM lineage_node WHERE id", list(walk.distance))
    have = {(s, d, k) for s, d, k in walk.edges}
    for pk, kind, parent in sorted(rows, key=lambda r: walk.distance[r[0]]):
        if kind not in fold_kinds or parent is None:
            continue
        near = walk.distance[pk] + (1 if kind == "run" and walk.direction == "downstream" else 0)
        walk.distance[parent] = min(walk.distance.get(parent, near), near)
        edge = (parent, pk, "executes" if kind == "run" else "version")
        if edge not in have:
            have.add(edge)
            walk.edges.append(edge)


def walk_seeds(node: Node) -> list[int]:
    """A dataset's walk starts from its versions too; a job's from its runs."""
    seeds = [node.pk]
    if node.kind in AGGREGATE_KINDS:
        seeds.extend(Node.objects.filter(parent=node).values_list("pk", flat=True)[: settings.LINEAGE_MAX_NODES])
    return seeds


def node_get(*, user: User, node_id: str) -> Node | None:
    return Node.objects.visible_to(user).filter(node_id=node_id).first()


def node_list(*, user: User, kind: str | None = None, q: str | None = None, tag: str | None = None) -> QuerySet[Node]:
    qs = Node.objects.visible_to(user)
    if kind:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(namespace__icontains=q) | Q(node_id=q))
    if tag:
        qs = qs.filter(tags__tag=tag).distinct()
    return qs.order_by("kind", "namespace", "name", "version")


def nodes_by_pk(*, user: User, pks: list[int]) -> dict[int, Node]:
    """Visible nodes among ``pks``; those the user may not see are left out."""
    out: dict[int, Node] = {}
    for i in range(0, len(pks), 5000):
        for n in Node.objects.visible_to(user).filter(pk__in=pks[i : i + 5000]).prefetch_related("tags"):
            out[n.pk] = n
    return out


@dataclass(slots=True)
class Closure:
    """What lies upstream of some seeds, for sensitive-tag questions: each node's kind, de-identification flag
    and parent, the edges between them, and whether the size bound cut it."""

    info: dict[int, tuple[str, bool, int | None]]
    edges: list[tuple[int, int, str]]
    cut: bool = False
    stopped: set[int] = field(default_factory=set)  # the de-identifying runs the walk did not pass


def upstream_closure(*, seeds: list[int], max_nodes: int | None = None, depth: int | None = None,
                     stop_at_deidentifying: bool = True, passable: frozenset[int] = frozenset()) -> Closure:
    """Breadth-first upstream of ``seeds``, one query per level, each node visited once, not passing through
    jobs nor (unless asked) de-identifying runs other than ``passable`` (``stops.split_walk``). Seeds are always
    passed through.

    The recursive CTE of ``lineage_walk`` keeps one row per (node, depth) pair, which multiplies on wide graphs
    when walks are deep or start from many seeds; visiting by node keeps this linear in the nodes returned.
    """
    max_nodes = max_nodes or settings.LINEAGE_MAX_NODES
    depth = settings.LINEAGE_MAX_DEPTH if depth is None else depth
    info: dict[int, tuple[str, bool, int | None]] = {
        pk: (kind, bool(deid), parent) for pk, kind, deid, parent in
        select_in("SELECT id, kind, deidentifies, parent_id FROM lineage_node WHERE id", seeds)}
    closure = Closure(info=info, edges=[])
    frontier = list(info)
    for _ in range(depth):
        if not frontier:
            break
        rows = select_in("SELECT e.src_id, e.dst_id, e.kind, n.kind, n.deidentifies, n.parent_id FROM lineage_edge e "
                         "JOIN lineage_node n ON n.id = e.src_id WHERE e.dst_id", frontier)
        nxt = []
        for src, dst, edge_kind, kind, deid, parent in rows:
            if src not in info:
                if len(info) >= max_nodes:
                    closure.cut = True
                    continue
                info[src] = (kind, bool(deid), parent)
                if deid and stop_at_deidentifying and src not in passable:
                    closure.stopped.add(src)
                elif kind != "job":
                    nxt.append(src)
            closure.edges.append((src, dst, edge_kind))
        frontier = nxt
    return closure


def _sensitive_tags_of(pks: set[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for pk, tag in select_in("SELECT node_id, tag FROM lineage_nodetag WHERE node_id", list(pks)):
        if tag in SENSITIVE_TAGS:
            out.setdefault(pk, set()).add(tag)
    return out


def sensitive_upstream(*, node: Node, depth: int | None = None) -> dict[str, list[str]]:
    """Which sensitive tags reach ``node`` from upstream, stopping at de-identifying runs (``stops.py``).

    Returns ``{tag: [dataset node ids that carry it]}``. A dataset version carries its dataset's tags.
    """
    return sensitive_upstream_explained(node=node, depth=depth)[0]


def sensitive_upstream_explained(*, node: Node, depth: int | None = None) -> tuple[dict[str, list[str]], set[int]]:
    """``sensitive_upstream``, and the de-identifying runs an evidence-requiring tag got through for want of an
    approved determination (empty when none let a tag through)."""
    seeds = walk_seeds(node)

    def walk(passable: frozenset[int]) -> tuple[set[int], set[int]]:
        closure = upstream_closure(seeds=seeds, depth=depth, passable=passable)
        return set(closure.info) | {p for _, _, p in closure.info.values() if p}, closure.stopped

    tags, passed = split_tags(stops.split_walk(walk))
    return _tags_by_holder_name(tags), passed


def split_tags(split: stops.SplitWalk[set[int]]) -> tuple[dict[int, set[str]], set[int]]:
    """The sensitive tags of the holders each walk of ``split`` reached, each tag from the walk that answers for
    it; and ``split.passed`` when a tag reached only through those runs."""
    found = _sensitive_tags_of(split.all_stops)
    if split.evidence_stops is split.all_stops:
        return found, set()
    out = {pk: {t for t in tags if t not in split.tags} for pk, tags in found.items()}
    leaked = False
    for pk, tags in _sensitive_tags_of(split.evidence_stops).items():
        mine = tags & split.tags
        if mine:
            out.setdefault(pk, set()).update(mine)
            leaked = leaked or not mine <= found.get(pk, set())
    return {pk: t for pk, t in out.items() if t}, split.passed if leaked else set()


def sensitive_holders_upstream(*, seeds: list[int], max_nodes: int) -> tuple[set[int], bool]:
    """The datasets (and versions) upstream of ``seeds`` whose sensitive tags reach them, with the stops applied;
    and whether a size bound cut a walk."""
    cut = False

    def walk(passable: frozenset[int]) -> tuple[set[int], set[int]]:
        nonlocal cut
        closure = upstream_closure(seeds=seeds, max_nodes=max_nodes, passable=passable)
        cut = cut or closure.cut
        holders = {parent if kind == "datasetVersion" and parent else pk
                   for pk, (kind, _, parent) in closure.info.items() if kind in ("dataset", "datasetVersion")}
        return holders, closure.stopped

    tags, _ = split_tags(stops.split_walk(walk))
    return set(tags), cut


def _tags_by_holder_name(tags: dict[int, set[str]]) -> dict[str, list[str]]:
    """``{pk: tags}`` as ``{tag: [node ids that carry it]}``."""
    names = dict(select_in("SELECT id, node_id FROM lineage_node WHERE id", list(tags))) if tags else {}
    found: dict[str, set[str]] = {}
    for pk, pk_tags in tags.items():
        for tag in pk_tags:
            found.setdefault(tag, set()).add(names[pk])
    return {tag: sorted(v) for tag, v in sorted(found.items())}


def run_events(*, run_uuid: str) -> QuerySet[RawEvent]:
    return RawEvent.objects.filter(run_id=run_uuid).order_by("event_time", "id")


def node_tags(node: Node) -> list[NodeTag]:
    return list(node.tags.all().order_by("field", "tag"))


def node_summaries(*, user: User, pks: list[int]) -> dict[int, dict[str, Any]]:
    """Visible nodes among ``pks`` as the API's summary dicts: two queries, no model instances."""
    out: dict[int, dict[str, Any]] = {}
    fields = ("pk", "node_id", "kind", "namespace", "name", "version", "environment", "state", "owners", "updated_at")
    for i in range(0, len(pks), 5000):
        part = pks[i : i + 5000]
        for row in Node.objects.visible_to(user).filter(pk__in=part).values(*fields):
            pk = row.pop("pk")
            out[pk] = {"id": row.pop("node_id"), **row, "tags": []}
        for node_pk, column, tag, source in NodeTag.objects.filter(node_id__in=part).values_list(
            "node_id", "field", "tag", "source"
        ):
            if node_pk in out:
                out[node_pk]["tags"].append({"field": column, "tag": tag, "source": source})
    for d in out.values():
        d["updatedAt"] = d.pop("updated_at").isoformat().replace("+00:00", "Z")
    return out


@dataclass(slots=True)
class Subgraph:
    """A bounded neighbourhood for drawing: visible node summaries, the edges between them, the sensitive tags
    that reach each node (from anywhere upstream, not only from what is drawn) and which bounds cut it."""

    root: int
    nodes: dict[int, dict[str, Any]]
    edges: list[tuple[int, int, str]]
    distance: dict[int, int]
    side: dict[int, str]
    sensitive: dict[int, list[str]]
    cut_by_depth: bool = False
    cut_by_size: bool = False
    sensitive_incomplete: bool = False


def lineage_graph(
    *, user: User, node: Node, depth: int, directions: tuple[str, ...], max_nodes: int,
    expand: list[Node] | None = None, expand_depth: int = 1,
) -> Subgraph:
    """The neighbourhood of ``node`` up to ``depth`` edges in ``directions``, plus ``expand_depth`` edges around
    each node of ``expand`` (expanded in place by the explorer), capped at ``max_nodes`` nearest the root."""
    distance: dict[int, int] = {}
    side: dict[int, str] = {node.pk: "root"}
    cut_depth = cut_size = False
    starts = [(node, depth, 0)] + [(n, expand_depth, 1) for n in expand or []]
    for start, d, bias in starts:
        for direction in directions:
            walk = lineage_walk(seeds=walk_seeds(start), direction=direction, depth=d, max_nodes=max_nodes)
            # An expansion's frontier is not the graph's frontier: only the root walk's bound is reported.
            cut_depth = cut_depth or (walk.cut_by_depth and bias == 0)
            cut_size = cut_size or walk.cut_by_size
            base = 0 if bias == 0 else distance.get(start.pk, depth)
            for pk, dist in walk.distance.items():
                if pk not in distance or base + dist < distance[pk]:
                    distance[pk] = base + dist
                side.setdefault(pk, direction)
    distance[node.pk] = 0
    kept = sorted(distance, key=lambda pk: (distance[pk], pk))
    if len(kept) > max_nodes:
        cut_size = True
        kept = kept[:max_nodes]
    nodes = node_summaries(user=user, pks=kept)
    order = [pk for pk in kept if pk in nodes]
    edge_rows = select_in("SELECT src_id, dst_id, kind FROM lineage_edge WHERE src_id", order) if order else []
    edges = sorted({(s, d, k) for s, d, k in edge_rows if d in nodes})
    # Runs are named after their job; a dataset drawn with its versions is linked to them ("version" edges,
    # which the layout uses to put the dataset left of its versions: they are not lineage edges).
    for pk, kind, parent, parent_name in select_in(
            "SELECT n.id, n.kind, n.parent_id, p.name FROM lineage_node n JOIN lineage_node p ON p.id = n.parent_id "
            "WHERE n.id", order):
        if kind == "run":
            nodes[pk]["label"] = parent_name
        elif kind == "datasetVersion" and parent in nodes:
            edges.append((parent, pk, "version"))
    for n in nodes.values():  # what the explorer prints: the same label as the pages and the PDF
        n["displayName"] = node_label(kind=n["kind"], name=n["name"], version=n["version"],
                                      environment=n["environment"], job=n.get("label", ""))
    sensitive, incomplete = sensitive_reaching(order)
    return Subgraph(root=node.pk, nodes=nodes, edges=edges, distance={pk: distance[pk] for pk in order},
                    side={pk: side.get(pk, "root") for pk in order}, sensitive=sensitive,
                    cut_by_depth=cut_depth, cut_by_size=cut_size, sensitive_incomplete=incomplete)


def sensitive_reaching(pks: list[int]) -> tuple[dict[int, list[str]], bool]:
    """Sensitive tags reaching each of ``pks`` (as ``sensitive_upstream`` would say for each, in one walk of
    their shared upstream closure instead of one walk per node). The flag says the closure hit its size cap."""
    if not pks:
        return {}, False
    member_rows = select_in("SELECT parent_id, id FROM lineage_node WHERE parent_id", pks)
    members: dict[int, list[int]] = {}
    for parent, pk in member_rows:
        members.setdefault(parent, []).append(pk)
    seeds = list(dict.fromkeys([*pks, *(pk for _, pk in member_rows)]))

    def walk(passable: frozenset[int]) -> tuple[Closure, set[int]]:
        closure = upstream_closure(seeds=seeds, max_nodes=max(settings.LINEAGE_MAX_NODES, len(seeds)),
                                   passable=passable)
        # A de-identifying run among the seeds is walked through, but it stops tags towards the other seeds.
        marked = {pk for pk in seeds if closure.info.get(pk, ("", False, None))[1]} - passable
        return closure, closure.stopped | marked

    split = stops.split_walk(walk, walked=frozenset(seeds))
    closure = split.evidence_stops  # the larger walk: the stops below cut it back per tag
    info = closure.info
    tags = _sensitive_tags_of(set(info) | {p for _, _, p in info.values() if p})
    own = {pk: frozenset(tags.get(pk, set()) | (tags.get(parent, set()) if parent else set()))
           for pk, (_, _, parent) in info.items()}
    halts = {pk for pk, (kind, deid, _) in info.items() if kind == "job" or deid}
    reach = graph.tags_reaching(own, closure.edges, stops=halts, members=members)
    if split.passed:
        evidence_own = {pk: t & split.tags for pk, t in own.items()}
        through = graph.tags_reaching(evidence_own, closure.edges, stops=halts - split.passed, members=members)
        reach = {pk: frozenset(reach.get(pk, frozenset()) | through.get(pk, frozenset())) for pk in
                 set(reach) | set(through)}
    return {pk: sorted(reach.get(pk, ())) for pk in pks}, split.all_stops.cut or closure.cut


# -- whole upstream lineage (for decisions) ---------------------------------------------------------------
@dataclass(slots=True)
class Upstream:
    """Every node upstream of some seeds (seeds included), and whether the safety bound stopped the walk."""

    pks: list[int]
    cut: bool = False
    parents: set[int] = field(default_factory=set)
    deidentifying: bool = False
    stopped: set[int] = field(default_factory=set)  # the de-identifying runs a stopping walk did not pass


# Set-based: the working set holds node ids only and UNION drops every id already reached, so each node is
# expanded once, a cycle ends the walk instead of looping, and there is no depth to run out of. Like
# ``lineage_walk`` it passes through runs, not jobs (seeds excepted), and optionally not de-identifying runs.
_UPSTREAM_ALL_SQL = """
WITH RECURSIVE up(id) AS (
    SELECT id FROM lineage_node WHERE id IN ({seeds})
    UNION
    SELECT e.src_id
    FROM up
    JOIN lineage_node n ON n.id = up.id
    JOIN lineage_edge e ON e.dst_id = up.id
    WHERE (n.kind <> %s {deid}) OR n.id IN ({seeds})
)
SELECT up.id, n.parent_id, n.deidentifies FROM up JOIN lineage_node n ON n.id = up.id LIMIT %s
"""


def upstream_all(*, seeds: list[int], max_nodes: int, stop_at_deidentifying: bool = False,
                 passable: frozenset[int] = frozenset()) -> Upstream:
    """The whole upstream lineage of ``seeds``, however deep: for decisions (release subjects, separation of
    duties, the policy a sensitive tag selects), which must never rest on a partial walk. ``max_nodes`` is a
    safety bound, not a request size: when it is hit, ``cut`` says so and the caller must not decide. A stopping
    walk still passes the de-identifying runs in ``passable`` (``stops.split_walk``)."""
    if not seeds:
        return Upstream(pks=[])
    marks = ", ".join(["%s"] * len(seeds))
    deid, deid_params = "", []
    if stop_at_deidentifying:
        passing = sorted(passable)
        deid = "AND (n.deidentifies = %s" + (f" OR n.id IN ({', '.join(['%s'] * len(passing))})" if passing
                                             else "") + ")"
        deid_params = [False, *passing]
    sql = _UPSTREAM_ALL_SQL.format(seeds=marks, deid=deid)
    params: list[Any] = [*seeds, "job", *deid_params, *seeds, max_nodes + 1]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    cut = len(rows) > max_nodes
    rows = rows[:max_nodes]
    stopped = {pk for pk, _, d in rows if d and pk not in passable and pk not in seeds} if stop_at_deidentifying \
        else set()
    return Upstream(pks=[pk for pk, _, _ in rows], cut=cut, parents={p for _, p, _ in rows if p is not None},
                    deidentifying=any(d for _, _, d in rows), stopped=stopped)


def sensitive_upstream_all(*, node: Node, max_nodes: int, whole: Upstream | None = None
                           ) -> tuple[dict[str, list[str]], bool]:
    """``sensitive_upstream`` over the whole upstream lineage: ``({tag: [dataset node ids]}, cut)``, with the
    de-identification stops of ``stops.py``.

    ``whole``, the caller's ``upstream_all`` of ``node`` alone, is reused when no de-identifying run lies in it:
    the walk that stops at such runs would find the same nodes.
    """
    seeds = walk_seeds(node)
    if whole is not None and seeds == [node.pk] and not whole.deidentifying:
        return _tags_by_holder_name(_sensitive_tags_of(set(whole.pks) | whole.parents)), whole.cut
    cut = False

    def walk(passable: frozenset[int]) -> tuple[set[int], set[int]]:
        nonlocal cut
        up = upstream_all(seeds=seeds, max_nodes=max_nodes, stop_at_deidentifying=True, passable=passable)
        cut = cut or up.cut
        return set(up.pks) | up.parents, up.stopped

    tags, _ = split_tags(stops.split_walk(walk))
    return _tags_by_holder_name(tags), cut


# -- erasure impact ----------------------------------------------------------------------------------------
AFFECTED_KINDS = ("datasetVersion", "run", "modelVersion", "deployment")


def erasure_impact(*, sources: list[Node]) -> dict[str, Any]:
    """GDPR Art. 17 erasure impact: everything derived from ``sources`` (datasets), with the path to each.

    Walks downstream through runs (not jobs) and returns every derived dataset version, run, model version
    and deployment with one shortest path back to a source. Bounded by the lineage depth and a node cap,
    and says when it was cut. The caller decides who may see the sources.
    """
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
        "pk", "node_id", "kind", "name", "namespace", "version", "environment", "state", "parent_id",
        "parent__name")}
    own_versions = set(seeds_by_source) - {s.pk for s in sources}
    affected: list[dict[str, Any]] = []
    for pk in parent:
        row = rows.get(pk)
        if row is None or row["kind"] not in AFFECTED_KINDS or pk in own_versions:
            continue
        path: list[str] = []
        at: int | None = pk
        root = pk
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
        label = node_label(kind=row["kind"], name=row["name"], version=row["version"],
                           environment=row["environment"], job=row["parent__name"] or "")
        affected.append({"node_id": row["node_id"], "kind": row["kind"], "name": label,
                         "namespace": row["namespace"], "active_deployments": active, "path": path})
    order = {k: i for i, k in enumerate(AFFECTED_KINDS)}
    affected.sort(key=lambda a: (order[a["kind"]], a["node_id"]))
    counts = {k: sum(a["kind"] == k for a in affected) for k in AFFECTED_KINDS}
    return {"sources": [{"node_id": s.node_id, "name": s.name} for s in sources], "affected": affected,
            "counts": counts, "truncated": walk.cut_by_depth or walk.cut_by_size}


