"""Model risk (SR 11-7 / SR 26-2) and SOX IT general controls."""

from __future__ import annotations

from datetime import timedelta

from ..facts import Facts, NodeFact, ReleaseFact
from . import Failing, Result, check, failing, verdict

MODEL_DOC_SECTIONS = ("purpose", "method", "limitations", "testing")


def _months(n: int) -> timedelta:
    return timedelta(days=round(30.44 * n))


def _deployed_mvs(f: Facts) -> list[NodeFact]:
    out = {}
    for d in f.of_kind("deployment"):
        mv = f.model_of(d)
        if mv is not None:
            out[mv.pk] = mv
    return list(out.values())


@check("F1")
def inventory(f: Facts) -> Result:
    lookback = f.now - _months(f.params["model_retired_lookback_months"])
    subjects: dict[int, NodeFact] = {mv.pk: mv for mv in _deployed_mvs(f)}
    for mv in f.of_kind("modelVersion"):
        inv = f.inventory.get(mv.pk)
        if inv is None or inv.status != "retired" or (inv.retired_at and inv.retired_at >= lookback):
            subjects[mv.pk] = mv
    fails, rows = [], []
    for mv in subjects.values():
        inv = f.inventory.get(mv.pk)
        if inv is None:
            fails.append(failing(mv, "no inventory record"))
            continue
        gaps = [name for name, value in (("owner", inv.owner), ("intended use", inv.intended_use),
                                         ("tier", inv.tier), ("limitations", inv.limitations)) if not value]
        validated = bool(f.documents_for(mv.pk, "validation_report"))
        rows.append([mv.label, inv.owner or "-", inv.tier or "-", inv.status, "yes" if validated else "no"])
        if gaps:
            fails.append(failing(mv, f"inventory record lacks {', '.join(gaps)}"))
        active = [d for d in f.succs(mv.pk, "deployment") if d.state == "active"]
        if active and inv.status in ("retired",):
            fails.append(failing(mv, f"inventory says retired but {active[0].label} is active"))
    return verdict(subjects.values(), fails, what="model versions deployed, in development or recently retired",
                   none="no model version in scope",
                   columns=["Model version", "Owner", "Tier", "Status", "Validated"], rows=rows)


@check("F2")
def development_documented(f: Facts) -> Result:
    fails, subjects = [], []
    for d in f.production():
        mv = f.model_of(d)
        if mv is None or mv.pk in {s.pk for s in subjects}:
            continue
        subjects.append(mv)
        docs = f.documents_for(mv.pk, "model_documentation")
        if not docs:
            fails.append(failing(mv, "no approved model documentation"))
            continue
        missing = [s for s in MODEL_DOC_SECTIONS if s not in docs[0].sections]
        if missing:
            fails.append(failing(mv, f"model documentation lacks {', '.join(missing)}"))
        if not f.preds(mv.pk, "run"):
            fails.append(failing(mv, "no training run recorded in the lineage"))
    return verdict(subjects, fails, what="production model versions", none="no production model version")


def _validator_problems(f: Facts, mv: NodeFact, deployed_at, report) -> list[str]:  # noqa: ANN001
    problems = []
    if report.approved_at and deployed_at and report.approved_at > deployed_at:
        problems.append(f"validated {report.approved_at:%Y-%m-%d}, after deployment {deployed_at:%Y-%m-%d}")
    elif deployed_at and report.effective_from > deployed_at:
        problems.append(f"validation in effect from {report.effective_from:%Y-%m-%d}, after deployment "
                        f"{deployed_at:%Y-%m-%d}")
    validator = str(report.attributes.get("validator") or report.author)
    if validator in f.authors(mv.pk):
        problems.append(f"validator {validator} is an author of the model's lineage")
    inv = f.inventory.get(mv.pk)
    if inv and inv.owner and validator == inv.owner:
        problems.append(f"validator {validator} owns the model")
    team = f.params["validation_team"]
    user = f.user_for(validator)
    if team and (user is None or team not in user.teams):
        problems.append(f"validator {validator} is not in the validation unit ({team})")
    findings = report.attributes.get("findings")
    # Findings itemised as {"severity", "status"}; a bare count says nothing about severity.
    open_high = [x for x in findings if isinstance(x, dict) and x.get("severity") == "high"
                 and x.get("status", "open") == "open"] if isinstance(findings, list) else []
    if open_high and not report.attributes.get("conditions_of_use"):
        problems.append(f"{len(open_high)} open high-severity finding(s) without approved conditions of use")
    return problems


@check("F3")
def independent_validation(f: Facts) -> Result:
    max_tier = f.params["validation_max_tier"]
    fails, subjects, rows = [], [], []
    for d in f.production():
        mv = f.model_of(d)
        inv = f.inventory.get(mv.pk) if mv else None
        if mv is None or inv is None or inv.tier is None or inv.tier > max_tier:
            continue
        subjects.append(d)
        reports = f.documents_for(mv.pk, "validation_report")
        # A "non-material change" finding stands for a validation only if the ancestor it names was validated.
        for r in [r for r in reports if r.attributes.get("non_material_change_of")]:
            ancestor = f.by_node_id.get(r.attributes["non_material_change_of"])
            if ancestor is None or not f.documents_for(ancestor.pk, "validation_report"):
                reports.remove(r)
        if not reports:
            fails.append(failing(d, f"tier {inv.tier} model {mv.label} has no approved validation report"))
            continue
        problems = _validator_problems(f, mv, f.deployed_at(d), reports[-1])
        rows.append([d.label, reports[-1].title, reports[-1].author, "; ".join(problems) or "independent"])
        for p in problems:
            fails.append(failing(d, p))
    return verdict(subjects, fails, what=f"production deployments of tier 1-{max_tier} models",
                   none=f"no production deployment of a tier 1-{max_tier} model",
                   columns=["Deployment", "Validation report", "Validator", "Independence"], rows=rows)


def _breach_problems(f: Facts, d: NodeFact, days: int) -> list[str]:
    """Each breach alert on ``d`` opened an issue (an incident) within ``days``, or was closed with a note."""
    problems = []
    for a in (a for a in f.alerts if a.deployment == d.pk):
        opened = [i for i in f.incidents if i.id in a.incidents]
        first = min((i.opened_at for i in opened), default=None)
        if first is not None and first - a.opened_at > timedelta(days=days):
            problems.append(f"breach alert #{a.id} ({a.reason}) opened incident #{opened[0].id} after more than "
                            f"{days} days")
        elif first is None and a.state == "open" and f.now - a.opened_at > timedelta(days=days):
            problems.append(f"breach alert #{a.id} ({a.reason}) has no issue opened within {days} days")
    return problems


@check("F4")
def ongoing_monitoring(f: Facts) -> Result:
    """From the monitoring results and alerts the portal holds (portalMonitoring, POST /api/v1/monitoring), and
    from uploaded monitoring plans and results where those are what an organisation keeps."""
    limits, issue_days = f.params["monitoring_max_days"], f.params["breach_issue_days"]
    fails, subjects, rows = [], [], []
    for d in f.production():
        subjects.append(d)
        mv = f.model_of(d)
        targets = {d.pk} | ({mv.pk} if mv else set())
        plans = [x for t in targets for x in f.documents_for(t, "monitoring_plan") if x.in_effect(f.now)]
        results = f.monitoring_of(d.pk)
        if not any(p.attributes.get("thresholds") for p in plans) and not any(r.has_threshold for r in results):
            fails.append(failing(d, "no thresholds set: no monitoring plan with thresholds in effect and no "
                                    "monitoring result judged against one"))
            continue
        inv = f.inventory.get(mv.pk) if mv else None
        days = int(limits.get(str(inv.tier if inv and inv.tier else 1), max(limits.values())))
        documents = [x for t in targets for x in f.documents_for(t, "monitoring_result", approved=False)]
        latest = max([x.effective_from for x in documents] + [r.observed_at for r in results], default=None)
        breaches = sum(1 for r in results if r.breaches)
        rows.append([d.label, latest.isoformat() if latest else "never", len(results), breaches,
                     ", ".join(f"#{i.id}" for i in f.incidents_of({d.pk})) or "-"])
        if latest is None or f.now - latest > timedelta(days=days):
            fails.append(failing(d, f"no monitoring result in the last {days} days"))
        for x in documents:
            for breach in x.attributes.get("breaches", []):
                if not breach.get("issue"):
                    fails.append(failing(d, f"threshold breach {breach.get('metric', '?')} has no issue opened"))
        fails += [failing(d, p) for p in _breach_problems(f, d, issue_days)]
    return verdict(subjects, fails, what="production deployments", none="no production deployment",
                   columns=["Deployment", "Last result", "Results", "Breaches", "Incidents"], rows=rows)


@check("F5")
def outcomes_analysis(f: Facts) -> Result:
    max_tier = f.params["validation_max_tier"]
    since = f.now - _months(f.params["outcomes_max_months"])
    fails, subjects = [], []
    for d in f.production():
        mv = f.model_of(d)
        inv = f.inventory.get(mv.pk) if mv else None
        if mv is None or inv is None or inv.tier is None or inv.tier > max_tier:
            continue
        subjects.append(mv)
        fresh = [x for x in f.documents_for(mv.pk, "outcomes_analysis") if x.effective_from >= since]
        if not fresh:
            months = f.params["outcomes_max_months"]
            fails.append(failing(mv, f"no approved outcomes analysis in effect within the last {months} months"))
    return verdict(subjects, fails, what=f"production model versions of tier 1-{max_tier}",
                   none=f"no production model version of tier 1-{max_tier}")


def _change_record(f: Facts, d: NodeFact, mv: NodeFact) -> ReleaseFact | None:
    """The approved release (change record) in force when ``d`` was deployed (its event time, not when the portal
    received the event)."""
    approved = [r for r in f.releases_for(mv.pk, d.environment) if r.approved_at is not None]
    before = [r for r in approved if r.approved_at <= f.deployed_at(d)]
    return max(before, key=lambda r: r.approved_at) if before else None


def _sox_deployments(f: Facts) -> list[NodeFact]:
    """Deployments (any environment) active during the period to a system SOX in scope during the period."""
    return [d for d in f.of_kind("deployment") if f.active_during(d) and f.sox_in_scope(d)]


@check("F6")
def change_management(f: Facts) -> Result:
    fails, rows = [], []
    deployments = _sox_deployments(f)
    for d in deployments:
        mv = f.model_of(d)
        release = _change_record(f, d, mv) if mv else None
        if release is None:
            later = [r for r in (f.releases_for(mv.pk, d.environment) if mv else []) if r.approved_at]
            why = "no change record (release) approved before the deploy"
            if later:
                first = min(later, key=lambda r: r.approved_at or f.now)
                why = (f"change record #{first.id} approved {first.approved_at:%Y-%m-%d %H:%M}, after the deploy "
                       f"{f.deployed_at(d):%Y-%m-%d %H:%M}")
            fails.append(failing(d, why))
            continue
        rows.append([d.label, f"#{release.id}", release.approved_at.isoformat(), release.subject_digest[:16]])
        if release.model_version != mv.pk:
            fails.append(failing(d, f"release #{release.id} approved another model version"))
        training = f.preds(mv.pk, "run")
        if any(r.state not in ("COMPLETE", "COMPLETED", "") for r in training):
            fails.append(failing(d, "the training run did not complete (tests not passing)"))
    return verdict(deployments, fails, what="SOX in-scope deployments", none="no deployment is SOX in scope",
                   columns=["Deployment", "Change record", "Approved", "Subject digest"], rows=rows)


@check("F7")
def segregation_of_duties(f: Facts) -> Result:
    need = f.params["approvers_min"]
    fails, rows = [], []
    deployments = [d for d in _sox_deployments(f) if d.environment == f.params["production_environment"]]
    for d in deployments:
        mv = f.model_of(d)
        release = _change_record(f, d, mv) if mv else None
        if release is None:
            fails.append(failing(d, "no approved release to check"))
            continue
        approvers = release.approvers()
        authors = f.authors(mv.pk)
        deployer = f.deployer(d)
        rows.append([d.label, ", ".join(approvers) or "-", ", ".join(sorted(authors)) or "-", deployer or "-"])
        if len(approvers) < need:
            fails.append(failing(d, f"{len(approvers)} distinct approver(s), {need} required"))
        for a in approvers:
            if a in authors:
                fails.append(failing(d, f"approver {a} is an author of the model's lineage"))
            if deployer and a == deployer:
                fails.append(failing(d, f"approver {a} also deployed it"))
        if deployer and deployer in authors and not release.break_glass:
            fails.append(failing(d, f"deployer {deployer} is an author, with no compensating approval"))
    return verdict(deployments, fails, what="SOX in-scope production deployments",
                   none="no production deployment is SOX in scope",
                   columns=["Deployment", "Approvers", "Authors", "Deployer"], rows=rows)


@check("F10")
def emergency_changes(f: Facts) -> Result:
    fails, subjects = [], []
    for r in f.releases:
        if not r.break_glass:
            continue
        subjects.append(r)
        retro = [x for x in f.releases if x.retrospective_of == r.id]
        mv = f.nodes.get(r.model_version)
        done = [x for x in retro if x.state == "approved" and (r.retrospective_due is None
                                                              or x.approved_at <= r.retrospective_due)]
        if not done:
            due = r.retrospective_due.isoformat() if r.retrospective_due else "?"
            why = f"break-glass release #{r.id} has no retrospective approval by {due}"
            fails.append(failing(mv, why) if mv else Failing(f"release:{r.id}", "release", f"#{r.id}", why))
    return verdict(subjects, fails, what="emergency (break-glass) releases",
                   none="no emergency release in scope")
