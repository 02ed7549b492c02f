"""Reads over the lineage graph.

Walks are one bounded recursive query (PostgreSQL and SQLite alike): depth-limited, and capped in the
number of nodes returned, so a request never loads more than its bound. networkx only ever sees the
bounded subgraph (``graph.py``).
"""

from __future__ import annotations

import functools
import json
import operator
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Min, Q, QuerySet
from django.db.models.fields.json import KT
from django.utils import timezone

from portal.accounts.models import NamespaceOwner, User
from portal.accounts.selectors import namespace_visibility_q
from portal.lib.sql import select_in

from . import stops
from .labels import node_label
from .marquez import FoldNode
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


@dataclass(frozen=True, slots=True)
class GraphSource:
    """The relations a walk reads, as SQL text with its parameters: ``edges`` stands for ``lineage_edge`` (columns
    ``src_id, dst_id, kind``), ``nodes`` for ``lineage_node`` (columns ``id, kind, deidentifies, parent_id``).

    The default is the live graph. A walk of the graph as it was at some time passes relations filtered to that
    time, for example ``GraphSource(edges="(SELECT src_id, dst_id, kind FROM lineage_edge WHERE event_from <= %s)",
    edge_params=(t,))``, and the nodes of then (dropped ones included) the same way. Every walk statement names
    each relation exactly once, in a leading ``WITH g_edge AS NOT MATERIALIZED (...), g_node AS NOT MATERIALIZED
    (...)``, so the parameters come first, in that order, and a simple filter stays inlined: the planner still
    reaches the edge indexes through it.
    """

    edges: str = "lineage_edge"
    edge_params: tuple[Any, ...] = ()
    nodes: str = "lineage_node"
    node_params: tuple[Any, ...] = ()

    def with_clause(self) -> tuple[str, list[Any]]:
        """``WITH RECURSIVE g_edge AS ..., g_node AS ...`` (to be followed by ", <more CTEs>") and its parameters."""
        sql = (f"WITH RECURSIVE g_edge AS NOT MATERIALIZED (SELECT src_id, dst_id, kind FROM {self.edges} ge), "  # noqa: S608
               f"g_node AS NOT MATERIALIZED (SELECT id, kind, deidentifies, parent_id FROM {self.nodes} gn)")
        return sql, [*self.edge_params, *self.node_params]


LIVE = GraphSource()


def _marks(values: list[int]) -> tuple[str, list[Any]]:
    """``= ANY(%s)`` with one array parameter on PostgreSQL (psycopg splits thousands of placeholders slowly);
    ``IN (%s, ...)`` elsewhere."""
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [list(values)]
    return "IN (" + ", ".join(["%s"] * len(values)) + ")", list(values)


def _reached_cte(*, seeds: list[int], direction: str, depth: int | None, max_nodes: int,
                 stop_at_deidentifying: bool, passable: frozenset[int] = frozenset()) -> tuple[str, list[Any]]:
    """``reached(id, d)``: the nodes within ``depth`` edges of ``seeds`` (no bound: ``None``) with their distance,
    not passing through jobs (nor, if asked, de-identifying runs), seeds excepted. Needs ``g_edge``, ``g_node``.

    On PostgreSQL a breadth-first search in one statement: each level is one row holding its new nodes, those of
    them the walk passes through, and every node seen so far (arrays). Each node is expanded once, at its
    distance, and looked up once (its kind, after the level's new ids are known), and the search stops at the
    level that passes ``max_nodes``. The plain recursive CTE (SQLite) keeps a row per (node, distance) pair and
    expands a node once per distance it is reached at: from a job's 200 runs at depth 41 that took a minute on
    the benchmark graph, the levels take 0.1 s. Both give the same nodes and distances up to the cap.
    """
    this_col, next_col = ("dst_id", "src_id") if direction == "upstream" else ("src_id", "dst_id")
    deid = f"(n.deidentifies AND n.id NOT IN ({_ids_literal(passable)}))" if passable else "n.deidentifies"
    stop = "n.kind = 'job'" + (f" OR {deid}" if stop_at_deidentifying else "")
    cond, seed_params = _marks(seeds)
    if connection.vendor == "postgresql":
        bound = "" if depth is None else "b.depth < %s AND "
        sql = f"""
bfs(depth, fresh, frontier, seen) AS (
    SELECT 0, s.ids, s.ids, s.ids FROM (SELECT ARRAY(SELECT id FROM g_node WHERE id {cond}) AS ids) s
    UNION ALL
    SELECT b.depth + 1, nx.fresh, nx.frontier, b.seen || nx.fresh
    FROM bfs b CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(f.id), '{{}}') AS fresh,
               coalesce(array_agg(f.id) FILTER (WHERE NOT coalesce({stop}, FALSE)), '{{}}') AS frontier
        FROM (SELECT DISTINCT e.{next_col} AS id
              FROM unnest(b.frontier) x(id) JOIN g_edge e ON e.{this_col} = x.id
              LEFT JOIN unnest(b.seen) s(id) ON s.id = e.{next_col}
              WHERE s.id IS NULL) f
        LEFT JOIN g_node n ON n.id = f.id
    ) nx
    WHERE {bound}cardinality(b.frontier) > 0 AND cardinality(b.seen) <= %s
),
reached(id, d) AS (SELECT unnest(fresh), depth FROM bfs)"""  # noqa: S608
        return sql, [*seed_params, *([] if depth is None else [depth]), max_nodes]
    if depth is None:  # ids only: each node once, a cycle ends the walk; the cap stops it
        sql = f"""
walk(id) AS (
    SELECT id FROM g_node WHERE id {cond}
    UNION
    SELECT e.{next_col} FROM walk w JOIN g_edge e ON e.{this_col} = w.id LEFT JOIN g_node n ON n.id = w.id
    WHERE NOT coalesce({stop}, FALSE) OR w.id {cond}
),
reached(id, d) AS (SELECT id, 0 FROM walk LIMIT %s)"""  # noqa: S608
        return sql, [*seed_params, *seed_params, max_nodes + 1]
    sql = f"""
walk(id, depth) AS (
    SELECT id, 0 FROM g_node WHERE id {cond}
    UNION
    SELECT e.{next_col}, w.depth + 1
    FROM walk w JOIN g_edge e ON e.{this_col} = w.id LEFT JOIN g_node n ON n.id = w.id
    WHERE w.depth < %s AND (w.depth = 0 OR NOT coalesce({stop}, FALSE))
),
reached(id, d) AS (SELECT id, MIN(depth) FROM walk GROUP BY id)"""  # noqa: S608
    return sql, [*seed_params, depth]


def walk_prefix(*, seeds: list[int], direction: str, depth: int, max_nodes: int,
                stop_at_deidentifying: bool = False, source: GraphSource = LIVE) -> tuple[str, list[Any]]:
    """The CTEs of a bounded walk, ending with ``kept(id, d)``: the ``max_nodes`` nodes of ``reached`` nearest the
    seeds (by distance, then pk). A statement appends its own CTEs and its SELECT."""
    head, params = source.with_clause()
    reached, reached_params = _reached_cte(seeds=seeds, direction=direction, depth=depth, max_nodes=max_nodes,
                                           stop_at_deidentifying=stop_at_deidentifying)
    sql = f"{head},{reached},\nkept(id, d) AS (SELECT id, d FROM reached ORDER BY d, id LIMIT %s)"  # noqa: S608
    return sql, [*params, *reached_params, max_nodes]


def _kept_edges(this_col: str, next_col: str) -> str:
    """``FROM`` (and ``WHERE``) of the edges between kept nodes, read from the walked side (``this_col``): on
    PostgreSQL in a lateral subquery, which the planner cannot turn round (from the other side it read 78,368
    edges of the commits and jobs upstream of a deployment's closure to keep 2,802), the far end checked in a hash
    of the kept ids. A statement using it must not add a ``WHERE`` of its own."""
    if connection.vendor == "postgresql":  # "IS TRUE" keeps the IN a hashed subplan, not a join to turn round
        return (f"kept k CROSS JOIN LATERAL (SELECT * FROM g_edge x WHERE x.{this_col} = k.id OFFSET 0) e "  # noqa: S608
                f"WHERE (e.{next_col} IN (SELECT id FROM kept)) IS TRUE")
    return f"kept k JOIN g_edge e ON e.{this_col} = k.id JOIN kept o ON o.id = e.{next_col}"


def _walk_tail(direction: str) -> str:
    """Rows of a walk: (0, id, distance, NULL) for each kept node, (1, src, dst, kind) for each edge between kept
    nodes, (2, number reached, 0, NULL), and (3, 0, 0, NULL) when an edge leaves a node at the depth bound."""
    this_col, next_col = ("dst_id", "src_id") if direction == "upstream" else ("src_id", "dst_id")
    return f"""
SELECT 0, id, d, NULL FROM kept
UNION ALL
SELECT 1, e.src_id, e.dst_id, e.kind FROM {_kept_edges(this_col, next_col)}
UNION ALL
SELECT 2, (SELECT COUNT(*) FROM reached), 0, NULL
UNION ALL
SELECT 3, 0, 0, NULL WHERE EXISTS (SELECT 1 FROM kept k JOIN g_edge e ON e.{this_col} = k.id WHERE k.d = %s)"""  # noqa: S608


def lineage_walk(
    *, seeds: list[int], direction: str, depth: int, max_nodes: int | None = None, stop_at_deidentifying: bool = False,
    source: GraphSource = LIVE,
) -> Walk:
    """Walk ``upstream`` (against the arrows) or ``downstream`` from ``seeds`` for at most ``depth`` edges, in one
    statement: the nodes with their distance, the edges between them and both bounds (``walk_prefix``).

    A walk passes through runs, not through jobs: a job joins every run it ever had and every commit that ever
    built it, which would flood the closure with unrelated history. Runs link their own commit. With
    ``stop_at_deidentifying`` the walk does not pass through a run that de-identifies its inputs. ``source``
    names the edges and nodes walked (``GraphSource``; the live graph by default).
    """
    max_nodes = max_nodes or settings.LINEAGE_MAX_NODES
    walk = Walk(direction=direction, depth=depth)
    if not seeds:
        return walk
    prefix, params = walk_prefix(seeds=seeds, direction=direction, depth=depth, max_nodes=max_nodes,
                                 stop_at_deidentifying=stop_at_deidentifying, source=source)
    with connection.cursor() as cur:
        cur.execute(prefix + _walk_tail(direction), [*params, depth])
        rows = cur.fetchall()
    nodes = sorted((d, pk) for part, pk, d, _ in rows if part == 0)
    walk.distance = {pk: d for d, pk in nodes}
    walk.edges = [(s, d, k) for part, s, d, k in rows if part == 1]
    walk.cut_by_size = any(part == 2 and n > max_nodes for part, n, _, _ in rows)
    walk.cut_by_depth = any(part == 3 for part, _, _, _ in rows)
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


# The answer of GET /nodes/<id>/upstream|downstream as PostgreSQL writes it (``walk_json``): the same keys and
# order as ``api.nodes.walk_response`` over ``node_summaries``. ``updatedAt`` is ISO 8601 in UTC with a Z, with
# microseconds only when there are some, as Python's isoformat() writes it.
_WALK_JSON_TAIL = """,
fold(parent, member, d, kind) AS (
    SELECT n.parent_id, n.id, k.d + CASE WHEN n.kind = 'run' AND %s THEN 1 ELSE 0 END,
           CASE WHEN n.kind = 'run' THEN 'executes' ELSE 'version' END
    FROM kept k JOIN lineage_node n ON n.id = k.id
    WHERE n.parent_id IS NOT NULL AND n.kind = ANY(%s)
),
dist(id, d) AS (SELECT id, MIN(d) FROM (SELECT id, d FROM kept UNION ALL SELECT parent, d FROM fold) x GROUP BY id),
wedge(src_id, dst_id, kind) AS (
    SELECT e.src_id, e.dst_id, e.kind FROM {kept_edges}
    UNION
    SELECT parent, member, kind FROM fold
),
vis AS (
    SELECT n.id, n.node_id, n.kind, n.namespace, n.name, n.version, n.environment, n.state, n.owners, n.updated_at
           AT TIME ZONE 'UTC' AS u, x.d
    FROM dist x JOIN lineage_node n ON n.id = x.id
    WHERE NOT (n.namespace = ANY(%s))
)
SELECT
    (SELECT coalesce(json_agg(json_build_object(
        'id', v.node_id, 'kind', v.kind, 'namespace', v.namespace, 'name', v.name, 'version', v.version,
        'environment', v.environment, 'state', v.state, 'owners', v.owners,
        'tags', coalesce((SELECT json_agg(json_build_object('field', t.field, 'tag', t.tag, 'source', t.source)
                                          ORDER BY t.id)
                          FROM lineage_nodetag t WHERE t.node_id = v.id), '[]'),
        'updatedAt', to_char(v.u, 'YYYY-MM-DD"T"HH24:MI:SS')
                     || CASE WHEN date_part('microseconds', v.u)::bigint %% 1000000 = 0 THEN ''
                             ELSE to_char(v.u, '.US') END || 'Z',
        'distance', v.d) ORDER BY v.d, v.id), '[]')
     FROM vis v WHERE cardinality(%s::text[]) = 0 OR v.kind = ANY(%s))::text,
    (SELECT coalesce(json_agg(json_build_object('source', a.node_id, 'target', b.node_id, 'kind', w.kind)
                              ORDER BY w.src_id, w.dst_id, w.kind COLLATE "C"), '[]')
     FROM wedge w JOIN vis a ON a.id = w.src_id JOIN vis b ON b.id = w.dst_id)::text,
    (SELECT COUNT(*) FROM reached) > %s,
    EXISTS (SELECT 1 FROM kept k JOIN g_edge e ON e.{this_col} = k.id WHERE k.d = %s)
"""


def walk_json(*, user: User, root: Node, direction: str, depth: int, kinds: set[str] | None,
              max_nodes: int | None = None) -> str | None:
    """The walk API's whole answer as JSON text, written by PostgreSQL in one statement: ``lineage_walk`` from
    ``walk_seeds(root)``, ``walk_fold`` for ``kinds``, the summaries of the nodes ``user`` may see
    (``node_summaries``) and the edges between them, as ``api.nodes.walk_response`` builds them.

    ``None`` where the database is not PostgreSQL or the user is not signed in: the caller builds the answer from
    those functions. Visibility is the rule of ``Node.objects.visible_to`` (``hidden_namespaces``): no node the
    user may not see, nor any edge to one, is written.
    """
    if connection.vendor != "postgresql" or not user.is_authenticated:
        return None
    max_nodes = max_nodes or settings.LINEAGE_MAX_NODES
    want = kinds or set()
    fold_kinds = ["run"] if direction == "downstream" or "job" in want else []
    if "dataset" in want:
        fold_kinds.append("datasetVersion")
    this_col, next_col = ("dst_id", "src_id") if direction == "upstream" else ("src_id", "dst_id")
    prefix, params = walk_prefix(seeds=walk_seeds(root), direction=direction, depth=depth, max_nodes=max_nodes)
    kind_list = sorted(want)
    params += [direction == "downstream", fold_kinds, hidden_namespaces(user), kind_list, kind_list, max_nodes,
               depth]
    with connection.cursor() as cur:
        cur.execute(prefix + _WALK_JSON_TAIL.format(this_col=this_col, next_col=next_col,
                                                    kept_edges=_kept_edges(this_col, next_col)), params)
        nodes, edges, cut_size, cut_depth = cur.fetchone()
    head = json.dumps({"root": root.node_id, "direction": direction, "depth": depth,
                       "truncated": {"depth": cut_depth, "size": cut_size}}, separators=(",", ":"))
    return f'{head[:-1]},"nodes":{nodes},"edges":{edges}}}'


def hidden_namespaces(user: User) -> list[str]:
    """The namespaces whose nodes ``user`` may not see: ``Node.objects.visible_to`` is "not one of these"."""
    if user.sees_all_namespaces:
        return []
    return sorted(set(NamespaceOwner.objects.exclude(namespace_visibility_q(user)).values_list("namespace",
                                                                                              flat=True)))


def walk_seeds(node: Node) -> list[int]:
    """A dataset's walk starts from its versions too; a job's from its runs."""
    seeds = [node.pk]
    if node.kind in AGGREGATE_KINDS:
        seeds.extend(Node.objects.filter(parent=node).values_list("pk", flat=True)[: settings.LINEAGE_MAX_NODES])
    return seeds


MEMBERS_SHOWN = 50


def node_members(*, user: User, node: Node, limit: int = MEMBERS_SHOWN) -> QuerySet[Node]:
    """The visible versions or runs of a dataset or job, newest by event time first (an untimed one last, ties to
    the newer id), the first ``limit``. ``asof.members_newest`` orders and cuts the members of a moment alike."""
    return (Node.objects.visible_to(user).filter(parent=node)
            .order_by(F("event_time").desc(nulls_last=True), "-pk")[:limit])


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


def fold_nodes(*, user: User, pks: list[int]) -> dict[int, FoldNode]:
    """The visible nodes among ``pks`` and their parents as Marquez's fold takes them, in plain SQL (ids as one
    array parameter). Facets and attributes only for datasets and jobs: the fold shows no other kind, and a
    version's schema facet is most of its row."""
    if not user.is_authenticated:
        return {}
    hidden = hidden_namespaces(user)
    marks = ", ".join(["%s"] * len(hidden))
    visible = f"namespace NOT IN ({marks}) AND " if hidden else ""
    out: dict[int, FoldNode] = {}
    wanted, asked = list(pks), set(pks)
    sql = ("SELECT id, node_id, kind, namespace, name, parent_id, state, version, "  # noqa: S608 - placeholders
           "CASE WHEN kind IN ('dataset', 'job') THEN facets END, CASE WHEN kind IN ('dataset', 'job') THEN attrs "
           f"END FROM lineage_node WHERE {visible}id")
    while wanted:  # the nodes, then the parents not among them
        rows = select_in(sql, wanted, extra=hidden)
        aggregates = [r[0] for r in rows if r[2] in AGGREGATE_KINDS]
        tags: dict[int, set[str]] = {}
        for pk, tag in select_in("SELECT node_id, tag FROM lineage_nodetag WHERE node_id", aggregates) \
                if aggregates else []:
            tags.setdefault(pk, set()).add(tag)
        for pk, node_id, kind, ns, name, parent, state, version, facets, attrs in rows:
            out[pk] = FoldNode(pk, node_id, kind, ns, name, parent, _json(facets), _json(attrs),
                               tuple(sorted(tags.get(pk, ()))), state, version)
        wanted = sorted({n.parent_pk for n in out.values() if n.parent_pk and n.parent_pk not in asked})
        asked.update(wanted)
    return out


def _json(value: Any) -> dict[str, Any]:
    """A JSON column read in plain SQL: a dict from psycopg, text from SQLite, NULL for a kind not asked."""
    if value is None:
        return {}
    return json.loads(value) if isinstance(value, str) else dict(value)


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


def sensitive_upstream(*, node: Node, source: GraphSource = LIVE) -> dict[str, list[str]]:
    """Which sensitive tags reach ``node`` from anywhere upstream, stopping at de-identifying runs as
    ``stops.py`` says per tag (one statement per walk, ``closure_prefix``).

    Returns ``{tag: [dataset node ids that carry it]}``. A dataset version carries its dataset's tags.
    """
    return sensitive_upstream_explained(node=node, source=source)[0]


def sensitive_upstream_explained(*, node: Node, source: GraphSource = LIVE
                                 ) -> tuple[dict[str, list[str]], set[int]]:
    """``sensitive_upstream``, and the de-identifying runs an evidence-requiring tag got through for want of an
    approved determination (empty when none let a tag through)."""
    seeds = walk_seeds(node)

    def walk(passable: frozenset[int]) -> tuple[set[tuple[str, str]], set[int]]:
        prefix, params = closure_prefix(seeds=seeds, members=False, source=source, passable=passable)
        sql = prefix + f""",
holders(id) AS (SELECT id FROM closure UNION SELECT n.parent_id FROM closure c JOIN g_node n ON n.id = c.id)
SELECT t.tag, h.node_id, NULL FROM lineage_nodetag t JOIN lineage_node h ON h.id = t.node_id
WHERE t.tag IN ({_SENSITIVE_MARKS}) AND t.node_id IN (SELECT id FROM holders)
UNION ALL
SELECT NULL, NULL, c.id FROM closure c JOIN g_node n ON n.id = c.id WHERE n.deidentifies"""  # noqa: S608
        pairs: set[tuple[str, str]] = set()
        marked: set[int] = set()
        with connection.cursor() as cur:
            cur.execute(sql, [*params, *sorted(SENSITIVE_TAGS)])
            for tag, holder, run in cur.fetchall():
                if run is not None:
                    marked.add(run)
                else:
                    pairs.add((tag, holder))
        return pairs, marked - passable - set(seeds)

    split = stops.split_walk(walk)
    found = {(t, h) for t, h in split.all_stops if t not in split.tags}
    through = {(t, h) for t, h in split.evidence_stops if t in split.tags}
    leaked = bool(through - split.all_stops)
    out: dict[str, set[str]] = {}
    for tag, holder in found | through:
        out.setdefault(tag, set()).add(holder)
    return {tag: sorted(v) for tag, v in sorted(out.items())}, split.passed if leaked else set()


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


_SENSITIVE_MARKS = ", ".join(["%s"] * len(SENSITIVE_TAGS))


def _ids_literal(pks: frozenset[int]) -> str:
    """Node pks as SQL literals (integers only): the few de-identifying runs a walk passes."""
    return ", ".join(str(int(pk)) for pk in sorted(pks))


def closure_prefix(*, seeds: list[int], members: bool, source: GraphSource = LIVE,
                   passable: frozenset[int] = frozenset()) -> tuple[str, list[Any]]:
    """CTEs for sensitive-tag questions, ending with ``closure(id)``: everything upstream of ``seeds`` (and, with
    ``members``, of the versions and runs of the datasets and jobs among them), however deep (``_reached_cte``
    without a depth: each node once, a cycle ends the walk), not passing through jobs nor de-identifying runs
    other than ``passable`` (``stops.split_walk``), seeds excepted. At most ``max(LINEAGE_MAX_NODES, seeds)``
    nodes, the nearest; ``closure_cut`` has a row when more were reached."""
    head, params = source.with_clause()
    if members:  # a query of its own: inside the statement, its row estimate turned every level into seq scans
        cond, seed_params = _marks(seeds)
        with connection.cursor() as cur:
            cur.execute(f"{head} SELECT id FROM g_node WHERE parent_id {cond}", [*params, *seed_params])  # noqa: S608
            seeds = list(dict.fromkeys([*seeds, *(pk for (pk,) in cur.fetchall())]))
    cap = max(settings.LINEAGE_MAX_NODES, len(seeds))
    reached, reached_params = _reached_cte(seeds=seeds, direction="upstream", depth=None, max_nodes=cap,
                                           stop_at_deidentifying=True, passable=passable)
    sql = f"""{head},{reached},
closure(id) AS (SELECT id FROM reached ORDER BY d, id LIMIT %s),
closure_cut(cut) AS (SELECT 1 WHERE (SELECT COUNT(*) FROM reached) > %s)"""  # noqa: S608
    return sql, [*params, *reached_params, cap, cap]


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
        for node_pk, column, tag, source in NodeTag.objects.filter(node_id__in=part).order_by("pk").values_list(
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


@dataclass
class Neighbourhood:
    """The nodes a graph view draws, nearest the root first, before visibility: ``kept`` (capped), their
    ``distance`` and ``side`` (root, upstream or downstream), and which bounds cut the walks."""

    kept: list[int]
    distance: dict[int, int]
    side: dict[int, str]
    cut_by_depth: bool
    cut_by_size: bool


def neighbourhood(*, node: Node, depth: int, directions: tuple[str, ...], max_nodes: int, expand: list[Node] | None,
                  expand_depth: int, walk: Callable[[Node, str, int], Walk]) -> Neighbourhood:
    """The walks of ``lineage_graph`` combined: ``walk(start, direction, depth)`` from ``node`` and from each node
    of ``expand``; an expansion's distances count from its start. The live and the as-of graphs share it."""
    distance: dict[int, int] = {}
    side: dict[int, str] = {node.pk: "root"}
    cut_depth = cut_size = False
    starts = [(node, depth, 0)] + [(n, expand_depth, 1) for n in expand or []]
    for start, d, bias in starts:
        for direction in directions:
            w = walk(start, direction, d)
            # An expansion's frontier is not the graph's frontier: only the root walk's bound is reported.
            cut_depth = cut_depth or (w.cut_by_depth and bias == 0)
            cut_size = cut_size or w.cut_by_size
            base = 0 if bias == 0 else distance.get(start.pk, depth)
            for pk, dist in w.distance.items():
                if pk not in distance or base + dist < distance[pk]:
                    distance[pk] = base + dist
                side.setdefault(pk, direction)
    distance[node.pk] = 0
    kept = sorted(distance, key=lambda pk: (distance[pk], pk))
    if len(kept) > max_nodes:
        cut_size = True
        kept = kept[:max_nodes]
    return Neighbourhood(kept, distance, side, cut_depth, cut_size)


def lineage_graph(
    *, user: User, node: Node, depth: int, directions: tuple[str, ...], max_nodes: int,
    expand: list[Node] | None = None, expand_depth: int = 1,
) -> Subgraph:
    """The neighbourhood of ``node`` up to ``depth`` edges in ``directions``, plus ``expand_depth`` edges around
    each node of ``expand`` (expanded in place by the explorer), capped at ``max_nodes`` nearest the root."""
    hood = neighbourhood(
        node=node, depth=depth, directions=directions, max_nodes=max_nodes, expand=expand,
        expand_depth=expand_depth,
        walk=lambda start, direction, d: lineage_walk(seeds=walk_seeds(start), direction=direction, depth=d,
                                                      max_nodes=max_nodes))
    kept, distance, side = hood.kept, hood.distance, hood.side
    cut_depth, cut_size = hood.cut_by_depth, hood.cut_by_size
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


def sensitive_reaching(pks: list[int], source: GraphSource = LIVE) -> tuple[dict[int, list[str]], bool]:
    """Sensitive tags reaching each of ``pks`` (as ``sensitive_upstream`` would say for each), in one statement:
    their shared upstream ``closure``, the tags its nodes carry (a version its dataset's), and those tags carried
    down the closure's edges, never out of a job or a de-identifying run (a tag that needs evidence goes on out of a
    run no determination vouches for: ``stops.py``), but into it. A dataset or job among ``pks`` also holds what
    reaches its versions or runs. The flag says the closure hit its size cap."""
    if not pks:
        return {}, False
    tags = sorted(SENSITIVE_TAGS)
    evidence = sorted(stops.evidence_tags())
    evidence_marks = ", ".join(["%s"] * len(evidence))

    def walk(passable: frozenset[int]) -> tuple[tuple[dict[int, list[str]], bool], set[int]]:
        prefix, params = closure_prefix(seeds=pks, members=True, source=source, passable=passable)
        cond, pk_params = _marks(pks)
        # Tags leave a de-identifying run only if it is passable and they need evidence (``stops.py``).
        through = (f" OR (n.id IN ({_ids_literal(passable)}) AND r.tag IN ({evidence_marks}))"
                   if passable and evidence else "")
        sql = prefix + f""",
tagged(id, tag) AS (
    SELECT c.id, t.tag FROM closure c JOIN lineage_nodetag t ON t.node_id = c.id WHERE t.tag IN ({_SENSITIVE_MARKS})
    UNION
    SELECT c.id, t.tag FROM closure c JOIN g_node n ON n.id = c.id JOIN lineage_nodetag t ON t.node_id = n.parent_id
    WHERE t.tag IN ({_SENSITIVE_MARKS})
),
reach(id, tag) AS (
    SELECT id, tag FROM tagged
    UNION
    SELECT e.dst_id, r.tag FROM reach r JOIN g_node n ON n.id = r.id JOIN g_edge e ON e.src_id = r.id
    WHERE n.kind <> 'job' AND (n.deidentifies = %s{through}) AND e.dst_id IN (SELECT id FROM closure)
)
SELECT id, tag FROM reach WHERE id {cond}
UNION
SELECT n.parent_id, r.tag FROM reach r JOIN g_node n ON n.id = r.id WHERE n.parent_id {cond}
UNION
SELECT NULL, NULL FROM closure_cut
UNION
SELECT c.id, NULL FROM closure c JOIN g_node n ON n.id = c.id WHERE n.deidentifies"""  # noqa: S608
        found: dict[int, set[str]] = {pk: set() for pk in pks}
        marked: set[int] = set()
        cut = False
        with connection.cursor() as cur:
            cur.execute(sql, [*params, *tags, *tags, False, *(evidence if passable and evidence else []), *pk_params,
                              *pk_params])
            for pk, tag in cur.fetchall():
                if pk is None:
                    cut = True
                elif tag is None:
                    marked.add(pk)
                elif pk in found:
                    found[pk].add(tag)
        return ({pk: sorted(t) for pk, t in found.items()}, cut), marked - passable

    # The walk with the unvouched runs passable answers for every tag: the reach above halts the others there.
    return stops.split_walk(walk).evidence_stops


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


# The same walk from several seeds at once, each seed's own: a node reached from two seeds is a row for each.
_UPSTREAM_EACH_SQL = """
WITH RECURSIVE up(seed, id) AS (
    SELECT id, id FROM lineage_node WHERE id IN ({seeds})
    UNION
    SELECT up.seed, e.src_id
    FROM up
    JOIN lineage_node n ON n.id = up.id
    JOIN lineage_edge e ON e.dst_id = up.id
    WHERE n.kind <> %s OR n.id = up.seed
)
SELECT up.seed, up.id, n.parent_id, n.deidentifies FROM up JOIN lineage_node n ON n.id = up.id LIMIT %s
"""


def upstream_all_each(*, seeds: list[int], max_nodes: int) -> dict[int, Upstream]:
    """``upstream_all(seeds=[seed])`` of each of ``seeds``, in one statement (each seed a model version, say, whose
    upstream a report compares): what many separate walks answer, without a round trip each. A seed that reaches
    the safety bound, or a statement that reaches the bounds of all of them together, is walked again alone, so
    a cut walk is cut exactly as ``upstream_all`` cuts it."""
    seeds = sorted(set(seeds))
    if len(seeds) < 2:
        return {s: upstream_all(seeds=[s], max_nodes=max_nodes) for s in seeds}
    limit = max_nodes * len(seeds)
    sql = _UPSTREAM_EACH_SQL.format(seeds=", ".join(["%s"] * len(seeds)))
    with connection.cursor() as cur:
        cur.execute(sql, [*seeds, "job", limit + 1])
        rows = cur.fetchall()
    if len(rows) > limit:
        return {s: upstream_all(seeds=[s], max_nodes=max_nodes) for s in seeds}
    found: dict[int, list[tuple[int, int | None, bool]]] = {s: [] for s in seeds}
    for seed, pk, parent, deid in rows:
        found[seed].append((pk, parent, deid))
    out: dict[int, Upstream] = {}
    for seed, mine in found.items():
        if len(mine) > max_nodes or not mine:  # cut (or no such node): exactly as alone
            out[seed] = upstream_all(seeds=[seed], max_nodes=max_nodes)
            continue
        out[seed] = Upstream(pks=[pk for pk, _, _ in mine], parents={p for _, p, _ in mine if p is not None},
                             deidentifying=any(d for _, _, d in mine))
    return out


def sensitive_upstream_each(*, nodes: list[Node], max_nodes: int, wholes: dict[int, Upstream]
                            ) -> dict[int, tuple[dict[str, list[str]], bool]]:
    """``sensitive_upstream_all(node=n, whole=wholes[n.pk])`` of each of ``nodes``, by pk: the tags of all the
    walks that can be reused (no de-identifying run in them) read together; the others walked alone."""
    alone: list[Node] = []
    reused: list[Node] = []
    for n in nodes:
        (alone if walk_seeds(n) != [n.pk] or wholes[n.pk].deidentifying else reused).append(n)
    holders = {n.pk: set(wholes[n.pk].pks) | wholes[n.pk].parents for n in reused}
    tags = _sensitive_tags_of(set().union(*holders.values())) if reused else {}
    names = dict(select_in("SELECT id, node_id FROM lineage_node WHERE id", list(tags))) if tags else {}
    out = {n.pk: sensitive_upstream_all(node=n, max_nodes=max_nodes, whole=wholes[n.pk]) for n in alone}
    for n in reused:
        found: dict[str, set[str]] = {}
        for pk in holders[n.pk] & tags.keys():
            for tag in tags[pk]:
                found.setdefault(tag, set()).add(names[pk])
        out[n.pk] = {tag: sorted(v) for tag, v in sorted(found.items())}, wholes[n.pk].cut
    return out


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




# -- events waiting to be applied (services.lineage_apply_pending) ----------------------------------------
def _pending_answer(qs: QuerySet[RawEvent]) -> dict[str, Any]:
    agg = qs.aggregate(n=Count("id"), since=Min("received_at"))
    return {"events": agg["n"], "since": agg["since"]}


def node_pending(*, node: Node) -> dict[str, Any] | None:
    """For a run or job: how many of its events wait to be applied and since when (the oldest one's receipt); None
    for other kinds. A job's count covers the events naming it as their job."""
    pending = RawEvent.objects.filter(applied_at__isnull=True)
    if node.kind == "run":
        return _pending_answer(pending.filter(run_id=node.node_id.removeprefix("run:")))
    if node.kind == "job":
        return _pending_answer(pending.filter(job_namespace=node.namespace, job_name=node.name))
    return None


def pending_not_applied(*, user: User, node_id: str) -> dict[str, Any] | None:
    """For a run or job id no node has yet: its events waiting to be applied, when ``user`` may see the job's
    namespace (else None, as for a node that never was). A job's namespace may hold ':', so every split is tried."""
    pending = RawEvent.objects.filter(applied_at__isnull=True)
    if not user.sees_all_namespaces:
        pending = pending.filter(namespace_visibility_q(user, field="job_namespace"))
    if node_id.startswith("run:"):
        pending = pending.filter(run_id=node_id.removeprefix("run:"))
    elif node_id.startswith("job:"):
        rest = node_id.removeprefix("job:")
        splits = [Q(job_namespace=rest[:i], job_name=rest[i + 1:]) for i, c in enumerate(rest) if c == ":"]
        if not splits:
            return None
        pending = pending.filter(functools.reduce(operator.or_, splits))
    else:
        return None
    answer = _pending_answer(pending)
    return answer if answer["events"] else None


def pending_summary(*, user: User) -> dict[str, Any]:
    """The backlog of events waiting to be applied, as ``user`` may see it: everything for org-wide roles, else the
    events of jobs in namespaces the user may see, and the dataset events of datasets in namespaces they may see
    (a dataset event has no job: its namespace, not a column of the log, is read from the payload's
    ``dataset.namespace``, a JSON key both databases extract; the waiting rows are few, by a partial index).
    ``failed``: those that failed alone and wait for an operator (``manage.py lineage_apply_pending``)."""
    qs = RawEvent.objects.filter(applied_at__isnull=True)
    if not user.sees_all_namespaces:
        jobs = ~Q(job_namespace="") & namespace_visibility_q(user, field="job_namespace")
        datasets = Q(kind="dataset") & namespace_visibility_q(user, field="dataset_namespace")
        qs = qs.annotate(dataset_namespace=KT("payload__dataset__namespace")).filter(jobs | datasets)
    agg = qs.aggregate(n=Count("id"), since=Min("received_at"), failed=Count("id", filter=~Q(apply_error="")))
    since = agg["since"]
    return {"events": agg["n"], "failed": agg["failed"], "since": since,
            "oldestAgeSeconds": round((timezone.now() - since).total_seconds(), 3) if since else 0.0}
