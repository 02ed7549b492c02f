"""HIPAA Security Rule checks (45 CFR 164)."""

from __future__ import annotations

from datetime import timedelta

from ..facts import Facts
from . import NOT_EVALUATED, Failing, Result, check, clocks, failing, verdict, years_later

RECORD_TYPES = ("policy", "risk_analysis", "dpia", "validation_report", "monitoring_plan", "qms_procedure")


def _phi_runs(f: Facts) -> list:
    """Runs in scope and period that read a PHI dataset version."""
    out = []
    for run in f.of_kind("run"):
        if run.event_time and not (f.period_start <= run.event_time <= f.period_end):
            continue
        if any("PHI" in f.sensitive.get(p.pk, set()) for p in f.preds(run.pk) if p.kind == "datasetVersion"):
            out.append(run)
    return out


@check("H1")
def audit_controls(f: Facts) -> Result:
    if f.audit.chain_ok is None:
        return Result(NOT_EVALUATED, "The audit chain has never been verified.",
                      missing=["a verification of the audit chain (python manage.py verify_audit)"])
    """Every run with a PHI input has an audit entry within the latency limit of the portal receiving its event
    (a backfilled run, received long after its event time, is listed as such and measured from receipt: the
    portal cannot audit an event before it hears of it). The hash chain verifies."""
    runs = _phi_runs(f)
    late = timedelta(minutes=f.params["audit_latency_minutes"])
    fails, rows = [], []
    for run in runs:
        times = f.audit.target_times.get(run.node_id, [])
        if not times:
            fails.append(failing(run, "no audit entry records this run"))
            continue
        first = min(times)
        received = run.created_at
        backfill = run.event_time and received - run.event_time > late
        rows.append([run.label, first.isoformat(), len(times),
                     f"received {received - run.event_time} after its event" if backfill else "live"])
        if first - received > late:
            fails.append(failing(run, f"first audit entry {first - received} after the portal received the run "
                                      f"(limit {late})"))
    subjects = [*runs, "audit chain"]
    if not f.audit.chain_ok:
        fails.insert(0, Failing("audit-chain", "audit", "audit chain",
                                "the hash chain does not verify: " + "; ".join(f.audit.chain_problems[:3])))
    return verdict(subjects, fails, what="runs with PHI inputs and the audit chain", none="",
                   columns=["Run", "First audit entry", "Entries", "Received"], rows=rows)


@check("H3")
def unique_ids_and_grants(f: Facts) -> Result:
    """Each PHI-reading run names an individual launcher or was sent by a registered service account,
    and that account's team holds a grant (namespace ownership) on the PHI datasets it read."""
    runs = _phi_runs(f)
    fails, rows = [], []
    for run in runs:
        who = str(run.attrs.get("launched_by") or "")
        senders = f.audit.target_actors.get(run.node_id, [])
        user = f.user_for(who) or (f.user_for(senders[0]) if senders else None)
        if user is None:
            fails.append(failing(run, f"launcher {who or '(none)'} is not a registered user or service account"))
            continue
        if not user.is_active:
            fails.append(failing(run, f"{user.username} is deactivated"))
        for dv in f.preds(run.pk, "datasetVersion"):
            if "PHI" not in f.sensitive.get(dv.pk, set()):
                continue
            owner = f.namespace_teams.get(dv.namespace)
            if owner and owner not in user.teams and user.role not in ("ingestor", "admin"):
                fails.append(failing(run, f"{user.username} holds no grant on {dv.namespace} (owned by {owner})"))
        rows.append([run.label, user.username, user.role])
    return verdict(runs, fails, what="runs with PHI inputs", none="no run read PHI in the period",
                   columns=["Run", "Account", "Role"], rows=rows)


@check("H6")
def integrity(f: Facts) -> Result:
    """A PHI dataset version is written once (never in place) and read with its registered content hash."""
    fails, checked = [], []
    for dv in f.of_kind("datasetVersion"):
        if "PHI" not in f.sensitive.get(dv.pk, set()):
            continue
        checked.append(dv)
        writers = f.preds(dv.pk, "run")
        if len(writers) > 1:
            fails.append(failing(dv, f"written in place by {len(writers)} runs"))
        registered = dv.attrs.get("content_hash")
        for reader in f.succs(dv.pk, "run"):
            seen = (reader.attrs.get("input_hashes") or {}).get(dv.node_id)
            if registered and seen and seen != registered:
                fails.append(failing(dv, f"{reader.label} read content hash {seen[:12]}…, registered "
                                         f"{registered[:12]}…"))
    return verdict(checked, fails, what="PHI dataset versions", none="no PHI dataset version in scope")


@check("H7")
def retention(f: Facts) -> Result:
    years = f.params["hipaa_retention_years"]
    fails, rows = [], []
    docs = [d for d in f.documents if d.doc_type in RECORD_TYPES]
    for d in docs:
        start = max(d.created_at, d.effective_until or d.created_at)
        needed = years_later(start, years)
        rows.append([d.title, d.doc_type, str(d.retention_until), str(needed)])
        if d.retention_until < needed:
            fails.append(Failing(f"document:{d.id}", "document", d.title,
                                 f"locked until {d.retention_until}, must be at least {needed} ({years} years)"))
    return verdict(docs, fails, what="documentation records", none="no policy, risk analysis or review on file",
                   columns=["Document", "Type", "Locked until", "Required until"], rows=rows)


@check("H9")
def deidentification(f: Facts) -> Result:
    """A DEIDENTIFIED dataset with a PHI ancestor was produced by a recorded de-identification run with an
    approved determination document (safe harbor or expert determination)."""
    fails, checked = [], []
    for n in f.nodes.values():
        if n.kind not in ("dataset", "datasetVersion") or "DEIDENTIFIED" not in n.tags or n.pk not in f.in_scope:
            continue
        ancestors = f.up(n.pk)
        if not any("PHI" in f.nodes[a].tags for a in ancestors):
            continue
        checked.append(n)
        writers = f.preds(n.pk, "run") or [r for v in f.members.get(n.pk, []) for r in f.preds(v, "run")]
        deid = [r for r in writers if r.deidentifies]
        if not deid:
            fails.append(failing(n, "tagged DEIDENTIFIED but no de-identification run produced it"))
            continue
        targets = {n.pk, *(r.pk for r in deid), f.dataset_of(n.pk).pk}
        docs = [d for t in targets for d in f.documents_for(t, "deid_determination")]
        if not docs:
            fails.append(failing(n, "no approved de-identification determination document"))
        elif not any(d.attributes.get("method") in ("safe_harbor", "expert_determination") for d in docs):
            fails.append(failing(n, "the determination names neither safe harbor nor expert determination"))
    return verdict(checked, fails, what="de-identified datasets with PHI upstream",
                   none="no de-identified dataset with PHI upstream")


@check("H10")
def risk_analysis(f: Facts) -> Result:
    """Every prod(D) using ePHI is covered by a risk analysis at most {12 mo} old by the date it took effect
    (not the date it was approved), which took effect after the model version deployed was created."""
    months = f.params["risk_analysis_max_months"]
    fails, subjects = [], []
    for d in f.production():
        if not f.hipaa_in_scope(d):
            continue
        subjects.append(d)
        mv = f.model_of(d)
        targets = {d.pk} | ({mv.pk} if mv else set())
        docs = [doc for t in targets for doc in f.documents_for(t, "risk_analysis")
                if doc.in_effect_during(f.period_start, f.period_end)]
        fresh = [doc for doc in docs if doc.effective_from >= f.now - timedelta(days=30 * months)]
        if not docs:
            fails.append(failing(d, "no approved risk analysis covers it"))
        elif not fresh:
            newest = max(x.effective_from for x in docs)
            fails.append(failing(d, f"risk analysis older than {months} months (in effect since {newest:%Y-%m-%d})"))
        elif mv and max(x.effective_from for x in fresh) < f.created(mv):
            fails.append(failing(d, "risk analysis predates the model version now deployed"))
    return verdict(subjects, fails, what="production deployments using ePHI",
                   none="no production deployment has PHI upstream or HIPAA scope in the period")


@check("H11")
def breach_notification(f: Facts) -> Result:
    return clocks.timeliness(f, kind="phi_breach", clock_name="hipaa", what="PHI breach incidents",
                             none="no PHI breach incident in scope")
