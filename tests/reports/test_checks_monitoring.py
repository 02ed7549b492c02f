"""Controls evaluated from monitoring results, alerts and incidents: F4, A10, G13, H11 over small graphs."""

from datetime import timedelta

from portal.reports.checks import FAIL, PASS, ai_act, finance, gdpr, hipaa

from .builder import Graph, ago


def _deployment(g: Graph, *, tier: int = 2, high_risk: bool = False):
    mv = g.model("credit", inventory={"tier": tier, "high_risk_annex": "5(b)" if high_risk else ""},
                 created=ago(200))
    return mv, g.deploy(mv, created=ago(100))


def test_f4_passes_on_fresh_results_judged_against_thresholds():
    g = Graph()
    _, d = _deployment(g)
    assert "no thresholds set" in finance.ongoing_monitoring(g.facts).failing[0].why
    g.result(d, days_ago=120)
    assert "no monitoring result in the last 90 days" in finance.ongoing_monitoring(g.facts).failing[0].why
    g.result(d, days_ago=10)
    result = finance.ongoing_monitoring(g.facts)
    assert result.status == PASS and result.rows[0][2] == 2
    g1 = Graph()
    _, d1 = _deployment(g1, tier=1)  # tier 1: a result every 30 days
    g1.result(d1, days_ago=45)
    assert "in the last 30 days" in finance.ongoing_monitoring(g1.facts).failing[0].why


def test_f4_a_breach_needs_an_issue_within_the_policy_days():
    g = Graph()
    _, d = _deployment(g)
    g.result(d, days_ago=8, breaches=["auc below"])
    alert = g.alert(d, days_ago=8)
    fails = finance.ongoing_monitoring(g.facts).failing
    assert fails and "has no issue opened within 5 days" in fails[0].why
    g.incident(on=[d], kinds=["model_failure"], days_ago=8, opened_days_ago=7, alerts=[alert])
    assert finance.ongoing_monitoring(g.facts).status == PASS
    g.facts.incidents[0].opened_at = ago(1)  # opened a week after the alert: too late
    assert "after more than 5 days" in finance.ongoing_monitoring(g.facts).failing[0].why


def test_f4_a_fresh_alert_or_a_dismissed_one_does_not_fail():
    g = Graph()
    _, d = _deployment(g)
    g.result(d, days_ago=2, breaches=["psi"])
    g.alert(d, days_ago=2)
    g.alert(d, days_ago=30, state="closed")
    assert finance.ongoing_monitoring(g.facts).status == PASS


def test_a10_needs_a_plan_with_metrics_and_frequency_and_data_as_it_sets():
    g = Graph()
    mv, d = _deployment(g, high_risk=True)
    assert "no post-market monitoring plan" in ai_act.post_market_monitoring(g.facts).failing[0].why
    g.doc("monitoring_plan", on=[mv], metrics=["auc", "psi"], frequency_days=30)
    g.result(d, days_ago=5, metric="auc")
    assert "for psi, as the plan sets" in ai_act.post_market_monitoring(g.facts).failing[0].why
    g.result(d, days_ago=5, metric="psi")
    assert ai_act.post_market_monitoring(g.facts).status == PASS
    g2 = Graph()
    _deployment(g2)  # not high-risk
    assert ai_act.post_market_monitoring(g2.facts).reason.startswith("Not applicable")


def test_a10_each_serious_incident_has_its_article_73_report_in_time():
    g = Graph()
    mv, d = _deployment(g, high_risk=True)
    g.doc("monitoring_plan", on=[mv], metrics=["auc"], frequency_days=30)
    g.result(d, days_ago=5)
    incident = g.incident(on=[d], kinds=["ai_act_serious"], days_ago=20, clocks={"ai_act": (15, None)})
    assert "the deadline was" in ai_act.post_market_monitoring(g.facts).failing[0].why
    incident.clocks[0].notified_at = incident.detected_at + timedelta(days=16)
    assert "after the deadline" in ai_act.post_market_monitoring(g.facts).failing[0].why
    incident.clocks[0].notified_at = incident.detected_at
    assert ai_act.post_market_monitoring(g.facts).status == PASS


def test_g13_personal_data_breaches_are_notified_within_72_hours_or_exempt():
    g = Graph()
    ds = g.dataset("customers", tags={"PII"})
    assert gdpr.breach_notification(g.facts).reason.startswith("Not applicable")
    running = g.incident(on=[ds], kinds=["personal_data_breach"], days_ago=1, clocks={"gdpr": (3, None)})
    assert gdpr.breach_notification(g.facts).status == PASS  # still within its 72 hours
    late = g.incident(on=[ds], kinds=["personal_data_breach"], days_ago=10, clocks={"gdpr": (3, 4)})
    exempt = g.incident(on=[ds], kinds=["personal_data_breach"], days_ago=10, clocks={"gdpr": (3, None)},
                        exempt={"gdpr"})
    result = gdpr.breach_notification(g.facts)
    assert result.status == FAIL and [x.node_id for x in result.failing] == [f"incident:{late.id}"]
    assert {r[0] for r in result.rows} >= {f"#{running.id} {running.title}", f"#{exempt.id} {exempt.title}"}


def test_h11_phi_breaches_within_60_days():
    g = Graph()
    ds = g.dataset("admissions", tags={"PHI"})
    g.incident(on=[ds], kinds=["phi_breach"], days_ago=70, clocks={"hipaa": (60, None)})
    assert "the deadline was" in hipaa.breach_notification(g.facts).failing[0].why
    g.facts.incidents[0].clocks[0].notified_at = ago(15)
    assert hipaa.breach_notification(g.facts).status == PASS
