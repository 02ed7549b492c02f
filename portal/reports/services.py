"""Request, generate and verify reports.

Generation runs in a Celery task (inline in the embedded default). It reports progress in the report
row (percent, step, heartbeat) outside any long transaction, so pages and the API can show it while it
runs. If the worker dies, the redelivered task (acks late) or the stale-report sweeper takes over.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from lineage.governance_fields import subject_key_hash
from lineage.models import Node
from lineage.selectors import erasure_impact
from portal.accounts.models import Role, User
from portal.accounts.permissions import REPORT_ROLES, has_role
from portal.accounts.reauth import Confirmation, signer_confirm
from portal.audit.models import AuditEntry
from portal.audit.services import audit_integrate, audit_record
from portal.governance.models import SubjectKey
from portal.governance.parameters import parameters_in_force
from portal.lib.errors import DomainError, FieldError

from . import bundle as B
from .approved_lineage import approved_lineages
from .catalog import FRAMEWORKS, framework_get
from .checks import evaluate
from .models import PostureSnapshot, Report, ReportSignature
from .selectors import facts_load

logger = logging.getLogger(__name__)

DOSSIER_FRAMEWORKS = ("model-risk", "eu-ai-act")
PROGRESS_EVERY = 0.5  # seconds between progress writes
MAX_STEPS = 200  # steps kept in Report.steps


class ReportForbidden(DomainError):
    status_code = 403


def _visible_node(user: User, node_id: str, field: str, kinds: tuple[str, ...]) -> Node:
    node = Node.objects.visible_to(user).filter(node_id=node_id).first()
    if node is None:
        raise FieldError(field, f"no visible node {node_id!r}")
    if node.kind not in kinds:
        raise FieldError(field, f"{node_id!r} is a {node.kind}, not a {' or '.join(kinds)}")
    return node


def _clean_scope(scope: dict[str, Any] | None) -> dict[str, list[str]]:
    scope = scope or {}
    unknown = set(scope) - {"namespaces", "models", "tags"}
    if unknown:
        raise FieldError(f"scope.{sorted(unknown)[0]}", "unknown scope key; use namespaces, models or tags")
    out = {}
    for key in ("namespaces", "models", "tags"):
        values = scope.get(key) or []
        if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
            raise FieldError(f"scope.{key}", "must be a list of non-empty strings")
        out[key] = sorted({v.strip() for v in values})
    return out


@transaction.atomic
def report_request(*, by: User, kind: str, framework: str = "", scope: dict[str, Any] | None = None,
                   period_start: datetime | None = None, period_end: datetime | None = None, model: str = "",
                   annex_iv: bool = False, dataset: str = "", subject_key: str = "", title: str = "",
                   enqueue: bool = True) -> Report:
    """Create a queued report and enqueue its generation once this transaction commits (unless the caller
    generates it itself, as ``audit_report`` does)."""
    if not has_role(by, REPORT_ROLES):
        raise ReportForbidden("Only compliance officers, auditors and admins may generate reports.")
    now = timezone.now()
    period_end = period_end or now
    period_start = period_start or period_end - timedelta(days=365)
    if period_start >= period_end:
        raise FieldError("period_start", "must be before period_end")
    fields: dict[str, Any] = {"kind": kind, "scope": {}, "period_start": period_start, "period_end": period_end}
    if kind == Report.Kind.FRAMEWORK:
        if framework not in FRAMEWORKS:
            raise FieldError("framework", f"unknown framework {framework!r}; one of {', '.join(FRAMEWORKS)}")
        fields |= {"framework": framework, "scope": _clean_scope(scope),
                   "title": title or f"{framework_get(framework).name}: compliance report"}
    elif kind == Report.Kind.DOSSIER:
        mv = _visible_node(by, model, "model", ("modelVersion",))
        fields |= {"subject": mv.node_id, "annex_iv": bool(annex_iv),
                   "title": title or f"Model dossier: {mv.name} v{mv.version}"
                   + (" (EU AI Act Annex IV)" if annex_iv else "")}
    elif kind == Report.Kind.ERASURE:
        if bool(dataset) == bool(subject_key):
            raise FieldError("dataset", "give exactly one of dataset or subject_key")
        if dataset:
            ds = _visible_node(by, dataset, "dataset", ("dataset",))
            fields |= {"subject": ds.node_id, "title": title or f"Erasure impact: {ds.name}"}
        else:
            digest = subject_key_hash(subject_key)
            if not SubjectKey.objects.filter(key_hash=digest).exists():
                raise FieldError("subject_key", "no dataset's subject index holds this key")
            fields |= {"subject_key_hash": digest, "title": title or f"Erasure impact: subject {digest[:12]}"}
    else:
        raise FieldError("kind", f"unknown kind {kind!r}; one of {', '.join(Report.Kind.values)}")
    report = Report.objects.create(requested_by=by, **fields)
    audit_record(actor=by, action="report.requested", target_kind="report", target_id=str(report.pk),
                 payload={"kind": kind, "framework": report.framework, "scope": report.scope,
                          "subject": report.subject, "subject_key_hash": report.subject_key_hash})
    if enqueue:
        from .tasks import generate_report

        transaction.on_commit(lambda: generate_report.delay(str(report.pk)))
    return report


def _claim(report_id: str, task_id: str) -> Report | None:
    """Take the report for this task: queued; redelivered to us after our worker died (same task id, acks
    late); or gone stale under another worker. None when it is finished or another worker is on it."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.PORTAL_REPORT_STALE_SECONDS)
    with transaction.atomic():
        report = Report.objects.select_for_update().filter(pk=report_id).first()
        if report is None or report.state in (Report.State.DONE, Report.State.FAILED):
            return None
        if (report.state == Report.State.RUNNING and report.task_id != task_id
                and report.heartbeat_at and report.heartbeat_at > stale):
            return None
        report.attempts += 1
        if report.attempts > settings.PORTAL_REPORT_MAX_ATTEMPTS:
            report.state, report.error = Report.State.FAILED, f"gave up after {report.attempts - 1} attempts"
            report.finished_at = now
            report.save(update_fields=["state", "error", "finished_at", "attempts"])
            audit_record(actor=None, action="report.failed", target_kind="report", target_id=str(report.pk),
                         payload={"error": report.error})
            return None
        if report.attempts > 1:
            audit_record(actor=None, action="report.retried", target_kind="report", target_id=str(report.pk),
                         payload={"attempt": report.attempts, "previous_task": report.task_id,
                                  "last_step": report.step})
        report.state, report.progress, report.step, report.task_id = Report.State.RUNNING, 0, "starting", task_id
        report.started_at = report.heartbeat_at = now
        report.save(update_fields=["state", "progress", "step", "task_id", "started_at", "heartbeat_at",
                                   "attempts"])
    return report


class Progress:
    """Writes percent and step to the report row, at most every PROGRESS_EVERY seconds (and always at 100).

    Every step written is also kept in ``Report.steps``, so the page shows what a worker went through even
    when it never saw the report running (eager mode answers the request once the report is finished)."""

    def __init__(self, report: Report, on_update: Callable[[int, str], None] | None = None) -> None:
        self.report = report
        self.on_update = on_update
        self._last = 0.0
        self._start = time.monotonic()
        self.percent = 0
        self.steps: list[list[Any]] = []

    def __call__(self, percent: int, step: str, *, force: bool = False) -> None:
        percent = max(self.percent, min(100, int(percent)))
        self.percent = percent
        now = time.monotonic()
        if force or now - self._last >= PROGRESS_EVERY:
            self._last = now
            if len(self.steps) < MAX_STEPS and (not self.steps or self.steps[-1][1] != step[:200]):
                self.steps.append([percent, step[:200], round(now - self._start, 2)])
            Report.objects.filter(pk=self.report.pk).update(progress=percent, step=step[:200], steps=self.steps,
                                                            heartbeat_at=timezone.now())
        if self.on_update:
            self.on_update(percent, step)

    def span(self, start: int, end: int) -> Callable[[int, str], None]:
        """A sub-progress mapping 0-100 onto start-end."""
        return lambda p, step: self(start + (end - start) * p // 100, step)


def report_generate(*, report_id: str, task_id: str = "inline",
                    on_progress: Callable[[int, str], None] | None = None) -> Report | None:
    """Build the bundle and the PDF of a queued report. Returns None if another worker holds it."""
    report = _claim(report_id, task_id)
    if report is None:
        return None
    progress = Progress(report, on_progress)
    try:
        body = _build(report, progress)
        progress(85, "drawing the PDF", force=True)
        from .pdf import render

        pdf = render(body, progress=progress.span(85, 99))
    except (OperationalError, InterfaceError):
        # The database went away (a restart, a failover): the row cannot be marked anyway, and this is not the
        # report's fault. The report stays running under this task id; the task retries and takes it over.
        raise
    except Exception as exc:
        logger.exception("report %s failed", report.pk)
        with transaction.atomic():
            Report.objects.filter(pk=report.pk).update(state=Report.State.FAILED, error=f"{type(exc).__name__}: {exc}",
                                                       finished_at=timezone.now())
            audit_record(actor=None, action="report.failed", target_kind="report", target_id=str(report.pk),
                         payload={"error": f"{type(exc).__name__}: {exc}"[:500]})
        return Report.objects.get(pk=report.pk)  # a bug, not a dead worker: retrying would fail the same way
    return _store(report, body, pdf, progress)


@transaction.atomic
def _store(report: Report, body: dict[str, Any], pdf: bytes, progress: Progress) -> Report:
    digest = hashlib.sha256(pdf).hexdigest()
    report.bundle, report.pdf, report.pdf_sha256, report.pdf_size = body, pdf, digest, len(pdf)
    report.summary = body["summary"]
    report.parameters_version = body["report"]["parameters"]["version"]
    report.state, report.progress, report.step = Report.State.DONE, 100, "done"
    report.finished_at = report.heartbeat_at = timezone.now()
    report.save()
    audit_record(actor=report.requested_by, action="report.generated", target_kind="report",
                 target_id=str(report.pk),
                 payload={"sha256": digest, "size": len(pdf), "kind": report.kind, "framework": report.framework,
                          "summary": report.summary, "parameters_version": report.parameters_version})
    progress(100, "done", force=True)
    return report


def _snapshot(framework: str, controls: list[dict[str, Any]], *, version: int | None, params: dict[str, Any],
              period: tuple[datetime, datetime], at: datetime) -> PostureSnapshot:
    counts = B.summary(controls)
    return PostureSnapshot.objects.create(
        framework=framework, evaluated_at=at, passed=counts["pass"], failed=counts["fail"],
        not_applicable=counts["not_applicable"], not_evaluated=counts["not_evaluated"], evidence=counts["evidence"],
        period_start=period[0], period_end=period[1], parameters=params, parameters_version=version,
        controls={c["id"]: c["status"] for c in controls})


def _build(report: Report, progress: Progress) -> dict[str, Any]:
    params = parameters_in_force(report.period_end)
    period = (report.period_start, report.period_end)
    if report.kind == Report.Kind.ERASURE:
        return _build_erasure(report, params, progress)
    progress(2, "loading the lineage in scope", force=True)
    if report.kind == Report.Kind.DOSSIER:
        scope = {"models": [Node.objects.get(node_id=report.subject).name]}
    else:
        scope = report.scope
    loading = iter(range(3, 20))
    facts = facts_load(scope=scope, period=period, now=report.period_end, params=params[1],
                       progress=lambda step: progress(next(loading, 19), step, force=True))
    if report.kind == Report.Kind.DOSSIER:
        return _build_dossier(report, facts, params, progress)
    framework = framework_get(report.framework)
    progress(20, f"evaluating {len(framework.controls)} controls", force=True)
    done = []

    def tick(control: Any) -> None:
        done.append(control)
        progress(20 + 40 * len(done) // len(framework.controls), f"evaluated {control.id}")

    results = evaluate(framework, facts, tick)
    controls = [B.control_dict(c, framework.id, r) for c, r in results]
    models = {n.pk for n in facts.of_kind("modelVersion")}
    production = facts.production()
    progress(62, "drawing lineage diagrams", force=True)
    shown = {mv.pk: mv for mv in (facts.model_of(d) for d in production) if mv is not None}
    diagrams = []
    for i, mv in enumerate(sorted(shown.values(), key=lambda m: m.node_id)):
        diagrams.append(B.diagram(facts, mv, title=mv.label))
        progress(62 + 10 * (i + 1) // max(1, len(shown)), f"lineage of {mv.label}")
    approvals = B.approvals(facts, models)
    progress(74, "collecting inclusion proofs", force=True)
    audit = B.audit_appendix([a["release"] for a in approvals], lambda step: progress(76, step))
    head = B.header(report, framework=framework, parameters=params)
    progress(78, "comparing approved lineage with the lineage now", force=True)
    bundle = B.assemble(head=head, controls=controls, audit=audit, lineage=diagrams, approvals=approvals,
                        deployments=B.deployments(facts, facts.of_kind("deployment")),
                        violations=B.violations(facts), documents=B.documents(facts))
    bundle["approved_lineage"] = approved_lineages(release_ids=[a["release"] for a in approvals],
                                                   user=report.requested_by)
    return bundle


def _build_dossier(report: Report, facts: Any, params: tuple[Any, dict[str, Any]], progress: Progress) -> dict:
    mv = facts.by_node_id[report.subject]
    progress(25, "evaluating model-risk and EU AI Act controls", force=True)
    # Evaluate over this model version's own lineage only.
    keep = facts.up(mv.pk) | {mv.pk} | {d.pk for d in facts.succs(mv.pk, "deployment")}
    facts.in_scope = keep
    controls = []
    for fid in DOSSIER_FRAMEWORKS:
        controls += [B.control_dict(c, fid, r) for c, r in evaluate(FRAMEWORKS[fid], facts)]
    progress(50, "drawing the lineage", force=True)
    diagrams = [B.diagram(facts, mv, title=mv.label)]
    approvals = B.approvals(facts, {mv.pk})
    progress(70, "collecting inclusion proofs", force=True)
    audit = B.audit_appendix([a["release"] for a in approvals])
    head = B.header(report, framework=None, parameters=params)
    head["model"] = {"node_id": mv.node_id, "name": mv.name, "version": mv.version,
                     "metrics": mv.attrs.get("metrics", {}), "parameters": mv.attrs.get("parameters", {})}
    inv = facts.inventory.get(mv.pk)
    if inv:
        head["model"]["inventory"] = {"owner": inv.owner, "intended_use": inv.intended_use, "tier": inv.tier,
                                      "limitations": inv.limitations, "status": inv.status,
                                      "high_risk_annex": inv.high_risk_annex}
    bundle = B.assemble(head=head, controls=controls, audit=audit, lineage=diagrams, approvals=approvals,
                        deployments=B.deployments(facts, facts.succs(mv.pk, "deployment")),
                        violations=[v for v in B.violations(facts) if v["model"] == mv.label],
                        documents=B.documents(facts, keep), datasets=B.datasets(facts, keep),
                        column_paths=B.column_paths([mv.node_id]))
    progress(75, "comparing approved lineage with the lineage now", force=True)
    bundle["approved_lineage"] = approved_lineages(release_ids=[a["release"] for a in approvals],
                                                   user=report.requested_by)
    return bundle


def _build_erasure(report: Report, params: tuple[Any, dict[str, Any]], progress: Progress) -> dict[str, Any]:
    progress(5, "resolving the datasets", force=True)
    if report.subject:
        sources = list(Node.objects.filter(node_id=report.subject))
    else:
        pks = SubjectKey.objects.filter(key_hash=report.subject_key_hash).values_list("dataset_id", flat=True)
        sources = list(Node.objects.filter(pk__in=list(pks)).order_by("node_id"))
    progress(20, "walking downstream", force=True)
    impact = erasure_impact(sources=sources)
    impact["query"] = {"dataset": report.subject or None,
                       "subject_key": f"sha256:{report.subject_key_hash}" if report.subject_key_hash else None}
    progress(70, "collecting the audit checkpoint", force=True)
    head = B.header(report, framework=None, parameters=params)
    return B.assemble(head=head, controls=[], audit=B.audit_appendix([]), erasure=impact)


def posture_evaluate(*, at: datetime | None = None) -> list[PostureSnapshot]:
    """The posture: every framework over the whole organisation (no PDF), over the fixed rolling period of
    the parameters in force (``posture_period_days`` up to ``at``), stored with that period and those
    parameters. The beat schedule runs it; it is the only writer of the posture."""
    at = at or timezone.now()
    pset, values = parameters_in_force(at)
    period = (at - timedelta(days=int(values["posture_period_days"])), at)
    facts = facts_load(scope={}, period=period, now=at, params=values)
    out = []
    with transaction.atomic():
        for fid, framework in FRAMEWORKS.items():
            controls = [B.control_dict(c, fid, r) for c, r in evaluate(framework, facts)]
            out.append(_snapshot(fid, controls, version=pset.version if pset else None, params=values,
                                 period=period, at=at))
    return out


def reports_stale() -> list[str]:
    """Reports whose worker stopped reporting progress: to be taken over."""
    stale = timezone.now() - timedelta(seconds=settings.PORTAL_REPORT_STALE_SECONDS)
    qs = Report.objects.filter(Q(state=Report.State.RUNNING, heartbeat_at__lt=stale)
                               | Q(state=Report.State.QUEUED, created_at__lt=stale))
    return [str(pk) for pk in qs.values_list("pk", flat=True)]


@dataclass(frozen=True, slots=True)
class PdfVerdict:
    ok: bool
    sha256: str
    message: str
    report: Report | None = None
    audit_seq: int | None = None


PDF_ACTIONS = ("report.generated", "report.countersigned")


def report_verify(*, content: bytes) -> PdfVerdict:
    """Is ``content`` an unaltered PDF generated by this portal? Matched by SHA-256 against the reports and
    against the ``report.generated`` (or ``report.countersigned``) entry of the audit trail (which the database
    refuses to rewrite). The PDF drawn before a countersignature still verifies, as the version reviewed."""
    digest = hashlib.sha256(content).hexdigest()
    report = Report.objects.filter(pdf_sha256=digest, state=Report.State.DONE).select_related("requested_by").first()
    if report is None:
        signature = ReportSignature.objects.filter(reviewed_sha256=digest).select_related("report").first()
        if signature is not None:
            r = signature.report
            return PdfVerdict(True, digest, f"Unaltered: {r.title}, as generated before {signature.printed_name} "
                                            f"countersigned it on {signature.signed_at:%d %B %Y}; the current "
                                            "version carries the reviewed-by block.", r)
        return PdfVerdict(False, digest, "Not a report of this portal, or altered since it was generated.")
    audit_integrate()  # the report's entries may still be pending when the sequencer runs as a service
    entries = AuditEntry.objects.filter(action__in=PDF_ACTIONS, target_kind="report", target_id=str(report.pk))
    entry = next((e for e in entries.order_by("-seq") if json.loads(e.payload).get("sha256") == digest), None)
    if entry is None:
        return PdfVerdict(False, digest, "A report row has this hash but the audit trail does not record it.",
                          report)
    what = "countersigned" if entry.action == "report.countersigned" else "generated"
    return PdfVerdict(True, digest, f"Unaltered: {report.title}, {what} {entry.time:%Y-%m-%d %H:%M} "
                                    f"UTC (audit entry #{entry.seq}).", report, entry.seq)


def report_file_name(report: Report, ext: str) -> str:
    """A name that says what the file is: ``gdpr-report-<organisation>-<period>.pdf``, ``dossier-<model>-v<n>-
    <organisation>.pdf``, ``erasure-impact-<organisation>-<date>.csv``."""
    org = slugify(settings.PORTAL_ORGANISATION) or "organisation"
    day = (report.finished_at or report.created_at or timezone.now()).strftime("%Y-%m-%d")
    if report.kind == Report.Kind.FRAMEWORK and report.period_start and report.period_end:
        period = f"{report.period_start:%Y-%m-%d}-to-{report.period_end:%Y-%m-%d}"
        stem = f"{report.framework}-report-{org}-{period}"
    elif report.kind == Report.Kind.DOSSIER:
        model = report.subject.split(":")[-1]  # modelVersion:<ns>:<name>#<version>
        name, _, version = model.partition("#")
        stem = f"{'annex-iv-' if report.annex_iv else ''}dossier-{slugify(name)}-v{slugify(version)}-{org}"
    else:
        stem = f"erasure-impact-{org}-{day}"
    return f"{stem}.{ext}"


class ReportReviewError(DomainError):
    status_code = 400


def report_countersign(*, report: Report, by: User, password: str, reason: str, reauth: str = "") -> Report:
    """An auditor countersigns a report (the reviewed-by block): the password again, a reason, never one's own
    report, once. The PDF is drawn again with the block filled; both digests go to the audit trail."""
    if not has_role(by, {Role.AUDITOR}):
        raise ReportForbidden("Only auditors countersign reports.")
    if report.state != Report.State.DONE:
        raise ReportReviewError("The report is not finished.")
    if report.requested_by_id == by.pk:
        raise ReportReviewError("You cannot review a report you requested.")
    if not reason.strip():
        raise FieldError("reason", "A countersignature needs a reason (what you reviewed).")
    confirmed = signer_confirm(user=by, password=password, reauth=reauth, second_factor=False,
                               refused_action="report.countersign_refused", target_kind="report",
                               target_id=str(report.pk), wrong_password=FieldError(
                                   "password", "Wrong password: the countersignature needs your password again."))
    return _countersign(report=report, by=by, reason=reason.strip(), confirmed=confirmed)


@transaction.atomic
def _countersign(*, report: Report, by: User, reason: str, confirmed: Confirmation) -> Report:
    report = Report.objects.select_for_update().get(pk=report.pk)
    existing = ReportSignature.objects.filter(report=report).select_related("signer").first()
    if existing is not None:
        raise ReportReviewError(f"Already countersigned by {existing.printed_name}.")
    now = timezone.now()
    printed = by.get_full_name() or by.username
    sig = ReportSignature.objects.create(report=report, signer=by, printed_name=printed, reason=reason,
                                         signed_at=now, reviewed_sha256=report.pdf_sha256)
    body = dict(report.bundle)
    body["report"] = {**body["report"], "reviewed_by": {
        "username": by.username, "name": printed, "reason": reason, "signed_at": B.iso(now),
        "reviewed_sha256": sig.reviewed_sha256}}
    from .pdf import render

    pdf = render(body)
    digest = hashlib.sha256(pdf).hexdigest()
    report.bundle, report.pdf, report.pdf_sha256, report.pdf_size = body, pdf, digest, len(pdf)
    report.save(update_fields=["bundle", "pdf", "pdf_sha256", "pdf_size"])
    audit_record(actor=by, action="report.countersigned", target_kind="report", target_id=str(report.pk),
                 payload={"sha256": digest, "reviewed_sha256": sig.reviewed_sha256, "reason": reason,
                          "printed_name": printed, **confirmed.audit()})
    return report


@transaction.atomic
def report_downloaded(*, report: Report, by: User, fmt: str) -> None:
    """An export of evidence is itself recorded (HIPAA §164.312(b): exports of PHI-related records)."""
    audit_record(actor=by, action="report.downloaded", target_kind="report", target_id=str(report.pk),
                 payload={"format": fmt, "sha256": report.pdf_sha256})
