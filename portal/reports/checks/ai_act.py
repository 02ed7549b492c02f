"""EU AI Act checks for high-risk systems (Regulation (EU) 2024/1689)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..facts import Facts, NodeFact
from . import Failing, Result, check, clocks, failing, verdict, years_later

ANNEX_IV_POINTS = tuple(str(i) for i in range(1, 10))
INSTRUCTION_SECTIONS = ("purpose", "accuracy", "limitations", "oversight", "logging")
TECHNICAL_DOCS = ("annex_iv", "qms_procedure", "instructions_for_use")


def _months(n: int) -> timedelta:
    return timedelta(days=round(30.44 * n))


def high_risk_production(f: Facts) -> list[NodeFact]:
    return [d for d in f.production() if f.high_risk(f.model_of(d))]


def _last_change(f: Facts, mv: NodeFact) -> datetime:
    """When the pipelines last changed the model version or anything upstream (event time, not load time)."""
    return max((n.event_time or n.created_at) for n in (mv, *(f.nodes[u] for u in f.up(mv.pk))))


@check("A1")
def risk_management(f: Facts) -> Result:
    fails, subjects = [], []
    for d in high_risk_production(f):
        mv = f.model_of(d)
        if mv.pk in {s.pk for s in subjects}:
            continue
        subjects.append(mv)
        created = f.created(mv)
        registers = sorted((x for x in f.documents_for(mv.pk, "risk_register") if x.effective_from >= created),
                           key=lambda x: x.effective_from)
        if not registers:
            fails.append(failing(mv, "no risk register reviewed (in effect) after this model version was created"))
            continue
        if not registers[-1].attributes.get("residual_risks_accepted_by"):
            fails.append(failing(mv, "residual risks not accepted by a named approver"))
        if not mv.attrs.get("metrics"):
            fails.append(failing(mv, "no test results against predefined metrics"))
    return verdict(subjects, fails, what="high-risk production model versions", none="no high-risk model in production")


@check("A3")
def technical_documentation(f: Facts) -> Result:
    fails, subjects, rows = [], [], []
    for r in f.releases:
        mv = f.nodes.get(r.model_version)
        if r.state != "approved" or mv is None or not f.high_risk(mv):
            continue
        subjects.append(r)
        changed = _last_change(f, mv)
        docs = [x for x in f.documents if x.doc_type == "annex_iv" and x.approved
                and (mv.pk in x.nodes or r.id in x.releases)]
        dossiers = [x for x in f.reports if x.kind == "dossier" and x.annex_iv and x.subject == mv.node_id]
        fresh_docs = [x for x in docs if x.approved_at >= changed
                      and all(p in x.sections for p in ANNEX_IV_POINTS)]
        fresh_dossiers = [x for x in dossiers if x.finished_at >= changed]
        rows.append([f"#{r.id} {mv.label}", len(docs), len(dossiers), changed.isoformat()])
        if not (fresh_docs or fresh_dossiers):
            why = ("no Annex IV documentation (points 1-9) approved or generated after the last change "
                   f"to its lineage ({changed:%Y-%m-%d %H:%M})")
            fails.append(Failing(f"release:{r.id}", "release", f"release #{r.id} of {mv.label}", why))
    return verdict(subjects, fails, what="approved releases of high-risk models",
                   none="no approved release of a high-risk model",
                   columns=["Release", "Annex IV documents", "Annex IV dossiers", "Lineage last changed"], rows=rows)


@check("A4")
def automatic_logging(f: Facts) -> Result:
    gap, keep = f.params["log_max_gap_minutes"], f.params["log_retention_days_min"]
    fails = []
    deployments = high_risk_production(f)
    for d in deployments:
        p = f.profiles.get(d.pk)
        if p is None or not p.log_location:
            fails.append(failing(d, "no inference log location recorded"))
            continue
        if p.log_retention_days is None or p.log_retention_days < keep:
            fails.append(failing(d, f"logs kept {p.log_retention_days or 0} days; at least {keep} required"))
        if p.log_max_gap_minutes is None:
            fails.append(failing(d, "no measurement of gaps in its logs"))
        elif p.log_max_gap_minutes > gap:
            fails.append(failing(d, f"a {p.log_max_gap_minutes}-minute gap in its logs (limit {gap})"))
    return verdict(deployments, fails, what="high-risk production deployments", none="no high-risk deployment")


@check("A5")
def instructions_for_use(f: Facts) -> Result:
    fails = []
    deployments = high_risk_production(f)
    for d in deployments:
        mv = f.model_of(d)
        docs = f.documents_for(mv.pk, "instructions_for_use")
        if not docs:
            fails.append(failing(d, f"no approved instructions for use written for {mv.label}"))
            continue
        missing = [s for s in INSTRUCTION_SECTIONS if s not in docs[-1].sections]
        if missing:
            fails.append(failing(d, f"instructions for use omit {', '.join(missing)}"))
    return verdict(deployments, fails, what="high-risk production deployments", none="no high-risk deployment")


@check("A6")
def human_oversight(f: Facts) -> Result:
    since = f.now - _months(f.params["overseer_training_max_months"])
    tested_since = f.now - _months(f.params["stop_control_test_max_months"])
    trained: dict[str, datetime] = {}
    for x in f.documents:
        if x.doc_type == "oversight_training" and x.approved and x.attributes.get("trainee"):
            trained[x.attributes["trainee"]] = max(trained.get(x.attributes["trainee"], x.effective_from),
                                                   x.effective_from)
    fails, rows = [], []
    deployments = high_risk_production(f)
    for d in deployments:
        p = f.profiles.get(d.pk)
        overseers = p.overseers if p else []
        rows.append([d.label, ", ".join(overseers) or "-",
                     p.stop_control_tested_at.isoformat() if p and p.stop_control_tested_at else "never"])
        if not overseers:
            fails.append(failing(d, "names no overseer"))
        for o in overseers:
            if trained.get(o) is None or trained[o] < since:
                fails.append(failing(d, f"overseer {o} has no oversight training in the last 12 months"))
        if p is None or p.stop_control_tested_at is None or p.stop_control_tested_at < tested_since:
            fails.append(failing(d, "stop/override control not tested in the last 12 months"))
    return verdict(deployments, fails, what="high-risk production deployments", none="no high-risk deployment",
                   columns=["Deployment", "Overseers", "Stop control tested"], rows=rows)


@check("A9")
def documentation_keeping(f: Facts) -> Result:
    years = f.params["ai_act_retention_years"]
    fails = []
    docs = [x for x in f.documents if x.doc_type in TECHNICAL_DOCS]
    for x in docs:
        start = x.effective_from
        needed = years_later(start, years)
        if x.retention_until < needed:
            fails.append(Failing(f"document:{x.id}", "document", x.title,
                                 f"locked until {x.retention_until}; {years} years require {needed}"))
    return verdict(docs, fails, what="technical documentation records", none="no technical documentation on file")


@check("A10")
def post_market_monitoring(f: Facts) -> Result:
    """Each high-risk production deployment has a plan naming metrics and a frequency (a monitoring plan with
    ``metrics`` and ``frequency_days``), data collected as it sets (a result for every metric it names within
    that many days), and each serious incident touching it has its Art. 73 report by the deadline."""
    fails, rows = [], []
    deployments = high_risk_production(f)
    for d in deployments:
        mv = f.model_of(d)
        targets = {d.pk, mv.pk}
        plans = [x for t in targets for x in f.documents_for(t, "monitoring_plan") if x.in_effect(f.now)]
        plan = next((x for x in plans if x.attributes.get("metrics") and x.attributes.get("frequency_days")), None)
        serious = [i for i in f.incidents_of(targets) if "ai_act_serious" in i.kinds]
        results = f.monitoring_of(d.pk)
        rows.append([d.label, plan.title if plan else "-", len(results), len(serious)])
        if plan is None:
            fails.append(failing(d, "no post-market monitoring plan naming metrics and frequency in effect"))
        else:
            days = int(plan.attributes["frequency_days"])
            since = f.now - timedelta(days=days)
            seen = {r.metric for r in results if r.observed_at >= since}
            missing = [m for m in plan.attributes["metrics"] if m not in seen]
            if missing:
                fails.append(failing(d, f"no result in the last {days} days for {', '.join(map(str, missing))}, "
                                        "as the plan sets"))
        for i in serious:
            problem = clocks.clock_problem(f, i, "ai_act")
            if problem:
                fails.append(failing(d, f"serious incident #{i.id}: {problem}"))
    return verdict(deployments, fails, what="high-risk production deployments", none="no high-risk deployment",
                   columns=["Deployment", "Post-market monitoring plan", "Results", "Serious incidents"], rows=rows)
