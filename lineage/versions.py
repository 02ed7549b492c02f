"""Which dataset version a run read, by event time and never by arrival (docs/facets.md, "Versions").

A read links the version the reader named (the ``version`` facet's ``datasetVersion``), else the latest version
written by a run that completed at or before the reader started (ties: the greater version), else ``initial``.
The planner records reads and finished writes; ``reads_resolve`` applies them against every write stored, so a
write that arrives late re-links the reads it precedes, and a START that arrives late moves the reads of its run
back to the run's real start; the column edges of what a re-linked run wrote move to the version it now reads.
An ``initial`` version no read links any more is removed.

Set-based: a handful of statements per batch whatever its size.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from django.db import connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from portal.lib.sql import aware as _aware
from portal.lib.sql import chunks, insert_ignore, rows_relation, select_in, update_rows
from portal.lib.sql import db_time as _dt

from . import ids
from .asof import _as_time, _update_from, edges_retire, node_retire
from .models import DatasetRead, Edge, Node
from .plan import INITIAL_VERSION, GraphDelta

_RESOLVE_SQL = """
WITH v(rid, ds, at, run) AS ({rows})
SELECT v.rid, (SELECT w.version FROM lineage_datasetwrite w
               WHERE w.dataset_id = v.ds AND w.completed_at <= v.at AND w.run_id <> v.run
               ORDER BY w.completed_at DESC, w.version DESC LIMIT 1)
FROM v
"""
_AFTER_SQL = """
WITH v(ds, c) AS ({rows})
SELECT r.id FROM lineage_datasetread r JOIN v ON r.dataset_id = v.ds AND r.at >= v.c
"""
# PostgreSQL: a range scan of ``datasetread_dataset_time`` per dataset. Joined as above, its custom plan (it knows
# the array's size) hashed the datasets against a sequential scan of every read stored, which grew with the graph;
# OFFSET 0 keeps the lateral subquery from being flattened back into that join.
_AFTER_SQL_PG = """
WITH v(ds, c) AS ({rows})
SELECT r.id FROM v CROSS JOIN LATERAL
(SELECT id FROM lineage_datasetread WHERE dataset_id = v.ds AND at >= v.c OFFSET 0) r
"""


def _writes_store(delta: GraphDelta, id_map: dict[str, int]) -> dict[int, datetime]:
    """Store the delta's finished writes; returns dataset pk -> the earliest completion among them."""
    rows = sorted((id_map[ds], version, id_map[run], t) for (ds, version), (run, t) in delta.writes.items())
    inserted = {(d, v) for d, v in insert_ignore(
        "lineage_datasetwrite", ("dataset_id", "version", "run_id", "completed_at"),
        [(d, v, r, _dt(t)) for d, v, r, t in rows], conflict=("dataset_id", "version"),
        returning=("dataset_id", "version"))}
    earlier = [(r, _dt(t), d, v, _dt(t)) for d, v, r, t in rows if (d, v) not in inserted]
    if earlier:  # the same version written again: its earliest completion counts, whatever arrived first
        with connection.cursor() as cur:
            cur.executemany("UPDATE lineage_datasetwrite SET run_id = %s, completed_at = %s WHERE dataset_id = %s "
                            "AND version = %s AND completed_at > %s", earlier)
    first: dict[int, datetime] = {}
    for d, _, _, t in rows:
        first[d] = min(t, first.get(d, t))
    return first


def _run_started(run_pks: list[int]) -> dict[int, datetime]:
    out: dict[int, datetime] = {}
    for part in chunks(run_pks, 5000):
        for pk, attrs in Node.objects.filter(pk__in_array=part).values_list("pk", "attrs"):
            started = (attrs or {}).get("started_at")
            if isinstance(started, str):
                with contextlib.suppress(ValueError):
                    out[pk] = _aware(datetime.fromisoformat(started))
    return out


def datasets_lock(delta: GraphDelta) -> None:
    """Order concurrent batches that read or write the same datasets (PostgreSQL): without it, a write and a read
    it precedes, committed at the same moment by two batches, would each miss the other. A transaction-scoped
    advisory lock per dataset, in one statement in a fixed order.

    Taken as late as ``services._apply`` can: after the batch's node rows, edges, tags and superseded deployments
    are written, just before version resolution, so it is held only over resolution, what reads its result and
    the commit. Why that cannot close a cycle with the row locks:

    1. Every dataset a delta reads or writes is one of its nodes (``plan.Planner._dataset`` for each input, output
       and monitoring reference), and ``services._apply_nodes`` holds every node row of the delta before anything
       else of the batch: inserted, or locked ``FOR NO KEY UPDATE``, parents (jobs, datasets) before children
       (runs, versions), each pass in ``node_id`` order. One order for every batch: the node phase alone cannot
       deadlock, and a batch waiting in it holds only rows earlier in that order (and the deployments' advisory
       locks, taken before any row, in key order).
    2. So a batch asking for dataset D's lock here holds D's node row; any other batch that took D's lock here
       held D's row too, and keeps it to its commit. Two batches sharing a dataset are therefore already ordered
       by that row in the node phase, the later one waiting there, before it locks anything out of order; this
       lock is not waited for by them.
    3. After it a batch touches, beside rows only it wrote: the reads, writes, reads edges and versions of the
       datasets it locked (``_relink`` inserts, re-parents, retires and moves rows another batch may hold only if
       that batch holds the dataset's node row as well -- a version node is in a delta only with its dataset,
       ``Planner._dataset_version`` -- and so is not running beside it, by 2); and foreign-key checks of inserted
       edges (``KEY SHARE``, which ``FOR NO KEY UPDATE`` does not block).

    Point 2 rests on ``_apply_nodes`` holding *every* node row of the delta, changed or not; if it ever skips
    unchanged rows, this lock becomes the one that orders batches sharing a dataset and must move back before the
    node phase. ``tests/lineage/test_ingest_storage.py`` runs concurrent batches sharing datasets in opposite
    orders against the serial graph."""
    keys = sorted({ds for _, ds in delta.reads} | {ds for ds, _ in delta.writes})
    if keys and connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(k) FROM (SELECT hashtextextended(d, 11) AS k "
                        "FROM unnest(%s::text[]) AS d ORDER BY 1) AS locks", [keys])


def reads_resolve(delta: GraphDelta, id_map: dict[str, int]) -> set[int]:
    """Record the delta's reads and writes and (re)link every read they affect to its version. Returns the runs
    that got a new reads edge (``asof.history_apply`` dates the versions they link from them)."""
    written = _writes_store(delta, id_map) if delta.writes else {}
    run_pks = sorted({id_map[r] for r in delta.run_starts} | {id_map[r] for r, _ in delta.reads})
    if not run_pks and not written:
        return set()
    stored: dict[tuple[int, int], DatasetRead] = {}
    for part in chunks(run_pks, 5000):
        for r in DatasetRead.objects.filter(run__id__in_array=part):
            stored[(r.run_id, r.dataset_id)] = r
    if written:
        rows = sorted(written.items())
        for part in chunks(rows, 400 if connection.vendor != "postgresql" else len(rows)):
            table, params = rows_relation([(d, c) for d, c in part])
            with connection.cursor() as cur:
                sql = _AFTER_SQL_PG if connection.vendor == "postgresql" else _AFTER_SQL
                cur.execute(sql.format(rows=table), params)
                later = [rid for (rid,) in cur.fetchall()]
            for r in DatasetRead.objects.filter(id__in_array=later):
                stored.setdefault((r.run_id, r.dataset_id), r)
    started = _run_started(run_pks)
    batch_start = {id_map[r]: t for r, t in delta.run_starts.items()}
    # What each affected read now says: when its run started and the version it named.
    wanted: dict[tuple[int, int], tuple[datetime, str]] = {}
    for key, r in stored.items():
        wanted[key] = (_aware(r.at), r.version)
    for (run, ds), (t, version) in delta.reads.items():
        key = (id_map[run], id_map[ds])
        at, named = wanted.get(key, (t, ""))
        wanted[key] = (min(at, t), max(named, version or ""))
    for key, (at, named) in list(wanted.items()):
        for start in (batch_start.get(key[0]), started.get(key[0])):
            if start is not None and start < at:
                at = start
        wanted[key] = (at, named)
    resolved = _resolve([(i, run, ds, at) for i, ((run, ds), (at, named)) in enumerate(sorted(wanted.items()))
                         if not named])
    keys = sorted(wanted)
    links: dict[tuple[int, int], str] = {}
    for i, key in enumerate(keys):
        at, named = wanted[key]
        links[key] = named or resolved.get(i) or INITIAL_VERSION
    said = {(id_map[run], id_map[ds]): t for (run, ds), (t, _) in delta.reads.items()}
    return _relink(stored, wanted, links, said)


def read_versions(pairs: set[tuple[str, str]], id_map: dict[str, int]) -> dict[tuple[str, str], str]:
    """(run, dataset) node ids -> the version node id the read links now (after ``reads_resolve``)."""
    by_pk = {(id_map[r], id_map[d]): (r, d) for r, d in pairs if r in id_map and d in id_map}
    names: dict[int, tuple[str, str]] = {}
    for part in chunks(sorted({d for _, d in by_pk}), 5000):
        names.update((pk, (ns, name)) for pk, ns, name in Node.objects.filter(pk__in_array=part)
                     .values_list("pk", "namespace", "name"))
    out: dict[tuple[str, str], str] = {}
    for part in chunks(sorted({r for r, _ in by_pk}), 5000):
        for run, ds, linked in DatasetRead.objects.filter(run__id__in_array=part).values_list("run_id", "dataset_id",
                                                                                       "linked"):
            key = by_pk.get((run, ds))
            if key is not None and linked:
                out[key] = ids.dataset_version_id(*names[ds], linked)
    return out


def _resolve(reads: list[tuple[int, int, int, datetime]]) -> dict[int, str | None]:
    out: dict[int, str | None] = {}
    for part in chunks(reads, 250 if connection.vendor != "postgresql" else max(1, len(reads))):
        table, params = rows_relation([(i, ds, at, run) for i, run, ds, at in part])
        with connection.cursor() as cur:
            cur.execute(_RESOLVE_SQL.format(rows=table), params)
            out.update(cur.fetchall())
    return out


def _relink(stored: dict[tuple[int, int], DatasetRead], wanted: dict[tuple[int, int], tuple[datetime, str]],
            links: dict[tuple[int, int], str], said: dict[tuple[int, int], datetime]) -> set[int]:
    """Link each read ``(run, dataset)`` to its version: set-based, a fixed handful of statements.

    A new reads edge carries its event time from its INSERT: the time the delta's events read it (``said``), else
    (a read re-linked by a late write or a late START) the earliest time of the edges it replaced, else the read's
    own time. Returns the runs that got a new reads edge."""
    datasets = {ds for _, ds in links}
    names: dict[int, tuple[str, str]] = {}
    for part in chunks(sorted(datasets), 5000):
        names.update((pk, (ns, name)) for pk, ns, name in Node.objects.filter(pk__in_array=part)
                     .values_list("pk", "namespace", "name"))
    version_ids = {key: ids.dataset_version_id(*names[key[1]], links[key]) for key in links}
    old_ids = {key: ids.dataset_version_id(*names[key[1]], r.linked) for key, r in stored.items() if r.linked}
    now = _dt(timezone.now())
    needed = sorted(set(version_ids.values()))
    by_id: dict[str, int] = {}
    orphaned: list[tuple[int, int]] = []  # (dataset, version) pks of versions a rebuild left without a parent
    parent_of = {version_ids[key]: key[1] for key in sorted(version_ids)}
    for part in chunks(needed, 5000):
        for nid, pk, parent in Node.objects.filter(node_id__in_array=part).values_list("node_id", "id", "parent_id"):
            by_id[nid] = pk
            if parent is None:
                orphaned.append((parent_of[nid], pk))
    update_rows("lineage_node", "id", ("parent_id",), sorted(orphaned, key=lambda o: o[1]))
    missing = [(key, nid) for key, nid in sorted(version_ids.items()) if nid not in by_id]
    if missing:
        rows, seen = [], set()
        for key, nid in missing:
            if nid in seen:
                continue
            seen.add(nid)
            ns, name = names[key[1]]
            rows.append((nid, "datasetVersion", ns, name, links[key], "", key[1], "", "[]", "{}", "{}", False,
                         None, "{}", now, now))
        inserted = insert_ignore("lineage_node", ("node_id", "kind", "namespace", "name", "version", "environment",
                                                  "parent_id", "state", "owners", "facets", "attrs", "deidentifies",
                                                  "event_time", "times", "created_at", "updated_at"), rows,
                                 conflict=("node_id",), returning=("node_id", "id"))
        by_id.update(inserted)
        stored_meanwhile = [nid for _, nid in missing if nid not in by_id]  # by a concurrent batch
        if stored_meanwhile:
            by_id.update(Node.objects.filter(node_id__in_array=stored_meanwhile).values_list("node_id", "id"))
    gone = [key for key, old in sorted(old_ids.items()) if old != version_ids[key]]
    orphan_candidates: set[str] = set()
    if gone:
        old_pks = dict(Node.objects.filter(node_id__in_array=[old_ids[k] for k in gone]).values_list("node_id", "id"))
        moves = [(key, old_pks[old_ids[key]], by_id[version_ids[key]]) for key in gone if old_ids[key] in old_pks]
        edges_retire([(old, run, "reads", ds) for (run, ds), old, _ in moves])  # kept for lineage as of a time
        _columns_move([(run, old, new) for (run, _), old, new in moves])
        orphan_candidates = {old_ids[key] for key, _, _ in moves if old_ids[key].endswith("#" + INITIAL_VERSION)}
    untimed = sorted({run for run, ds in links if (run, ds) not in said})
    replaced = _replaced_times(untimed) if untimed else {}
    edges = sorted((by_id[version_ids[key]], key[0], "reads", now,
                    _dt(said.get(key) or replaced.get(key) or wanted[key][0])) for key in links)
    relinked = {run for (run,) in insert_ignore("lineage_edge", ("src_id", "dst_id", "kind", "created_at",
                                                                  "event_from"), edges,
                                                 conflict=("src_id", "dst_id", "kind"), returning=("dst_id",))}
    insert_ignore("lineage_datasetread", ("run_id", "dataset_id", "at", "version", "linked"),
                  [(run, ds, _dt(wanted[(run, ds)][0]), wanted[(run, ds)][1], links[(run, ds)])
                   for run, ds in sorted(links) if (run, ds) not in stored], conflict=("run_id", "dataset_id"))
    changed = []
    for key, r in sorted(stored.items()):
        at, named = wanted[key]
        if (_aware(r.at), r.version, r.linked) != (at, named, links[key]):
            changed.append((_dt(at), named, links[key], r.pk))
    update_rows("lineage_datasetread", "id", ("at", "version", "linked"), changed)
    for nid in sorted(orphan_candidates):
        _drop_if_unread(nid)
    return relinked


def _replaced_times(runs: list[int]) -> dict[tuple[int, int], datetime]:
    """(run, dataset) -> the earliest event time of the reads edges of ``runs`` replaced so far."""
    out: dict[tuple[int, int], datetime] = {}
    for r, ds, t in select_in("SELECT dst_id, dataset_id, MIN(event_from) FROM lineage_edgeretired WHERE kind = "
                              "'reads' AND event_from IS NOT NULL AND dst_id", runs,
                              suffix="GROUP BY dst_id, dataset_id"):
        out[(r, ds)] = _as_time(t)
    return out


_COLUMNS_MOVE_SQL = """
INSERT INTO lineage_columnedge (src_id, src_field, dst_id, dst_field, type, subtype, description, masking, created_at)
SELECT v.n, c.src_field, c.dst_id, c.dst_field, c.type, c.subtype, c.description, c.masking, c.created_at
FROM v, lineage_edge w, lineage_columnedge c
WHERE w.src_id = v.r AND w.kind = 'writes' AND c.src_id = v.o AND c.dst_id = w.dst_id
ON CONFLICT (src_id, src_field, dst_id, dst_field, type, subtype) DO NOTHING
"""
_COLUMNS_DROP_SQL = """
DELETE FROM lineage_columnedge WHERE (src_id, dst_id) IN
(SELECT v.o, w.dst_id FROM v, lineage_edge w WHERE w.src_id = v.r AND w.kind = 'writes')
"""


def _columns_move(moves: list[tuple[int, int, int]]) -> None:
    """The column edges of what each ``run`` wrote follow its read from version ``old`` to version ``new``
    (``moves``: run, old, new): two statements for all of them."""
    if not moves:
        return
    if {new for _, _, new in moves} & {old for _, old, _ in moves}:
        for move in moves:  # a chain (one run's new version is another's old one): in order, as they were
            _columns_move_all([move])
        return
    _columns_move_all(moves)


def _columns_move_all(moves: list[tuple[int, int, int]]) -> None:
    rows = sorted(set(moves))
    _update_from(rows, "r, o, n", 0, _COLUMNS_MOVE_SQL)
    _update_from(rows, "r, o, n", 0, _COLUMNS_DROP_SQL)


def _drop_if_unread(node_id: str) -> None:
    """An ``initial`` version no read links any more was a guess the writes have since answered."""
    node = Node.objects.filter(node_id=node_id).first()
    if node is None or Edge.objects.filter(src=node).exists() or Edge.objects.filter(dst=node).exists():
        return
    try:
        with transaction.atomic():
            node_retire(node.pk)  # kept for lineage as of a time
            node.delete()
    except ProtectedError:
        pass  # something (a release) still refers to it: kept
