"""Small graphs for the control checks: build ``Facts`` directly, no database (the checks are pure)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from portal.governance.parameters import DEFAULTS
from portal.reports.facts import (
    AlertFact,
    AuditFacts,
    ClockFact,
    DatasetGov,
    DocumentFact,
    Facts,
    IncidentFact,
    Inventory,
    MonitoringFact,
    NodeFact,
    Profile,
    ReleaseFact,
    SignatureFact,
    UserFact,
)

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


class Graph:
    """``g = Graph(); ds = g.dataset("patients", tags={"PHI"}); v = g.version(ds); r = g.run(reads=[v]) …``"""

    def __init__(self, **params: Any) -> None:
        self._pk = itertools.count(1)
        self.facts = Facts(now=NOW, period_start=ago(365), period_end=NOW, params={**DEFAULTS, **params},
                           nodes={}, edges=[], in_scope=set(),
                           audit=AuditFacts(chain_ok=True, chain_checked_at=NOW, chain_entries=10, chain_problems=[]))

    def node(self, kind: str, name: str, *, version: str = "", environment: str = "", state: str = "",
             tags: set[str] | None = None, attrs: dict[str, Any] | None = None, parent: NodeFact | None = None,
             created: datetime | None = None, deidentifies: bool = False, namespace: str = "ns") -> NodeFact:
        pk = next(self._pk)
        t = created or ago(100)
        suffix = f"#{version}" if version else ""
        node_id = f"{kind}:{namespace}:{name}{suffix}" + (f"@{environment}" if environment else "")
        n = NodeFact(pk=pk, node_id=node_id, kind=kind, namespace=namespace, name=name, version=version,
                     environment=environment, state=state, attrs=attrs or {}, event_time=t,
                     created_at=t, updated_at=t, parent=parent.pk if parent else None, deidentifies=deidentifies,
                     tags=set(tags or ()))
        self.facts.nodes[pk] = n
        self.facts.in_scope.add(pk)
        self._touch()
        return n

    def edge(self, src: NodeFact, dst: NodeFact, kind: str) -> None:
        self.facts.edges.append((src.pk, dst.pk, kind))
        self._touch()

    def _touch(self) -> None:
        """Facts cache the graph for a report's lifetime; a test that grows the graph drops the caches."""
        for cached in ("graph", "sensitive", "members", "by_node_id", "_up", "_users_by_email", "active_intervals",
                       "model_artifacts"):
            self.facts.__dict__.pop(cached, None)

    def dataset(self, name: str, *, tags: set[str] | None = None, **gov: Any) -> NodeFact:
        ds = self.node("dataset", name, tags=tags)
        if gov:
            self.facts.governance[ds.pk] = DatasetGov(**{**_GOV, **gov})
        return ds

    def version(self, ds: NodeFact, v: str = "1", **kw: Any) -> NodeFact:
        dv = self.node("datasetVersion", ds.name, version=v, parent=ds, tags=set(ds.tags), **kw)
        return dv

    def run(self, *, reads: list[NodeFact] = (), writes: list[NodeFact] = (), launched_by: str = "",
            state: str = "COMPLETE", deidentifies: bool = False, created: datetime | None = None) -> NodeFact:
        r = self.node("run", f"run{len(self.facts.nodes)}", state=state, deidentifies=deidentifies, created=created,
                      attrs={"launched_by": launched_by} if launched_by else {})
        for dv in reads:
            self.edge(dv, r, "reads")
        for dv in writes:
            self.edge(r, dv, "writes")
        return r

    def commit(self, *, author_email: str, reaches: NodeFact) -> NodeFact:
        c = self.node("commit", "repo", version=f"sha{len(self.facts.nodes)}",
                      attrs={"author_email": author_email, "committer_email": author_email})
        self.edge(c, reaches, "built_from")
        return c

    def model(self, name: str, *, by_run: NodeFact | None = None, version: str = "1", metrics: bool = True,
              inventory: dict[str, Any] | None = None, created: datetime | None = None) -> NodeFact:
        mv = self.node("modelVersion", name, version=version, created=created,
                       attrs={"metrics": {"auc": 0.8}} if metrics else {})
        if by_run is not None:
            self.edge(by_run, mv, "produces")
        if inventory is not None:
            self.facts.inventory[mv.pk] = Inventory(**{**_INV, **inventory})
        return mv

    def deploy(self, mv: NodeFact, environment: str = "production", *, state: str = "active",
               created: datetime | None = None, run: NodeFact | None = None, **profile: Any) -> NodeFact:
        d = self.node("deployment", mv.name, version=mv.version, environment=environment, state=state,
                      created=created, attrs={"run": run.node_id} if run else {})
        self.edge(mv, d, "deploys")
        if profile:
            self.facts.profiles[d.pk] = Profile(**{**_PROFILE, **profile})
        return d

    def doc(self, doc_type: str, *, on: list[NodeFact] = (), releases: list[int] = (), author: str = "author",
            approved: datetime | None = None, unapproved: bool = False, sections: list[str] = (),
            retention_until: date | None = None, effective_from: datetime | None = None, **attributes: Any
            ) -> DocumentFact:
        approved_at = None if unapproved else (approved or ago(50))
        d = DocumentFact(id=f"doc{len(self.facts.documents) + 1}", doc_type=doc_type, title=f"{doc_type} doc",
                         version="1", author=author, approved_by="" if unapproved else "approver",
                         approved_at=approved_at, effective_until=None,
                         effective_from=effective_from or approved_at or ago(60),  # in effect once approved
                         retention_until=retention_until or date(2040, 1, 1), created_at=ago(60),
                         sections=list(sections), attributes=attributes, sha256="0" * 64,
                         nodes={n.pk for n in on}, releases=set(releases))
        self.facts.documents.append(d)
        return d

    def release(self, mv: NodeFact, *, approvers: list[str] = (), approved: datetime | None = None,
                environment: str = "production", state: str = "approved", break_glass: bool = False,
                retrospective_of: int | None = None, retrospective_due: datetime | None = None) -> ReleaseFact:
        r = ReleaseFact(id=len(self.facts.releases) + 1, model_version=mv.pk, environment=environment, state=state,
                        requester="requester", policy="production v1", subject_digest="ab" * 32,
                        approved_at=approved if state == "approved" else None, created_at=ago(120),
                        break_glass=break_glass, retrospective_of=retrospective_of,
                        retrospective_due=retrospective_due,
                        signatures=[SignatureFact(username=a, printed_name=a.title(), meaning="approval",
                                                  reason="ok", signed_at=ago(110), voided=False,
                                                  subject_digest="ab" * 32) for a in approvers])
        self.facts.releases.append(r)
        return r

    def result(self, d: NodeFact, *, days_ago: float = 1, metric: str = "auc", threshold: bool = True,
               breaches: list[str] = ()) -> MonitoringFact:
        m = MonitoringFact(deployment=d.pk, observed_at=ago(days_ago), metric=metric, has_threshold=threshold,
                           breaches=list(breaches), run=f"run:{len(self.facts.monitoring)}")
        self.facts.monitoring.append(m)
        return m

    def alert(self, d: NodeFact, *, days_ago: float = 1, state: str = "open") -> AlertFact:
        a = AlertFact(id=len(self.facts.alerts) + 1, deployment=d.pk, opened_at=ago(days_ago), state=state,
                      reason="auc 0.7 is below its threshold 0.75", closed_at=None)
        self.facts.alerts.append(a)
        return a

    def incident(self, *, on: list[NodeFact], kinds: list[str], days_ago: float = 10,
                 opened_days_ago: float | None = None, clocks: dict[str, tuple[float, float | None]] | None = None,
                 alerts: list[AlertFact] = (),
                 exempt: set[str] = frozenset(), state: str = "open") -> IncidentFact:
        """``clocks``: name -> (deadline in days after awareness, notified days after awareness or None)."""
        aware = ago(days_ago)
        i = IncidentFact(id=len(self.facts.incidents) + 1, title=f"incident {len(self.facts.incidents) + 1}",
                         kinds=kinds, severity="high", detected_at=aware,
                         opened_at=ago(days_ago if opened_days_ago is None else opened_days_ago), state=state,
                         closed_at=None, nodes={n.pk for n in on},
                         clocks=[ClockFact(name, name, aware + timedelta(days=due),
                                           aware + timedelta(days=notified) if notified is not None else None,
                                           name in exempt)
                                 for name, (due, notified) in (clocks or {}).items()])
        self.facts.incidents.append(i)
        for a in alerts:
            a.incidents.append(i.id)
            a.state = "incident"
        return i

    def user(self, username: str, *, teams: set[str] = frozenset(), role: str = "viewer",
             email: str | None = None) -> UserFact:
        u = UserFact(username=username, name=username.title(), role=role, is_active=True,
                     emails={email or f"{username}@example.com"}, teams=set(teams))
        self.facts.users[username] = u
        return u


_GOV = {"lawful_basis": "", "purposes": [], "consent_reference": "", "special_category_condition": "",
        "retention_until": None, "legal_hold": False, "disposition": "", "disposed_at": None}
_INV = {"owner": "owner", "intended_use": "scoring", "tier": 2, "limitations": "none known", "status": "production",
        "retired_at": None, "high_risk_annex": "", "credit_decisioning": False}
_PROFILE = {"sox_in_scope": False, "hipaa_scope": False, "human_in_loop": True, "overseers": [], "change_record": "",
            "emergency": False}
