"""Who may write what into the graph: an ingest token acts for its user's teams.

A token may write jobs, runs, output datasets, model versions and deployments only in namespaces its user's
teams own or that no team owns. Inputs may be read from anywhere (reading is lineage, not ownership), but what an
event says about a dataset in a namespace it may not write (its facets: tags, governance attributes, deleted
facets) is ignored, with a warning. A run id belongs to the job of its first event, and a model version to the
namespace whose job first produced it. Admin tokens write anywhere; the portal itself (``by=None``: rebuilds,
scripts) is not checked.

``event_writes`` and friends are pure; ``WriteGuard`` adds what is stored (owners, and the claims: ``RunClaim``,
``ModelClaim``). Claims are written when an event is accepted (``claims_take``), in the accepting transaction, before
the event is applied to the graph: an event waiting to be applied (``services.events_append``) has already bound
its run. A claim taken meanwhile by a concurrent request is read back and refused exactly, as if stored before.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

from portal.accounts.models import NamespaceOwner, Role, Team, User
from portal.lib.errors import DomainError
from portal.lib.sql import chunks, insert_ignore, select_in

from . import facets as F
from . import ids
from .models import ModelClaim, RunClaim
from .openlineage import DatasetRef, ParsedEvent

RUN_CLAIM_COLUMNS = ("run", "job", "job_namespace")
MODEL_CLAIM_COLUMNS = ("model_version", "namespace")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an event cannot be taken: ``status`` 403 (not this token's namespace) or 409 (conflicts with the
    graph), ``field`` the dotted path of what it tried to write."""

    status: int
    field: str
    message: str


class WriteRefused(DomainError):
    """An event or record refused by the guard: 403 or 409 naming the field."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message, field=refusal.field)
        self.status_code = refusal.status
        self.refusal = refusal


# -- what an event writes (pure) --------------------------------------------------------------------------
def event_writes(ev: ParsedEvent) -> list[tuple[str, str]]:
    """(field, namespace) of everything the event writes, in the order a reader of the event meets them."""
    out: list[tuple[str, str]] = []
    if ev.kind == "dataset":
        assert ev.dataset is not None
        return [("dataset.namespace", ev.dataset.namespace)]
    assert ev.job_namespace is not None
    out.append(("job.namespace", ev.job_namespace))
    parent = F.parent_run(ev.run_facets) if ev.kind == "run" else None
    if parent is not None:
        out.append(("run.facets.parent.job.namespace", parent[1]))
    for i, d in enumerate(ev.outputs):
        out.append((f"outputs[{i}].namespace", d.namespace))
        model = F.model_version(d.facets, ev.job_namespace, "", [])
        if model is not None:
            out.append((f"outputs[{i}].facets.{F.MODEL_FACET}.namespace", model.namespace))
    if ev.kind == "run":
        dep = F.deployment(ev.run_facets, ev.job_namespace, [])
        if dep is not None:
            out.append((f"run.facets.{F.DEPLOYMENT_FACET}.model.namespace", dep.model.namespace))
    return out


def run_claims(ev: ParsedEvent) -> list[tuple[str, str, str, str]]:
    """(field, run node id, job node id, job namespace): the runs the event binds to a job."""
    if ev.kind != "run":
        return []
    assert ev.run_id is not None and ev.job_namespace is not None and ev.job_name is not None
    out = [("run.runId", ids.run_id(ev.run_id), ids.job_id(ev.job_namespace, ev.job_name), ev.job_namespace)]
    parent = F.parent_run(ev.run_facets)
    if parent is not None:
        p_uuid, p_ns, p_name = parent
        with contextlib.suppress(ValueError):  # not a UUID: the planner links no parent
            out.append(("run.facets.parent.run.runId", ids.run_id(str(uuid.UUID(p_uuid))),
                        ids.job_id(p_ns, p_name), p_ns))
    return out


def model_claims(ev: ParsedEvent) -> list[tuple[str, str]]:
    """(field, model version node id) of the model versions the event says its run produced."""
    if ev.kind != "run" or ev.job_namespace is None:
        return []
    out = []
    for i, d in enumerate(ev.outputs):
        m = F.model_version(d.facets, ev.job_namespace, "", [])
        if m is not None:
            out.append((f"outputs[{i}].facets.{F.MODEL_FACET}", ids.model_version_id(m.namespace, m.name, m.version)))
    return out


def strip_input(d: DatasetRef) -> DatasetRef:
    """An input as a reader outside its namespace may state it: the reference and the version it read."""
    version = d.facets.get("version")
    return DatasetRef(d.namespace, d.name, {"version": version} if version is not None else {}, {}, {})


def strip_inputs(ev: ParsedEvent, indexes: Iterable[int]) -> None:
    for i in indexes:
        ev.inputs[i] = strip_input(ev.inputs[i])


# -- the stored side --------------------------------------------------------------------------------------
def _run_taken(field: str, run: str, bound: str, job: str) -> Refusal:
    return Refusal(409, field, f"{run} belongs to {bound}; a run id cannot be reused by {job}")


def _model_taken(field: str, mv: str, first: str, claimant: str) -> Refusal:
    return Refusal(403, field, f"{mv} was first produced in namespace {first!r}; {claimant} may not claim it")


def _stored_runs(runs: set[str]) -> dict[str, str]:
    """Run node id -> the job node id it is bound to, for the runs already claimed."""
    if not runs:
        return {}
    return dict(select_in("SELECT run, job FROM lineage_runclaim WHERE run", sorted(runs)))


def _stored_models(models: set[str]) -> dict[str, str]:
    """Model version node id -> the namespace that first produced it, for the versions already claimed."""
    if not models:
        return {}
    return dict(select_in("SELECT model_version, namespace FROM lineage_modelclaim WHERE model_version",
                          sorted(models)))


def model_claim_take(model_version: str, namespace: str) -> str:
    """Claim ``model_version`` for ``namespace`` unless claimed; returns the namespace that holds the claim."""
    if insert_ignore("lineage_modelclaim", ("model_version", "namespace"), [(model_version, namespace)],
                     conflict=("model_version",), returning=("model_version",)):
        return namespace
    return _stored_models({model_version}).get(model_version, namespace)


def run_job_namespace(run: str) -> str | None:
    """The namespace of the job a run id is bound to (claimed), or None."""
    return RunClaim.objects.filter(run=run).values_list("job_namespace", flat=True).first()


class WriteGuard:
    """Checks events for one user against namespace owners and the runs and model versions already stored.

    ``check`` is called in batch order; what an accepted event binds (a run to its job, a model version to its
    namespace) holds for the events after it.
    """

    def __init__(self, *, by: User | None, events: list[ParsedEvent]) -> None:
        self.unchecked = by is None
        self.anywhere = self.unchecked or bool(by.is_superuser or by.role == Role.ADMIN)  # type: ignore[union-attr]
        self.teams: set[str] = set()
        self.owners: dict[str, str] = {}
        self.run_jobs: dict[str, str] = {}
        self.model_producers: dict[str, str] = {}
        self.claimed: set[str] = set()
        if self.unchecked:
            return
        assert by is not None
        namespaces = {ns for ev in events for _, ns in event_writes(ev)}
        namespaces |= {d.namespace for ev in events for d in ev.inputs}
        runs = {nid for ev in events for _, nid, _, _ in run_claims(ev)}
        models = {nid for ev in events for _, nid in model_claims(ev)}
        if connection.vendor == "postgresql":  # one round trip: a single event's request pays a handful
            self._load_at_once(by, namespaces, runs, models)
            return
        self.teams = set(by.teams.values_list("name", flat=True))
        for part in chunks(sorted(namespaces), 5000):
            self.owners.update(NamespaceOwner.objects.filter(namespace__in=part)
                               .values_list("namespace", "team__name"))
        self.run_jobs = _stored_runs(runs)
        self.model_producers = _stored_models(models)
        self.claimed = set(self.run_jobs) | set(self.model_producers)  # stored: not claimed again

    def _load_at_once(self, by: User, namespaces: set[str], runs: set[str], models: set[str]) -> None:
        """The user's teams, the owners of ``namespaces`` and the claims of ``runs`` and ``models`` in one statement."""
        owner, team = NamespaceOwner._meta.db_table, Team._meta.db_table
        member = User.teams.through._meta.db_table
        sql = (f"SELECT 'o', o.namespace, t.name FROM {owner} o JOIN {team} t ON t.id = o.team_id "  # noqa: S608
               f"WHERE o.namespace = ANY(%s) UNION ALL "
               f"SELECT 't', t.name, '' FROM {team} t JOIN {member} m ON m.team_id = t.id WHERE m.user_id = %s "
               "UNION ALL SELECT 'r', run, job FROM lineage_runclaim WHERE run = ANY(%s) "
               "UNION ALL SELECT 'm', model_version, namespace FROM lineage_modelclaim WHERE model_version = ANY(%s)")
        with connection.cursor() as cur:
            cur.execute(sql, [sorted(namespaces), by.pk, sorted(runs), sorted(models)])
            rows = cur.fetchall()
        for kind, key, value in rows:
            if kind == "o":
                self.owners[key] = value
            elif kind == "t":
                self.teams.add(key)
            elif kind == "r":
                self.run_jobs[key] = value
            else:
                self.model_producers[key] = value
        self.claimed = set(self.run_jobs) | set(self.model_producers)

    def writable(self, namespace: str) -> bool:
        if self.anywhere:
            return True
        owner = self.owners.get(namespace)
        return owner is None or owner in self.teams

    def _may_write_known(self, namespace: str) -> bool:
        """Whether the token may write ``namespace``, looking its owner up if this batch did not."""
        if namespace not in self.owners and not self.anywhere:
            self.load_owners([namespace])
        return self.writable(namespace)

    def _not_yours(self, field: str, namespace: str) -> Refusal:
        acting = ", ".join(sorted(self.teams)) or "no team"
        return Refusal(403, field, f"namespace {namespace!r} belongs to team {self.owners.get(namespace)!r}; "
                                   f"this token acts for {acting} and may not write there")

    def check(self, ev: ParsedEvent) -> Refusal | None:
        """The event's refusal, or None: then foreign inputs are stripped (with a warning) and its claims bound."""
        if self.unchecked:
            return None
        for field, ns in event_writes(ev):
            if not self.writable(ns):
                return self._not_yours(field, ns)
        runs = run_claims(ev)
        pending: dict[str, str] = {}
        for field, run, job, _ in runs:
            bound = self.run_jobs.get(run) or pending.setdefault(run, job)
            if bound != job:
                return _run_taken(field, run, bound, job)
        models = model_claims(ev)
        producer = ev.job_namespace or ""
        for field, mv in models:
            first = self.model_producers.get(mv)
            if first is not None and first != producer and not self._may_write_known(first):
                return _model_taken(field, mv, first, f"a run of {producer!r}")
        for _, run, job, _ in runs:
            self.run_jobs.setdefault(run, job)
        for _, mv in models:
            self.model_producers.setdefault(mv, producer)
        return None

    def foreign_inputs(self, ev: ParsedEvent) -> list[int]:
        """Indexes of inputs whose facets the event may not apply (outside the token's namespaces)."""
        if self.unchecked:
            return []
        out = []
        for i, d in enumerate(ev.inputs):
            if not self.writable(d.namespace) and (d.facets.keys() - {"version"} or d.input_facets or d.output_facets):
                out.append(i)
                ev.warnings.append(f"inputs[{i}] is in namespace {d.namespace!r} of team "
                                   f"{self.owners.get(d.namespace)!r}: read, but its facets were ignored")
        return out

    def record_check(self, *, namespace: str, field: str, model: str | None = None,
                     producer: str | None = None) -> Refusal | None:
        """A REST record (model version, deployment) writing in ``namespace``; ``model``/``producer`` for a claim
        of production."""
        if self.unchecked:
            return None
        if not self.writable(namespace):
            return self._not_yours(field, namespace)
        if model is not None and producer is not None:
            first = _stored_models({model}).get(model)
            if first and first != producer and not self._may_write_known(first):
                return _model_taken(field, model, first, repr(producer))
        return None

    def claims_take(self, events: list[ParsedEvent]) -> dict[int, Refusal]:
        """Store the claims of ``events`` (accepted by ``check``, in order); returns the refusals, by index, of those
        whose run or model version a concurrent transaction claimed first (read back after the unique index let
        this insert go on). The claims of a refused event are not kept; nothing is refused when unchecked.

        ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` waits on a claim another open transaction is inserting and
        skips it once that one commits, so two concurrent events cannot both take a run."""
        refused: dict[int, Refusal] = {}
        live = list(enumerate(events))
        while True:
            run_rows, model_rows = self.claim_rows([ev for _, ev in live])
            taken_runs = {r for (r,) in insert_ignore("lineage_runclaim", RUN_CLAIM_COLUMNS, run_rows,
                                                      conflict=("run",), returning=("run",))}
            taken_models = {m for (m,) in insert_ignore("lineage_modelclaim", MODEL_CLAIM_COLUMNS,
                                                        model_rows, conflict=("model_version",),
                                                        returning=("model_version",))}
            lost_runs = _stored_runs({r for r, _, _ in run_rows} - taken_runs)
            lost_models = _stored_models({m for m, _ in model_rows} - taken_models)
            self.run_jobs.update(lost_runs)
            self.model_producers.update(lost_models)
            late: dict[int, Refusal] = {}
            if not self.unchecked:
                for i, ev in live:
                    refusal = self._claims_refusal(ev, lost_runs, lost_models)
                    if refusal is not None:
                        late[i] = refusal
            if not late:
                return refused
            # Take the claims again without the refused events (rare: a race lost to a concurrent request).
            RunClaim.objects.filter(run__in=taken_runs).delete()
            ModelClaim.objects.filter(model_version__in=taken_models).delete()
            refused.update(late)
            live = [(i, ev) for i, ev in live if i not in late]

    def claim_rows(self, events: list[ParsedEvent]) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
        """The rows of ``RUN_CLAIM_COLUMNS`` and ``MODEL_CLAIM_COLUMNS`` that ``events`` (accepted by ``check``) claim
        and that are not stored yet, in key order (the order the unique-index locks are taken in)."""
        runs: dict[str, tuple[str, str]] = {}
        models: dict[str, str] = {}
        for ev in events:
            for _, run, job, ns in run_claims(ev):
                if run not in self.claimed:
                    runs.setdefault(run, (job, ns))
            for _, mv in model_claims(ev):
                if mv not in self.claimed:
                    models.setdefault(mv, ev.job_namespace or "")
        return sorted((r, j, ns) for r, (j, ns) in runs.items()), sorted(models.items())

    def _claims_refusal(self, ev: ParsedEvent, runs: dict[str, str], models: dict[str, str]) -> Refusal | None:
        for field, run, job, _ in run_claims(ev):
            if runs.get(run, job) != job:
                return _run_taken(field, run, runs[run], job)
        producer = ev.job_namespace or ""
        for field, mv in model_claims(ev):
            first = models.get(mv, producer)
            if first != producer and not self._may_write_known(first):
                return _model_taken(field, mv, first, f"a run of {producer!r}")
        return None

    def load_owners(self, namespaces: Iterable[str]) -> None:
        if not self.unchecked:
            self.owners.update(NamespaceOwner.objects.filter(namespace__in=list(namespaces))
                               .values_list("namespace", "team__name"))
