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

from lineage.labels import node_label
from lineage.models import SENSITIVE_TAGS

PERSONAL_TAGS = frozenset({"PII", "PHI", "SPECIAL_CAT"})


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
    facets: dict[str, Any]
    event_time: datetime | None
    created_at: datetime
    updated_at: datetime
    parent: int | None
    deidentifies: bool
    tags: set[str] = field(default_factory=set)

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
        """Sensitive tags reaching each node: own tags, plus everything upstream, stopping at de-identifying runs."""
        g = self.graph
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
                        continue
                    tags |= out.get(p, set())
                out[pk] = tags
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
    def authors(self, pk: int) -> set[str]:
        """Usernames of the authors and committers of every commit upstream, and the launchers of every run."""
        by_email = {e: u.username for u in self.users.values() for e in u.emails}
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

    def production(self) -> list[NodeFact]:
        """Active production deployments in scope."""
        env = self.params.get("production_environment", "production")
        return [d for d in self.of_kind("deployment") if d.environment == env and d.state == "active"]
