"""Turn parsed OpenLineage events into a graph delta: nodes to upsert, edges and tags to add.

Pure: no ORM. ``services.py`` applies a delta to the database; ``merge_node`` is the one rule for
combining what a node already holds with what a new event says, used both within a batch and
against stored rows, so ingest order within and across batches gives the same graph.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import facets as F
from . import ids
from . import monitoring as M
from .columns import column_links
from .openlineage import DatasetRef, ParsedEvent

# OpenLineage event type -> run state (Marquez's names).
RUN_STATES = {
    "START": "RUNNING",
    "RUNNING": "RUNNING",
    "COMPLETE": "COMPLETED",
    "FAIL": "FAILED",
    "ABORT": "ABORTED",
}
TERMINAL_STATES = frozenset({"COMPLETED", "FAILED", "ABORTED"})
PARENT_KINDS = ("datasetVersion", "run")  # kinds whose row points at a parent node
INITIAL_VERSION = "initial"


@dataclass(slots=True)
class NodeDelta:
    """What one or more events say about one node. ``times`` holds the event time of each facet, attribute,
    the owners and the state it carries (filled from ``event_time`` for a delta from one event)."""

    node_id: str
    kind: str
    namespace: str
    name: str
    version: str = ""
    environment: str = ""
    parent_node_id: str | None = None
    facets: dict[str, Any] = field(default_factory=dict)
    deleted_facets: set[str] = field(default_factory=set)
    attrs: dict[str, Any] = field(default_factory=dict)
    owners: list[str] = field(default_factory=list)
    state: str = ""
    state_time: datetime | None = None
    deidentifies: bool = False
    event_time: datetime | None = None
    times: dict[str, Any] | None = None


@dataclass(slots=True)
class NodeRow:
    """The mutable columns of a stored node. ``times``: ``{"facets": {name: t}, "attrs": {key: t}, "owners": t,
    "state": t}``, each ``t`` a UTC time text (``stamp``); a facet with a time and no value was deleted then."""

    facets: dict[str, Any]
    attrs: dict[str, Any]
    owners: list[str]
    state: str
    deidentifies: bool
    event_time: datetime | None
    times: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Supersede:
    """A deploy makes other active deployments of the same model in the same environment superseded."""

    namespace: str
    name: str
    environment: str
    keep_node_id: str
    event_time: datetime


@dataclass(slots=True)
class GraphDelta:
    nodes: dict[str, NodeDelta] = field(default_factory=dict)
    edges: set[tuple[str, str, str]] = field(default_factory=set)
    tags: set[tuple[str, str, str]] = field(default_factory=set)  # node_id, field, tag
    supersede: list[Supersede] = field(default_factory=list)
    # (run, dataset) -> (read time, version the reader named or None): resolved when applied (``versions.py``)
    reads: dict[tuple[str, str], tuple[datetime, str | None]] = field(default_factory=dict)
    # (dataset, version) -> (writing run, completion time) of finished writes
    writes: dict[tuple[str, str], tuple[str, datetime]] = field(default_factory=dict)
    # run -> the earliest time any of its events carries: its start, when the START is among them
    run_starts: dict[str, datetime] = field(default_factory=dict)
    # node_id -> governance attributes (model field names, see lineage/governance_fields.py); later events win.
    governance: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Monitoring runs' results (lineage/monitoring.py), and edges to nodes that must already exist (a monitoring
    # run names the deployment it watches; it never creates one): dropped when the node is unknown.
    monitoring: list[M.MonitoringRecord] = field(default_factory=list)
    existing_edges: set[tuple[str, str, str]] = field(default_factory=set)
    # run, src dataset id, src field, dst version id, dst field, type, subtype, description, masking (columns.py)
    columns: set[tuple[str, str, str, str, str, str, str, str, bool]] = field(default_factory=set)
    # When the events said it first (their earliest event time): each edge (``edges`` and ``existing_edges``)
    # and each node. Lineage as of an event time (``asof.py``) is built from these.
    edge_times: dict[tuple[str, str, str], datetime] = field(default_factory=dict)
    first_seen: dict[str, datetime] = field(default_factory=dict)
    # Every (node, state, event time) an event said, before merging keeps the latest: state as of an event time.
    states: set[tuple[str, str, datetime]] = field(default_factory=set)
    # (node, field, tag) -> the earliest event time a facet carried it
    tag_times: dict[tuple[str, str, str], datetime] = field(default_factory=dict)

    def edge(self, src: str, dst: str, kind: str, t: datetime, *, existing: bool = False) -> None:
        """An edge the events assert at ``t``; ``existing``: kept only if both ends already exist."""
        (self.existing_edges if existing else self.edges).add((src, dst, kind))
        key = (src, dst, kind)
        self.edge_times[key] = min(t, self.edge_times.get(key, t))
        if not existing:
            for nid in (src, dst):
                self.first_seen[nid] = min(t, self.first_seen.get(nid, t))

    def add(self, delta: NodeDelta) -> None:
        if delta.event_time is not None:
            t = delta.event_time
            self.first_seen[delta.node_id] = min(t, self.first_seen.get(delta.node_id, t))
        said = delta.state_time or delta.event_time
        if delta.state and said is not None:
            self.states.add((delta.node_id, delta.state, said))
        cur = self.nodes.get(delta.node_id)
        if cur is None:
            self.nodes[delta.node_id] = delta
            return
        if cur.times is None:  # its first merge: from now on it holds its own dicts and a time per part
            cur.facets = {k: v for k, v in cur.facets.items() if k not in cur.deleted_facets}
            cur.attrs = dict(cur.attrs)
            cur.times = _times_of(cur)
        # In place: a batch names a popular dataset hundreds of times, and copying what it holds at every
        # mention was most of the planning time. ``merge_node`` is the same rule on a copy.
        _merge_into(cur, delta)
        assert cur.times is not None
        cur.deleted_facets = {n for n in cur.times["facets"] if n not in cur.facets}
        cur.parent_node_id = cur.parent_node_id or delta.parent_node_id

    def read(self, run: str, dataset: str, t: datetime, version: str | None) -> None:
        cur = self.reads.get((run, dataset))
        if cur is not None:
            t = min(t, cur[0])
            version = max(v for v in (version, cur[1]) if v is not None) if version or cur[1] else None
        self.reads[(run, dataset)] = (t, version)

    def write(self, dataset: str, version: str, run: str, t: datetime) -> None:
        cur = self.writes.get((dataset, version))
        self.writes[(dataset, version)] = min((run, t), cur, key=lambda w: (w[1], w[0])) if cur else (run, t)

    def run_start(self, run: str, t: datetime) -> None:
        cur = self.run_starts.get(run)
        self.run_starts[run] = t if cur is None else min(cur, t)

    def add_governance(self, node_id: str, fields: dict[str, Any] | None) -> None:
        if not fields:
            return
        cur = self.governance.setdefault(node_id, {})
        hashes = set(cur.get("subject_key_hashes", ())) | set(fields.get("subject_key_hashes", ()))
        cur.update(fields)
        if hashes:
            cur["subject_key_hashes"] = sorted(hashes)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


@functools.lru_cache(maxsize=8192)  # a batch stamps each event's time once per node it names
def stamp(t: datetime | None) -> str:
    """An event time as text that sorts as the time does ("" for none: older than any)."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if t is not None else ""


def _times_of(d: NodeDelta) -> dict[str, Any]:
    if d.times is not None:
        return d.times
    t = stamp(d.event_time)
    out: dict[str, Any] = {"facets": {n: t for n in (*d.facets, *d.deleted_facets)},
                           "attrs": {k: t for k in d.attrs}}
    if d.owners:
        out["owners"] = t
    if d.state:
        out["state"] = stamp(d.state_time or d.event_time)
    return out


def _as_row(d: NodeDelta) -> NodeRow:
    facets = {k: v for k, v in d.facets.items() if k not in d.deleted_facets}
    return NodeRow(facets, dict(d.attrs), list(d.owners), d.state, d.deidentifies, d.event_time, _times_of(d))


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _newer(a_time: str, a_value: Any, b_time: str, b_value: Any) -> bool:
    """Whether b beats a: the later time, and on a tie the greater value (so no order decides)."""
    if b_time != a_time:
        return b_time > a_time
    return _canon(b_value) > _canon(a_value)


_MISSING = object()


def _merge_keys(out: dict[str, Any], times: dict[str, str], items: Iterable[tuple[str, str, Any]],
                untimed: str) -> None:
    """In place, key by key, the value with the later time (a time without a value, ``_MISSING``, is a
    deletion). A stored key without its own time (a row from before times were kept) counts at ``untimed``, the
    row's newest event time."""
    for key, nt, nv in items:
        if key in times or key in out:
            ct = times.get(key, untimed)
            if nt < ct:
                continue
            if nt == ct:
                cv = out.get(key)  # a deleted key compares as None, as its missing value does
                if _canon(None if nv is _MISSING else nv) <= _canon(cv):
                    continue
        times[key] = nt
        if nv is _MISSING:
            out.pop(key, None)
        else:
            out[key] = nv


def _said(d: NodeDelta, values: dict[str, Any], part: str) -> Iterable[tuple[str, str, Any]]:
    """(key, time, value or ``_MISSING``) of each facet or attribute a delta says."""
    if d.times is None:  # one event's: all at its time, its deleted facets without a value
        t = stamp(d.event_time)
        if part == "facets" and d.deleted_facets:
            return [*((k, t, v) for k, v in values.items() if k not in d.deleted_facets),
                    *((k, t, _MISSING) for k in d.deleted_facets)]
        return [(k, t, v) for k, v in values.items()]
    kt: dict[str, str] = d.times.get(part, {})
    said = [(k, t, values.get(k, _MISSING)) for k, t in kt.items()]
    untimed = [(k, "", v) for k, v in values.items() if k not in kt]  # none in the planner's own deltas
    return said + untimed if untimed else said


def _state_rank(state: str, t: str, kind: str) -> tuple[Any, ...]:
    # A finished run is never reopened: any terminal state outranks any other, then the later time wins.
    return (kind == "run" and state in TERMINAL_STATES, t, state)


def run_state_merge(cur: str, cur_time: datetime | None, new: str, new_time: datetime | None) -> str:
    """The run's state is the latest by event time, except that nothing reopens a finished run."""
    if not new:
        return cur
    if not cur:
        return new
    return max((cur, stamp(cur_time)), (new, stamp(new_time)), key=lambda s: _state_rank(s[0], s[1], "run"))[0]


def merge_node(cur: NodeRow, delta: NodeDelta) -> NodeRow:
    """Combine a stored node with a delta, each facet, attribute, the owners and the state by its own event
    time, never by arrival: the same events in any order, in any batches, give the same node. ``cur`` is not
    changed."""
    ct = cur.times or {}
    row = NodeRow(dict(cur.facets), dict(cur.attrs), cur.owners, cur.state, cur.deidentifies, cur.event_time,
                  {**ct, "facets": dict(ct.get("facets", {})), "attrs": dict(ct.get("attrs", {}))})
    _merge_into(row, delta)
    return row


def _merge_into(cur: NodeRow | NodeDelta, delta: NodeDelta) -> None:
    """``merge_node`` in place: ``cur`` must own its dicts (``facets``, ``attrs``, ``times`` and the time maps
    in it), and hold its times."""
    ct = cur.times or {}
    untimed = stamp(cur.event_time)
    ftimes, atimes = ct.get("facets", {}), ct.get("attrs", {})
    _merge_keys(cur.facets, ftimes, _said(delta, delta.facets, "facets"), untimed)
    _merge_keys(cur.attrs, atimes, _said(delta, delta.attrs, "attrs"), untimed)
    nt = delta.times
    if nt is None:
        t = stamp(delta.event_time)
        new_otime = t if delta.owners else ""
        new_stime = stamp(delta.state_time or delta.event_time) if delta.state else ""
    else:
        new_otime, new_stime = nt.get("owners", ""), nt.get("state", "")
    times: dict[str, Any] = {"facets": ftimes, "attrs": atimes}
    otime = ct.get("owners", untimed if cur.owners else "")
    if delta.owners and (not cur.owners or _newer(otime, cur.owners, new_otime, delta.owners)):
        cur.owners, otime = list(delta.owners), new_otime
    if otime:
        times["owners"] = otime
    stime = ct.get("state", untimed if cur.state else "")
    if delta.state and (not cur.state or _state_rank(delta.state, new_stime, delta.kind)
                        > _state_rank(cur.state, stime, delta.kind)):
        cur.state, stime = delta.state, new_stime
    if stime:
        times["state"] = stime
    cur.times = times
    cur.deidentifies = cur.deidentifies or delta.deidentifies
    cur.event_time = _later(cur.event_time, delta.event_time)


def _split_deleted(facets: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    kept: dict[str, Any] = {}
    deleted: set[str] = set()
    for name, value in facets.items():
        if isinstance(value, dict) and value.get("_deleted") is True:
            deleted.add(name)
        else:
            kept[name] = value
    return kept, deleted


class Planner:
    """Builds one GraphDelta from many events, in any order: nothing it plans depends on which came first."""

    def __init__(self) -> None:
        self.delta = GraphDelta()

    @staticmethod
    def time(ev: ParsedEvent) -> datetime:
        """The time the event counts at: its own, but never later than when the portal received it (a clock
        ahead of the portal's must not pin state or facets)."""
        if ev.received_at is not None and ev.event_time > ev.received_at:
            return ev.received_at
        return ev.event_time

    def add_events(self, events: list[ParsedEvent]) -> GraphDelta:
        for ev in sorted(events, key=lambda e: e.event_time):
            self.add_event(ev)
        return self.delta

    # -- nodes -----------------------------------------------------------------------------------------
    def _dataset(self, d: DatasetRef, t: datetime, warnings: list[str] | None = None) -> str:
        nid = ids.dataset_id(d.namespace, d.name)
        facets, deleted = _split_deleted(d.facets)
        self.delta.add(NodeDelta(nid, "dataset", d.namespace, d.name, facets=facets, deleted_facets=deleted,
                                 owners=F.owners(facets), event_time=t))
        for column, tag in F.dataset_tags(facets, warnings):
            self.delta.tags.add((nid, column, tag))
            self.delta.tag_times[(nid, column, tag)] = min(t, self.delta.tag_times.get((nid, column, tag), t))
        if warnings is not None:
            self.delta.add_governance(nid, F.dataset_governance(facets, f"dataset {d.namespace}:{d.name}", warnings))
        return nid

    def _dataset_version(self, d: DatasetRef, version: str, t: datetime, attrs: dict[str, Any]) -> str:
        vid = ids.dataset_version_id(d.namespace, d.name, version)
        facets, _ = _split_deleted({**d.facets, **d.input_facets, **d.output_facets})
        self.delta.add(NodeDelta(vid, "datasetVersion", d.namespace, d.name, version=version,
                                 parent_node_id=ids.dataset_id(d.namespace, d.name), facets=facets,
                                 attrs=attrs, event_time=t))
        return vid

    def _job(self, ns: str, name: str, facets: dict[str, Any], t: datetime, attrs: dict[str, Any]) -> str:
        nid = ids.job_id(ns, name)
        kept, deleted = _split_deleted(facets)
        self.delta.add(NodeDelta(nid, "job", ns, name, facets=kept, deleted_facets=deleted,
                                 owners=F.owners(kept), attrs=attrs, event_time=t))
        return nid

    def _run(self, run_uuid: str, job_ns: str, job_name: str, t: datetime, **kw: Any) -> str:
        nid = ids.run_id(run_uuid)
        self.delta.add(NodeDelta(nid, "run", job_ns, run_uuid, parent_node_id=ids.job_id(job_ns, job_name),
                                 event_time=t, **kw))
        return nid

    def _model_version(self, m: F.ModelRef, t: datetime, attrs: dict[str, Any] | None = None) -> str:
        nid = ids.model_version_id(m.namespace, m.name, m.version)
        a: dict[str, Any] = dict(attrs or {})
        if m.framework:
            a["framework"] = m.framework
        if m.metrics:
            a["metrics"] = m.metrics
        if m.parameters:
            a["parameters"] = m.parameters
        self.delta.add(NodeDelta(nid, "modelVersion", m.namespace, m.name, version=m.version, attrs=a,
                                 event_time=t))
        return nid

    # -- events ----------------------------------------------------------------------------------------
    def add_event(self, ev: ParsedEvent) -> None:
        """Plan one event: a dataset event names a dataset; a job event its job, commit and datasets; a run
        event also the run, its parent run, the versions it read and wrote, the models and the deployment."""
        t = self.time(ev)
        if ev.kind == "dataset":
            assert ev.dataset is not None
            self._dataset(ev.dataset, t, ev.warnings)
            return
        job, commit = self._event_job(ev)
        if ev.kind == "job":
            for d in ev.inputs + ev.outputs:
                self._dataset(d, t, ev.warnings)
            return
        run, state, deid = self._event_run(ev, job, commit)
        self._event_parent(ev, run)
        self._monitoring(ev, run, self._event_inputs(ev, run))
        self._event_outputs(ev, run, state, deid)
        dep = F.deployment(ev.run_facets, ev.job_namespace or "", ev.warnings)
        if dep is not None and state in ("COMPLETED", ""):  # a deploy counts once it has succeeded
            nid = self._deployment(dep, run, t)
            self.delta.add_governance(nid, F.deployment_profile(ev.run_facets, ev.warnings))

    def _event_job(self, ev: ParsedEvent) -> tuple[str, str | None]:
        """The event's job (with the datasets it reads and writes as attributes) and its source commit."""
        assert ev.job_namespace is not None and ev.job_name is not None
        t = self.time(ev)
        io = {"inputs": [[d.namespace, d.name] for d in ev.inputs],
              "outputs": [[d.namespace, d.name] for d in ev.outputs]}
        job = self._job(ev.job_namespace, ev.job_name, ev.job_facets, t, {k: v for k, v in io.items() if v})
        commit = F.source_commit(ev.job_facets, ev.warnings)
        if commit is None:
            return job, None
        commit_nid = ids.commit_id(commit.repo, commit.sha)
        self.delta.add(NodeDelta(commit_nid, "commit", commit.repo, commit.sha,
                                 attrs={k: v for k, v in (("branch", commit.branch), ("path", commit.path),
                                                          ("url", commit.url)) if v}, event_time=t))
        self.delta.edge(commit_nid, job, "built_from", t)
        return job, commit_nid

    def _event_run(self, ev: ParsedEvent, job: str, commit: str | None) -> tuple[str, str, bool]:
        """The run itself: its state, times, launcher and facets. Returns its id, state and de-identification."""
        assert ev.run_id is not None and ev.job_namespace is not None and ev.job_name is not None
        t = self.time(ev)
        state = RUN_STATES.get(ev.event_type or "", "")
        attrs: dict[str, Any] = {"job": job}
        if ev.event_type == "START":
            attrs["started_at"] = t.isoformat()
        elif state in TERMINAL_STATES:
            attrs["ended_at"] = t.isoformat()
        who = F.launcher(ev.run_facets)
        if who:
            attrs["launched_by"] = who
        kept, deleted = _split_deleted(ev.run_facets)
        deid = F.deidentifies(ev.run_facets, ev.job_facets)
        run = self._run(ev.run_id, ev.job_namespace, ev.job_name, t, facets=kept, deleted_facets=deleted,
                        attrs=attrs, state=state, state_time=t if state else None, deidentifies=deid)
        self.delta.edge(job, run, "executes", t)
        self.delta.run_start(run, t)
        if commit:
            self.delta.edge(commit, run, "built_from", t)
        return run, state, deid

    def _event_parent(self, ev: ParsedEvent, run: str) -> None:
        """The parent run named by the run's ``parent`` facet, with its job."""
        parent = F.parent_run(ev.run_facets)
        if parent is None:
            return
        p_uuid, p_ns, p_name = parent
        try:
            p_uuid = str(uuid.UUID(p_uuid))
        except ValueError:
            ev.warnings.append("run.facets.parent.run.runId is not a UUID: parent not linked")
            return
        p_job = self._job(p_ns, p_name, {}, self.time(ev), {})
        p_run = self._run(p_uuid, p_ns, p_name, self.time(ev), attrs={"job": p_job})
        self.delta.edge(p_job, p_run, "executes", self.time(ev))
        self.delta.edge(p_run, run, "parent_of", self.time(ev))

    def _event_inputs(self, ev: ParsedEvent, run: str) -> list[tuple[DatasetRef, str]]:
        """The datasets the run read. Which version is decided when the delta is applied, against every write
        stored (``versions.py``): the one the facet names, else the latest finished before the run started.
        Returns each input with its dataset node id."""
        t = self.time(ev)
        read = []
        for d in ev.inputs:
            ds = self._dataset(d, t, ev.warnings)
            self.delta.read(run, ds, t, F.dataset_version(d.facets, ev.warnings))
            read.append((d, ds))
        return read

    def _monitoring(self, ev: ParsedEvent, run: str, read: list[tuple[DatasetRef, str]]) -> None:
        """A run that reports monitoring results (``portalMonitoring``) or data-quality assertions on its inputs.
        The record names the datasets read; the versions are filled in once the reads are resolved (``services``
        after ``versions.reads_resolve``), so a monitoring run reads by event time like any other run."""
        assert ev.job_namespace is not None and ev.job_name is not None
        t = self.time(ev)
        mon = M.monitoring_facet(ev.run_facets, ev.job_namespace, ev.warnings)
        measures = [a for d, ds in read for a in M.assertions({**d.facets, **d.input_facets}, ds)]
        if mon is None and not measures:
            return
        record = M.MonitoringRecord(run=run, job=ids.job_id(ev.job_namespace, ev.job_name), observed_at=t,
                                    datasets=[ds for _, ds in read], measures=measures)
        if mon is not None:
            record.measures[:0] = mon.measures
            record.window_start, record.window_end = mon.window_start, mon.window_end
            if mon.deployment is not None:
                k = mon.deployment
                record.deployment = ids.deployment_id(k.namespace, k.name, k.version, k.environment)
                self.delta.edge(record.deployment, run, "monitors", t, existing=True)
            if mon.reference is not None:  # named with its version: read as named, even when not listed
                r = mon.reference
                record.reference = ids.dataset_version_id(r.namespace, r.name, r.version)
                ds = self._dataset(DatasetRef(r.namespace, r.name, {}, {}, {}), t)
                self.delta.read(run, ds, t, r.version)
                if ds not in record.datasets:
                    record.datasets.append(ds)
        self.delta.monitoring.append(record)

    def _event_outputs(self, ev: ParsedEvent, run: str, state: str, deid: bool) -> None:
        """The dataset versions the run wrote, and the model versions among them."""
        assert ev.run_id is not None
        t = self.time(ev)
        for i, d in enumerate(ev.outputs):
            ds = self._dataset(d, t, ev.warnings)
            if state in ("FAILED", "ABORTED"):
                continue  # a failed run's outputs are not a new version of the data
            version = F.dataset_version(d.facets, ev.warnings) or ev.run_id
            dsv = self._dataset_version(d, version, t, {"run": run})
            self.delta.edge(run, dsv, "writes", t)
            self._columns(d, run, dsv, t, f"outputs[{i}].facets.columnLineage", ev.warnings)
            if state in ("COMPLETED", ""):
                # Only a finished write becomes what later readers read (Spark lists outputs on START).
                self.delta.write(ds, version, run, t)
                self.delta.add(NodeDelta(ds, "dataset", d.namespace, d.name,
                                         attrs={"current_version": version}, event_time=t))
            if deid:
                self.delta.tags.add((ds, "", "DEIDENTIFIED"))
            model = F.model_version(d.facets, ev.job_namespace or "", f"outputs[{i}].facets", ev.warnings)
            if model is not None:
                mv = self._model_version(model, t, {"artifact": dsv, "run": run, "produced_in": ev.job_namespace or ""})
                self.delta.edge(run, mv, "produces", t)
                self.delta.add_governance(mv, F.model_inventory(d.facets, f"outputs[{i}].facets", ev.warnings))

    def _columns(self, d: DatasetRef, run: str, dsv: str, t: datetime, where: str, warnings: list[str]) -> None:
        """Column edges into the version ``dsv`` from the input datasets; which version of each is the one the
        run read, decided when the delta is applied (``services._apply_columns``)."""
        for link in column_links(d.facets, where, warnings):
            ds = ids.dataset_id(link.namespace, link.name)
            self.delta.add(NodeDelta(ds, "dataset", link.namespace, link.name, event_time=t))
            self.delta.columns.add((run, ds, link.field, dsv, link.out_field, link.type, link.subtype,
                                    link.description, link.masking))

    def _deployment(self, dep: F.DeploymentRef, run: str | None, t: datetime) -> str:
        m = dep.model
        mv = self._model_version(m, t)
        nid = ids.deployment_id(m.namespace, m.name, m.version, dep.environment)
        status = "retired" if dep.action == "retire" else "active"
        attrs: dict[str, Any] = {"action": dep.action, "model_version": mv}
        if dep.endpoint:
            attrs["endpoint"] = dep.endpoint
        if run:
            attrs["run"] = run
        self.delta.add(NodeDelta(nid, "deployment", m.namespace, m.name, version=m.version,
                                 environment=dep.environment, attrs=attrs, state=status, state_time=t,
                                 event_time=t))
        self.delta.edge(mv, nid, "deploys", t)
        if status == "active":
            self.delta.supersede.append(Supersede(m.namespace, m.name, dep.environment, nid, t))
        return nid

    def add_deployment(self, dep: F.DeploymentRef, t: datetime) -> str:
        """A deployment reported through the REST API rather than an OpenLineage run."""
        return self._deployment(dep, None, t)

    def add_commit(self, *, repo: str, sha: str, t: datetime, attrs: dict[str, Any]) -> str:
        """A commit reported by CI through the REST API."""
        nid = ids.commit_id(repo, sha)
        self.delta.add(NodeDelta(nid, "commit", repo, sha, attrs=attrs, event_time=t))
        return nid

    def add_model_version(self, m: F.ModelRef, t: datetime, *, run_uuid: str | None,
                          attrs: dict[str, Any]) -> str:
        """A model version registered through the REST API, optionally linked to the run that trained it."""
        mv = self._model_version(m, t, attrs)
        if run_uuid:
            run = ids.run_id(run_uuid)
            self.delta.add(NodeDelta(run, "run", m.namespace, run_uuid, event_time=None))
            self.delta.edge(run, mv, "produces", t)
        return mv
