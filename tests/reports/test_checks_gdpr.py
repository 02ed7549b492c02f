"""GDPR checks over small graphs built for each."""

from datetime import date

from portal.reports.checks import EVIDENCE, FAIL, NOT_APPLICABLE, PASS, gdpr

from .builder import NOW, Graph, ago


def test_g3_retention_date_disposition_and_reads_after_expiry():
    g = Graph()
    g.dataset("customers", tags={"PII"}, retention_until=date(2030, 1, 1), lawful_basis="b")
    assert gdpr.storage_limitation(g.facts).status == PASS
    expired = g.dataset("old-leads", tags={"PII"}, retention_until=date(2026, 1, 1))
    g.run(reads=[g.version(expired)], created=NOW)
    held = g.dataset("litigation", tags={"PII"}, retention_until=date(2026, 1, 1), legal_hold=True)
    undated = g.dataset("web-events", tags={"PII"})
    result = gdpr.storage_limitation(g.facts)
    assert result.status == FAIL
    failed = {(f.node_id, f.why.split(";")[0].split(" ")[0]) for f in result.failing}
    assert {n for n, _ in failed} == {expired.node_id, undated.node_id}
    assert held.node_id not in {f.node_id for f in result.failing}
    assert any("read by 1 run(s) after its retention date" in f.why for f in result.failing)
    assert len(result.rows) == 4


def test_g3_passes_an_expired_dataset_that_was_anonymised_and_not_read_since():
    g = Graph()
    g.dataset("old", tags={"PII"}, retention_until=date(2026, 1, 1), disposition="anonymised",
              disposed_at=ago(200))
    assert gdpr.storage_limitation(g.facts).status == PASS


def test_g4_lists_a_pack_per_processing_activity_without_a_verdict():
    g = Graph()
    ds = g.dataset("customers", tags={"PII"}, lawful_basis="b")
    mv = g.model("churn", by_run=g.run(reads=[g.version(ds)]))
    d = g.deploy(mv)
    g.doc("dpia", on=[mv])
    result = gdpr.accountability(g.facts)
    assert result.status == EVIDENCE
    assert result.rows[0][0] == d.label and result.rows[0][2] == "b" and result.rows[0][3] == "dpia doc"


def test_g5_lawful_basis_consent_reference_and_balancing_assessment():
    g = Graph()
    ok = g.dataset("contracts", tags={"PII"}, lawful_basis="b", purposes=["billing"])
    assert gdpr.lawful_basis(g.facts).status == PASS
    none = g.dataset("no-basis", tags={"PII"})
    consent = g.dataset("marketing", tags={"PII"}, lawful_basis="a", purposes=["ads"])
    li = g.dataset("fraud", tags={"PII"}, lawful_basis="f", purposes=["fraud"])
    result = gdpr.lawful_basis(g.facts)
    whys = {f.node_id: f.why for f in result.failing}
    assert ok.node_id not in whys
    assert "no Art. 6(1) lawful basis" in whys[none.node_id]
    assert "without a consent reference" in whys[consent.node_id]
    assert "balancing assessment" in whys[li.node_id]
    g.doc("balancing_assessment", on=[li])
    assert li.node_id not in {f.node_id for f in gdpr.lawful_basis(g.facts).failing}


def test_g6_special_category_needs_an_article_9_condition():
    g = Graph()
    health = g.dataset("diagnoses", tags={"PHI"}, lawful_basis="e")
    assert gdpr.special_category(g.facts).failing[0].node_id == health.node_id
    g.facts.governance[health.pk].special_category_condition = "h"
    assert gdpr.special_category(g.facts).status == PASS


def test_g7_lists_what_each_personal_dataset_feeds():
    g = Graph()
    ds = g.dataset("customers", tags={"PII"}, subject_keys=3)
    mv = g.model("churn", by_run=g.run(reads=[g.version(ds)]))
    g.deploy(mv)
    result = gdpr.erasure(g.facts)
    assert result.status == NOT_APPLICABLE and result.reason.startswith("Not applicable: no erasure request")
    assert result.rows == [["customers", 3, 1, 1]]


def test_g7_requests_answered_in_time_with_every_dataset_and_model_decided():

    from portal.reports.facts import ErasureFact

    g = Graph()
    ok = ErasureFact(1, ago(40), ago(10), ago(20), [("dataset:ns:customers", "dataset", "erased", ago(25)),
                                                     ("modelVersion:ns:churn#1", "modelVersion", "retrained", ago(21))])
    g.facts.erasure_requests = [ok]
    assert gdpr.erasure(g.facts).status == PASS
    late = ErasureFact(2, ago(50), ago(20), None, [("dataset:ns:leads", "dataset", "pending", None)])
    undecided = ErasureFact(3, ago(120), ago(90), ago(95), [
        ("dataset:ns:crm", "dataset", "pending", None), ("modelVersion:ns:score#2", "modelVersion", "pending", None)])
    g.facts.erasure_requests += [late, undecided]
    result = gdpr.erasure(g.facts)
    whys = {f.node_id: f.why for f in result.failing}
    assert result.status == FAIL
    assert whys["erasure_request:2"].startswith("not answered; due")
    assert "answered with the dataset undecided" in whys["dataset:ns:crm"]
    assert "no disposition within 90 days" in whys["modelVersion:ns:score#2"]
    assert "erasure_request:1" not in whys


def test_g10_production_with_personal_data_needs_a_complete_ropa_entry():
    g = Graph()
    ds = g.dataset("customers", tags={"PII"})
    mv = g.model("churn", by_run=g.run(reads=[g.version(ds)]))
    d = g.deploy(mv)
    assert gdpr.records_of_processing(g.facts).failing[0].why == "no approved ROPA entry in effect"
    entry = g.doc("ropa_entry", on=[d], sections=["30(1)(a)", "30(1)(b)", "30(1)(c)"])
    whys = [f.why for f in gdpr.records_of_processing(g.facts).failing]
    assert any("lacks items 30(1)(d), 30(1)(e)" in w for w in whys)
    assert any("omits 30(1)(f), 30(1)(g) without a reason" in w for w in whys)
    entry.sections += ["30(1)(d)", "30(1)(e)", "30(1)(f)"]
    entry.attributes["reasons"] = {"30(1)(g)": "no transfers outside the EEA"}
    assert gdpr.records_of_processing(g.facts).status == PASS


def test_g12_dpia_before_first_deploy_with_sections_and_review_after_new_special_input():
    g = Graph()
    phi = g.dataset("diagnoses", tags={"PHI"})
    mv = g.model("readmission", by_run=g.run(reads=[g.version(phi, created=ago(300))]))
    d = g.deploy(mv, created=ago(100))
    assert "no approved DPIA" in gdpr.dpia(g.facts).failing[0].why
    dpia = g.doc("dpia", on=[mv], approved=ago(50), sections=["35(7)(a)"])
    whys = [f.why for f in gdpr.dpia(g.facts).failing]
    assert any(w.startswith("DPIA approved") and "after the first production deploy" in w for w in whys)
    assert any("lacks sections 35(7)(b)" in w for w in whys)
    dpia.approved_at = dpia.effective_from = ago(150)
    dpia.sections = ["35(7)(a)", "35(7)(b)", "35(7)(c)", "35(7)(d)"]
    assert gdpr.dpia(g.facts).status == PASS
    newer = g.version(phi, "2", created=ago(10))
    g.edge(newer, g.facts.nodes[next(iter(g.facts.up(mv.pk) & {r.pk for r in g.facts.of_kind("run")}))], "reads")
    assert "was not reviewed again" in gdpr.dpia(g.facts).failing[0].why
    assert d.node_id == gdpr.dpia(g.facts).failing[0].node_id


def test_g12_no_trigger_no_subjects():
    g = Graph()
    ds = g.dataset("prices")
    g.deploy(g.model("pricing", by_run=g.run(reads=[g.version(ds)])))
    result = gdpr.dpia(g.facts)
    assert result.status == NOT_APPLICABLE and result.reason.startswith("Not applicable")
