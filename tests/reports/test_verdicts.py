"""Honest verdicts (issue 15.1) and the catalog's scope words (issue 22): each finding of the audit, as a test.

The checks are pure, so each world is a small graph built with ``builder.Graph``.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.reports.bundle import summary
from portal.reports.checks import FAIL, NOT_APPLICABLE, PASS, ai_act, finance, gdpr, hipaa
from portal.reports.facts import RecordChange

from .builder import NOW, Graph, ago

# -- not applicable ----------------------------------------------------------------------------------------

EMPTY_SCOPE_CHECKS = [
    ("H3", hipaa.unique_ids_and_grants), ("H6", hipaa.integrity), ("H7", hipaa.retention),
    ("H9", hipaa.deidentification), ("H10", hipaa.risk_analysis), ("G3", gdpr.storage_limitation),
    ("G5", gdpr.lawful_basis), ("G6", gdpr.special_category), ("G7", gdpr.erasure),
    ("G10", gdpr.records_of_processing), ("G12", gdpr.dpia), ("F2", finance.development_documented),
    ("F3", finance.independent_validation), ("F5", finance.outcomes_analysis), ("F6", finance.change_management),
    ("F7", finance.segregation_of_duties), ("F10", finance.emergency_changes), ("A1", ai_act.risk_management),
    ("A3", ai_act.technical_documentation), ("A4", ai_act.automatic_logging), ("A5", ai_act.instructions_for_use),
    ("A6", ai_act.human_oversight), ("A9", ai_act.documentation_keeping),
]


@pytest.mark.parametrize(("control", "fn"), EMPTY_SCOPE_CHECKS, ids=[c for c, _ in EMPTY_SCOPE_CHECKS])
def test_a_check_with_nothing_in_scope_is_not_applicable_never_a_pass(control, fn):
    g = Graph()
    g.deploy(g.model("pricing", by_run=g.run(reads=[g.version(g.dataset("prices"))])), "staging")
    result = fn(g.facts)
    assert result.status == NOT_APPLICABLE, (control, result)
    assert result.reason.startswith("Not applicable: ") and not result.failing


def test_the_summary_counts_not_applicable_apart_from_pass():
    controls = [{"status": s} for s in (PASS, FAIL, NOT_APPLICABLE, NOT_APPLICABLE, "evidence")]
    assert summary(controls) == {"pass": 1, "fail": 1, "not_applicable": 2, "not_evaluated": 0, "evidence": 1,
                                 "total": 5}


# -- false failures ------------------------------------------------------------------------------------------

def test_h3_matches_a_launcher_by_any_of_a_users_emails():
    g = Graph()
    g.user("tomas", email="tomas.weber@clinic.example", teams={"clinical"})
    g.facts.users["tomas"].emails.add("t.weber@clinic.example")
    g.facts.namespace_teams["ns"] = "clinical"
    ds = g.dataset("patients", tags={"PHI"})
    g.run(reads=[g.version(ds)], launched_by="tomas.weber@clinic.example")
    g.run(reads=[g.version(ds, "2")], launched_by="T.Weber@clinic.example")
    result = hipaa.unique_ids_and_grants(g.facts)
    assert result.status == PASS, result.failing
    assert {row[1] for row in result.rows} == {"tomas"}


def test_f6_compares_the_approval_with_the_deployments_event_time_not_its_receipt():
    g = Graph()
    ds = g.dataset("loans", tags={"PII"})
    mv = g.model("credit", by_run=g.run(reads=[g.version(ds)]), inventory={"tier": 1}, created=ago(200))
    d = g.deploy(mv, created=ago(100), sox_in_scope=True)
    d.created_at = NOW  # backfilled: the portal received the deploy event today
    g.release(mv, approvers=["a", "b"], approved=ago(50))
    result = finance.change_management(g.facts)
    assert result.status == FAIL
    assert "after the deploy" in result.failing[0].why
    g.release(mv, approvers=["a", "b"], approved=ago(101))
    assert finance.change_management(g.facts).status == PASS


def test_h1_measures_a_backfilled_runs_audit_entry_from_its_receipt():
    g = Graph()
    ds = g.dataset("patients", tags={"PHI"})
    run = g.run(reads=[g.version(ds)], created=ago(300))
    run.created_at = ago(0.01)  # history sent today
    g.facts.audit.target_times[run.node_id] = [ago(0.009)]
    result = hipaa.audit_controls(g.facts)
    assert result.status == PASS, result.failing
    assert result.rows[0][3].startswith("received 299 days")
    g.facts.audit.target_times[run.node_id] = [run.created_at + timedelta(hours=12)]
    assert "after the portal received the run" in hipaa.audit_controls(g.facts).failing[0].why


# -- scopes through lineage and over time (issue 22.1) ------------------------------------------------------

def _world() -> tuple[Graph, dict]:
    """A PHI source with complete governance; a dataset derived from it with none; a high-risk, SOX and tier-1
    model trained on the derived data, deployed to production 200 days ago and superseded 100 days ago (so it
    was active during the 365-day period); and an old deployment superseded before the period began."""
    g = Graph()
    src = g.dataset("ehr", tags={"PHI"}, lawful_basis="c", purposes=["care"], special_category_condition="h",
                    retention_until=date(2035, 1, 1))
    features = g.dataset("features")
    fv = g.version(features, attrs={"content_hash": "aaa"})
    g.run(reads=[g.version(src)], writes=[fv])
    train = g.run(reads=[fv], launched_by="someone-unknown")
    train.attrs["input_hashes"] = {fv.node_id: "bbb"}
    inv = {"tier": 1, "high_risk_annex": "5(c)"}
    mv1 = g.model("risk", by_run=train, inventory=inv, created=ago(300))
    d1 = g.deploy(mv1, created=ago(200), state="superseded", sox_in_scope=True)
    mv2 = g.model("risk", by_run=g.run(reads=[fv]), version="2", inventory=inv, created=ago(120))
    d2 = g.deploy(mv2, created=ago(100), sox_in_scope=True)
    old1 = g.model("legacy", by_run=g.run(reads=[fv]), inventory=inv, created=ago(900))
    old = g.deploy(old1, created=ago(800), state="superseded", sox_in_scope=True)
    old2 = g.model("legacy", version="2", inventory=inv, created=ago(700))
    g.deploy(old2, created=ago(700), state="retired", sox_in_scope=True)
    return g, {"derived": features, "derived_version": fv, "reader": train, "mv1": mv1, "d1": d1, "d2": d2,
               "old": old, "old_mv": old1}


DATASET_CHECKS = [("G3", gdpr.storage_limitation, "derived"), ("G5", gdpr.lawful_basis, "derived"),
                  ("G6", gdpr.special_category, "derived"), ("H6", hipaa.integrity, "derived_version"),
                  ("H1", hipaa.audit_controls, "reader"), ("H3", hipaa.unique_ids_and_grants, "reader")]


@pytest.mark.parametrize(("control", "fn", "who"), DATASET_CHECKS, ids=[c for c, _, _ in DATASET_CHECKS])
def test_a_dataset_derived_from_personal_data_is_in_scope(control, fn, who):
    g, w = _world()
    failed = {f.node_id for f in fn(g.facts).failing}
    assert w[who].node_id in failed, (control, failed)


DEPLOYMENT_CHECKS = [
    ("G10", gdpr.records_of_processing, "d1"), ("G12", gdpr.dpia, "d1"), ("H10", hipaa.risk_analysis, "d1"),
    ("F2", finance.development_documented, "mv1"), ("F3", finance.independent_validation, "d1"),
    ("F4", finance.ongoing_monitoring, "d1"), ("F5", finance.outcomes_analysis, "mv1"),
    ("F6", finance.change_management, "d1"), ("F7", finance.segregation_of_duties, "d1"),
    ("A1", ai_act.risk_management, "mv1"), ("A4", ai_act.automatic_logging, "d1"),
    ("A5", ai_act.instructions_for_use, "d1"), ("A6", ai_act.human_oversight, "d1"),
]


@pytest.mark.parametrize(("control", "fn", "who"), DEPLOYMENT_CHECKS, ids=[c for c, _, _ in DEPLOYMENT_CHECKS])
def test_a_deployment_superseded_during_the_period_is_in_scope_and_one_superseded_before_is_not(control, fn, who):
    g, w = _world()
    failed = {f.node_id for f in fn(g.facts).failing}
    assert w[who].node_id in failed, (control, failed)
    assert w["old"].node_id not in failed and w["old_mv"].node_id not in failed


def test_active_intervals_follow_the_deploy_events():
    g, w = _world()
    f = g.facts
    assert f.active_intervals[w["d1"].pk] == (ago(200), ago(100))
    assert f.active_intervals[w["d2"].pk] == (ago(100), None)
    assert [d.node_id for d in f.production()] == [w["d1"].node_id, w["d2"].node_id]


def test_a_scope_flag_set_during_the_period_counts_though_it_is_cleared_now():
    g = Graph()
    mv = g.model("credit", inventory={"tier": 1}, created=ago(300))
    d = g.deploy(mv, created=ago(200), sox_in_scope=False)
    assert finance.change_management(g.facts).status == NOT_APPLICABLE
    g.facts.record_history[d.pk] = [RecordChange(ago(250), None, {"sox_in_scope": True}),
                                     RecordChange(ago(20), {"sox_in_scope": True}, {"sox_in_scope": False})]
    assert d.node_id in {x.node_id for x in finance.change_management(g.facts).failing}
    g.facts.record_history[d.pk] = [RecordChange(ago(500), None, {"sox_in_scope": True}),
                                    RecordChange(ago(400), {"sox_in_scope": True}, {"sox_in_scope": False})]
    assert finance.change_management(g.facts).status == NOT_APPLICABLE  # out of scope before the period


# -- documents dated by effect (issue 22.2) ------------------------------------------------------------------

def test_h10_ages_a_risk_analysis_by_its_effective_date_not_its_approval():
    g = Graph()
    ds = g.dataset("patients", tags={"PHI"})
    mv = g.model("readmission", by_run=g.run(reads=[g.version(ds)]), created=ago(800))
    g.deploy(mv, created=ago(200))
    g.doc("risk_analysis", on=[mv], approved=ago(0), effective_from=ago(365 + 400))
    result = hipaa.risk_analysis(g.facts)
    assert result.status == FAIL and "older than 12 months" in result.failing[0].why


def test_a_validation_approved_after_the_deploy_fails_with_that_reason_even_if_dated_before():
    g = Graph()
    g.user("val", teams={"model-risk"})
    ds = g.dataset("loans", tags={"PII"})
    mv = g.model("credit", by_run=g.run(reads=[g.version(ds)]), inventory={"tier": 1}, created=ago(300))
    g.deploy(mv, created=ago(100))
    g.doc("validation_report", on=[mv], author="val", approved=ago(10), effective_from=ago(150))
    why = finance.independent_validation(g.facts).failing[0].why
    assert why.startswith("validated ") and "after deployment" in why


def test_f5_ages_outcomes_analysis_by_effect():
    g = Graph()
    ds = g.dataset("loans", tags={"PII"})
    mv = g.model("credit", by_run=g.run(reads=[g.version(ds)]), inventory={"tier": 1}, created=ago(300))
    g.deploy(mv, created=ago(100))
    g.doc("outcomes_analysis", on=[mv], approved=ago(1), effective_from=ago(500))
    assert finance.outcomes_analysis(g.facts).status == FAIL
