"""Feeding importers' output through the ingest path. Each import runs in one transaction.

Events go through ``events_ingest`` and registry facts through ``portal_records_ingest``: the raw log keeps
them for ``rebuild_lineage``, exact repeats are stored once, and each new record is audited like any ingest.
An import that finds nothing new writes nothing but its summary in the audit trail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.services import audit_record
from portal.lib.sql import chunks

from .. import ids
from ..models import Node
from ..openlineage import parse_event
from ..plan import RUN_STATES
from ..services import events_ingest, portal_records_ingest
from . import dvc as D
from . import mlflow as M
from . import mlmd as MD
from .common import iso, ms_time


@dataclass(slots=True)
class ImportSummary:
    system: str
    source: str
    namespace: str
    runs: int = 0
    runs_changed: int = 0
    events_created: int = 0
    model_versions: int = 0
    model_versions_changed: int = 0
    alias_moves: int = 0
    commits: int = 0

    def line(self) -> str:
        if self.system == "mlmd":
            return (f"mlmd {self.source} -> {self.namespace}: {self.runs} executions ({self.events_created} events "
                    f"stored), {self.model_versions} blessings ({self.model_versions_changed} new)")
        if self.system != "mlflow":
            return (f"{self.system} {self.source} -> {self.namespace}: {self.commits} commits, {self.runs} runs "
                    f"({self.events_created} events stored)")
        return (f"{self.system} {self.source} -> {self.namespace}: {self.runs} runs ({self.runs_changed} new or "
                f"changed, {self.events_created} events stored), {self.model_versions} model versions "
                f"({self.model_versions_changed} new or changed), {self.alias_moves} alias moves")


def importer_actor(username: str) -> User | None:
    """The user a command's ``--as`` names (the audit trail's actor), or None (the system) for an empty name."""
    if not username:
        return None
    user = User.objects.filter(username=username).first()
    if user is None:
        raise ValueError(f"--as: no user named {username!r}")
    return user


def _ingest(raw: list[bytes], by: User | None) -> int:
    if not raw:
        return 0
    outcomes = events_ingest(events=[parse_event(b) for b in raw], by=by)
    return sum(o.status == "created" for o in outcomes)


# -- MLflow ------------------------------------------------------------------------------------------------
def _mlflow_runs(snap: M.Snapshot, opts: M.Options, now: datetime, summary: ImportSummary) -> list[bytes]:
    contents = {r.uuid: (r, M.run_content(r, snap, opts)) for r in snap.runs}
    stored = {}
    for part in chunks(sorted(ids.run_id(u) for u in contents), 5000):
        rows = Node.objects.filter(node_id__in=part).values_list("node_id", "state", f"facets__{M.RUN_FACET}__digest")
        stored.update({nid: (state, dig) for nid, state, dig in rows})
    raw: list[bytes] = []
    for run_uuid, (r, content) in contents.items():
        state, dig = stored.get(ids.run_id(run_uuid), ("", None))
        if dig == M.run_digest(content):
            continue  # imported before and unchanged: nothing to send
        summary.runs_changed += 1
        events = M.run_events(r, content)
        raw += events
        reached = RUN_STATES.get(M.TERMINAL.get(r.status, "START"))
        if dig is not None and state == reached:
            # Its START and end events are stored already (an exact repeat of them changes nothing): the change
            # is news seen now.
            raw.append(M.run_update_event(r, content, max(now, M.run_start_time(r) or now)))
    return raw


def _alias_state(nodes: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, str], list[dict[str, Any]]]:
    current: dict[str, str] = {}
    history: dict[tuple[Any, ...], dict[str, Any]] = {}
    for version, attrs in nodes:
        for alias in attrs.get("aliases") or []:
            current[alias] = version
        for h in attrs.get("alias_history") or []:
            history[(h.get("at"), h.get("alias"), h.get("from"), h.get("to"))] = h
    return dict(sorted(current.items())), [history[k] for k in sorted(history, key=lambda k: tuple(map(str, k)))]


def _mlflow_registry(snap: M.Snapshot, by: User | None, now: datetime, summary: ImportSummary) -> None:
    stored: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for name, version, attrs in Node.objects.filter(kind="modelVersion", namespace=snap.namespace).values_list(
            "name", "version", "attrs"):
        stored.setdefault(name, []).append((version, attrs))
    payloads, aliases = [], []
    for rm in snap.models:
        known = dict(stored.get(rm.name, []))
        for mv in rm.versions:
            summary.model_versions += 1
            registry = M.model_version_registry(mv, rm, snap)
            cur = known.get(mv.version) or {}
            if cur.get("registry") == registry:
                continue
            # MLflow moves last_updated_timestamp on some edits only (not on tags): a change it did not date is
            # dated when seen, so it wins over what the portal holds.
            t = ms_time(mv.updated_ms)
            if cur.get("registry"):
                t = max(t, now)
            payloads.append(M.model_version_payload(mv, rm, snap, t))
        previous, history = _alias_state(stored.get(rm.name, []))
        if previous != rm.aliases:
            moves = [{"alias": a, "from": previous.get(a, ""), "to": rm.aliases.get(a, ""), "at": iso(now),
                      "observedBy": by.username if by else "", "source": "mlflow"}
                     for a in sorted(set(previous) | set(rm.aliases)) if previous.get(a) != rm.aliases.get(a)]
            summary.alias_moves += len(moves)
            aliases.append({"namespace": snap.namespace, "name": rm.name, "aliases": rm.aliases,
                            "previous": previous, "moves": moves, "history": history + moves, "time": iso(now)})
    summary.model_versions_changed = portal_records_ingest(kind="modelVersion", payloads=payloads, by=by)
    portal_records_ingest(kind="modelAlias", payloads=aliases, by=by)


@transaction.atomic
def mlflow_snapshot_ingest(*, snapshot: M.Snapshot, by: User | None, options: M.Options | None = None,
                           observed_at: datetime | None = None) -> ImportSummary:
    """Apply what one read of an MLflow server found; only what is new or changed is sent to ingestion.

    MLflow dates neither an alias move nor a tag edit: those are dated ``observed_at`` (now), and a move
    names the importing user as its observer (MLflow does not record who moved an alias).
    """
    now = observed_at or timezone.now()
    summary = ImportSummary("mlflow", snapshot.tracking_uri, snapshot.namespace,
                            runs=len(snapshot.runs) + snapshot.unchanged_runs)
    summary.events_created = _ingest(_mlflow_runs(snapshot, options or M.Options(), now, summary), by)
    _mlflow_registry(snapshot, by, now, summary)
    audit_record(actor=by, action="lineage.import_completed", target_kind="namespace", target_id=snapshot.namespace,
                 payload=asdict(summary))
    return summary


def mlflow_known_runs(*, namespace: str) -> dict[str, str]:
    """Run UUID -> the summary digest of what the portal holds of each MLflow run in the namespace."""
    return dict(Node.objects.filter(kind="run", namespace=namespace)
                .exclude(**{f"facets__{M.RUN_FACET}__isnull": True})
                .values_list("name", f"facets__{M.RUN_FACET}__summaryDigest"))


def mlflow_import(*, tracking_uri: str, registry_uri: str | None = None, experiments: list[str] | None = None,
                  since: datetime | None = None, namespace: str | None = None, options: M.Options | None = None,
                  by: User | None = None) -> ImportSummary:
    """Read an MLflow tracking server (outside any transaction: it is network I/O) and apply what it holds."""
    ns = namespace or M.namespace_for(tracking_uri)
    snapshot = M.read(tracking_uri=tracking_uri, registry_uri=registry_uri, experiments=experiments, since=since,
                      namespace=ns, known=mlflow_known_runs(namespace=ns))
    return mlflow_snapshot_ingest(snapshot=snapshot, by=by, options=options)


# -- DVC ---------------------------------------------------------------------------------------------------
@transaction.atomic
def dvc_snapshot_ingest(*, snapshot: D.Snapshot, by: User | None) -> ImportSummary:
    """Apply the commits read from a DVC repository: git history does not change, so a repeat stores nothing."""
    summary = ImportSummary("dvc", snapshot.repo_url, snapshot.namespace, commits=len(snapshot.commits))
    raw = [e for state in snapshot.commits for e in D.commit_events(state, snapshot)]
    summary.runs = len(raw)
    summary.events_created = _ingest(raw, by)
    portal_records_ingest(kind="commit", payloads=[D.commit_payload(s, snapshot) for s in snapshot.commits], by=by)
    audit_record(actor=by, action="lineage.import_completed", target_kind="namespace", target_id=snapshot.namespace,
                 payload=asdict(summary))
    return summary


def dvc_import(*, repo: str, revs: list[str] | None = None, namespace: str | None = None,
               repo_url: str | None = None, by: User | None = None) -> ImportSummary:
    """Read a DVC repository's history with git (outside the transaction) and apply it."""
    return dvc_snapshot_ingest(snapshot=D.read(repo=repo, revs=revs, namespace=namespace, repo_url=repo_url), by=by)


# -- ML Metadata -------------------------------------------------------------------------------------------
@transaction.atomic
def mlmd_snapshot_ingest(*, snapshot: MD.Snapshot, by: User | None, options: MD.Options | None = None
                         ) -> ImportSummary:
    """Apply what one read of an MLMD store found; executions and artifacts are stored once whatever the repeats."""
    mapper = MD.Mapper(snapshot, options or MD.Options())
    summary = ImportSummary("mlmd", snapshot.source, snapshot.namespace, runs=len(snapshot.executions))
    summary.events_created = _ingest(mapper.events(), by)
    blessings = mapper.blessings()
    summary.model_versions = len(blessings)
    summary.model_versions_changed = portal_records_ingest(kind="modelVersion", payloads=blessings, by=by)
    audit_record(actor=by, action="lineage.import_completed", target_kind="namespace", target_id=snapshot.namespace,
                 payload=asdict(summary))
    return summary


def mlmd_import(*, sqlite: str | None = None, mysql: dict[str, Any] | None = None, namespace: str | None = None,
                options: MD.Options | None = None, by: User | None = None) -> ImportSummary:
    """Read an MLMD store (outside the transaction) and apply it."""
    return mlmd_snapshot_ingest(snapshot=MD.read(sqlite=sqlite, mysql=mysql, namespace=namespace), by=by,
                                options=options)
