"""Reads for the dashboard: each panel is one or two queries, whatever the size of the graph or the trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.fields.json import KT
from django.db.models.functions import RowNumber, TruncWeek
from django.utils import timezone

from lineage import selectors as lineage_selectors
from lineage import stops
from lineage.column_selectors import column_sensitivity
from lineage.models import SENSITIVE_TAGS, Edge, Node, NodeKind, NodeRetired, NodeTag
from lineage.redaction import redact_for
from portal.accounts.models import NamespaceOwner, User
from portal.accounts.permissions import AUDIT_ROLES, has_role
from portal.approvals import selectors as approvals_selectors
from portal.approvals import services as approval_services
from portal.approvals.models import Release, Signature, Violation
from portal.audit.models import AuditCheckpoint, AuditEntry, AuditVerification

WEEKS = 12


@dataclass(frozen=True, slots=True)
class Week:
    start: datetime
    value: int


def _week_start(t: datetime) -> datetime:
    day = t.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _weeks(now: datetime) -> list[datetime]:
    this = _week_start(now)
    return [this - timedelta(weeks=i) for i in range(WEEKS - 1, -1, -1)]


def _deployments(user: User, environment: str, approved: str = "") -> QuerySet[Node]:
    """Active deployments in ``environment``, each annotated with the approved release that covers it (if any)
    and whether a violation was recorded for it; ``approved`` "yes"/"no" keeps those with/without one."""
    covering = Release.objects.filter(
        model_version__node_id=OuterRef("mv_id"), environment=OuterRef("environment")).filter(
        Q(state=Release.State.APPROVED) | Q(state=Release.State.SUPERSEDED, approved_at__isnull=False)
    ).order_by("-approved_at")
    qs = (Node.objects.visible_to(user).filter(kind="deployment", environment=environment, state="active")
          .annotate(mv_id=KT("attrs__model_version"))
          .annotate(release_pk=Subquery(covering.values("pk")[:1]),
                    release_state=Subquery(covering.values("state")[:1]),
                    violated=Exists(Violation.objects.filter(deployment=OuterRef("pk")))))
    if approved:
        qs = qs.filter(release_pk__isnull=approved == "no")
    return qs.order_by("namespace", "name", "version", "pk")


def production_deployments(*, user: User, environment: str = "production", approved: str = "",
                           offset: int = 0, limit: int = 100) -> list[Node]:
    return list(_deployments(user, environment, approved)[offset:offset + limit])


def deployments_count(*, user: User, environment: str = "production", approved: str = "") -> int:
    return _deployments(user, environment, approved).count()


DEFAULT_ENVIRONMENT = "production"


def deployment_environments(*, user: User) -> list[str]:
    """The environments the deployment list may show: those of the deployments ``user`` may see, and the default
    (the dashboard links to it before anything is deployed there)."""
    seen = (Node.objects.visible_to(user).filter(kind="deployment").exclude(environment="")
            .values_list("environment", flat=True).distinct())
    return sorted({DEFAULT_ENVIRONMENT, *seen})


def _violations(user: User) -> QuerySet[Violation]:
    """The open ones only: the approvals selector's rule (deployment still active, no approved release covering
    it), so the dashboard's card, its panel and the list it links to agree with the API's ``status=open``."""
    return approvals_selectors.violation_list(user=user, status="open")


def violations_open(*, user: User, limit: int = 10, offset: int = 0) -> list[Violation]:
    return list(_violations(user).order_by("-detected_at", "-pk")[offset:offset + limit])


def violations_count(*, user: User) -> int:
    return _violations(user).count()


def _waiting(user: User) -> QuerySet[Release]:
    return Release.objects.visible_to(user).filter(state=Release.State.PENDING)


def releases_waiting(*, user: User, limit: int = 10, offset: int = 0) -> list[Release]:
    return list(_waiting(user).select_related("model_version", "requester").order_by(
        "created_at", "pk")[offset:offset + limit])


def releases_waiting_count(*, user: User) -> int:
    return _waiting(user).count()


def violations_per_week(*, user: User, now: datetime | None = None) -> list[Week]:
    weeks = _weeks(now or timezone.now())
    rows = (Violation.objects.filter(model_version__in=Node.objects.visible_to(user), detected_at__gte=weeks[0])
            .annotate(week=TruncWeek("detected_at")).values("week").annotate(n=Count("id")))
    counts = {_week_start(r["week"]): r["n"] for r in rows}
    return [Week(w, counts.get(w, 0)) for w in weeks]


def releases_pending_per_week(*, user: User, now: datetime | None = None) -> list[Week]:
    """Releases waiting for approval at the end of each week. A decided release stopped waiting when it was
    approved (``approved_at``) or otherwise last changed (``updated_at``)."""
    now = now or timezone.now()
    weeks = _weeks(now)
    rows = (Release.objects.visible_to(user)
            .filter(created_at__lt=now)
            .filter(Q(state__in=[Release.State.PENDING, Release.State.DRAFT]) | Q(updated_at__gte=weeks[0]))
            .values_list("created_at", "state", "approved_at", "updated_at"))
    out = []
    for w in weeks:
        end = min(w + timedelta(weeks=1), now)
        n = 0
        for created, st, approved_at, updated in rows:
            if created >= end:
                continue
            open_now = st in (Release.State.PENDING, Release.State.DRAFT)
            closed_at = None if open_now else (approved_at or updated)
            if closed_at is None or closed_at >= end:
                n += 1
        out.append(Week(w, n))
    return out


def recent_activity(*, user: User, limit: int = 8) -> dict[str, Any]:
    """The audit trail's newest entries for those who may read it; otherwise the newest release decisions."""
    if has_role(user, AUDIT_ROLES):
        return {"audit": list(AuditEntry.objects.order_by("-seq")[:limit]), "releases": []}
    return {"audit": [], "releases": list(Release.objects.visible_to(user).select_related("model_version")
                                          .order_by("-updated_at")[:limit])}


def chain_summary() -> dict[str, Any]:
    return {"verification": AuditVerification.objects.first(),
            "checkpoint": AuditCheckpoint.objects.order_by("-tree_size", "-id").first(),
            "head": AuditEntry.objects.order_by("-seq").only("seq", "time").first()}


# -- node pages ------------------------------------------------------------------------------------------
EDGE_LIMIT = 200


def _edges_in(user: User, node_pks: list[int], kinds: tuple[str, ...] = ()) -> list[Edge]:
    qs = Edge.objects.filter(dst_id__in=node_pks, src__in=Node.objects.visible_to(user))
    if kinds:
        qs = qs.filter(kind__in=kinds)
    return list(qs.select_related("src__parent", "dst").order_by("-src__event_time", "src_id")[:EDGE_LIMIT])


def _edges_out(user: User, node_pks: list[int], kinds: tuple[str, ...] = ()) -> list[Edge]:
    qs = Edge.objects.filter(src_id__in=node_pks, dst__in=Node.objects.visible_to(user))
    if kinds:
        qs = qs.filter(kind__in=kinds)
    return list(qs.select_related("dst__parent", "src").order_by("-dst__event_time", "dst_id")[:EDGE_LIMIT])


def _columns(node: Node, tags: list[NodeTag]) -> list[dict[str, Any]]:
    """The schema facet's columns, each with the classification tags set on it."""
    by_field: dict[str, list[str]] = {}
    for t in tags:
        if t.field:
            by_field.setdefault(t.field, []).append(t.tag)
    fields = ((node.facets or {}).get("schema") or {}).get("fields") or []
    out = [{"name": f.get("name", ""), "type": f.get("type", ""), "description": f.get("description", ""),
            "tags": sorted(by_field.pop(f.get("name", ""), []))} for f in fields if isinstance(f, dict)]
    out += [{"name": name, "type": "", "description": "", "tags": sorted(t)} for name, t in sorted(by_field.items())]
    return out


def approving_release(*, deployment: Node) -> Release | None:
    """The approved release that covers ``deployment``: the same rule as the deploy gate's violation check."""
    return (Release.objects.filter(model_version__node_id=deployment.attrs.get("model_version"),
                                   environment=deployment.environment)
            .filter(Q(state=Release.State.APPROVED) | Q(state=Release.State.SUPERSEDED, approved_at__isnull=False))
            .order_by("-approved_at").first())


def dropped_node_page(*, user: User, node: Node) -> dict[str, Any]:
    """What is known of a node dropped since (an ``initial`` version replaced), as ``asof.nodes_get`` found it for
    ``user``: its row as it was when dropped, when it was replaced, and its parent if the reader may see it. No
    facets, attributes, tags or edges are kept of it: the explorer as of then draws its edges."""
    return {"node": node, "dropped": True,
            "retired_at": NodeRetired.objects.filter(pk=node.pk).values_list("retired_at", flat=True).first(),
            "parent": Node.objects.visible_to(user).filter(pk=node.parent_id).first() if node.parent_id else None}


def node_page(*, user: User, node: Node) -> dict[str, Any]:
    """Everything a node page shows, by kind. A bounded number of queries whatever the node's degree."""
    tags = list(node.tags.order_by("field", "tag"))
    sensitive, passed = lineage_selectors.sensitive_upstream_explained(node=node)
    ctx: dict[str, Any] = {
        "node": node, "tags": [t for t in tags if not t.field] if node.kind == "dataset" else tags,
        "sensitive": redact_for(user, sensitive),
        "attrs": redact_for(user, node.attrs),  # a job's inputs/outputs name datasets as (namespace, name) pairs
        "parent": Node.objects.visible_to(user).filter(pk=node.parent_id).first() if node.parent_id else None,
        "incoming": _edges_in(user, [node.pk]), "outgoing": _edges_out(user, [node.pk]),
    }
    cs = ctx["column_sensitivity"] = column_sensitivity(user=user, node=node)
    ctx["deid_notes"], ctx["deid_notes_hidden"] = stops.deid_notes(user=user, run_pks=passed | set(cs.passed))
    ctx["column_tag_rows"] = [(tag, (cs.carries.get(tag, []), cs.influenced_by.get(tag, [])))
                              for tag in sorted(set(cs.carries) | set(cs.influenced_by))]
    kind = node.kind
    if kind in ("dataset", "job"):
        members = list(lineage_selectors.node_members(user=user, node=node, limit=EDGE_LIMIT))
        ctx["members"] = members
        pks = [m.pk for m in members]
        if kind == "dataset":
            ctx["columns"] = _columns(node, tags)
            ctx["readers"] = _edges_out(user, pks, ("reads",))
            ctx["writers"] = _edges_in(user, pks, ("writes",))
    elif kind == "datasetVersion":
        ctx["columns"] = _columns(node, tags)
        ctx["readers"] = [e for e in ctx["outgoing"] if e.kind == "reads"]
        ctx["writers"] = [e for e in ctx["incoming"] if e.kind == "writes"]
    elif kind == "run":
        if node.deidentifies:
            ctx["deid_evidenced"] = bool(stops.deid_evidenced([node.pk]))
            ctx["deid_evidence_tags"] = sorted(stops.evidence_tags())
        ctx["history"] = list(lineage_selectors.run_events(run_uuid=node.name)
                              .only("event_type", "event_time", "received_at", "warnings", "applied_at"))
        ctx["inputs"] = [e.src for e in ctx["incoming"] if e.kind == "reads"]
        ctx["outputs"] = [e.dst for e in ctx["outgoing"] if e.kind == "writes"]
        ctx["commits"] = [e.src for e in ctx["incoming"] if e.kind == "built_from"]
        ctx["parent_runs"] = [e.src for e in ctx["incoming"] if e.kind == "parent_of"]
        ctx["child_runs"] = [e.dst for e in ctx["outgoing"] if e.kind == "parent_of"]
        ctx["models"] = [e.dst for e in ctx["outgoing"] if e.kind == "produces"]
    elif kind == "modelVersion":
        ctx["training_runs"] = [e.src for e in ctx["incoming"] if e.kind == "produces"]
        ctx["deployments"] = [e.dst for e in ctx["outgoing"] if e.kind == "deploys"]
        ctx["releases"] = list(Release.objects.visible_to(user).filter(model_version=node)
                               .select_related("requester").order_by("-created_at")[:50])
        closure = lineage_selectors.upstream_closure(seeds=[node.pk], max_nodes=2000, stop_at_deidentifying=False)
        versions = list(Node.objects.visible_to(user).filter(pk__in=list(closure.info), kind="datasetVersion")
                        .select_related("parent").order_by("namespace", "name")[:EDGE_LIMIT])
        # Each upstream dataset with its own classification (a version carries its dataset's tags).
        holders = {v.pk for v in versions} | {v.parent_id for v in versions if v.parent_id}
        own: dict[int, set[str]] = {}
        rows = NodeTag.objects.filter(node_id__in=holders, tag__in=SENSITIVE_TAGS).values_list("node_id", "tag")
        for pk, tag in rows:
            own.setdefault(pk, set()).add(tag)
        ctx["upstream_data"] = [(v, sorted(own.get(v.pk, set()) | own.get(v.parent_id, set()))) for v in versions]
        ctx["upstream_cut"] = closure.cut
    elif kind == "deployment":
        ctx["models"] = [e.src for e in ctx["incoming"] if e.kind == "deploys"]
        ctx["release"] = release = approving_release(deployment=node)
        if release is not None:
            ctx["release_signers"] = list(release.signatures.filter(voided_at__isnull=True,
                                                                    meaning=Signature.Meaning.APPROVAL))
        elif ctx["models"]:
            ctx["environment_rule"] = approval_services.environment_rule(model_version=ctx["models"][0],
                                                                         environment=node.environment)
        ctx["violation"] = Violation.objects.filter(deployment=node).first()
    elif kind == "commit":
        ctx["built"] = [e.dst for e in ctx["outgoing"] if e.kind == "built_from"]
    return ctx


LANDING_KINDS = (NodeKind.DATASET, NodeKind.MODEL_VERSION, NodeKind.DEPLOYMENT)


@dataclass(frozen=True, slots=True)
class KindGroup:
    kind: str
    label: str
    nodes: list[Node]
    total: int


def team_landing(*, user: User, per_kind: int = 8) -> list[KindGroup]:
    """The search page before any search: the datasets, model versions and deployments of the user's teams,
    grouped by kind, recently changed first (by the last lineage event, then the last update). A user whose
    teams own none of these sees what is visible to them. Three queries whatever the graph's size: the counts
    per kind, the newest ``per_kind`` of each (a window), their tags."""
    visible = Node.objects.visible_to(user).filter(kind__in=LANDING_KINDS)
    mine = visible.filter(namespace__in=NamespaceOwner.objects.filter(team__members=user).values("namespace"))
    counts = dict(mine.values_list("kind").annotate(n=Count("pk")).values_list("kind", "n"))
    if not counts:
        mine = visible
        counts = dict(mine.values_list("kind").annotate(n=Count("pk")).values_list("kind", "n"))
    newest = (mine.annotate(rank=Window(RowNumber(), partition_by=F("kind"), order_by=[
                  F("event_time").desc(nulls_last=True), F("updated_at").desc(), F("pk").asc()]))
              .filter(rank__lte=per_kind).select_related("parent").prefetch_related("tags")
              .order_by("kind", "rank"))
    by_kind: dict[str, list[Node]] = {}
    for node in newest:
        by_kind.setdefault(node.kind, []).append(node)
    return [KindGroup(kind=kind.value, label=str(kind.label), nodes=by_kind[kind.value], total=counts[kind.value])
            for kind in LANDING_KINDS if by_kind.get(kind.value)]
