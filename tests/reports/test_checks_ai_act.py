"""EU AI Act checks for high-risk systems."""

from datetime import date

from portal.reports.checks import FAIL, PASS, ai_act

from .builder import Graph, ago


def _high_risk(g: Graph, **profile):
    ds = g.dataset("claims", tags={"PHI"})
    mv = g.model("readmission", by_run=g.run(reads=[g.version(ds)]), created=ago(200),
                 inventory={"high_risk_annex": "5(c)"})
    d = g.deploy(mv, created=ago(100), **profile)
    return mv, d


def test_nothing_applies_without_high_risk_models():
    g = Graph()
    g.deploy(g.model("pricing", inventory={}))
    for fn in (ai_act.risk_management, ai_act.automatic_logging, ai_act.human_oversight):
        assert fn(g.facts).reason.startswith("Not applicable")


def test_a1_risk_register_after_the_model_with_named_acceptance_and_metrics():
    g = Graph()
    mv, _ = _high_risk(g)
    assert "no risk register" in ai_act.risk_management(g.facts).failing[0].why
    reg = g.doc("risk_register", on=[mv], approved=ago(150))
    assert "not accepted by a named approver" in ai_act.risk_management(g.facts).failing[0].why
    reg.attributes["residual_risks_accepted_by"] = "cmo"
    assert ai_act.risk_management(g.facts).status == PASS
    mv.attrs.pop("metrics")
    assert "no test results" in ai_act.risk_management(g.facts).failing[0].why


def test_a3_annex_iv_documentation_newer_than_the_lineage():
    g = Graph()
    mv, _ = _high_risk(g)
    release = g.release(mv, approved=ago(120))
    assert ai_act.technical_documentation(g.facts).failing[0].node_id == f"release:{release.id}"
    g.doc("annex_iv", releases=[release.id], approved=ago(90), sections=[str(i) for i in range(1, 10)])
    assert ai_act.technical_documentation(g.facts).status == PASS
    mv.event_time = ago(1)  # the pipeline changed the model after the documentation
    assert ai_act.technical_documentation(g.facts).status == FAIL


def test_a3_accepts_a_generated_annex_iv_dossier():
    from portal.reports.facts import ReportFact

    g = Graph()
    mv, _ = _high_risk(g)
    g.release(mv, approved=ago(120))
    g.facts.reports.append(ReportFact(kind="dossier", subject=mv.node_id, annex_iv=True, finished_at=ago(5)))
    assert ai_act.technical_documentation(g.facts).status == PASS


def test_a4_logging_location_retention_and_gaps():
    g = Graph()
    _, d = _high_risk(g, log_location="s3://logs", log_retention_days=365, log_max_gap_minutes=5)
    assert ai_act.automatic_logging(g.facts).status == PASS
    g.facts.profiles[d.pk].log_retention_days = 30
    g.facts.profiles[d.pk].log_max_gap_minutes = 180
    whys = [f.why for f in ai_act.automatic_logging(g.facts).failing]
    assert "logs kept 30 days; at least 183 required" in whys
    assert "a 180-minute gap in its logs (limit 60)" in whys


def test_a5_instructions_for_the_exact_model_version():
    g = Graph()
    mv, _ = _high_risk(g)
    assert "no approved instructions" in ai_act.instructions_for_use(g.facts).failing[0].why
    g.doc("instructions_for_use", on=[mv], sections=["purpose", "accuracy", "limitations", "oversight", "logging"])
    assert ai_act.instructions_for_use(g.facts).status == PASS


def test_a6_trained_overseers_and_a_tested_stop_control():
    g = Graph()
    _, d = _high_risk(g, overseers=["nurse"], stop_control_tested_at=ago(30))
    assert "overseer nurse has no oversight training" in ai_act.human_oversight(g.facts).failing[0].why
    g.doc("oversight_training", trainee="nurse", effective_from=ago(40))
    assert ai_act.human_oversight(g.facts).status == PASS
    g.facts.profiles[d.pk].stop_control_tested_at = ago(500)
    assert "stop/override control not tested" in ai_act.human_oversight(g.facts).failing[0].why


def test_a9_ten_year_lock_on_technical_documentation():
    g = Graph()
    g.doc("annex_iv", retention_until=date(2037, 1, 1), effective_from=ago(10))
    assert ai_act.documentation_keeping(g.facts).status == PASS
    g.doc("qms_procedure", retention_until=date(2030, 1, 1), effective_from=ago(10))
    assert ai_act.documentation_keeping(g.facts).status == FAIL
