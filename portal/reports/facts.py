"""The facts a report is evaluated over: plain data, loaded once per report in a few bulk queries.

``Facts`` holds the scoped subgraph (networkx), the governance records, documents, releases and
signatures, users, and the audit entries that concern the runs in scope. The checks in ``checks/``
only read ``Facts``: they import no ORM and are tested over small graphs built for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import networkx as nx

from lineage import stops
from lineage.labels import node_label
from lineage.models import SENSITIVE_TAGS
from portal.evidence.selectors import DEID_METHODS

PERSONAL_TAGS = frozenset({"PII", "PHI", "SPECIAL_CAT"})
SPECIAL_TAGS = frozenset({"PHI", "SPECIAL_CAT"})  # Art. 9 data: health (PHI included), genetic, biometric ...


@dataclass(slots=True)
class NodeFact:
    pk: int
    node_id: str
    kind: str
    namespace: str
    name: str
    version: str
    environment: str
    state: str
    attrs: dict[str, Any]
    event_time: datetime | None
    created_at: datetime
    updated_at: datetime
    parent: int | None
    deidentifies: bool
    tags: set[str] = field(default_factory=set)
    column_tags: dict[str, set[str]] = field(default_factory=dict)  # a dataset's columns and their tags

    @property
    def label(self) -> str:
        return node_label(kind=self.kind, name=self.name, version=self.version, environment=self.environment,
                          job=self.attrs.get("job", "").split(":")[-1])


@dataclass(slots=True)
class DatasetGov:
    lawful_basis: str
    purposes: list[str]
    consent_reference: str
    special_category_condition: str
    retention_until: Any
    legal_hold: bool
    disposition: str
    disposed_at: datetime | None
    subject_keys: int = 0


@dataclass(slots=True)
class Inventory:
    owner: str
    intended_use: str
    tier: int | None
    limitations: str
    status: str
    retired_at: datetime | None
    high_risk_annex: str
    credit_decisioning: bool


@dataclass(slots=True)
class Profile:
    sox_in_scope: bool
    hipaa_scope: bool
    human_in_loop: bool
    overseers: list[str]
    change_record: str
    emergency: bool
    log_location: str = ""
    log_retention_days: int | None = None
    log_max_gap_minutes: int | None = None
    stop_control_tested_at: datetime | None = None


@dataclass(slots=True)
class DocumentFact:
    id: str
    doc_type: str
    title: str
    version: str
    author: str
    approved_by: str
    approved_at: datetime | None
    effective_from: datetime
    effective_until: datetime | None
    retention_until: Any
    created_at: datetime
    sections: list[str]
    attributes: dict[str, Any]
    sha256: str
    nodes: set[int] = field(default_factory=set)
    releases: set[int] = field(default_factory=set)

    def in_effect(self, at: datetime) -> bool:
        return self.effective_from <= at and (self.effective_until is None or self.effective_until > at)

    def in_effect_during(self, start: datetime, end: datetime) -> bool:
        """In effect at some time in ``start``-``end`` (a report's period)."""
        return self.effective_from <= end and (self.effective_until is None or self.effective_until > start)

    @property
    def approved(self) -> bool:
        return self.approved_at is not None


@dataclass(slots=True)
class SignatureFact:
    username: str
    printed_name: str
    meaning: str
    reason: str
    signed_at: datetime
    voided: bool
    subject_digest: str
    auth_methods: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ReleaseFact:
    id: int
    model_version: int
    environment: str
    state: str
    requester: str
    policy: str
    subject_digest: str
    approved_at: datetime | None
    created_at: datetime
    break_glass: bool
    retrospective_of: int | None
    retrospective_due: datetime | None
    signatures: list[SignatureFact] = field(default_factory=list)

    def approvers(self) -> list[str]:
        return sorted({s.username for s in self.signatures if s.meaning == "approval" and not s.voided})


@dataclass(slots=True)
class UserFact:
    username: str
    name: str
    role: str
    is_active: bool
    emails: set[str]
    teams: set[str]


@dataclass(slots=True)
class RecordChange:
    """One audited change of a governance record (inventory or profile): the values before and after."""

    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any]


@dataclass(slots=True)
class AuditFacts:
    chain_ok: bool | None  # None: never verified
    chain_checked_at: datetime | None
    chain_entries: int
    chain_problems: list[str]
    target_times: dict[str, list[datetime]] = field(default_factory=dict)  # node_id -> audit entry times
    target_actors: dict[str, list[str]] = field(default_factory=dict)  # node_id -> actor names


@dataclass(slots=True)
class ErasureFact:
    """A GDPR Art. 17 request and what was decided for each dataset and model version it touches."""

    id: int
    received_at: datetime
    due_at: datetime
    responded_at: datetime | None
    dispositions: list[tuple[str, str, str, datetime | None]]  # node_id, kind, outcome, decided_at


@dataclass(slots=True)
class ReportFact:
    """An earlier generated report (EU AI Act A3: a dossier per model version)."""

    kind: str
    subject: str
    annex_iv: bool
    finished_at: datetime


@dataclass(slots=True)
class MonitoringFact:
    """One monitoring result on a deployment (portal/monitoring)."""

    deployment: int
    observed_at: datetime
    metric: str
    has_threshold: bool  # its own threshold, or drift statistics judged by the policy's tier limits
    breaches: list[str]
    run: str


@dataclass(slots=True)
class AlertFact:
    id: int
    deployment: int
    opened_at: datetime
    state: str  # open | incident | closed
    reason: str
    closed_at: datetime | None
    incidents: list[int] = field(default_factory=list)


@dataclass(slots=True)
class ClockFact:
    name: str  # ai_act | gdpr | hipaa
    label: str
    deadline: datetime
    notified_at: datetime | None
    exempt: bool


@dataclass(slots=True)
class IncidentFact:
    id: int
    title: str
    kinds: list[str]
    severity: str
    detected_at: datetime
    opened_at: datetime
    state: str
    closed_at: datetime | None
    nodes: set[int]  # deployments, model versions and datasets it names
    clocks: list[ClockFact] = field(default_factory=list)

    def clock(self, name: str) -> ClockFact | None:
        return next((c for c in self.clocks if c.name == name), None)


@dataclass
class Facts:
    now: datetime
    period_start: datetime
    period_end: datetime
    params: dict[str, Any]
    nodes: dict[int, NodeFact]
    edges: list[tuple[int, int, str]]
    in_scope: set[int]
    governance: dict[int, DatasetGov] = field(default_factory=dict)
    inventory: dict[int, Inventory] = field(default_factory=dict)
    profiles: dict[int, Profile] = field(default_factory=dict)
    documents: list[DocumentFact] = field(default_factory=list)
    releases: list[ReleaseFact] = field(default_factory=list)
    users: dict[str, UserFact] = field(default_factory=dict)
    namespace_teams: dict[str, str] = field(default_factory=dict)
    audit: AuditFacts = field(default_factory=lambda: AuditFacts(None, None, 0, []))
    reports: list[ReportFact] = field(default_factory=list)
    erasure_requests: list[ErasureFact] = field(default_factory=list)
    monitoring: list[MonitoringFact] = field(default_factory=list)
    alerts: list[AlertFact] = field(default_factory=list)
    incidents: list[IncidentFact] = field(default_factory=list)
    record_history: dict[int, list[RecordChange]] = field(default_factory=dict)  # node pk -> audited changes
    truncated: bool = False

    # -- graph ------------------------------------------------------------------------------------
    @cached_property
    def graph(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(self.nodes)
        g.add_edges_from((s, d, {"kind": k}) for s, d, k in self.edges if s in self.nodes and d in self.nodes)
        return g

    @cached_property
    def by_node_id(self) -> dict[str, NodeFact]:
        return {n.node_id: n for n in self.nodes.values()}

    @cached_property
    def members(self) -> dict[int, list[int]]:
        """A dataset's versions (and a job's runs) by parent pk."""
        out: dict[int, list[int]] = {}
        for n in self.nodes.values():
            if n.parent is not None:
                out.setdefault(n.parent, []).append(n.pk)
        return out

    def of_kind(self, kind: str, *, scoped: bool = True) -> list[NodeFact]:
        return [n for pk, n in self.nodes.items() if n.kind == kind and (not scoped or pk in self.in_scope)]

    def up(self, pk: int) -> set[int]:
        """Nodes with a lineage path to ``pk`` (jobs are not in the facts, so walks stay within runs)."""
        cache = self.__dict__.setdefault("_up", {})
        if pk not in cache:
            cache[pk] = nx.ancestors(self.graph, pk) if pk in self.graph else set()
        return cache[pk]

    def down(self, pk: int) -> set[int]:
        return nx.descendants(self.graph, pk) if pk in self.graph else set()

    def preds(self, pk: int, kind: str | None = None) -> list[NodeFact]:
        return [self.nodes[p] for p in self.graph.predecessors(pk) if kind is None or self.nodes[p].kind == kind]

    def succs(self, pk: int, kind: str | None = None) -> list[NodeFact]:
        return [self.nodes[s] for s in self.graph.successors(pk) if kind is None or self.nodes[s].kind == kind]

    @cached_property
    def sensitive(self) -> dict[int, set[str]]:
        """Sensitive tags reaching each node: own tags, plus everything upstream, stopping at de-identifying runs
        (``lineage.stops``: a run without an approved determination lets the evidence-requiring tags through)."""
        g = self.graph
        unvouched = {pk for pk, n in self.nodes.items() if n.kind == "run" and n.deidentifies} - self.deid_vouched
        through = stops.evidence_tags()
        acyclic = nx.is_directed_acyclic_graph(g)
        # A cycle is rare (a run reading what it wrote): then repeat passes towards the fixed point.
        order = list(nx.topological_sort(g)) if acyclic else list(g.nodes)
        out: dict[int, set[str]] = {}
        for _ in range(1 if acyclic else 3):
            for pk in order:
                n = self.nodes[pk]
                tags = {t for t in n.tags if t in SENSITIVE_TAGS}
                for p in g.predecessors(pk):
                    pn = self.nodes[p]
                    if pn.kind == "run" and pn.deidentifies:
                        if p in unvouched:
                            tags |= out.get(p, set()) & through
                        continue
                    tags |= out.get(p, set())
                out[pk] = tags
        return out

    @cached_property
    def deid_vouched(self) -> set[int]:
        """De-identifying runs an approved determination in effect vouches for, from the documents loaded: the
        rule of ``portal.evidence.selectors.deid_determined_runs`` (the run, its job, a version it wrote or that
        version's dataset), so a report answers from its own facts."""
        vouched = {pk for d in self.documents if d.doc_type == "deid_determination" and d.approved
                   and d.approved_at is not None and d.approved_at <= self.now and d.in_effect(self.now)
                   and d.attributes.get("method") in DEID_METHODS for pk in d.nodes}
        out = set()
        for pk, n in self.nodes.items():
            if n.kind != "run" or not n.deidentifies or not vouched:
                continue
            outputs = self.succs(pk, "datasetVersion") if pk in self.graph else []
            targets = {pk, n.parent, *(v.pk for v in outputs), *(self.dataset_of(v.pk).pk for v in outputs)}
            if targets & vouched:
                out.add(pk)
        return out

    def personal(self, pk: int) -> bool:
        return bool(self.sensitive.get(pk, set()) & PERSONAL_TAGS)

    def dataset_of(self, pk: int) -> NodeFact:
        """A dataset version's dataset (itself for a dataset)."""
        n = self.nodes[pk]
        if n.kind == "datasetVersion" and n.parent in self.nodes:
            return self.nodes[n.parent]
        return n

    # -- people -----------------------------------------------------------------------------------
    @cached_property
    def _users_by_email(self) -> dict[str, UserFact]:
        return {e.lower(): u for u in self.users.values() for e in u.emails}

    def user_for(self, name: str) -> UserFact | None:
        """The registered user a launcher or actor name denotes: a username, or any of a user's e-mails."""
        if not name:
            return None
        return self.users.get(name) or self._users_by_email.get(name.lower())

    def authors(self, pk: int) -> set[str]:
        """Usernames of the authors and committers of every commit upstream, and the launchers of every run."""
        by_email = {e: u.username for e, u in self._users_by_email.items()}
        out: set[str] = set()
        for up in self.up(pk):
            n = self.nodes[up]
            if n.kind == "commit":
                for key in ("author_email", "committer_email"):
                    email = (n.attrs.get(key) or "").lower()
                    if email:
                        out.add(by_email.get(email, email))
            elif n.kind == "run" and n.attrs.get("launched_by"):
                out.add(str(n.attrs["launched_by"]))
        return out

    def deployer(self, deployment: NodeFact) -> str:
        run_id = deployment.attrs.get("run")
        run = self.by_node_id.get(run_id) if run_id else None
        if run is not None and run.attrs.get("launched_by"):
            return str(run.attrs["launched_by"])
        actors = self.audit.target_actors.get(run_id or deployment.node_id) or []
        return actors[0] if actors else ""

    # -- documents and releases -------------------------------------------------------------------
    def documents_for(self, pk: int, doc_type: str, *, approved: bool = True) -> list[DocumentFact]:
        return [d for d in self.documents
                if d.doc_type == doc_type and pk in d.nodes and (d.approved or not approved)]

    def releases_for(self, mv_pk: int, environment: str | None = None) -> list[ReleaseFact]:
        return [r for r in self.releases
                if r.model_version == mv_pk and (environment is None or r.environment == environment)]

    def model_of(self, deployment: NodeFact) -> NodeFact | None:
        mvs = self.preds(deployment.pk, "modelVersion")
        return mvs[0] if mvs else None

    def monitoring_of(self, deployment_pk: int) -> list[MonitoringFact]:
        return [m for m in self.monitoring if m.deployment == deployment_pk]

    def incidents_of(self, pks: set[int]) -> list[IncidentFact]:
        return [i for i in self.incidents if i.nodes & pks]
    # -- the scope vocabulary of the catalog (controls.md "Conventions") ---------------------------------
    # Every check names its subjects through these, so "personal-data DV" or "prod(D)" means one thing.

    @cached_property
    def model_artifacts(self) -> set[int]:
        """Dataset versions that are a model version's artifact (the model file a training run wrote)."""
        out = set()
        for n in self.nodes.values():
            if n.kind == "modelVersion" and n.attrs.get("artifact") in self.by_node_id:
                out.add(self.by_node_id[n.attrs["artifact"]].pk)
        return out

    def datasets_with(self, tags: frozenset[str] | set[str]) -> list[NodeFact]:
        """Datasets in scope holding data with one of ``tags``: tagged so, or derived from such data (the tags
        propagate downstream through runs, and stop at a recorded de-identification run, as in the explorer).
        A model's artifact files are the model version, not a dataset: the controls on models cover them."""
        out = []
        for n in self.of_kind("dataset"):
            versions = self.members.get(n.pk, [])
            if versions and all(v in self.model_artifacts for v in versions):
                continue
            reach = set(n.tags) | self.sensitive.get(n.pk, set())
            for v in versions:
                reach |= self.nodes[v].tags | self.sensitive.get(v, set())
            if reach & tags:
                out.append(n)
        return out

    def personal_datasets(self) -> list[NodeFact]:
        return self.datasets_with(PERSONAL_TAGS)

    def phi_datasets(self) -> list[NodeFact]:
        return self.datasets_with(frozenset({"PHI"}))

    def special_category_datasets(self) -> list[NodeFact]:
        return self.datasets_with(SPECIAL_TAGS)

    def created(self, n: NodeFact) -> datetime:
        """When a node came about: its earliest known time (event time for backfilled history, else receipt).
        A model version's own event time moves with later events about it (a deploy names it), so it came about
        when the run that produced it did."""
        own = min(n.event_time, n.created_at) if n.event_time else n.created_at
        if n.kind == "modelVersion":
            runs = [r.event_time for r in self.preds(n.pk, "run") if r.event_time]
            return min([*runs, own]) if runs else own
        return own

    def deployed_at(self, d: NodeFact) -> datetime:
        """When a deployment happened: its event time (not when the portal received it)."""
        return d.event_time or d.created_at

    @cached_property
    def active_intervals(self) -> dict[int, tuple[datetime, datetime | None]]:
        """Each deployment's active interval: from its deploy until the next deploy of the same model in the same
        environment (superseded), until its retirement, or open (still active)."""
        groups: dict[tuple[str, str, str], list[NodeFact]] = {}
        for n in self.nodes.values():
            if n.kind == "deployment":
                groups.setdefault((n.namespace, n.name, n.environment), []).append(n)
        out: dict[int, tuple[datetime, datetime | None]] = {}
        for group in groups.values():
            group.sort(key=lambda d: (self.deployed_at(d), d.node_id))
            for i, d in enumerate(group):
                start = self.deployed_at(d)
                if d.state == "active":
                    out[d.pk] = (start, None)
                elif d.state == "retired":  # the retire event is its newest event: the deploy came before
                    out[d.pk] = (min(start, d.created_at), start)
                else:
                    later = [self.deployed_at(x) for x in group[i + 1:] if self.deployed_at(x) > start]
                    out[d.pk] = (start, later[0] if later else max(start, d.updated_at))
        return out

    def active_during(self, d: NodeFact, start: datetime | None = None, end: datetime | None = None) -> bool:
        """Active at any time in ``start``-``end`` (by default the report's period)."""
        start, end = start or self.period_start, end or self.period_end
        since, until = self.active_intervals.get(d.pk, (self.deployed_at(d), None))
        return since <= end and (until is None or until >= start)

    def production(self) -> list[NodeFact]:
        """prod(D): production deployments in scope active at any time during the period (superseded or retired
        since included)."""
        env = self.params.get("production_environment", "production")
        return [d for d in self.of_kind("deployment") if d.environment == env and self.active_during(d)]

    def in_force_during(self, pk: int, name: str, current: Any) -> bool:
        """Whether a governance record field (a profile's ``sox_in_scope``, an inventory's ``high_risk_annex``)
        was set at any time in the period, from its audited changes (the current value when never changed)."""
        history = sorted(self.record_history.get(pk, []), key=lambda c: c.at)
        if not history:
            return bool(current)
        before_start = [c for c in history if c.at <= self.period_start]
        at_start = (before_start[-1].after if before_start else (history[0].before or {})).get(name)
        during = [c.after.get(name) for c in history if self.period_start < c.at <= self.period_end]
        return any(bool(v) for v in (at_start, *during))

    def sox_in_scope(self, d: NodeFact) -> bool:
        p = self.profiles.get(d.pk)
        return self.in_force_during(d.pk, "sox_in_scope", p.sox_in_scope if p else False)

    def hipaa_in_scope(self, d: NodeFact) -> bool:
        """A deployment that uses ePHI: PHI upstream, or flagged HIPAA scope in its profile during the period."""
        p = self.profiles.get(d.pk)
        return "PHI" in self.sensitive.get(d.pk, set()) or self.in_force_during(
            d.pk, "hipaa_scope", p.hipaa_scope if p else False)

    def high_risk(self, mv: NodeFact | None) -> bool:
        """An EU AI Act high-risk model version: an Annex III point in its inventory during the period."""
        if mv is None:
            return False
        inv = self.inventory.get(mv.pk)
        return self.in_force_during(mv.pk, "high_risk_annex", inv.high_risk_annex if inv else "")
