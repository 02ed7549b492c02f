"""Writes to the lineage graph. Every public function runs in one transaction.

Ingestion is set-based: a batch of events becomes one GraphDelta (``plan.py``), applied with a handful
of multi-row statements whatever the batch size. Raw events are inserted first with
``ON CONFLICT DO NOTHING`` so an exact duplicate is stored once and changes nothing.

One code path for the rules, two for storage (``portal/lib/sql.py``): on PostgreSQL a write of many rows is a COPY
into a temporary staging table and one ``INSERT ... SELECT`` or ``UPDATE ... FROM``, and id lists are one array
parameter; on SQLite (and for a single event's few rows) multi-row ``VALUES``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec
from django.conf import settings
from django.db import DataError, connection, transaction
from django.db.models import F as Col
from django.db.models import Model, ProtectedError, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.models import AuditPending
from portal.audit.sequencer import PENDING_COLUMNS
from portal.audit.sequencer import inline as sequencer_inline
from portal.audit.services import Change, audit_record, audit_record_many
from portal.audit.services import pending_rows as audit_pending_rows
from portal.lib.sql import aware as _aware
from portal.lib.sql import chunks, copy_fast, insert_ignore, stage_rows, update_rows
from portal.lib.sql import db_time as _dt

from . import facets as F
from . import ids
from .asof import history_apply, history_clear, replaying
from .guard import (
    MODEL_CLAIM_COLUMNS,
    RUN_CLAIM_COLUMNS,
    Refusal,
    WriteGuard,
    WriteRefused,
    model_claim_take,
    run_job_namespace,
    strip_inputs,
)
from .models import ColumnEdge, DatasetRead, DatasetWrite, Edge, Node, NodeTag, RawEvent, Tag
from .monitoring import MonitoringRecord
from .openlineage import ParsedEvent, parse_event, parse_time
from .plan import PARENT_KINDS, TERMINAL_STATES, GraphDelta, NodeDelta, NodeRow, Planner, _as_row, merge_node, stamp
from .versions import datasets_lock, read_versions, reads_resolve

NODE_COLUMNS = ("node_id", "kind", "namespace", "name", "version", "environment", "parent_id", "state",
                "owners", "facets", "attrs", "deidentifies", "event_time", "times", "created_at", "updated_at",
                "event_from")
_NODE_UPDATE_COLUMNS = ("parent_id", "state", "owners", "facets", "attrs", "deidentifies", "event_time", "times",
                        "updated_at")
RAW_COLUMNS = ("dedupe_key", "kind", "event_type", "event_time", "run_id", "job_namespace", "job_name",
               "producer", "payload", "body", "body_sha256", "warnings", "received_at", "received_by_id",
               "ignored_inputs", "applied_at")


# -- hooks: how the apps built on lineage react to ingestion without lineage importing them ---------------
# Each app appends its function from its ``AppConfig.ready``; every hook runs inside the ingest transaction.

# Called with the node ids of active deployments just written. The approvals app registers its violation
# check here (``portal/approvals/apps.py``).
deployment_observers: list[Callable[[list[str]], None]] = []
# Called with the monitoring records of the events just applied (``monitoring.py``), after their nodes and
# edges are written. The monitoring app registers its results, thresholds and alerts here
# (``portal/monitoring/apps.py``). An observer must be idempotent: a rebuild replays every event.
monitoring_observers: list[Callable[[list[MonitoringRecord], User | None], object]] = []


class GovernanceHook(Protocol):
    def __call__(self, *, records: dict[str, dict[str, Any]], by: User | None) -> int: ...


# Called with the governance attributes a batch's facets (or a REST record) carry: node id -> model fields,
# checked by ``facets.py`` against ``governance_fields.py``. The governance app registers
# ``lineage_governance_apply`` here (``portal/governance/apps.py``).
governance_hooks: list[GovernanceHook] = []


def _governance_apply(records: dict[str, dict[str, Any]], by: User | None) -> None:
    for apply in governance_hooks:
        apply(records=records, by=by)


@dataclass(slots=True)
class IngestOutcome:
    status: str  # "created" | "duplicate" | "refused"
    warnings: list[str] = field(default_factory=list)
    refusal: Refusal | None = None


class BatchRefused(Exception):
    """An atomic batch with a refused event: nothing of it is stored. ``outcomes`` says which and why."""

    def __init__(self, outcomes: list[IngestOutcome]) -> None:
        super().__init__("refused")
        self.outcomes = outcomes


def _no_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nul(v) for v in value]
    return value


def _dumps(value: Any) -> str:
    """JSON text for a JSON column. U+0000 becomes U+FFFD: PostgreSQL's jsonb refuses it (see RawEvent)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    if "\\u0000" in text:  # rare: only then walk the value
        text = json.dumps(_no_nul(value), separators=(",", ":"), ensure_ascii=False, default=str)
    return text


_json_encode = msgspec.json.Encoder().encode


def _node_json(value: Any) -> str:
    """``_dumps`` for a node's facets, attributes, owners and times, which hold only JSON values (parsed events,
    the planner's strings): msgspec's encoder, several times faster on a batch's thousands of rows."""
    try:
        text = _json_encode(value).decode()
    except (TypeError, OverflowError):
        return _dumps(value)
    return _dumps(value) if "\\u0000" in text else text


def _payload_text(raw: bytes) -> str:
    """The event's JSON text for ``RawEvent.payload``: as received unless it holds a U+0000 escape."""
    text = raw.decode("utf-8")
    if "\\u0000" in text:
        return _dumps(json.loads(text))
    return text


# -- applying a delta -----------------------------------------------------------------------------------
def _node_row(d: NodeDelta, parent_id: int | None, now: Any, first_seen: datetime | None) -> tuple[Any, ...]:
    row = _as_row(d)  # a node's first row keeps what the delta says, and when it said each part
    return (d.node_id, d.kind, d.namespace, d.name, d.version, d.environment, parent_id, row.state,
            _node_json(row.owners), _node_json(row.facets), _node_json(row.attrs), row.deidentifies,
            _dt(row.event_time), _node_json(row.times), now, now, _dt(first_seen))


def _lock_existing(node_ids: list[str]) -> dict[str, tuple[int, int | None, NodeRow]]:
    out: dict[str, tuple[int, int | None, NodeRow]] = {}
    for part in chunks(sorted(node_ids), 5000):
        qs = Node.objects.filter(node_id__in_array=part).order_by("node_id")
        if connection.features.has_select_for_update:
            qs = qs.select_for_update(no_key=True)  # FK checks of other batches (KEY SHARE) do not wait for it
        # The JSON columns as text, decoded with msgspec: a batch locks thousands of rows, and JSONField's
        # json.loads per value was a tenth of the batch's Python time.
        texts = qs.annotate(facets_text=Cast("facets", TextField()), attrs_text=Cast("attrs", TextField()),
                            owners_text=Cast("owners", TextField()), times_text=Cast("times", TextField()))
        for nid, pk, parent_id, facets, attrs, owners, state, deid, et, times in texts.values_list(
            "node_id", "id", "parent_id", "facets_text", "attrs_text", "owners_text", "state", "deidentifies",
            "event_time", "times_text"
        ):
            out[nid] = (pk, parent_id, NodeRow(_loads(facets), _loads(attrs), _loads(owners), state, deid, et,
                                               _loads(times) or {}))
    return out


_json_decode = msgspec.json.Decoder().decode


def _loads(text: str | None) -> Any:
    return _json_decode(text) if text is not None else None


# The delta of a node, staged for ``_MERGE_NEWER_SQL``: what it says (deleted facets as a JSON array of names),
# when it said each part (``times``), and ``said``/``said_from``: the earliest of those times, as text and as a time.
_MERGE_STAGE = (("node_id", "text"), ("parent_id", "bigint"), ("state", "text"), ("owners", "jsonb"),
                ("facets", "jsonb"), ("deleted", "jsonb"), ("attrs", "jsonb"), ("deidentifies", "boolean"),
                ("event_time", "timestamptz"), ("times", "jsonb"), ("said", "text"), ("said_from", "timestamptz"))
_TERMINAL = ", ".join(f"'{s}'" for s in sorted(TERMINAL_STATES))
_KEEP_STATE = f"(s.state = '' OR (n.kind = 'run' AND n.state IN ({_TERMINAL}) AND s.state NOT IN ({_TERMINAL})))"
# ``merge_node`` in SQL for the rows where it is plain jsonb ``||``: every part the delta says is newer than every
# time the stored row holds (its ``event_time`` is the newest of them; ``C`` collation compares the time texts as
# Python does), so each facet, attribute, the owners and the state the delta says win, except that a finished run is
# never reopened. Rows it does not take (the delta is not newer throughout, the row lacks times for parts it holds,
# or the delta would newly mark it de-identifying, an audited change) stay for the merge in Python.
_MERGE_NEWER_SQL = f"""
WITH s AS (DELETE FROM {{stage}} RETURNING *)
UPDATE lineage_node n SET
    parent_id = COALESCE(n.parent_id, s.parent_id),
    facets = (n.facets - ARRAY(SELECT jsonb_array_elements_text(s.deleted))) || s.facets,
    attrs = n.attrs || s.attrs,
    owners = CASE WHEN s.owners = '[]'::jsonb THEN n.owners ELSE s.owners END,
    state = CASE WHEN {_KEEP_STATE} THEN n.state ELSE s.state END,
    deidentifies = n.deidentifies OR s.deidentifies,
    event_time = GREATEST(n.event_time, s.event_time),
    times = jsonb_build_object('facets', (n.times -> 'facets') || (s.times -> 'facets'),
                               'attrs', (n.times -> 'attrs') || (s.times -> 'attrs'))
        || CASE WHEN s.owners <> '[]'::jsonb THEN jsonb_build_object('owners', s.times -> 'owners')
                WHEN COALESCE(n.times ->> 'owners', '') <> '' THEN jsonb_build_object('owners', n.times -> 'owners')
                ELSE jsonb_build_object() END
        || CASE WHEN NOT {_KEEP_STATE} THEN jsonb_build_object('state', s.times -> 'state')
                WHEN COALESCE(n.times ->> 'state', '') <> '' THEN jsonb_build_object('state', n.times -> 'state')
                ELSE jsonb_build_object() END,
    updated_at = %s
FROM s
WHERE n.node_id = s.node_id
  AND n.event_time < s.said_from AND n.event_time >= '1000-01-01 00:00:00+00'
  AND (n.deidentifies OR NOT s.deidentifies)
  AND (n.owners = '[]'::jsonb OR COALESCE(n.times ->> 'owners', '') <> '')
  AND (n.state = '' OR COALESCE(n.times ->> 'state', '') <> '')
  AND COALESCE(n.times ->> 'owners', '') COLLATE "C" < s.said AND COALESCE(n.times ->> 'state', '') COLLATE "C" < s.said
  AND CASE WHEN jsonb_typeof(n.facets) = 'object' AND jsonb_typeof(n.attrs) = 'object'
            AND jsonb_typeof(n.times -> 'facets') = 'object' AND jsonb_typeof(n.times -> 'attrs') = 'object'
      THEN NOT EXISTS (SELECT FROM jsonb_each_text(n.times -> 'facets') t WHERE t.value COLLATE "C" >= s.said)
       AND NOT EXISTS (SELECT FROM jsonb_each_text(n.times -> 'attrs') t WHERE t.value COLLATE "C" >= s.said)
      ELSE false END
RETURNING n.node_id, n.id
"""  # noqa: S608 - fixed names and states


def _said_from(d: NodeDelta) -> tuple[NodeRow, str, datetime] | None:
    """The delta as a row, and the earliest time it says any part at (text and time); None when it does not say
    every part with a time of a year 1000-9999 (whose texts sort as the times do)."""
    row = _as_row(d)
    ft, at = row.times.get("facets", {}), row.times.get("attrs", {})
    if any(k not in ft for k in row.facets) or any(k not in at for k in row.attrs):
        return None
    stamps = [*ft.values(), *at.values(), *(row.times[k] for k in ("owners", "state") if k in row.times)]
    if (row.owners and not row.times.get("owners")) or (row.state and not row.times.get("state")):
        return None
    said = min(stamps, default=stamp(d.event_time))
    if not all(len(t) == 27 and t[4] == "-" and t[0] != "0" for t in (*stamps, said)):
        return None
    return row, said, datetime.fromisoformat(said)


def _merge_newer_in_sql(deltas: list[NodeDelta], id_map: dict[str, int], db_now: Any) -> dict[str, int]:
    """Merge, in one ``UPDATE``, the deltas newer than all their stored row holds (``_MERGE_NEWER_SQL``); the rows
    are locked first in node-id order, as ``_lock_existing`` does. Returns node ids -> pks of the rows merged."""
    staged = []
    for d in deltas:
        said = _said_from(d)
        if said is None:
            continue
        row, text, t = said
        deleted = [n for n in row.times.get("facets", {}) if n not in row.facets]
        staged.append((d.node_id, id_map.get(d.parent_node_id or ""), row.state, _node_json(row.owners),
                       _node_json(row.facets), _node_json(deleted), _node_json(row.attrs), row.deidentifies,
                       d.event_time, _node_json(row.times), text, t))
    if not copy_fast(staged):
        return {}
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM lineage_node WHERE node_id = ANY(%s) ORDER BY node_id FOR NO KEY UPDATE",
                    [sorted(d.node_id for d in deltas)])
        stage = stage_rows("node_merge", _MERGE_STAGE, staged)
        cur.execute(_MERGE_NEWER_SQL.format(stage=stage), [db_now])
        return dict(cur.fetchall())


def _weakened(node_id: str, kind: str, before: Any, after: Any) -> Change:
    """A change that weakens a classification is its own audit entry, with before and after."""
    return Change("lineage.classification_weakened", kind, node_id, {"before": before, "after": after})


def _apply_nodes(delta: GraphDelta, now: datetime, weakened: list[Change]) -> dict[str, int]:
    """Insert new nodes whole; merge the delta into existing ones under a row lock. Returns node ids -> pks.

    De-identification marks set here are appended to ``weakened``."""
    id_map: dict[str, int] = {}
    db_now = _dt(now)
    for children in (False, True):
        deltas = sorted((d for d in delta.nodes.values() if (d.kind in PARENT_KINDS) == children),
                        key=lambda d: d.node_id)
        if not deltas:
            continue
        if children:
            missing = {d.parent_node_id for d in deltas if d.parent_node_id and d.parent_node_id not in id_map}
            if missing:
                id_map.update(Node.objects.filter(node_id__in_array=missing).values_list("node_id", "id"))
        # In a large batch rows are built only for nodes not stored yet (most of its jobs and datasets are): the
        # insert still skips any a concurrent batch stored meanwhile, and those are merged below like the rest.
        # A single event's few rows are cheaper to send than to look up first.
        stored_ids = set(Node.objects.filter(node_id__in_array=[d.node_id for d in deltas])
                         .values_list("node_id", flat=True)) if copy_fast(deltas) else set()
        rows = [_node_row(d, id_map.get(d.parent_node_id or ""), db_now, delta.first_seen.get(d.node_id))
                for d in deltas if d.node_id not in stored_ids]
        inserted = dict(insert_ignore("lineage_node", NODE_COLUMNS, rows, conflict=("node_id",),
                                      returning=("node_id", "id")))
        id_map.update(inserted)
        weakened.extend(_weakened(d.node_id, d.kind, {"deidentifies": False}, {"deidentifies": True})
                        for d in deltas if d.deidentifies and d.node_id in inserted)
        existing = [d for d in deltas if d.node_id not in inserted]
        if copy_fast(existing):
            merged_in_sql = _merge_newer_in_sql(existing, id_map, db_now)
            id_map.update(merged_in_sql)
            existing = [d for d in existing if d.node_id not in merged_in_sql]
        if not existing:
            continue
        stored = _lock_existing([d.node_id for d in existing])
        updates = []
        for d in existing:
            pk, parent_id, row = stored[d.node_id]
            id_map[d.node_id] = pk
            row.event_time = _aware(row.event_time)
            merged = merge_node(row, d)
            if merged.deidentifies and not row.deidentifies:
                weakened.append(_weakened(d.node_id, d.kind, {"deidentifies": False}, {"deidentifies": True}))
            new_parent = parent_id or id_map.get(d.parent_node_id or "")
            if merged != row or new_parent != parent_id:
                updates.append((new_parent, merged.state, _node_json(merged.owners), _node_json(merged.facets),
                                _node_json(merged.attrs), merged.deidentifies, _dt(merged.event_time),
                                _node_json(merged.times), db_now, pk))
        # One set-based UPDATE in pk order (COPY and ``UPDATE ... FROM`` on PostgreSQL).
        update_rows("lineage_node", "id", _NODE_UPDATE_COLUMNS, sorted(updates, key=lambda u: u[-1]))
    return id_map


def _deployment_keys(delta: GraphDelta) -> list[tuple[str, str, str]]:
    """(namespace, model, environment) of every active deploy in the delta, locked in a fixed order.

    A transaction-scoped advisory lock per key orders concurrent deploys of the same model; it is taken
    before any node row is locked, so it cannot close a cycle with the row locks.
    """
    keys = sorted({(s.namespace, s.name, s.environment) for s in delta.supersede})
    if keys and connection.vendor == "postgresql":
        with connection.cursor() as cur:
            for ns, name, env in keys:
                cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", [f"deployment|{ns}|{name}|{env}"])
    return keys


def _supersede(keys: list[tuple[str, str, str]], now: datetime) -> None:
    """Leave one active deployment per model and environment: the latest by event time, whatever arrived first.

    A deploy that arrives after a newer one (out of order, or from a slower client) is superseded at once.
    One query for the active deployments of every key, one update.
    """
    if not keys:
        return
    match = functools.reduce(operator.or_, (Q(namespace=ns, name=name, environment=env) for ns, name, env in keys))
    kept: set[tuple[str, str, str]] = set()
    older = []
    for pk, ns, name, env in (Node.objects.filter(match, kind="deployment", state="active")
                              .order_by(Col("event_time").desc(nulls_last=True), "-node_id")
                              .values_list("pk", "namespace", "name", "environment")):
        if (ns, name, env) in kept:
            older.append(pk)
        kept.add((ns, name, env))
    if older:
        Node.objects.filter(pk__in_array=sorted(older)).update(state="superseded", updated_at=now)


def _existing_edges(delta: GraphDelta, id_map: dict[str, int]) -> list[tuple[int, int, str, datetime]]:
    """Edges to nodes an event names but may not create (a monitored deployment): kept only when the node exists.
    Each with the event time that asserts it."""
    wanted = {n for s, d, _ in delta.existing_edges for n in (s, d)} - set(id_map)
    if wanted:
        id_map = {**id_map, **dict(Node.objects.filter(node_id__in_array=wanted).values_list("node_id", "id"))}
    return [(id_map[s], id_map[d], k, delta.edge_times[(s, d, k)]) for s, d, k in delta.existing_edges
            if s in id_map and d in id_map]


def _monitoring_resolve(records: list[MonitoringRecord], id_map: dict[str, int]) -> None:
    """Fill in the dataset versions the monitoring runs read, now that ``reads_resolve`` decided them."""
    links = read_versions({(r.run, ds) for r in records for ds in r.datasets}, id_map)
    for r in records:
        r.inputs = [links[(r.run, ds)] for ds in r.datasets if (r.run, ds) in links]
        r.measures = [replace(m, dataset_version=links.get((r.run, m.dataset), "")) if m.dataset else m
                      for m in r.measures]


def _apply(delta: GraphDelta, now: datetime, by: User | None = None) -> list[Change]:
    """Apply a delta; returns the audit entries of the classifications it weakened.

    Locks, in the order taken (the deadlock argument is at ``versions.datasets_lock``): the deployments'
    advisory locks, the delta's node rows (``_apply_nodes``), the edges and tags it inserts, the deployment rows
    it supersedes, then the datasets' advisory locks, as late as possible: only version resolution and what reads
    its result (column edges, the history's read times) come after them.
    """
    weakened: list[Change] = []
    deploy_keys = _deployment_keys(delta)
    id_map = _apply_nodes(delta, now, weakened)
    db_now = _dt(now)
    # each edge's event time goes in with it; asof.history_apply moves it back when an earlier one arrives later
    edges = sorted([(id_map[s], id_map[d], k, db_now, _dt(delta.edge_times.get((s, d, k))))
                    for s, d, k in delta.edges]
                   + [(s, d, k, db_now, _dt(t)) for s, d, k, t in _existing_edges(delta, id_map)])
    insert_ignore("lineage_edge", ("src_id", "dst_id", "kind", "created_at", "event_from"), edges,
                  conflict=("src_id", "dst_id", "kind"))
    tags = sorted((id_map[n], f, t, NodeTag.Source.FACET, db_now) for n, f, t in delta.tags)
    new_tags = insert_ignore("lineage_nodetag", ("node_id", "field", "tag", "source", "created_at"), tags,
                             conflict=("node_id", "field", "tag"), returning=("node_id", "field", "tag"))
    marked = {pk for pk, _, tag in new_tags if tag == Tag.DEIDENTIFIED}
    if marked:
        by_pk = {pk: nid for nid, pk in id_map.items() if pk in marked}
        weakened.extend(_weakened(by_pk[pk], "dataset", {"tags": []}, {"tags": [Tag.DEIDENTIFIED.value]})
                        for pk in sorted(marked))
    _supersede(deploy_keys, now)
    datasets_lock(delta)
    relinked = reads_resolve(delta, id_map)
    _apply_columns(delta, id_map, db_now)
    history_apply(delta, id_map, now, relinked)  # lineage as of a time (asof.py): event times, states
    deployed = [d.node_id for d in delta.nodes.values() if d.kind == "deployment" and d.state == "active"]
    if deployed:
        for observe in deployment_observers:
            observe(deployed)
    if delta.monitoring:
        _monitoring_resolve(delta.monitoring, id_map)
        for record_results in monitoring_observers:
            record_results(delta.monitoring, by)
    return weakened


COLUMN_EDGE_COLUMNS = ("src_id", "src_field", "dst_id", "dst_field", "type", "subtype", "description", "masking",
                       "created_at")


def _apply_columns(delta: GraphDelta, id_map: dict[str, int], db_now: Any) -> None:
    """Column edges (``lineage/columns.py``), in key order like the others; a repeat changes nothing.

    The source of each is the version of the input the run read, as linked by ``reads_resolve`` just before;
    an input the event does not list (Spark leaves some out) is taken at its newest version, else the dataset.
    A read relinked later (an earlier write arriving late) takes its column edges along (``versions.py``).
    """
    if not delta.columns:
        return
    runs = {id_map[c[0]] for c in delta.columns}
    read: dict[tuple[int, int | None], int] = {}
    for src, run, parent in Edge.objects.filter(kind="reads", dst__id__in_array=runs).values_list(
            "src_id", "dst_id", "src__parent_id"):
        read[(run, parent)] = src
    unlisted = {id_map[c[1]] for c in delta.columns if (id_map[c[0]], id_map[c[1]]) not in read}
    newest: dict[int, int] = {}
    for pk, parent in (Node.objects.filter(parent__id__in_array=unlisted, kind="datasetVersion")
                       .order_by(Col("event_time").asc(nulls_first=True), "pk").values_list("pk", "parent_id")):
        newest[parent] = pk
    rows = sorted({(read.get((id_map[run], id_map[ds])) or newest.get(id_map[ds]) or id_map[ds], sf, id_map[d], df,
                    t, st, desc, m, db_now) for run, ds, sf, d, df, t, st, desc, m in delta.columns})
    insert_ignore("lineage_columnedge", COLUMN_EDGE_COLUMNS, rows,
                  conflict=("src_id", "src_field", "dst_id", "dst_field", "type", "subtype"))


def _raw_row(ev: ParsedEvent, by: User | None, now: Any, ignored: list[int], *,
             applied: bool = True) -> tuple[Any, ...]:
    return (ev.dedupe_key, ev.kind, ev.event_type or "", _dt(ev.event_time), ev.run_id or "",
            ev.job_namespace or "", ev.job_name or "", ev.producer[:2000], _payload_text(ev.raw),
            ev.raw, ev.sha256, _dumps(ev.warnings), now, by.pk if by else None, _dumps(ignored),
            now if applied else None)



# -- OpenLineage -----------------------------------------------------------------------------------------
def _ingest_change(ev: ParsedEvent) -> Change:
    if ev.kind == "run":
        target = ("run", ids.run_id(ev.run_id or ""))
    elif ev.kind == "job":
        target = ("job", ids.job_id(ev.job_namespace or "", ev.job_name or ""))
    else:
        assert ev.dataset is not None
        target = ("dataset", ids.dataset_id(ev.dataset.namespace, ev.dataset.name))
    return Change("lineage.event_ingested", target[0], target[1],
                  {"sha256": ev.sha256, "eventType": ev.event_type, "eventTime": ev.event_time.isoformat(),
                   "warnings": ev.warnings}, context=ev.context)


def _refusal_change(ev: ParsedEvent, refusal: Refusal) -> Change:
    change = _ingest_change(ev)
    return Change("lineage.event_refused", change.target_kind, change.target_id,
                  {**(change.payload or {}), "status": refusal.status, "field": refusal.field,
                   "message": refusal.message}, context=ev.context)


@transaction.atomic
def events_ingest(*, events: list[ParsedEvent], by: User | None, atomic: bool = False,
                  defer: bool = False) -> list[IngestOutcome]:
    """Store and apply OpenLineage events in one transaction. Exact duplicates are stored once.

    The outcome list is parallel to ``events``: "created" for a new event, "duplicate" for one already
    stored (or repeated earlier in the same batch), "refused" for one that writes where ``by`` may not
    (``guard.py``; nothing of it is stored, the refusal is audited). With ``atomic``, one refusal refuses
    all (``BatchRefused``).

    With ``defer`` the events are stored (with their claims, so the guard already holds them to what they bind)
    and answered exactly as above, but applied to the graph later, by ``lineage_apply_pending`` (``apply_soon``).
    The planner still runs, for the warnings it adds (it is pure).
    """
    now = timezone.now()
    guard = WriteGuard(by=by, events=events)
    refused: dict[int, Refusal] = {}
    ignored: dict[int, list[int]] = {}
    for i, ev in enumerate(events):
        refusal = guard.check(ev)
        if refusal is not None:
            refused[i] = refusal
            continue
        ignored[id(ev)] = guard.foreign_inputs(ev)
        strip_inputs(ev, ignored[id(ev)])
    accepted = [i for i in range(len(events)) if i not in refused]
    late = guard.claims_take([events[i] for i in accepted])  # claimed meanwhile by a concurrent request
    refused.update((accepted[j], refusal) for j, refusal in late.items())
    if refused and atomic:
        raise BatchRefused([IngestOutcome("refused", ev.warnings, refused[i]) if i in refused
                            else IngestOutcome("created", ev.warnings) for i, ev in enumerate(events)])
    first: dict[str, int] = {}
    for i, ev in enumerate(events):
        if i not in refused:
            first.setdefault(ev.dedupe_key, i)
    unique = [events[i] for i in sorted(first.values())]
    for ev in unique:
        ev.received_at = now
    delta = Planner().add_events(unique)
    for ev in unique:  # planning may note the same problem more than once
        ev.warnings[:] = list(dict.fromkeys(ev.warnings))
    # Rows in key order: two batches sharing events then take the unique-index locks in the same order
    # and cannot deadlock (in opposite orders they did, and the loser answered 503).
    inserted = {k for (k,) in insert_ignore("lineage_rawevent", RAW_COLUMNS,
                                            [_raw_row(ev, by, _dt(now), ignored[id(ev)], applied=not defer)
                                             for ev in sorted(unique, key=lambda e: e.dedupe_key)],
                                            conflict=("dedupe_key",), returning=("dedupe_key",))}
    if defer:
        audit_record_many(actor=by, changes=[
            *(_ingest_change(ev) for ev in unique if ev.dedupe_key in inserted),
            *(_refusal_change(events[i], refusal) for i, refusal in sorted(refused.items()))])
        if inserted:
            apply_soon()
    elif len(inserted) != len(unique):
        # Some were stored before: plan again from the new ones only, so duplicates change nothing.
        fresh = [ev for ev in unique if ev.dedupe_key in inserted]
        delta = Planner().add_events(fresh)
    if not defer:
        weakened = _apply(delta, now, by)
        _governance_apply(delta.governance, by)
        audit_record_many(actor=by, changes=[
            *(_ingest_change(ev) for ev in unique if ev.dedupe_key in inserted), *weakened,
            *(_refusal_change(events[i], refusal) for i, refusal in sorted(refused.items()))])
    return [
        IngestOutcome("refused", ev.warnings, refused[i]) if i in refused else
        IngestOutcome("created" if ev.dedupe_key in inserted and first[ev.dedupe_key] == i else "duplicate",
                      ev.warnings)
        for i, ev in enumerate(events)
    ]


# -- appending single events: one statement ---------------------------------------------------------------
def _casts(model: type[Model], columns: tuple[str, ...]) -> list[str]:
    """``%s`` placeholders for ``columns`` of ``model`` in a ``VALUES`` list that is not an INSERT's own: typed, as
    such a list's text literals are not cast to the column types (character columns stay text, so a value too long
    for its column is still refused)."""
    fields = {f.column: f for f in model._meta.concrete_fields}
    out = []
    for c in columns:
        db_type = fields[c].db_type(connection) or ""
        out.append("%s" if db_type.startswith(("varchar", "text")) else f"%s::{db_type}")
    return out


@functools.cache
def _append_templates() -> tuple[str, str]:
    """The ``VALUES`` row of a raw event, and of an audit entry after its place and its raw event's key."""
    return ("(" + ", ".join(_casts(RawEvent, RAW_COLUMNS)) + ")",
            "(%s::int, %s, " + ", ".join(_casts(AuditPending, PENDING_COLUMNS)) + ")")


def _append_statement(claims: tuple[list[tuple[str, str, str]], list[tuple[str, str]]],
                      raw_rows: list[tuple[Any, ...]], audit_rows: list[tuple[Any, ...]]) -> tuple[str, list[Any]]:
    """One statement storing the claims, the raw events (``ON CONFLICT DO NOTHING``) and the audit entries of those
    inserted (``audit_rows`` start with their event's key; they are inserted in their order); it returns the inserted
    keys. The raw rows are selected only once every claim went in (so the claims' unique-index locks are taken first,
    as ``claims_take`` before the raw insert), and a lost claim fails the whole statement (a division by zero)
    rather than keep the others. Table and column names are fixed; every value is a parameter."""
    raw_one, audit_one = _append_templates()
    params: list[Any] = []
    ctes = []
    counts = []
    for name, table, columns, conflict, rows in (("c", "lineage_runclaim", RUN_CLAIM_COLUMNS, "run", claims[0]),
                                                 ("m", "lineage_modelclaim", MODEL_CLAIM_COLUMNS, "model_version",
                                                  claims[1])):
        if rows:
            one = "(" + ", ".join(["%s"] * len(columns)) + ")"
            ctes.append(f"{name} AS (INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
                        f"VALUES {', '.join([one] * len(rows))} ON CONFLICT ({conflict}) DO NOTHING RETURNING 1)")
            counts.append(f"(SELECT count(*) FROM {name})")  # noqa: S608
            params += [v for row in rows for v in row]
    values = ", ".join([raw_one] * len(raw_rows))
    params += [v for row in raw_rows for v in row]
    if counts:
        source = f"SELECT * FROM (VALUES {values}) v WHERE 1 / ({' + '.join(counts)} = %s)::int = 1"  # noqa: S608
        params.append(len(claims[0]) + len(claims[1]))
    else:
        source = f"VALUES {values}"
    ctes.append(f"r AS (INSERT INTO lineage_rawevent ({', '.join(RAW_COLUMNS)}) {source} "
                "ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key)")
    cols = ", ".join(PENDING_COLUMNS)
    picked = ", ".join("v." + c for c in PENDING_COLUMNS)
    ctes.append(f"a AS (INSERT INTO audit_auditpending ({cols}) SELECT {picked} "  # noqa: S608
                f"FROM r JOIN (VALUES {', '.join([audit_one] * len(audit_rows))}) v (n, dedupe_key, {cols}) "
                "USING (dedupe_key) ORDER BY v.n)")
    params += [v for n, row in enumerate(audit_rows) for v in (n, *row)]
    return "WITH " + ", ".join(ctes) + " SELECT dedupe_key FROM r", params  # noqa: S608


def _append_fast() -> bool:
    """Whether ``events_append`` can store in one statement: PostgreSQL, outside a transaction (a statement is one),
    and audit entries only appended (the inline sequencer chains them in the writer's transaction)."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block and not sequencer_inline()


def events_append(*, events: list[ParsedEvent], by: User | None) -> list[IngestOutcome]:
    """``events_ingest(events=events, by=by, defer=True)``, answered alike, in two round trips on PostgreSQL.

    The guard reads (one statement, outside a transaction: under read committed each statement reads the latest
    commits anyway), then one statement with data-modifying CTEs stores the claims, the raw events and the audit
    entries of those inserted, atomically. Anything out of the ordinary goes the way of ``events_ingest`` with the
    events parsed again from their bytes (the guard and the planner changed them): a refused event (its refusal is
    audited, and a group's other events must not bind what it claims), or a claim a concurrent request took between
    the read and the insert (read back and judged there). Not PostgreSQL, or inside a transaction: the same.
    """
    if not _append_fast():
        return events_ingest(events=events, by=by, defer=True)
    received = [list(ev.warnings) for ev in events]

    def again() -> list[IngestOutcome]:
        return events_ingest(events=[event_again(ev, w) for ev, w in zip(events, received, strict=True)], by=by,
                             defer=True)

    now = timezone.now()
    guard = WriteGuard(by=by, events=events)
    ignored: dict[int, list[int]] = {}
    for ev in events:
        if guard.check(ev) is not None:
            return again()
        ignored[id(ev)] = guard.foreign_inputs(ev)
        strip_inputs(ev, ignored[id(ev)])
    claims = guard.claim_rows(events)
    first: dict[str, int] = {}
    for i, ev in enumerate(events):
        first.setdefault(ev.dedupe_key, i)
    unique = [events[i] for i in sorted(first.values())]
    for ev in unique:
        ev.received_at = now
    Planner().add_events(unique)  # for the warnings it adds (it is pure)
    for ev in unique:  # planning may note the same problem more than once
        ev.warnings[:] = list(dict.fromkeys(ev.warnings))
    raw_rows = [_raw_row(ev, by, _dt(now), ignored[id(ev)], applied=False)
                for ev in sorted(unique, key=lambda e: e.dedupe_key)]
    audit_rows = [(ev.dedupe_key, *row) for ev, row in
                  zip(unique, audit_pending_rows(actor=by, changes=[_ingest_change(ev) for ev in unique]), strict=True)]
    sql, params = _append_statement(claims, raw_rows, audit_rows)
    try:
        with connection.cursor() as cur:
            cur.execute(sql, params)
            inserted = {k for (k,) in cur.fetchall()}
    except DataError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "22012":
            raise
        return again()  # a claim was taken meanwhile (the division by zero): nothing was stored
    if inserted:
        apply_soon()
    return [IngestOutcome("created" if ev.dedupe_key in inserted and first[ev.dedupe_key] == i else "duplicate",
                          ev.warnings) for i, ev in enumerate(events)]


def event_again(ev: ParsedEvent, warnings: list[str]) -> ParsedEvent:
    """``ev`` as it was received, before the guard and the planner changed it: parsed again from its bytes, with
    ``warnings``, those it had then (its time's checks add some: ``lineage.api.ingest.parse_checked``)."""
    again = parse_event(ev.raw)
    again.warnings[:] = warnings
    again.context = ev.context
    return again


# -- deferred application: append now, apply in micro-batches ---------------------------------------------
# ``POST /api/v1/lineage`` with ``LINEAGE_INGEST_DEFER``: the request stores the raw event (which makes its 201/200
# exact) and its claims (``events_ingest(defer=True)``), and the graph is applied moments later by
# ``lineage_apply_pending`` (the ``lineage.apply_pending`` task), many events per transaction.
# docs/lineage-ingest.md: what a reader sees meanwhile.
def apply_soon() -> None:
    """Have the waiting events applied: at once in-process when Celery runs eagerly (no broker: a newcomer sees
    the graph in the answer's transaction, after the events are stored), else the ``lineage.apply_pending`` task
    once the transaction commits, enqueued unless one is pending."""
    from .tasks import apply_pending_schedule  # the task module imports this one

    apply_pending_schedule()


@dataclass(slots=True)
class ApplyCount:
    applied: int = 0
    failed: int = 0
    batches: int = 0

    def line(self) -> str:
        return f"applied {self.applied} events in {self.batches} batches; {self.failed} failed"


_PENDING_COLUMNS = ("id", "body", "payload", "ignored_inputs", "received_at", "received_by_id")
# The sender's whole row, read with the claim (a LEFT JOIN; only the raw events are locked): ``in_bulk`` read it in
# a statement of its own every micro-batch.
_SENDER_FIELDS = tuple(f.attname for f in User._meta.concrete_fields)
_SENDER_COLUMNS = tuple(f"received_by__{name}" for name in _SENDER_FIELDS)

Pending = list[tuple[int, int | None, ParsedEvent]]


def _pending_claim(qs: Any, limit: int | None = None) -> tuple[list[tuple[Any, ...]], dict[int, User]]:
    """Lock the waiting raw events of ``qs`` (``FOR UPDATE SKIP LOCKED``, oldest first, at most ``limit``) and read
    them with their senders in one statement: their ``_PENDING_COLUMNS`` (for ``_pending_events``), and sender id ->
    User."""
    qs = qs.select_for_update(skip_locked=True, of=("self",)).order_by("id")
    qs = qs.values_list(*_PENDING_COLUMNS, *_SENDER_COLUMNS)
    rows = list(qs[:limit] if limit is not None else qs)
    users: dict[int, User] = {}
    width = len(_PENDING_COLUMNS)
    for row in rows:
        sender = row[width - 1]
        if sender is not None and sender not in users:
            users[sender] = User.from_db(connection.alias, _SENDER_FIELDS, row[width:])
    return [row[:width] for row in rows], users


def _pending_events(rows: list[tuple[Any, ...]]) -> Pending:
    """(raw id, sender id, event) parsed again from the bytes received, what was ignored then ignored again."""
    out = []
    for pk, body, payload, ignored, received, sender in rows:
        ev = parse_event(bytes(body) if body is not None else _dumps(payload).encode())
        strip_inputs(ev, ignored)
        ev.received_at = _aware(received)
        out.append((pk, sender, ev))
    return out


def _apply_events(events: Pending, users: dict[int, User]) -> None:
    """Apply waiting events in the caller's transaction and mark them applied.

    Consecutive events of one sender are one delta (hooks and audit entries act for that sender). The receipt clock
    (as of a time, ``asof.py``) reads each delta at the latest receipt time among its events, as a rebuild does.
    ``applied_at`` is stamped last, just before the commit: the apply lag (``bench/ingest.py``) is measured by it."""
    start = 0
    while start < len(events):
        sender = events[start][1]
        end = start
        while end < len(events) and events[end][1] == sender:
            end += 1
        group = [ev for _, _, ev in events[start:end]]
        by = users.get(sender) if sender is not None else None
        planner = Planner()
        planner.add_events(group)
        received = max(ev.received_at or timezone.now() for ev in group)
        with replaying():
            weakened = _apply(planner.delta, received, by)
        _governance_apply(planner.delta.governance, by)
        audit_record_many(actor=by, changes=weakened)
        start = end
    RawEvent.objects.filter(pk__in_array=[pk for pk, _, _ in events]).update(applied_at=timezone.now(),
                                                                             apply_error="")


def lineage_apply_pending(*, batch_size: int | None = None, retry_failed: bool = False,
                          max_batches: int | None = None) -> ApplyCount:
    """Apply the events waiting in the raw log, oldest first, ``batch_size`` per transaction, until none is left.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so appliers running at once share the work. A micro-batch
    that fails is applied again one event per transaction; an event that fails alone keeps waiting with its error
    in ``apply_error`` and is skipped from then on (``retry_failed``: first each of those is retried once, alone,
    as ``manage.py lineage_apply_pending --retry-failed`` does).
    """
    size = batch_size or settings.LINEAGE_APPLY_BATCH
    count = ApplyCount()
    if retry_failed:
        failed = RawEvent.objects.filter(applied_at__isnull=True).exclude(apply_error="")
        _apply_each(list(failed.order_by("id").values_list("id", flat=True)), count)
    waiting = RawEvent.objects.filter(applied_at__isnull=True, apply_error="")
    while max_batches is None or count.batches < max_batches:
        claimed: list[int] = []
        try:
            with transaction.atomic():
                rows, users = _pending_claim(waiting, size)
                if not rows:
                    break
                claimed = [row[0] for row in rows]
                _apply_events(_pending_events(rows), users)
            count.applied += len(claimed)
            count.batches += 1
        except Exception:  # noqa: BLE001 - one bad event must not hold the others back
            if not claimed:
                raise
            _apply_each(claimed, count)
    return count


def _apply_each(pks: list[int], count: ApplyCount) -> None:
    """Apply each of ``pks`` alone (``_apply_one``), counted as one batch."""
    count.batches += 1
    for pk in pks:
        done = _apply_one(pk)
        if done:
            count.applied += 1
        elif done is not None:
            count.failed += 1


def _apply_one(pk: int) -> bool | None:
    """Apply one waiting event in its own transaction; on failure record why (it then waits for an operator).
    True once applied, False when it failed, None when it no longer waits (or another applier holds it)."""
    try:
        with transaction.atomic():
            rows, users = _pending_claim(RawEvent.objects.filter(pk=pk, applied_at__isnull=True))
            if not rows:
                return None
            _apply_events(_pending_events(rows), users)
        return True
    except Exception as exc:  # noqa: BLE001 - recorded on the event
        error = f"{type(exc).__name__}: {exc}"[:2000]
        RawEvent.objects.filter(pk=pk, applied_at__isnull=True).update(apply_error=error)
        return False


# -- portal records (REST) ---------------------------------------------------------------------------------
def _portal_record(kind: str, identity: str, payload: dict[str, Any], t: datetime, by: User | None) -> bool:
    """Keep a REST submission in the raw log beside OpenLineage events, so a rebuild replays it too."""
    body = _dumps(payload)
    key = hashlib.sha256(f"{kind}|{identity}|{t.astimezone(UTC).isoformat()}|{body}".encode()).hexdigest()
    now = _dt(timezone.now())
    row = (key, kind, "", _dt(t), "", "", "", "portal-api", body, body.encode(),
           hashlib.sha256(body.encode()).hexdigest(), "[]", now, by.pk if by else None, "[]", now)
    return bool(insert_ignore("lineage_rawevent", RAW_COLUMNS, [row], conflict=("dedupe_key",),
                              returning=("id",)))


def _commit_delta(planner: Planner, p: dict[str, Any]) -> str:
    attrs = {k: p[k] for k in ("author_name", "author_email", "committer_name", "committer_email", "message",
                               "branch") if p.get(k)}
    attrs["committed_at"] = p["time"]
    return planner.add_commit(repo=p["repo"], sha=p["sha"], t=parse_time(p["time"], []), attrs=attrs)


def _model_ref(p: dict[str, Any]) -> F.ModelRef:
    return F.ModelRef(p["namespace"], p["name"], str(p["version"]), p.get("framework", ""),
                      p.get("metrics") or {}, p.get("parameters") or {})


def _model_delta(planner: Planner, p: dict[str, Any]) -> str:
    # ``registry`` (a model registry's own facts: stage, tags, source...) and ``artifact`` (the node id of the
    # dataset version holding the model) come from importers (lineage/importers/), not the REST API.
    attrs: dict[str, Any] = {k: p[k] for k in ("description", "registry", "artifact") if p.get(k)}
    attrs["produced_in"] = p.get("produced_in") or p["namespace"]
    mv = planner.add_model_version(_model_ref(p), parse_time(p["time"], []), run_uuid=p.get("run_id"),
                                   attrs=attrs)
    planner.delta.add_governance(mv, p.get("inventory"))
    return mv


def _deployment_delta(planner: Planner, p: dict[str, Any]) -> str:
    dep = F.DeploymentRef(_model_ref(p["model"]), p["environment"], p["action"], p.get("endpoint", ""))
    nid = planner.add_deployment(dep, parse_time(p["time"], []))
    planner.delta.add_governance(nid, p.get("profile"))
    return nid


def _alias_delta(planner: Planner, p: dict[str, Any]) -> str:
    """A registry's aliases of one model (``champion`` -> version) as observed, with the moves seen so far.

    Every version named now, before or in the history gets its current aliases and its part of the history,
    so a replay of the records in order rebuilds the same facts.
    """
    t = parse_time(p["time"], [])
    current, history = p["aliases"], p.get("history") or []
    versions = set(current.values()) | set(p.get("previous", {}).values())
    versions |= {h[k] for h in history for k in ("from", "to") if h.get(k)}
    first = ""
    for version in sorted(versions):
        attrs = {"aliases": sorted(a for a, v in current.items() if v == version),
                 "alias_history": [h for h in history if version in (h.get("from"), h.get("to"))]}
        nid = planner.add_model_version(F.ModelRef(p["namespace"], p["name"], version, "", {}, {}), t,
                                        run_uuid=None, attrs=attrs)
        moved_here = any(h.get("to") == version for h in p.get("moves", []))
        if not first or moved_here:
            first = nid
    return first


def _record_guard(kind: str, payload: dict[str, Any], by: User | None) -> None:
    guard = WriteGuard(by=by, events=[])
    if kind == "modelVersion":
        ns = payload["namespace"]
        mv = ids.model_version_id(ns, payload["name"], str(payload["version"]))
        producer = _model_producer(payload)
        guard.load_owners([ns])
        refusal = guard.record_check(namespace=ns, field="namespace", model=mv, producer=producer)
        if refusal is None:
            # The claim is taken in this transaction (or was: a concurrent registration is read back and checked
            # again). Kept in the raw record, so a rebuild replays it; a registration by the owner keeps the first.
            payload["produced_in"] = model_claim_take(mv, producer)
            refusal = guard.record_check(namespace=ns, field="namespace", model=mv, producer=producer)
    elif kind == "deployment":
        ns = payload["model"]["namespace"]
        guard.load_owners([ns])
        refusal = guard.record_check(namespace=ns, field="model.namespace")
    else:
        return
    if refusal is not None:
        raise WriteRefused(refusal)


def _model_producer(p: dict[str, Any]) -> str:
    """The namespace a model version registered by REST is produced in: its training run's job's, else its own."""
    if p.get("run_id"):
        job = run_job_namespace(ids.run_id(p["run_id"]))  # claimed: also a run whose events wait to be applied
        if job:
            return str(job)
    return str(p["namespace"])


_PORTAL_KINDS = {"commit": _commit_delta, "modelVersion": _model_delta, "deployment": _deployment_delta,
                 "modelAlias": _alias_delta}


@transaction.atomic
def portal_record_ingest(*, kind: str, payload: dict[str, Any], by: User | None) -> Node:
    """Record a commit, model version or deployment sent through the REST API and apply it to the graph.

    ``payload`` is validated input with a ``time`` (ISO 8601 string). Returns the node. A model version or
    deployment outside the namespaces ``by`` may write is refused (``WriteRefused``), and so is a model version
    another namespace produced first.
    """
    node_id, _ = _portal_record_apply(kind, payload, by)
    return Node.objects.get(node_id=node_id)


@transaction.atomic
def portal_records_ingest(*, kind: str, payloads: list[dict[str, Any]], by: User | None) -> int:
    """Record several portal records of one kind (importers use it); returns how many were new."""
    return sum(_portal_record_apply(kind, p, by)[1] for p in payloads)


def _portal_record_apply(kind: str, payload: dict[str, Any], by: User | None) -> tuple[str, bool]:
    _record_guard(kind, payload, by)
    planner = Planner()
    node_id = _PORTAL_KINDS[kind](planner, payload)
    created = _portal_record(kind, node_id, payload, parse_time(payload["time"], []), by)
    if created:
        _apply(planner.delta, timezone.now())  # an exact repeat is stored once and changes nothing
        _governance_apply(planner.delta.governance, by)
        audit_record(actor=by, action=f"lineage.{kind}_recorded", target_kind=kind, target_id=node_id,
                     payload=payload)
    return node_id, created


# -- tags ------------------------------------------------------------------------------------------------
@transaction.atomic
def node_tag_set(*, node: Node, tag: str, field: str = "", by: User | None) -> NodeTag:
    obj, created = NodeTag.objects.get_or_create(node=node, field=field, tag=tag,
                                                 defaults={"source": NodeTag.Source.API, "created_at": timezone.now()})
    if created:
        audit_record(actor=by, action="lineage.tag_added", target_kind=node.kind, target_id=node.node_id,
                     payload={"field": field, "tag": tag, "before": None, "after": tag})
    return obj


@transaction.atomic
def node_tag_remove(*, node: Node, tag: str, field: str = "", by: User | None) -> int:
    deleted, _ = NodeTag.objects.filter(node=node, field=field, tag=tag).delete()
    if deleted:
        audit_record(actor=by, action="lineage.tag_removed", target_kind=node.kind, target_id=node.node_id,
                     payload={"field": field, "tag": tag, "before": tag, "after": None})
    return deleted


# -- rebuild ---------------------------------------------------------------------------------------------
@transaction.atomic
def lineage_rebuild(*, batch_size: int = 2000, by: User | None = None) -> int:
    """Rebuild the whole graph from the raw event log, in the order it was received.

    Nodes keep their identity (releases and violations point at them): their content is reset and replayed,
    edges and facet tags are rebuilt, tags set through the API are kept, and nodes no event mentions any more
    are removed unless something else still refers to them. Returns the number of events replayed.
    """
    Edge.objects.all().delete()
    ColumnEdge.objects.all().delete()
    DatasetRead.objects.all().delete()
    DatasetWrite.objects.all().delete()
    NodeTag.objects.exclude(source=NodeTag.Source.API).delete()
    history_clear()
    Node.objects.update(facets={}, attrs={}, owners=[], state="", deidentifies=False, event_time=None, parent=None,
                        times={})
    count = 0
    batch: list[ParsedEvent] = []
    touched: set[str] = set()

    def apply(planner: Planner, received: datetime) -> None:
        touched.update(planner.delta.nodes)
        with replaying():  # at its receipt time: lineage as of a receipt time survives a rebuild
            _apply(planner.delta, received)

    def flush() -> None:
        if batch:
            planner = Planner()
            planner.add_events(batch)
            apply(planner, batch[0].received_at or timezone.now())
            batch.clear()

    # Events still waiting are applied by the replay too (and marked so); one that failed alone keeps waiting.
    log = RawEvent.objects.filter(Q(applied_at__isnull=False) | Q(apply_error=""))
    RawEvent.objects.filter(applied_at__isnull=True, apply_error="").update(applied_at=timezone.now())
    for kind, payload, body, ignored, received in log.order_by("id").values_list(
        "kind", "payload", "body", "ignored_inputs", "received_at"
    ).iterator(chunk_size=batch_size):
        count += 1
        if kind in _PORTAL_KINDS:
            flush()
            planner = Planner()
            _PORTAL_KINDS[kind](planner, payload)
            apply(planner, _aware(received) or timezone.now())
            continue
        if batch and batch[0].received_at != _aware(received):
            flush()  # one batch per receipt, as the events arrived
        ev = parse_event(bytes(body) if body is not None else _dumps(payload).encode())
        strip_inputs(ev, ignored)  # what was ignored when it arrived stays ignored
        ev.received_at = _aware(received)
        batch.append(ev)
        if len(batch) >= batch_size:
            flush()
    flush()
    removed = 0
    linked = set(Edge.objects.values_list("src_id", flat=True)) | set(Edge.objects.values_list("dst_id", flat=True))
    stale = [pk for pk, nid in Node.objects.values_list("pk", "node_id").iterator()
             if nid not in touched and pk not in linked]
    for pk in stale:
        node = Node(pk=pk)
        try:
            with transaction.atomic():
                node.delete()
                removed += 1
        except ProtectedError:
            pass  # still referenced (a release, a violation): kept, empty
    audit_record(actor=by, action="lineage.rebuilt",
                 payload={"events": count, "nodes": Node.objects.count(), "removed": removed})
    return count

