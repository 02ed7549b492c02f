"""Load the ``Facts`` of a report scope in bulk: one query per table, chunked, no per-node queries."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count

from lineage.models import Node, NodeTag
from lineage.selectors import lineage_walk
from portal.accounts.models import NamespaceOwner, User, UserEmail
from portal.approvals.models import Release, Signature
from portal.audit.models import AuditEntry, AuditVerification
from portal.evidence.models import Document
from portal.governance.erasure import due_at as erasure_due_at
from portal.governance.models import (
    DatasetGovernance,
    DeploymentProfile,
    ErasureRequest,
    ModelInventory,
    SubjectKey,
)
from portal.governance.parameters import parameters_timeline
from portal.incidents.models import Incident
from portal.incidents.services import incident_clocks
from portal.lib.sql import select_in
from portal.monitoring.models import Alert, MonitoringResult

from .catalog import FRAMEWORKS
from .facts import (
    AlertFact,
    AuditFacts,
    ClockFact,
    DatasetGov,
    DocumentFact,
    ErasureFact,
    Facts,
    IncidentFact,
    Inventory,
    MonitoringFact,
    NodeFact,
    Profile,
    RecordChange,
    ReleaseFact,
    ReportFact,
    SignatureFact,
    UserFact,
)
from .models import PostureSnapshot, Report

CHUNK = 5000
# Not the facets: no check reads them, and decoding every node's facets is most of the load time.
NODE_FIELDS = ("pk", "node_id", "kind", "namespace", "name", "version", "environment", "state", "attrs",
               "event_time", "created_at", "updated_at", "parent_id", "deidentifies")


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def scope_pks(scope: dict[str, list[str]], *, max_nodes: int | None = None) -> tuple[set[int] | None, bool]:
    """The node pks a scope covers (None: the whole organisation) and whether a bound cut the closure.

    A scope names namespaces, model names and tags. It covers those nodes, everything upstream of its model
    versions and deployments, and everything downstream of its datasets, so a model's upstream PHI is in
    scope of a report on that model. (``scope_context`` adds what lies upstream of its datasets, for the tags
    that reach them.)
    """
    namespaces, models, tags = scope.get("namespaces") or [], scope.get("models") or [], scope.get("tags") or []
    if not (namespaces or models or tags):
        return None, False
    base: set[int] = set()
    qs = Node.objects.exclude(kind="job")
    if namespaces:
        base |= set(qs.filter(namespace__in=namespaces).values_list("pk", flat=True))
    if models:
        base |= set(qs.filter(kind__in=("modelVersion", "deployment"), name__in=models).values_list("pk", flat=True))
    if tags:
        tagged = set(NodeTag.objects.filter(tag__in=tags).values_list("node_id", flat=True))
        base |= tagged | set(Node.objects.filter(parent_id__in=tagged).values_list("pk", flat=True))
    kinds = {pk: k for part in _chunks(list(base)) for pk, k in qs.filter(pk__in=part).values_list("pk", "kind")}
    up_seeds = [pk for pk, k in kinds.items() if k in ("modelVersion", "deployment")]
    down_seeds = [pk for pk, k in kinds.items() if k in ("dataset", "datasetVersion")]
    max_nodes = max_nodes or settings.PORTAL_REPORT_MAX_NODES
    cut = False
    closure = set(kinds)
    for seeds, direction in ((up_seeds, "upstream"), (down_seeds, "downstream")):
        for part in _chunks(seeds):
            walk = lineage_walk(seeds=part, direction=direction, depth=settings.LINEAGE_MAX_DEPTH,
                                max_nodes=max_nodes)
            closure |= set(walk.distance)
            cut = cut or walk.cut_by_size or walk.cut_by_depth
    return closure, cut


def scope_context(pks: set[int], *, max_nodes: int | None = None) -> set[int]:
    """Nodes upstream of a scope's datasets and runs, outside the scope: loaded so that the tags that propagate
    into a scoped dataset from elsewhere (a PHI source in another namespace) reach it; never checked themselves."""
    seeds = [pk for part in _chunks(sorted(pks)) for pk in Node.objects.filter(
        pk__in=part, kind__in=("datasetVersion", "run")).values_list("pk", flat=True)]
    out: set[int] = set()
    for part in _chunks(seeds):
        walk = lineage_walk(seeds=part, direction="upstream", depth=settings.LINEAGE_MAX_DEPTH,
                            max_nodes=max_nodes or settings.PORTAL_REPORT_MAX_NODES)
        out |= set(walk.distance)
    return out - pks


def _nodes(pks: set[int] | None, step: Callable[[str], None] = lambda _: None) -> dict[int, NodeFact]:
    qs = Node.objects.exclude(kind="job")
    rows: Iterable[dict[str, Any]]
    if pks is None:
        rows = qs.values(*NODE_FIELDS).iterator(chunk_size=CHUNK)
    else:
        rows = (r for part in _chunks(sorted(pks)) for r in qs.filter(pk__in=part).values(*NODE_FIELDS))
    out: dict[int, NodeFact] = {}
    for r in rows:
        if len(out) % CHUNK == CHUNK - 1:
            step(f"loading nodes ({len(out) + 1:,} so far)")
        out[r["pk"]] = NodeFact(pk=r["pk"], node_id=r["node_id"], kind=r["kind"], namespace=r["namespace"],
                                name=r["name"], version=r["version"], environment=r["environment"],
                                state=r["state"], attrs=r["attrs"] or {},
                                event_time=r["event_time"], created_at=r["created_at"], updated_at=r["updated_at"],
                                parent=r["parent_id"], deidentifies=r["deidentifies"])
    return out


def _in(model: Any, field: str, pks: list[int], qs: Any = None) -> Iterable[Any]:
    """Rows of ``model`` whose ``field`` is among ``pks``. For many pks (an organisation-wide report) reading
    the whole table and filtering here is much cheaper than tens of thousands of query parameters."""
    qs = model.objects.all() if qs is None else qs
    if len(pks) > CHUNK:
        wanted = set(pks)
        yield from (row for row in qs.iterator(chunk_size=CHUNK) if getattr(row, f"{field}_id") in wanted)
        return
    for part in _chunks(pks):
        yield from qs.filter(**{f"{field}__in": part})


def _parents(pks: set[int]) -> set[int]:
    """The datasets of these dataset versions (their tags and privacy attributes live on the dataset)."""
    return {p for part in _chunks(sorted(pks)) for p in Node.objects.filter(
        pk__in=part, kind="datasetVersion").values_list("parent_id", flat=True) if p is not None} - pks


def _tags_and_edges(nodes: dict[int, NodeFact]) -> list[tuple[int, int, str]]:
    pks = list(nodes)
    for node_pk, column, tag in select_in("SELECT node_id, field, tag FROM lineage_nodetag WHERE node_id", pks):
        nodes[node_pk].tags.add(tag)
        if column:
            nodes[node_pk].column_tags.setdefault(column, set()).add(tag)
    for n in nodes.values():  # a version carries its dataset's tags
        if n.kind == "datasetVersion" and n.parent in nodes:
            n.tags |= nodes[n.parent].tags
    return [(s, d, k) for s, d, k in select_in("SELECT src_id, dst_id, kind FROM lineage_edge WHERE src_id", pks)
            if d in nodes]


def _governance(facts: Facts) -> None:
    pks = list(facts.nodes)
    keys = dict(SubjectKey.objects.values("dataset_id").annotate(n=Count("id")).values_list("dataset_id", "n"))
    for g in _in(DatasetGovernance, "node", pks):
        facts.governance[g.node_id] = DatasetGov(
            lawful_basis=g.lawful_basis, purposes=list(g.purposes or []), consent_reference=g.consent_reference,
            special_category_condition=g.special_category_condition, retention_until=g.retention_until,
            legal_hold=g.legal_hold, disposition=g.disposition, disposed_at=g.disposed_at,
            subject_keys=keys.get(g.node_id, 0))
    for pk, n in keys.items():
        if pk in facts.nodes and pk not in facts.governance:
            facts.governance[pk] = DatasetGov("", [], "", "", None, False, "", None, subject_keys=n)
    for m in _in(ModelInventory, "node", pks, ModelInventory.objects.select_related("owner")):
        facts.inventory[m.node_id] = Inventory(
            owner=m.owner.username if m.owner else "", intended_use=m.intended_use, tier=m.tier,
            limitations=m.limitations, status=m.status, retired_at=m.retired_at,
            high_risk_annex=m.high_risk_annex, credit_decisioning=m.credit_decisioning)
    for p in _in(DeploymentProfile, "node", pks):
        facts.profiles[p.node_id] = Profile(
            sox_in_scope=p.sox_in_scope, hipaa_scope=p.hipaa_scope, human_in_loop=p.human_in_loop,
            overseers=list(p.overseers or []), change_record=p.change_record, emergency=p.emergency,
            log_location=p.log_location, log_retention_days=p.log_retention_days,
            log_max_gap_minutes=p.log_max_gap_minutes, stop_control_tested_at=p.stop_control_tested_at)


def _documents(facts: Facts) -> None:
    links: dict[Any, set[int]] = {}
    for doc_id, node_pk in Document.nodes.through.objects.values_list("document_id", "node_id"):
        links.setdefault(doc_id, set()).add(node_pk)
    releases: dict[Any, set[int]] = {}
    for doc_id, release_id in Document.releases.through.objects.values_list("document_id", "release_id"):
        releases.setdefault(doc_id, set()).add(release_id)
    for d in Document.objects.defer("content").select_related("author", "approved_by"):
        facts.documents.append(DocumentFact(
            id=str(d.id), doc_type=d.doc_type, title=d.title, version=d.version, author=d.author.username,
            approved_by=d.approved_by.username if d.approved_by else "", approved_at=d.approved_at,
            effective_from=d.effective_from, effective_until=d.effective_until, retention_until=d.retention_until,
            created_at=d.created_at, sections=list(d.sections or []), attributes=dict(d.attributes or {}),
            sha256=d.sha256, nodes=links.get(d.id, set()), releases=releases.get(d.id, set())))


def _releases(facts: Facts) -> None:
    by_release: dict[int, list[SignatureFact]] = {}
    for s in Signature.objects.select_related("signer").order_by("signed_at", "pk"):
        by_release.setdefault(s.release_id, []).append(SignatureFact(
            username=s.signer.username, printed_name=s.printed_name, meaning=s.meaning, reason=s.reason,
            signed_at=s.signed_at, voided=s.voided_at is not None, subject_digest=s.subject_digest,
            auth_methods=list(s.auth_methods or [])))
    for r in Release.objects.select_related("requester", "policy").order_by("pk"):
        facts.releases.append(ReleaseFact(
            id=r.pk, model_version=r.model_version_id, environment=r.environment, state=r.state,
            requester=r.requester.username, policy=f"{r.policy.key} v{r.policy.version}",
            subject_digest=r.subject_digest, approved_at=r.approved_at, created_at=r.created_at,
            break_glass=r.break_glass, retrospective_of=r.retrospective_of_id, retrospective_due=r.retrospective_due,
            signatures=by_release.get(r.pk, [])))


def _people(facts: Facts) -> None:
    extra: dict[int, set[str]] = {}
    for user_id, email in UserEmail.objects.values_list("user_id", "email"):
        extra.setdefault(user_id, set()).add(email.lower())
    teams: dict[int, set[str]] = {}
    for user_id, team in User.teams.through.objects.values_list("user_id", "team__name"):
        teams.setdefault(user_id, set()).add(team)
    for u in User.objects.all():
        emails = ({u.email.lower()} if u.email else set()) | extra.get(u.pk, set())
        facts.users[u.username] = UserFact(username=u.username, name=u.get_full_name() or u.username, role=u.role,
                                           is_active=u.is_active, emails=emails, teams=teams.get(u.pk, set()))
    facts.namespace_teams = dict(NamespaceOwner.objects.values_list("namespace", "team__name"))


def _audit(facts: Facts) -> None:
    latest = AuditVerification.objects.order_by("-time").first()
    audit = AuditFacts(chain_ok=latest.ok if latest else None, chain_checked_at=latest.time if latest else None,
                       chain_entries=latest.entries if latest else 0,
                       chain_problems=[latest.message] if latest and not latest.ok else [])
    targets = [n.node_id for n in facts.nodes.values() if n.kind in ("run", "deployment")]
    for part in _chunks(targets):
        rows = AuditEntry.objects.filter(target_kind__in=("run", "deployment"), target_id__in=part).values_list(
            "target_id", "time", "actor_name")
        for target, time, actor in rows:
            audit.target_times.setdefault(target, []).append(time)
            if actor:
                audit.target_actors.setdefault(target, []).append(actor)
    facts.audit = audit


RECORD_ACTIONS = ("governance.profile_set", "governance.inventory_set")


def _record_history(facts: Facts) -> None:
    """The audited changes of deployment profiles and model inventory records: a scope flag (SOX, HIPAA,
    high-risk) counts if it was set at any time in the period, not only now."""
    by_id = {n.node_id: pk for pk, n in facts.nodes.items() if n.kind in ("deployment", "modelVersion")}
    for part in _chunks(sorted(by_id)):
        rows = AuditEntry.objects.filter(action__in=RECORD_ACTIONS, target_id__in=part).order_by("seq")
        for target, time, payload in rows.values_list("target_id", "time", "payload"):
            data = json.loads(payload or "{}")
            if isinstance(data.get("after"), dict):
                facts.record_history.setdefault(by_id[target], []).append(
                    RecordChange(at=time, before=data.get("before"), after=data["after"]))


def _erasures(facts: Facts) -> None:
    requests = ErasureRequest.objects.filter(received_at__lte=facts.period_end).prefetch_related("dispositions__node")
    for r in requests:
        if r.responded_at and r.responded_at < facts.period_start:
            continue
        facts.erasure_requests.append(ErasureFact(
            id=r.pk, received_at=r.received_at, due_at=erasure_due_at(r), responded_at=r.responded_at,
            dispositions=[(d.node.node_id, d.node.kind, d.outcome, d.decided_at) for d in r.dispositions.all()]))


def _monitoring(facts: Facts) -> None:
    """Monitoring results and alerts of the deployments in scope, and the incidents touching the scope, up to
    the end of the period."""
    deployments = [n.pk for n in facts.nodes.values() if n.kind == "deployment"]
    end = facts.period_end
    for part in _chunks(deployments):
        for r in (MonitoringResult.objects.filter(deployment_id__in=part, observed_at__lte=end)
                  .select_related("run").only("deployment_id", "observed_at", "metric", "threshold", "psi", "ks",
                                              "breaches", "run__node_id")):
            facts.monitoring.append(MonitoringFact(
                deployment=r.deployment_id, observed_at=r.observed_at, metric=r.metric,
                has_threshold=r.threshold is not None or r.psi is not None or r.ks is not None,
                breaches=list(r.breaches), run=r.run.node_id))
        for a in Alert.objects.filter(deployment_id__in=part, opened_at__lte=end).prefetch_related("incidents"):
            facts.alerts.append(AlertFact(id=a.pk, deployment=a.deployment_id, opened_at=a.opened_at, state=a.state,
                                          reason=a.reason, closed_at=a.closed_at,
                                          incidents=[i.pk for i in a.incidents.all()]))
    incidents = (Incident.objects.filter(detected_at__lte=end)
                 .exclude(state=Incident.State.CLOSED, closed_at__lt=facts.period_start)
                 .prefetch_related("deployments", "model_versions", "datasets", "notifications"))
    params_at = parameters_timeline()
    for i in incidents:
        nodes = ({n.pk for n in i.deployments.all()} | {n.pk for n in i.model_versions.all()}
                 | {n.pk for n in i.datasets.all()})
        if not nodes & facts.in_scope:
            continue
        recorded = {n.clock: n for n in i.notifications.all()}
        facts.incidents.append(IncidentFact(
            id=i.pk, title=i.title, kinds=list(i.kinds), severity=i.severity, detected_at=i.detected_at,
            opened_at=i.opened_at, state=i.state, closed_at=i.closed_at, nodes=nodes,
            clocks=[ClockFact(c.name, c.label, c.deadline,
                              recorded[c.name].notified_at if c.name in recorded else None,
                              bool(c.name in recorded and recorded[c.name].exempt_reason))
                    for c in incident_clocks(i, params_at)]))


def facts_load(*, scope: dict[str, list[str]], period: tuple[datetime, datetime], now: datetime,
               params: dict[str, Any], progress: Callable[[str], None] | None = None) -> Facts:
    step = progress or (lambda _: None)
    pks, cut = scope_pks(scope)
    if pks is not None:
        pks |= _parents(pks)
    context = scope_context(pks) if pks is not None else set()
    context |= _parents(context) - (pks or set())
    step("loading nodes")
    nodes = _nodes(pks | context if pks is not None else None, step)
    step(f"loading tags and edges of {len(nodes)} nodes")
    edges = _tags_and_edges(nodes)
    in_scope = set(nodes) - context
    facts = Facts(now=now, period_start=period[0], period_end=period[1], params=params, nodes=nodes, edges=edges,
                  in_scope=in_scope, truncated=cut)
    for name, load in (("governance records", _governance), ("documents", _documents), ("releases", _releases),
                       ("people", _people), ("audit entries", _audit), ("record history", _record_history),
                       ("monitoring and incidents", _monitoring)):
        step(f"loading {name}")
        load(facts)
    step("propagating sensitive tags")
    _ = facts.sensitive
    _erasures(facts)
    facts.reports = [ReportFact(kind=r.kind, subject=r.subject, annex_iv=r.annex_iv, finished_at=r.finished_at)
                     for r in Report.objects.filter(state=Report.State.DONE, kind=Report.Kind.DOSSIER)]
    return facts


@dataclass(frozen=True, slots=True)
class PosturePoint:
    start: datetime
    value: int


def _posture_recent(history: int) -> dict[str, list[PostureSnapshot]]:
    """The newest evaluations of each framework, newest first, in one query (the beat task evaluates them all
    together, so a framework's latest is among the newest rows)."""
    recent: dict[str, list[PostureSnapshot]] = {}
    for snap in PostureSnapshot.objects.order_by("-evaluated_at")[: history * len(FRAMEWORKS) * 2]:
        recent.setdefault(snap.framework, []).append(snap)
    return recent


def posture_latest() -> dict[str, PostureSnapshot]:
    """The newest snapshot of each framework."""
    return {fid: snaps[0] for fid, snaps in _posture_recent(1).items()}


def posture_overview(*, history: int = 12) -> list[dict[str, Any]]:
    """Per framework: the latest counts and the failing-control counts of its last ``history`` evaluations."""
    recent = _posture_recent(history)
    rows = []
    for fid, framework in FRAMEWORKS.items():
        snaps = recent.get(fid, [])[:history]
        latest = snaps[0] if snaps else None
        total = (latest.passed + latest.failed + latest.not_evaluated + latest.evidence) if latest else 0
        rows.append({"id": fid, "name": framework.name, "latest": latest, "total": total,
                     "trend": [PosturePoint(s.evaluated_at, s.failed) for s in reversed(snaps)]})
    return rows
