"""GDPR checks (Regulation (EU) 2016/679)."""

from __future__ import annotations

from datetime import timedelta

from ..facts import SPECIAL_TAGS, Facts, NodeFact
from . import EVIDENCE, Failing, Result, check, clocks, failing, verdict

ROPA_ITEMS = ("30(1)(a)", "30(1)(b)", "30(1)(c)", "30(1)(d)", "30(1)(e)")
ROPA_OPTIONAL = ("30(1)(f)", "30(1)(g)")
DPIA_SECTIONS = ("35(7)(a)", "35(7)(b)", "35(7)(c)", "35(7)(d)")


def _readers(f: Facts, dataset: NodeFact) -> list[NodeFact]:
    return [r for v in [dataset.pk, *f.members.get(dataset.pk, [])] for r in f.succs(v, "run")]


@check("G3")
def storage_limitation(f: Facts) -> Result:
    fails, rows = [], []
    datasets = f.personal_datasets()
    for ds in datasets:
        gov = f.governance.get(ds.pk)
        until = gov.retention_until if gov else None
        rows.append([ds.label, str(until or "-"), "yes" if gov and gov.legal_hold else "no",
                     (gov.disposition if gov else "") or "-"])
        if until is None:
            fails.append(failing(ds, "no retention date recorded"))
            continue
        if until >= f.now.date() or gov.legal_hold:
            continue
        if not gov.disposition:
            fails.append(failing(ds, f"retention ended {until}; not deleted or anonymised and no legal hold"))
        late = [r for r in _readers(f, ds) if r.event_time and r.event_time.date() > until]
        if late:
            fails.append(failing(ds, f"read by {len(late)} run(s) after its retention date {until}, "
                                     f"e.g. {late[0].label}"))
    return verdict(datasets, fails, what="personal-data datasets", none="no personal-data dataset in scope",
                   columns=["Dataset", "Retain until", "Legal hold", "Disposition"], rows=rows)


@check("G4")
def accountability(f: Facts) -> Result:
    rows = []
    for d in f.production():
        if not f.personal(d.pk):
            continue
        mv = f.model_of(d)
        targets = {d.pk} | ({mv.pk} if mv else set())
        datasets = {f.dataset_of(u).pk for u in (f.up(mv.pk) if mv else set())
                    if f.nodes[u].kind == "datasetVersion" and f.personal(u)}
        bases = sorted({(f.governance[p].lawful_basis or "?") if p in f.governance else "?" for p in datasets})
        dpia = [x.title for t in targets for x in f.documents_for(t, "dpia")]
        ropa = [x.title for t in targets for x in f.documents_for(t, "ropa_entry")]
        approved = [r for r in f.releases_for(mv.pk, d.environment) if r.state == "approved"] if mv else []
        rows.append([d.label, len(datasets), ", ".join(bases) or "-", ", ".join(dpia) or "none",
                     ", ".join(ropa) or "none", ", ".join(f"#{r.id}" for r in approved) or "none"])
    reason = f"Accountability pack for {len(rows)} production processing activities with personal data."
    return Result(EVIDENCE, reason, columns=["Deployment", "Personal datasets", "Lawful bases", "DPIA", "ROPA",
                                             "Approved releases"], rows=rows)


@check("G5")
def lawful_basis(f: Facts) -> Result:
    fails, rows = [], []
    datasets = f.personal_datasets()
    for ds in datasets:
        gov = f.governance.get(ds.pk)
        basis = gov.lawful_basis if gov else ""
        rows.append([ds.label, basis or "-", ", ".join(gov.purposes) if gov else "-"])
        if not basis:
            fails.append(failing(ds, "no Art. 6(1) lawful basis recorded"))
        elif basis == "a" and not gov.consent_reference:
            fails.append(failing(ds, "basis 6(1)(a) consent without a consent reference"))
        elif basis == "f" and not f.documents_for(ds.pk, "balancing_assessment"):
            fails.append(failing(ds, "basis 6(1)(f) without an approved balancing assessment"))
        if basis and not (gov.purposes if gov else []):
            fails.append(failing(ds, "no purpose recorded for its lawful basis"))
    return verdict(datasets, fails, what="personal-data datasets", none="no personal-data dataset in scope",
                   columns=["Dataset", "Basis", "Purposes"], rows=rows)


@check("G6")
def special_category(f: Facts) -> Result:
    fails = []
    datasets = f.special_category_datasets()
    for ds in datasets:
        gov = f.governance.get(ds.pk)
        if not (gov and gov.special_category_condition):
            fails.append(failing(ds, "special-category data without an Art. 9(2) condition"))
    return verdict(datasets, fails, what="special-category datasets", none="no special-category dataset in scope")


def _erasure_rows(f: Facts) -> list[list]:
    rows = []
    for ds in f.personal_datasets():
        gov = f.governance.get(ds.pk)
        seeds = [ds.pk, *f.members.get(ds.pk, [])]
        below = set().union(*(f.down(s) for s in seeds)) if seeds else set()
        models = [f.nodes[p] for p in below if f.nodes[p].kind == "modelVersion"]
        live = [f.nodes[p] for p in below if f.nodes[p].kind == "deployment" and f.active_during(f.nodes[p])]
        rows.append([ds.label, gov.subject_keys if gov else 0, len(models), len(live)])
    return rows


@check("G7")
def erasure(f: Facts) -> Result:
    """E: what each personal-data dataset feeds. P: each request answered within one month (three if extended),
    each affected dataset erased, anonymised or exempt, each affected model decided within the parameter."""
    model_days = timedelta(days=f.params["erasure_disposition_days"])
    fails = []
    for r in f.erasure_requests:
        name = f"erasure request #{r.id}"
        late = (r.responded_at or f.now) > r.due_at
        if late:
            when = f"answered {r.responded_at:%Y-%m-%d}" if r.responded_at else "not answered"
            fails.append(Failing(f"erasure_request:{r.id}", "erasure_request", name,
                                 f"{when}; due {r.due_at:%Y-%m-%d} (Art. 12(3))"))
        for node_id, kind, outcome, decided_at in r.dispositions:
            if kind == "dataset" and r.responded_at and outcome == "pending":
                fails.append(Failing(node_id, kind, node_id, f"{name} answered with the dataset undecided"))
            if kind == "modelVersion" and (outcome == "pending" or decided_at is None) \
                    and f.now > r.received_at + model_days:
                fails.append(Failing(node_id, kind, node_id,
                                     f"{name}: no disposition within {model_days.days} days"))
    result = verdict(f.erasure_requests, fails, what="erasure requests", none="no erasure request in the period",
                     columns=["Dataset", "Subject keys indexed", "Model versions derived",
                              "Deployments derived, active in the period"], rows=_erasure_rows(f))
    return result


@check("G10")
def records_of_processing(f: Facts) -> Result:
    fails, subjects, rows = [], [], []
    for d in f.production():
        if not f.personal(d.pk):
            continue
        subjects.append(d)
        mv = f.model_of(d)
        targets = {d.pk} | ({mv.pk} if mv else set())
        entries = [x for t in targets for x in f.documents_for(t, "ropa_entry")
                   if x.in_effect_during(f.period_start, f.period_end)]
        if not entries:
            fails.append(failing(d, "no approved ROPA entry in effect"))
            continue
        entry = entries[0]
        missing = [i for i in ROPA_ITEMS if i not in entry.sections]
        unexplained = [i for i in ROPA_OPTIONAL
                       if i not in entry.sections and not (entry.attributes.get("reasons") or {}).get(i)]
        if missing:
            fails.append(failing(d, f"ROPA entry '{entry.title}' lacks items {', '.join(missing)}"))
        if unexplained:
            fails.append(failing(d, f"ROPA entry '{entry.title}' omits {', '.join(unexplained)} without a reason"))
        rows.append([d.label, entry.title, ", ".join(entry.sections)])
    return verdict(subjects, fails, what="production deployments with personal data",
                   none="no production deployment has personal data upstream",
                   columns=["Deployment", "ROPA entry", "Items filled"], rows=rows)


def _dpia_trigger(f: Facts, d: NodeFact) -> str:
    mv = f.model_of(d)
    inv = f.inventory.get(mv.pk) if mv else None
    profile = f.profiles.get(d.pk)
    if profile and not profile.human_in_loop:
        return "automated decisions without a human in the loop (profiling with legal effect)"
    special = f.sensitive.get(d.pk, set()) & SPECIAL_TAGS
    if special:
        return f"special-category data upstream ({', '.join(sorted(special))})"
    if f.high_risk(mv):
        return f"EU AI Act high-risk system (Annex III {inv.high_risk_annex if inv else '?'})"
    return ""


@check("G12")
def dpia(f: Facts) -> Result:
    fails, subjects, rows = [], [], []
    for d in f.production():
        trigger = _dpia_trigger(f, d)
        if not trigger:
            continue
        subjects.append(d)
        mv = f.model_of(d)
        targets = {d.pk} | ({mv.pk} if mv else set())
        dpias = sorted((x for t in targets for x in f.documents_for(t, "dpia")), key=lambda x: x.effective_from)
        if not dpias:
            fails.append(failing(d, f"triggered by {trigger}; no approved DPIA"))
            continue
        latest = dpias[-1]
        rows.append([d.label, trigger, latest.title, latest.effective_from.isoformat()])
        missing = [s for s in DPIA_SECTIONS if s not in latest.sections]
        if missing:
            fails.append(failing(d, f"DPIA '{latest.title}' lacks sections {', '.join(missing)}"))
        first = f.deployed_at(d)  # "its first production deploy": this deployment's own (see the note)
        earliest = dpias[0]
        if earliest.approved_at > first:
            fails.append(failing(d, f"DPIA approved {earliest.approved_at:%Y-%m-%d}, after the first production "
                                    f"deploy {first:%Y-%m-%d}"))
        elif earliest.effective_from > first:
            fails.append(failing(d, f"DPIA in effect from {earliest.effective_from:%Y-%m-%d}, after the first "
                                    f"production deploy {first:%Y-%m-%d}"))
        newer = [f.nodes[u] for u in (f.up(mv.pk) if mv else set())
                 if f.nodes[u].kind == "datasetVersion" and SPECIAL_TAGS & f.sensitive.get(u, set())
                 and f.created(f.nodes[u]) > latest.effective_from]
        if newer:
            fails.append(failing(d, f"new special-category input {newer[0].label} since the DPIA was approved; "
                                    "the DPIA was not reviewed again"))
    return verdict(subjects, fails, what="production deployments that require a DPIA",
                   none="no production deployment meets a DPIA trigger",
                   columns=["Deployment", "Trigger", "DPIA", "Approved"], rows=rows)


@check("G13")
def breach_notification(f: Facts) -> Result:
    return clocks.timeliness(f, kind="personal_data_breach", clock_name="gdpr",
                             what="personal-data breach incidents", none="no personal-data breach incident in scope")
