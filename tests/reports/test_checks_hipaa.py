"""HIPAA checks over small graphs built for each, passing and failing."""

from datetime import date

import pytest

from portal.reports.checks import FAIL, NOT_EVALUATED, PASS, hipaa
from portal.reports.facts import NodeFact

from .builder import Graph, ago


def _phi_pipeline(g: Graph, *, launched_by: str = "svc-ingest"):
    ds = g.dataset("patients", tags={"PHI"})
    dv = g.version(ds)
    run = g.run(reads=[dv], launched_by=launched_by)
    return ds, dv, run


def test_h1_passes_when_every_phi_run_is_audited_promptly_and_the_chain_verifies():
    g = Graph()
    _, _, run = _phi_pipeline(g)
    g.facts.audit.target_times[run.node_id] = [run.event_time + (ago(0) - ago(0.001))]
    result = hipaa.audit_controls(g.facts)
    assert result.status == PASS, result.reason
    assert result.reason == "All 2 runs with PHI inputs and the audit chain pass."


def test_h1_fails_an_unaudited_phi_run_and_a_broken_chain():
    g = Graph()
    _, _, run = _phi_pipeline(g)
    g.facts.audit.chain_ok = False
    g.facts.audit.chain_problems = ["entry 7 hash mismatch"]
    result = hipaa.audit_controls(g.facts)
    assert result.status == FAIL
    whys = [f.why for f in result.failing]
    assert any("does not verify" in w for w in whys)
    assert any(f.node_id == run.node_id and "no audit entry" in f.why for f in result.failing)


def test_h1_fails_a_late_audit_entry_and_is_not_evaluated_without_a_verification():
    g = Graph()
    _, _, run = _phi_pipeline(g)
    g.facts.audit.target_times[run.node_id] = [run.event_time + (ago(0) - ago(1))]
    assert "after the portal received the run" in hipaa.audit_controls(g.facts).failing[0].why
    g.facts.audit.chain_ok = None
    assert hipaa.audit_controls(g.facts).status == NOT_EVALUATED


def _behind_deidentification(*, determination: str | None) -> tuple[Graph, NodeFact]:
    g = Graph()
    ds = g.dataset("patients", tags={"PHI"})
    clean = g.dataset("features")
    deid = g.run(reads=[g.version(ds)], writes=[cv := g.version(clean)], deidentifies=True)
    if determination:
        g.doc("deid_determination", on=[deid], method=determination)
    downstream = g.run(reads=[cv])
    g.facts.audit.target_times = {}
    return g, downstream


def test_h1_ignores_runs_behind_a_deidentification_step():
    g, downstream = _behind_deidentification(determination="safe_harbor")
    result = hipaa.audit_controls(g.facts)
    assert downstream.node_id not in {f.node_id for f in result.failing}
    assert len(result.failing) == 1  # only the de-identifying run itself reads PHI


@pytest.mark.parametrize("determination", [None, "guess"])
def test_h1_follows_phi_past_a_de_identifying_run_no_determination_vouches_for(determination):
    g, downstream = _behind_deidentification(determination=determination)
    assert downstream.node_id in {f.node_id for f in hipaa.audit_controls(g.facts).failing}


def test_h3_requires_a_registered_account_with_a_grant():
    g = Graph()
    g.user("svc-ingest", role="ingestor")
    g.user("nurse", teams={"ward"})
    g.facts.namespace_teams["ns"] = "clinical"
    _phi_pipeline(g, launched_by="svc-ingest")
    assert hipaa.unique_ids_and_grants(g.facts).status == PASS
    _, _, stranger = _phi_pipeline(g, launched_by="shared-login")
    _, _, nurse = _phi_pipeline(g, launched_by="nurse")
    result = hipaa.unique_ids_and_grants(g.facts)
    assert result.status == FAIL
    assert {f.node_id for f in result.failing} == {stranger.node_id, nurse.node_id}
    assert any("not a registered user" in f.why for f in result.failing)
    assert any("holds no grant" in f.why for f in result.failing)


def test_h6_fails_a_version_written_in_place_and_a_hash_mismatch():
    g = Graph()
    ds = g.dataset("patients", tags={"PHI"})
    dv = g.version(ds, attrs={"content_hash": "aaa"})
    g.run(writes=[dv])
    g.run(reads=[dv])
    assert hipaa.integrity(g.facts).status == PASS
    g.run(writes=[dv])
    reader = g.run(reads=[dv])
    reader.attrs["input_hashes"] = {dv.node_id: "bbb"}
    whys = [f.why for f in hipaa.integrity(g.facts).failing]
    assert any("written in place by 2 runs" in w for w in whys)
    assert any("registered" in w for w in whys)


def test_h7_needs_six_years_of_retention_lock():
    g = Graph()
    g.doc("risk_analysis", retention_until=date(2033, 1, 1))
    assert hipaa.retention(g.facts).status == PASS
    short = g.doc("policy", retention_until=date(2027, 1, 1))
    result = hipaa.retention(g.facts)
    assert result.status == FAIL and result.failing[0].node_id == f"document:{short.id}"


def test_h9_deidentified_needs_a_recorded_run_and_a_determination():
    g = Graph()
    phi = g.dataset("patients", tags={"PHI"})
    out = g.dataset("cohort", tags={"DEIDENTIFIED"})
    deid = g.run(reads=[g.version(phi)], writes=[g.version(out)], deidentifies=True)
    result = hipaa.deidentification(g.facts)
    assert result.status == FAIL and "no approved de-identification determination" in result.failing[0].why
    g.doc("deid_determination", on=[deid], method="safe_harbor")
    assert hipaa.deidentification(g.facts).status == PASS
    fake = g.dataset("claimed", tags={"DEIDENTIFIED"})
    g.run(reads=[g.version(phi)], writes=[g.version(fake)])
    assert "no de-identification run produced it" in hipaa.deidentification(g.facts).failing[0].why


def test_a_determination_approved_after_the_reports_moment_vouches_for_no_run():
    """The report's rule is the evidence selector's (``deid_determined_runs``): approved and in effect at the
    moment asked. A document in effect from a past date but approved only later did not vouch then."""
    g = Graph()
    phi = g.dataset("patients", tags={"PHI"})
    out = g.dataset("cohort", tags={"DEIDENTIFIED"})
    deid = g.run(reads=[g.version(phi)], writes=[g.version(out)], deidentifies=True)
    g.doc("deid_determination", on=[deid], method="safe_harbor", approved=ago(-3), effective_from=ago(30))
    assert deid.pk not in g.facts.deid_vouched


def test_h10_production_with_phi_needs_a_fresh_risk_analysis():
    g = Graph()
    _, dv, run = _phi_pipeline(g)
    mv = g.model("readmission", by_run=run, created=ago(200))
    d = g.deploy(mv)
    assert hipaa.risk_analysis(g.facts).failing[0].why == "no approved risk analysis covers it"
    g.doc("risk_analysis", on=[d], approved=ago(500))
    assert "older than 12 months" in hipaa.risk_analysis(g.facts).failing[0].why
    g.doc("risk_analysis", on=[mv], approved=ago(30))
    assert hipaa.risk_analysis(g.facts).status == PASS


def test_retention_from_a_leap_day_does_not_crash():
    from datetime import UTC, datetime

    g = Graph()
    d = g.doc("policy", retention_until=date(2030, 1, 1))
    d.created_at = datetime(2024, 2, 29, tzinfo=UTC)
    assert "must be at least 2030-02-28" in hipaa.retention(g.facts).failing[0].why
