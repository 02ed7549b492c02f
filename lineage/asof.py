"""Lineage as of a time: what the portal knew at a moment (docs/lineage-asof.md).

Two clocks. ``received`` (the default): the graph as the portal held it at that receipt time, which is what an
approver saw then; an edge counts from the batch that stored it (``Edge.created_at``) until it was replaced
(``EdgeRetired``: a read re-linked when a write that completed earlier arrived late), a node from its creation
until it was dropped (``NodeRetired``). ``event``: what was true at that event time by everything received since;
an edge counts from the earliest event time that asserts it (``Edge.event_from``), a node likewise, and a replaced
edge never counts (the link that replaced it was true all along).

Writes: ``history_apply`` runs once at the end of each applied delta (``services._apply``), set-based;
``edges_retire`` and ``node_retire`` replace deletions in ``versions.py``. Reads: walks, node summaries, the
explorer's graph and the sensitive tags reaching a node, each over the edges and nodes of that time. No replay.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from portal.accounts.models import User
from portal.lib.sql import aware as _aware
from portal.lib.sql import chunks, insert_ignore, rows_relation, select_in
from portal.lib.sql import db_time as _dt

from . import graph, stops
from .guard import strip_inputs
from .labels import node_label
from .models import SENSITIVE_TAGS, Node, NodeRetired, NodeStateChange, RawEvent
from .openlineage import ParsedEvent, parse_event
from .plan import GraphDelta, Planner
from .selectors import AGGREGATE_KINDS, Subgraph, Walk, hidden_namespaces, neighbourhood

KINDS = ("received", "event")


@dataclass(frozen=True, slots=True)
class AsOf:
    """A moment and the clock it is read on: ``received`` (receipt time) or ``event`` (event time)."""

    at: datetime
    kind: str = "received"


def _update_from(rows: Sequence[tuple[Any, ...]], names: str, time_at: int, sql: str,
                 params: Sequence[Any] = ()) -> None:
    """Run ``WITH v(<names>) AS (VALUES ...) <sql>`` over ``rows`` in chunks (PostgreSQL and SQLite alike);
    ``params`` follow the relation's own."""
    # On PostgreSQL one statement of one array per column (rows_relation), not thousands of placeholders.
    for part in chunks(list(rows), 2000 if connection.vendor != "postgresql" else max(1, len(rows))):
        relation, values = rows_relation(part)
        with connection.cursor() as cur:
            cur.execute(f"WITH v({names}) AS ({relation}) {sql}", [*values, *params])


# -- writes ------------------------------------------------------------------------------------------------
def history_apply(delta: GraphDelta, id_map: dict[str, int], now: datetime, relinked: set[int]) -> None:
    """Record what the applied ``delta`` says about time: each edge's and node's earliest event time (an earlier
    one arriving late moves it back), the event time of each read (its edge, whichever version it links), and
    the state each node said and now holds. Called once per delta, after its nodes, edges and reads are stored;
    ``relinked``: the runs ``versions.reads_resolve`` gave a new reads edge."""
    pk = dict(id_map)
    runs = _event_times(delta, pk, relinked)
    if _replaying.get():
        _received_clamp(sorted(runs), now)
    _states(delta, pk, now)


_replaying: ContextVar[bool] = ContextVar("lineage_asof_replaying", default=False)


@contextmanager
def replaying() -> Iterator[None]:
    """While a rebuild replays the raw events at their original receipt times (``services.lineage_rebuild``)."""
    token = _replaying.set(True)
    try:
        yield
    finally:
        _replaying.reset(token)


def _earlier(rows: list[tuple[int, Any]], times: dict[int, datetime]) -> list[tuple[int, datetime]]:
    """(row id, time) for the rows whose stored time (``rows``: id, time or None) is later than ``times`` says."""
    return sorted((i, times[i]) for i, t in rows if i in times and (t is None or _as_time(t) > times[i]))


def _as_time(value: Any) -> datetime:
    """A time from a raw SQL row: an aware datetime on PostgreSQL, text on SQLite."""
    if isinstance(value, datetime):
        return _aware(value)
    return _aware(datetime.fromisoformat(str(value)))


def _event_times(delta: GraphDelta, pk: dict[str, int], relinked: Iterable[int] = ()) -> set[int]:
    """Move each edge's, read's, node's and tag's ``event_from`` back to the delta's time when it is earlier (new
    rows carry theirs from their INSERT, reads edges too: ``versions._relink``). Edges, reads and nodes are read
    first by an indexed ``= ANY`` and only those that move are written by pk: an ``UPDATE ... FROM`` joined to
    thousands of (src, dst, kind), (run, dataset) or pk rows had PostgreSQL hash the whole table (a custom plan
    knows the array's size), which grew with the graph.
    Returns the runs whose reads it touched (the delta's and ``relinked``)."""
    wanted = {n for e in delta.edge_times for n in e[:2]} - set(pk)
    if wanted:
        pk.update(Node.objects.filter(node_id__in=wanted).values_list("node_id", "id"))
    said = {(pk[s], pk[d], k): t for (s, d, k), t in delta.edge_times.items() if s in pk and d in pk}
    reads = {(pk[r], pk[ds]): t for (r, ds), (t, _) in delta.reads.items() if r in pk and ds in pk}
    runs = {r for r, _ in reads} | set(relinked)
    first = {pk[n]: t for n, t in delta.first_seen.items() if n in pk}
    if said or runs:
        # One read of the edges into the delta's edges' ends and its runs: the edges it says, and the edge of each
        # read, whichever version it links (its parent is the dataset read), move back to the delta's time.
        by_id: dict[int, datetime] = {}
        stored: dict[int, Any] = {}
        read_edges: list[tuple[int, int, Any]] = []
        for i, s, d, k, parent, t in select_in(
                "SELECT e.id, e.src_id, e.dst_id, e.kind, n.parent_id, e.event_from FROM lineage_edge e JOIN "
                "lineage_node n ON n.id = e.src_id WHERE e.dst_id", sorted({d for _, d, _ in said} | runs)):
            at = said.get((s, d, k))
            if k == "reads" and d in runs:
                read_edges.append((i, s, t))
                if (d, parent) in reads:
                    at = reads[(d, parent)] if at is None else min(at, reads[(d, parent)])
            if at is not None:
                by_id[i] = at
                stored[i] = t
        moved = dict(_earlier(list(stored.items()), by_id))
        _update_from(sorted(moved.items()), "i, t", 1,
                     "UPDATE lineage_edge SET event_from = v.t FROM v WHERE lineage_edge.id = v.i")
        # A version a read links exists from that read's time (an ``initial`` one has no other): the earliest event
        # time of its reads edges of these runs, as just moved.
        for i, src, t in read_edges:
            at = moved[i] if i in moved else (_as_time(t) if t is not None else None)
            if at is not None:
                first[src] = min(at, first.get(src, at))
    if first:
        nodes = select_in("SELECT id, event_from FROM lineage_node WHERE id", sorted(first))
        _update_from(_earlier(nodes, first), "p, t", 1,
                     "UPDATE lineage_node SET event_from = v.t FROM v WHERE lineage_node.id = v.p")
    tags = sorted((pk[n], f, tag, t) for (n, f, tag), t in delta.tag_times.items() if n in pk)
    _update_from(tags, "n, f, g, t", 3,
                 "UPDATE lineage_nodetag SET event_from = v.t FROM v WHERE lineage_nodetag.node_id = v.n AND "
                 "lineage_nodetag.field = v.f AND lineage_nodetag.tag = v.g AND "
                 "(lineage_nodetag.event_from IS NULL OR lineage_nodetag.event_from > v.t)")
    return runs


# The four statements of ``_received_clamp``, each on its own table (the first reads ``lineage_edge`` only for ids and
# kinds, which the second does not change): on PostgreSQL one statement of data-modifying CTEs, one round trip.
_CLAMP_NODES = ("UPDATE lineage_node SET created_at = %s WHERE created_at > %s AND id IN "
                "(SELECT src_id FROM lineage_edge WHERE kind = 'reads' AND dst_id IN ({runs}))")
_CLAMP_EDGES = "UPDATE lineage_edge SET created_at = %s WHERE created_at > %s AND kind = 'reads' AND dst_id IN ({runs})"
_CLAMP_RETIRED = ("UPDATE lineage_edgeretired SET retired_at = %s WHERE retired_at > %s",
                  "UPDATE lineage_noderetired SET retired_at = %s WHERE retired_at > %s")


def _received_clamp(runs: list[int], now: datetime) -> None:
    """In a replay, what ``versions.py`` stored or dropped while applying a delta counts from the replayed events'
    original receipt time, not from the moment the statement ran (while ingesting, the two are the same batch)."""
    t = _dt(now)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            parts = [q.format(runs="SELECT unnest(%s::bigint[])") for q in (_CLAMP_NODES, _CLAMP_EDGES)] if runs else []
            parts += _CLAMP_RETIRED
            params = [v for q in parts for v in ([t, t, runs] if "unnest" in q else [t, t])]
            *first, last = parts
            cur.execute("WITH " + ", ".join(f"c{i} AS ({q})" for i, q in enumerate(first)) + " " + last, params)
            return
        for part in chunks(runs, 5000):
            marks = ", ".join(["%s"] * len(part))
            for q in (_CLAMP_NODES, _CLAMP_EDGES):
                cur.execute(q.format(runs=marks), [t, t, *part])
        for q in _CLAMP_RETIRED:
            cur.execute(q, [t, t])


def _states(delta: GraphDelta, pk: dict[str, int], now: datetime) -> None:
    """Record the states the delta's events said (basis ``event``) and the state each node it names now holds, when
    that differs from the last one held (basis ``received``). The two are one insert, unless the delta deploys:
    the superseded deployments are derived from the ``event`` states, which must be stored first."""
    said = sorted((pk[n], NodeStateChange.Basis.EVENT, s, _dt(t)) for n, s, t in delta.states if n in pk)
    deployments = _deployments(delta)
    if deployments:
        _state_changes_insert(said)
        said = []
        _superseded_said(deployments)
    pks = {pk[n] for n, d in delta.nodes.items() if d.state and n in pk}
    pks.update(p for deps in deployments.values() for p in deps)
    rows = []
    if pks:
        # Each node's state and its last state held (``_held_states(pks, None)``), in one read.
        held: dict[int, str] = {}
        changes: list[tuple[int, str, Any]] = []
        for node, state, last, when in select_in(
                "SELECT n.id, n.state, c.state, c.at FROM lineage_node n LEFT JOIN lineage_nodestatechange c "
                "ON c.node_id = n.id AND c.basis = %s WHERE n.id", sorted(pks),
                extra=[NodeStateChange.Basis.RECEIVED]):
            held[node] = state
            if when is not None:
                changes.append((node, last, when))
        latest = _latest_states(changes)
        rows = [(p, NodeStateChange.Basis.RECEIVED, s, _dt(now)) for p, s in held.items() if latest.get(p) != s]
    _state_changes_insert(sorted([*said, *rows]))


def _state_changes_insert(rows: list[tuple[Any, ...]]) -> None:
    insert_ignore("lineage_nodestatechange", ("node_id", "basis", "state", "at"), rows,
                  conflict=("node_id", "basis", "at", "state"))


def _deployments(delta: GraphDelta) -> dict[tuple[str, str, str], dict[int, str]]:
    """(namespace, model, environment) of each deploy ``delta`` supersedes by -> {pk: node id} of every deployment
    of it: one query for all of them."""
    keys = sorted({(s.namespace, s.name, s.environment) for s in delta.supersede})
    out: dict[tuple[str, str, str], dict[int, str]] = {key: {} for key in keys}
    if not keys:
        return out
    match = functools.reduce(operator.or_, (Q(namespace=ns, name=name, environment=env) for ns, name, env in keys))
    for p, nid, ns, name, env in (Node.objects.filter(match, kind="deployment")
                                  .values_list("pk", "node_id", "namespace", "name", "environment")):
        out[(ns, name, env)][p] = nid
    return out


def _superseded_said(deployments: dict[tuple[str, str, str], dict[int, str]]) -> None:
    """On the event clock, a deployment is superseded from the first time a newer deploy of the same model to the
    same environment said ``active`` (newer as ``services._supersede`` orders them: event time, then node id)."""
    every = sorted(p for deps in deployments.values() for p in deps)
    if not every:
        return
    first_active: dict[int, datetime] = {}
    for node, at in select_in("SELECT node_id, at FROM lineage_nodestatechange WHERE basis = %s AND state = %s "
                              "AND node_id", every, extra=[NodeStateChange.Basis.EVENT, "active"]):
        at = _as_time(at)
        first_active[node] = min(at, first_active.get(node, at))
    rows = []
    for _, deps in sorted(deployments.items()):
        active = {p: t for p, t in first_active.items() if p in deps}
        for a, ta in active.items():
            newer = [tb for b, tb in active.items() if (tb, deps[b]) > (ta, deps[a])]
            if newer:
                rows.append((a, NodeStateChange.Basis.EVENT, "superseded", _dt(min(newer))))
    insert_ignore("lineage_nodestatechange", ("node_id", "basis", "state", "at"), sorted(rows),
                  conflict=("node_id", "basis", "at", "state"))


def edges_retire(edges: list[tuple[int, int, str, int]]) -> None:
    """Drop edges ``(src, dst, kind, dataset)``, keeping each in ``EdgeRetired`` with the times it held: two
    statements for all of them."""
    rows = sorted(set(edges))
    if not rows:
        return
    _update_from(rows, "s, d, k, ds", 0,
                 "INSERT INTO lineage_edgeretired (src_id, dst_id, kind, dataset_id, created_at, event_from, "
                 "retired_at) SELECT e.src_id, e.dst_id, e.kind, v.ds, e.created_at, e.event_from, %s "
                 "FROM lineage_edge e, v WHERE e.src_id = v.s AND e.dst_id = v.d AND e.kind = v.k",
                 [_dt(timezone.now())])
    _update_from(rows, "s, d, k, ds", 0,
                 "DELETE FROM lineage_edge WHERE (src_id, dst_id, kind) IN (SELECT s, d, k FROM v)")


def node_retire(pk: int) -> None:
    """Keep a node about to be dropped in ``NodeRetired`` (call it in the same transaction as the delete)."""
    with connection.cursor() as cur:
        cur.execute("INSERT INTO lineage_noderetired (id, node_id, kind, namespace, name, version, environment, "
                    "parent_id, state, owners, created_at, updated_at, event_from, retired_at) SELECT id, node_id, "
                    "kind, namespace, name, version, environment, parent_id, state, owners, created_at, updated_at, "
                    "event_from, %s FROM lineage_node WHERE id = %s", [_dt(timezone.now()), pk])


@transaction.atomic
def history_backfill(*, batch_size: int = 2000) -> int:
    """Exact event times for rows stored before the history existed: plan every raw event again (no graph is
    written) and move each edge's, read's, node's and tag's ``event_from`` back to the earliest event time that
    says it, and record the states the events said. The migration's values are receipt times, never earlier
    than the event times, so this only moves them back. Events not applied yet are not read (the graph holds
    nothing of them). Returns the number of events read."""
    from .services import _PORTAL_KINDS, _dumps  # services applies through this module: imported when called

    count = 0
    batch: list[ParsedEvent] = []

    def flush(planner: Planner) -> None:
        delta = planner.delta
        wanted = set(delta.nodes) | set(delta.first_seen) | {n for e in delta.edge_times for n in e[:2]}
        pk: dict[str, int] = {}
        for part in chunks(sorted(wanted), 5000):
            pk.update(Node.objects.filter(node_id__in=part).values_list("node_id", "id"))
        _event_times(delta, pk)
        said = sorted((pk[n], NodeStateChange.Basis.EVENT, st, _dt(t)) for n, st, t in delta.states if n in pk)
        insert_ignore("lineage_nodestatechange", ("node_id", "basis", "state", "at"), said,
                      conflict=("node_id", "basis", "at", "state"))

    # Only the events the graph was built from: one still waiting (or failed alone) moves nothing until applied.
    applied = RawEvent.objects.filter(applied_at__isnull=False)
    for kind, payload, body, ignored, received in applied.order_by("id").values_list(
            "kind", "payload", "body", "ignored_inputs", "received_at").iterator(chunk_size=batch_size):
        count += 1
        if kind in _PORTAL_KINDS:
            planner = Planner()
            _PORTAL_KINDS[kind](planner, payload)
            flush(planner)
            continue
        ev = parse_event(bytes(body) if body is not None else _dumps(payload).encode())
        strip_inputs(ev, ignored)
        ev.received_at = _aware(received)
        batch.append(ev)
        if len(batch) >= batch_size:
            flush(_planned(batch))
            batch.clear()
    if batch:
        flush(_planned(batch))
    return count


def _planned(events: list[ParsedEvent]) -> Planner:
    planner = Planner()
    planner.add_events(events)
    return planner


def history_clear() -> None:
    """A rebuild replays the raw events and records their history afresh."""
    NodeRetired.objects.all().delete()
    NodeStateChange.objects.all().delete()
    with connection.cursor() as cur:
        cur.execute("DELETE FROM lineage_edgeretired")


# -- reads -------------------------------------------------------------------------------------------------
def edge_relation(at: AsOf) -> tuple[str, list[Any]]:
    """The edges of that time as a SQL relation ``(src_id, dst_id, kind)`` and its parameters."""
    t = _dt(at.at)
    if at.kind == "event":
        return "(SELECT src_id, dst_id, kind FROM lineage_edge WHERE event_from <= %s)", [t]
    return ("(SELECT src_id, dst_id, kind FROM lineage_edge WHERE created_at <= %s UNION ALL "
            "SELECT src_id, dst_id, kind FROM lineage_edgeretired WHERE created_at <= %s AND retired_at > %s)",
            [t, t, t])


def _next_of(at: AsOf, this_col: str, next_col: str) -> tuple[str, list[Any]]:
    """The neighbours of ``w.id`` then, as a LATERAL subquery (``next_id``): PostgreSQL walks it by index from each
    node, where a join to the whole edge relation would be hashed, scanning every edge at every level."""
    t = _dt(at.at)
    if at.kind == "event":
        return (f"SELECT x.{next_col} AS next_id FROM lineage_edge x WHERE x.{this_col} = w.id "  # noqa: S608
                "AND x.event_from <= %s", [t])
    live = (f"SELECT x.{next_col} AS next_id FROM lineage_edge x "  # noqa: S608
            f"WHERE x.{this_col} = w.id AND x.created_at <= %s")
    retired = (f"SELECT r.{next_col} FROM lineage_edgeretired r WHERE r.{this_col} = w.id "  # noqa: S608
               "AND r.created_at <= %s AND r.retired_at > %s")
    return f"{live} UNION ALL {retired}", [t, t, t]


def _live(at: AsOf) -> tuple[str, list[Any]]:
    """A condition on ``lineage_node`` (no alias) for the nodes that existed then."""
    col = "event_from" if at.kind == "event" else "created_at"
    return f"{col} <= %s", [_dt(at.at)]


def nodes_existing(pks: list[int], at: AsOf) -> dict[int, int | None]:
    """Those of ``pks`` that existed then (current or since dropped), with their parent pk."""
    if not pks:
        return {}
    cond, params = _live(at)
    out: dict[int, int | None] = dict(select_in(f"SELECT id, parent_id FROM lineage_node WHERE {cond} AND id",  # noqa: S608
                                                pks, extra=params))
    if at.kind == "received":
        t = _dt(at.at)
        out.update(select_in("SELECT id, parent_id FROM lineage_noderetired WHERE created_at <= %s AND "
                             "retired_at > %s AND id", pks, extra=[t, t]))
    return out


def node_exists(node: Node, at: AsOf) -> bool:
    return node.pk in nodes_existing([node.pk], at)


def nodes_get(*, user: User, node_ids: list[str], at: AsOf) -> list[Node]:
    """The nodes named ``node_ids`` that ``user`` may see and that existed then: current ones, and (on the receipt
    clock) ones dropped since (``NodeRetired``), as unsaved ``Node`` objects with the pk they had, their row as it
    was when dropped, and no facets or attributes (none are kept). A node of another team is left out, as one
    that never was."""
    live = list(Node.objects.visible_to(user).filter(node_id__in=node_ids))
    alive = nodes_existing([n.pk for n in live], at)
    out = [n for n in live if n.pk in alive]
    missing = set(node_ids) - {n.node_id for n in out}
    if missing and at.kind == "received":
        retired = (NodeRetired.objects.visible_to(user)
                   .filter(node_id__in=missing, created_at__lte=at.at, retired_at__gt=at.at).order_by("retired_at"))
        seen: set[str] = set()
        for r in retired:
            if r.node_id not in seen:
                seen.add(r.node_id)
                out.append(Node(pk=r.pk, node_id=r.node_id, kind=r.kind, namespace=r.namespace, name=r.name,
                                version=r.version, environment=r.environment, parent_id=r.parent_id, state=r.state,
                                owners=r.owners, created_at=r.created_at, updated_at=r.updated_at,
                                event_from=r.event_from))
    return out


def members_of(parents: list[int], at: AsOf) -> list[tuple[int, int]]:
    """(parent, member) of the given datasets and jobs as of then: their versions and runs."""
    cond, params = _live(at)
    rows = select_in(f"SELECT parent_id, id FROM lineage_node WHERE {cond} AND parent_id", parents,  # noqa: S608
                     extra=params)
    if at.kind == "received":
        t = _dt(at.at)
        rows += select_in("SELECT parent_id, id FROM lineage_noderetired WHERE created_at <= %s AND retired_at > %s "
                          "AND parent_id", parents, extra=[t, t])
    return rows


def members_newest(parent: int, at: AsOf, limit: int) -> list[int]:
    """The members of ``parent`` as of then, ordered and cut as ``selectors.node_members`` orders the live ones:
    newest event time first (an untimed one last, ties to the newer id), the first ``limit``. A dropped member's
    event time is its ``event_from`` (the only one kept of it)."""
    cond, live = _live(at)
    rows = f"SELECT id, event_time AS t FROM lineage_node WHERE {cond} AND parent_id = %s"  # noqa: S608
    params = [*live, parent]
    if at.kind == "received":
        rows += (" UNION ALL SELECT id, event_from FROM lineage_noderetired WHERE created_at <= %s AND "
                 "retired_at > %s AND parent_id = %s")
        params += [_dt(at.at), _dt(at.at), parent]
    with connection.cursor() as cur:
        cur.execute(f"SELECT id FROM ({rows}) m ORDER BY t IS NULL, t DESC, id DESC LIMIT %s",  # noqa: S608
                    [*params, limit])
        return [pk for (pk,) in cur.fetchall()]


def walk_seeds(node: Node, at: AsOf) -> list[int]:
    """As ``selectors.walk_seeds``, with the members of that time."""
    if node.kind not in AGGREGATE_KINDS:
        return [node.pk]
    return [node.pk, *sorted(m for _, m in members_of([node.pk], at))[: settings.LINEAGE_MAX_NODES]]


_WALK_SQL = """
WITH RECURSIVE walk(id, depth) AS (
    SELECT id, 0 FROM lineage_node WHERE id IN ({seeds})
    UNION
    SELECT id, 0 FROM lineage_noderetired WHERE id IN ({seeds})
    UNION
    SELECT e.next_id, w.depth + 1
    FROM walk w
    LEFT JOIN lineage_node n ON n.id = w.id
    {step}
    WHERE w.depth < %s AND (n.kind IS NULL OR n.kind <> %s OR w.depth = 0)
)
SELECT id, MIN(depth) AS d FROM walk GROUP BY id ORDER BY d, id LIMIT %s
"""


def lineage_walk(*, seeds: list[int], direction: str, depth: int, at: AsOf, max_nodes: int | None = None) -> Walk:
    """``selectors.lineage_walk`` over the edges of that time (passing through runs, not jobs)."""
    max_nodes = max_nodes or settings.LINEAGE_MAX_NODES
    this_col, next_col = ("dst_id", "src_id") if direction == "upstream" else ("src_id", "dst_id")
    rel, rel_params = edge_relation(at)
    if connection.vendor == "postgresql":
        lateral, step_params = _next_of(at, this_col, next_col)
        step = f"CROSS JOIN LATERAL ({lateral}) e"
    else:  # SQLite has no LATERAL; its planner reaches the edge indexes through the join
        step = f"JOIN (SELECT {next_col} AS next_id, {this_col} AS this_id FROM {rel} r) e ON e.this_id = w.id"  # noqa: S608
        step_params = rel_params
    marks = ", ".join(["%s"] * len(seeds))
    sql = _WALK_SQL.format(seeds=marks, step=step)
    walk = Walk(direction=direction, depth=depth)
    if not seeds:
        return walk
    with connection.cursor() as cur:
        cur.execute(sql, [*seeds, *seeds, *step_params, depth, "job", max_nodes + 1])
        rows = cur.fetchall()
    if len(rows) > max_nodes:
        walk.cut_by_size = True
        rows = rows[:max_nodes]
    walk.distance = {pk: d for pk, d in rows}
    edge_rows = select_in(f"SELECT src_id, dst_id, kind FROM {rel} e WHERE e.{this_col}",  # noqa: S608
                          list(walk.distance), extra=rel_params)
    walk.edges = [(s, d, k) for s, d, k in edge_rows if s in walk.distance and d in walk.distance]
    frontier = [pk for pk, d in walk.distance.items() if d == depth]
    if frontier:
        walk.cut_by_depth = bool(select_in(f"SELECT 1 FROM {rel} e WHERE e.{this_col}", frontier,  # noqa: S608
                                           extra=rel_params, suffix="LIMIT 1"))
    return walk


def _held_states(pks: list[int], at: AsOf | None) -> dict[int, str]:
    """Each node's state then: the latest held from a receipt time, or the latest said at an event time."""
    if not pks:
        return {}
    basis = NodeStateChange.Basis.EVENT if at is not None and at.kind == "event" else NodeStateChange.Basis.RECEIVED
    cond, params = ("AND at <= %s", [_dt(at.at)]) if at is not None else ("", [])
    return _latest_states(select_in(f"SELECT node_id, state, at FROM lineage_nodestatechange "  # noqa: S608
                                    f"WHERE basis = %s {cond} AND node_id", pks, extra=[basis, *params]))


def _latest_states(changes: Iterable[tuple[int, str, Any]]) -> dict[int, str]:
    """Each node's latest state of (node, state, at) changes: the latest time, the greater state on a tie."""
    latest: dict[int, tuple[datetime, str]] = {}
    for node, state, when in changes:
        key = (_as_time(when), state)
        if node not in latest or key > latest[node]:
            latest[node] = key
    return {node: state for node, (_, state) in latest.items()}


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def node_summaries(*, user: User, pks: list[int], at: AsOf) -> dict[int, dict[str, Any]]:
    """``selectors.node_summaries`` as of then: only nodes that existed and the reader may see, with the state and
    tags of then (a tag counts from when it was stored) and ``updatedAt`` no later than then. Plain SQL with the
    ids as one array: Django's ``IN`` of thousands of placeholders is slow to build."""
    ids = sorted(nodes_existing(pks, at))
    hidden = set(hidden_namespaces(user))
    out: dict[int, dict[str, Any]] = {}
    for table in ("lineage_node", "lineage_noderetired"):
        for pk, nid, kind, ns, name, version, env, state, owners, updated in select_in(
                f"SELECT id, node_id, kind, namespace, name, version, environment, state, owners, updated_at "  # noqa: S608
                f"FROM {table} WHERE id", ids):
            if ns in hidden or pk in out:
                continue
            out[pk] = {"id": nid, "kind": kind, "namespace": ns, "name": name, "version": version,
                       "environment": env, "state": state,
                       "owners": owners if isinstance(owners, list) else json.loads(owners),
                       "tags": [], "updatedAt": _stamp(min(_as_time(updated), at.at))}
    cond, params = _tags_cond(at)
    for node_pk, column, tag, source in sorted(select_in(
            f"SELECT node_id, field, tag, source FROM lineage_nodetag WHERE {cond} AND node_id",  # noqa: S608
            sorted(out), extra=params)):
        out[node_pk]["tags"].append({"field": column, "tag": tag, "source": source})
    states = _held_states(sorted(out), at)
    for pk, d in out.items():
        if d["state"] or pk in states:
            d["state"] = states.get(pk, "")
    return out


Closure = tuple[dict[int, tuple[str, bool, int | None]], list[tuple[int, int, str]], bool]

_CLOSURE_SQL = """
WITH RECURSIVE bfs(depth, fresh, frontier, seen) AS (
    SELECT 0, s.ids, s.ids, s.ids FROM (SELECT ARRAY(
        SELECT id FROM lineage_node WHERE id = ANY(%s) UNION SELECT id FROM lineage_noderetired WHERE id = ANY(%s)
    ) AS ids) s
    UNION ALL
    SELECT b.depth + 1, nx.fresh, nx.frontier, b.seen || nx.fresh
    FROM bfs b CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(f.id), '{{}}') AS fresh,
               coalesce(array_agg(f.id) FILTER (WHERE NOT coalesce({stop}, FALSE)), '{{}}') AS frontier
        FROM (SELECT DISTINCT e.next_id AS id
              FROM unnest(b.frontier) w(id) CROSS JOIN LATERAL ({step}) e
              LEFT JOIN unnest(b.seen) s(id) ON s.id = e.next_id
              WHERE s.id IS NULL) f
        LEFT JOIN lineage_node n ON n.id = f.id
        LEFT JOIN lineage_noderetired r ON r.id = f.id AND n.id IS NULL
    ) nx
    WHERE b.depth < %s AND cardinality(b.frontier) > 0 AND cardinality(b.seen) <= %s
)
SELECT k.id, k.depth, coalesce(n.kind, r.kind), coalesce(n.deidentifies, FALSE), coalesce(n.parent_id, r.parent_id),
       n.id IS NOT NULL OR r.id IS NOT NULL
FROM (SELECT id, depth FROM (SELECT unnest(fresh) AS id, depth FROM bfs) x ORDER BY depth, id LIMIT %s) k
LEFT JOIN lineage_node n ON n.id = k.id
LEFT JOIN lineage_noderetired r ON r.id = k.id AND n.id IS NULL
ORDER BY k.depth, k.id
"""


def _closure(seeds: list[int], at: AsOf, passable: frozenset[int] = frozenset()) -> Closure:
    """``selectors.upstream_closure`` over the edges of then: info by node, edges, and whether the cap cut it.
    De-identifying runs in ``passable`` are passed through (``stops.split_walk``).

    On PostgreSQL one statement, the breadth-first search of ``selectors._reached_cte`` (a row per level: its new
    nodes, those the walk passes through, all seen so far) stepping from each node by index through the LATERAL
    ``_next_of``: joined to the union of live and replaced edges as a whole, PostgreSQL hashed all of them. The
    same nodes, distances, cap and edges as ``_closure_levels``, the level-by-level walk SQLite keeps."""
    if connection.vendor != "postgresql":
        return _closure_levels(seeds, at, passable)
    max_nodes = max(settings.LINEAGE_MAX_NODES, len(seeds))
    step, step_params = _next_of(at, "dst_id", "src_id")
    deid = "(coalesce(n.deidentifies, FALSE) AND NOT f.id = ANY(%s))"
    stop = f"coalesce(n.kind, r.kind) = 'job' OR {deid}"
    with connection.cursor() as cur:
        cur.execute(_CLOSURE_SQL.format(stop=stop, step=step),
                    [list(seeds), list(seeds), sorted(passable), *step_params, settings.LINEAGE_MAX_DEPTH,
                     max_nodes, max_nodes + 1])
        rows = cur.fetchall()
    cut = len(rows) > max_nodes
    rows = [row for row in rows[:max_nodes] if row[5]]  # as ``_node_info``: a node in neither table is left out
    info = {pk: (kind, deid, parent) for pk, _, kind, deid, parent, _ in rows}
    expanded = [pk for pk, d, kind, deid, _, _ in rows if d == 0 or (
        d < settings.LINEAGE_MAX_DEPTH and kind != "job" and (not deid or pk in passable))]
    rel, rel_params = edge_relation(at)
    edges = [(s, d, k) for s, d, k in select_in(f"SELECT e.src_id, e.dst_id, e.kind FROM {rel} e "  # noqa: S608
                                                f"WHERE e.dst_id", expanded, extra=rel_params) if s in info]
    return info, edges, cut


def _closure_levels(seeds: list[int], at: AsOf, passable: frozenset[int] = frozenset()) -> Closure:
    """``_closure`` a level per query (SQLite has no LATERAL; the reference the tests compare it with)."""
    max_nodes = max(settings.LINEAGE_MAX_NODES, len(seeds))
    info = _node_info(seeds)
    edges: list[tuple[int, int, str]] = []
    rel, rel_params = edge_relation(at)
    frontier, cut = list(info), False
    for _ in range(settings.LINEAGE_MAX_DEPTH):
        if not frontier:
            break
        rows = select_in(f"SELECT e.src_id, e.dst_id, e.kind FROM {rel} e WHERE e.dst_id",  # noqa: S608
                         frontier, extra=rel_params)
        new = sorted({s for s, _, _ in rows if s not in info})
        if len(info) + len(new) > max_nodes:
            cut, new = True, new[: max_nodes - len(info)]
        info.update(_node_info(new))
        frontier = [pk for pk in new if info[pk][0] != "job" and (not info[pk][1] or pk in passable)]
        edges.extend(r for r in rows if r[0] in info)
    return info, edges, cut


def _tags_cond(at: AsOf) -> tuple[str, list[Any]]:
    """A condition on ``lineage_nodetag`` (no alias) for the tags of then: stored by then, or (as of an event
    time) carried by an event of then; a tag set by hand counts from when it was set."""
    t = _dt(at.at)
    if at.kind == "received":
        return "created_at <= %s", [t]
    return "(event_from <= %s OR (event_from IS NULL AND created_at <= %s))", [t, t]


def _sensitive_tags(holders: set[int], at: AsOf) -> dict[int, set[str]]:
    """The sensitive tags ``holders`` carried then. Plain SQL with the pks as one array: a closure holds up to
    ``LINEAGE_MAX_NODES`` nodes and Django's ``IN`` of thousands of placeholders was slow to build."""
    tags: dict[int, set[str]] = {}
    if not holders:
        return tags
    cond, params = _tags_cond(at)
    kinds = sorted(SENSITIVE_TAGS)
    marks = ", ".join(["%s"] * len(kinds))
    for pk, tag in select_in(f"SELECT node_id, tag FROM lineage_nodetag WHERE {cond} AND tag IN ({marks}) "  # noqa: S608
                             f"AND node_id", sorted(holders), extra=[*params, *kinds]):
        tags.setdefault(pk, set()).add(tag)
    return tags


def sensitive_reaching(pks: list[int], at: AsOf) -> tuple[dict[int, list[str]], bool]:
    """``selectors.sensitive_reaching`` over the edges, nodes and tags of then."""
    if not pks:
        return {}, False
    members: dict[int, list[int]] = {}
    member_rows = members_of(pks, at)
    for parent, pk in member_rows:
        members.setdefault(parent, []).append(pk)
    seeds = list(dict.fromkeys([*pks, *(pk for _, pk in member_rows)]))

    def walk(passable: frozenset[int]) -> tuple[tuple[dict[int, tuple[str, bool, int | None]],
                                                      list[tuple[int, int, str]], bool], set[int]]:
        found = _closure(seeds, at, passable)
        return found, {pk for pk, (_, deid, _) in found[0].items() if deid} - passable

    # The evidence-backed stops of ``stops.py``, with the determinations of then.
    split = stops.split_walk(walk, walked=frozenset(seeds), at=at.at)
    info, edges, cut = split.evidence_stops
    tags = _sensitive_tags(set(info) | {p for _, _, p in info.values() if p}, at)
    own = {pk: frozenset(tags.get(pk, set()) | (tags.get(parent, set()) if parent else set()))
           for pk, (_, _, parent) in info.items()}
    halts = {pk for pk, (kind, deid, _) in info.items() if kind == "job" or deid}
    reach = graph.tags_reaching(own, edges, stops=halts, members=members)
    if split.passed:
        through = graph.tags_reaching({pk: t & split.tags for pk, t in own.items()}, edges,
                                      stops=halts - split.passed, members=members)
        reach = {pk: frozenset(reach.get(pk, frozenset()) | through.get(pk, frozenset()))
                 for pk in set(reach) | set(through)}
    return {pk: sorted(reach.get(pk, ())) for pk in pks}, cut or split.all_stops[2]


def _node_info(pks: list[int]) -> dict[int, tuple[str, bool, int | None]]:
    if not pks:
        return {}
    out = {pk: (kind, bool(deid), parent) for pk, kind, deid, parent in
           select_in("SELECT id, kind, deidentifies, parent_id FROM lineage_node WHERE id", pks)}
    missing = [pk for pk in pks if pk not in out]
    if missing:
        out.update((pk, (kind, False, parent)) for pk, kind, parent in
                   select_in("SELECT id, kind, parent_id FROM lineage_noderetired WHERE id", missing))
    return out


def sensitive_upstream(node: Node, at: AsOf) -> dict[str, list[str]]:
    """``selectors.sensitive_upstream`` as of then: ``{tag: [ids of the nodes upstream that carry it]}``."""
    return sensitive_upstream_explained(node, at)[0]


def sensitive_upstream_explained(node: Node, at: AsOf) -> tuple[dict[str, list[str]], set[int]]:
    """``selectors.sensitive_upstream_explained`` as of then: ``sensitive_upstream``, and the de-identifying runs
    an evidence-requiring tag got through for want of a determination approved by then (empty when none did)."""
    seeds = walk_seeds(node, at)

    def walk(passable: frozenset[int]) -> tuple[set[int], set[int]]:
        info, _, _ = _closure(seeds, at, passable)
        marked = {pk for pk, (_, deid, _) in info.items() if deid} - passable - set(seeds)
        return set(info) | {p for _, _, p in info.values() if p}, marked

    # The evidence-backed stops of ``stops.py``, with the determinations of then.
    split = stops.split_walk(walk, at=at.at)
    first = _sensitive_tags(split.all_stops, at)
    through = {pk: ts & split.tags for pk, ts in _sensitive_tags(split.evidence_stops, at).items()}
    tags = {pk: {t for t in ts if t not in split.tags} for pk, ts in first.items()}
    for pk, ts in through.items():
        tags.setdefault(pk, set()).update(ts)
    tags = {pk: ts for pk, ts in tags.items() if ts}
    leaked = any(ts - first.get(pk, set()) for pk, ts in through.items())
    names = dict(select_in("SELECT id, node_id FROM lineage_node WHERE id", list(tags))) if tags else {}
    found: dict[str, set[str]] = {}
    for pk, pk_tags in tags.items():
        for tag in pk_tags:
            found.setdefault(tag, set()).add(names[pk])
    return {tag: sorted(v) for tag, v in sorted(found.items())}, split.passed if leaked else set()


def lineage_graph(*, user: User, node: Node, depth: int, directions: tuple[str, ...], max_nodes: int,
                  at: AsOf, expand: list[Node] | None = None, expand_depth: int = 1) -> Subgraph:
    """``selectors.lineage_graph`` as of then: the walks, nodes, edges and sensitive tags of that time."""
    hood = neighbourhood(
        node=node, depth=depth, directions=directions, max_nodes=max_nodes, expand=expand,
        expand_depth=expand_depth,
        walk=lambda start, direction, d: lineage_walk(seeds=walk_seeds(start, at), direction=direction, depth=d,
                                                      max_nodes=max_nodes, at=at))
    kept, distance, side = hood.kept, hood.distance, hood.side
    cut_depth, cut_size = hood.cut_by_depth, hood.cut_by_size
    nodes = node_summaries(user=user, pks=kept, at=at)
    order = [pk for pk in kept if pk in nodes]
    rel, rel_params = edge_relation(at)
    edge_rows = select_in(f"SELECT src_id, dst_id, kind FROM {rel} e WHERE e.src_id", order,  # noqa: S608
                          extra=rel_params) if order else []
    edges = sorted({(s, d, k) for s, d, k in edge_rows if d in nodes})
    info = _node_info(order)
    parents = {p for _, _, p in info.values() if p}
    names = dict(select_in("SELECT id, name FROM lineage_node WHERE id", sorted(parents))) if parents else {}
    for pk in order:
        kind, _, parent = info[pk]
        if kind == "run" and parent in names:
            nodes[pk]["label"] = names[parent]
        elif kind == "datasetVersion" and parent in nodes:
            edges.append((parent, pk, "version"))
    for n in nodes.values():
        n["displayName"] = node_label(kind=n["kind"], name=n["name"], version=n["version"],
                                      environment=n["environment"], job=n.get("label", ""))
    sensitive, incomplete = sensitive_reaching(order, at)
    return Subgraph(root=node.pk, nodes=nodes, edges=edges, distance={pk: distance[pk] for pk in order},
                    side={pk: side.get(pk, "root") for pk in order}, sensitive=sensitive,
                    cut_by_depth=cut_depth, cut_by_size=cut_size, sensitive_incomplete=incomplete)
