"""The regulatory clocks: pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal.governance.parameters import DEFAULTS, validate
from portal.incidents.clocks import clock_status, clocks

AWARE = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_each_kind_starts_its_clock_from_awareness() -> None:
    got = {c.name: c for c in clocks(kinds=["ai_act_serious", "personal_data_breach", "phi_breach"],
                                     ai_act_category="standard", detected_at=AWARE, params=DEFAULTS)}
    assert got["ai_act"].deadline == AWARE + timedelta(days=15)
    assert got["gdpr"].deadline == AWARE + timedelta(hours=72)
    assert got["hipaa"].deadline == AWARE + timedelta(days=60)
    assert clocks(kinds=["model_failure"], ai_act_category="", detected_at=AWARE, params=DEFAULTS) == []


def test_a_widespread_infringement_has_two_days_and_a_death_ten() -> None:
    for category, days in (("widespread", 2), ("death", 10)):
        (c,) = clocks(kinds=["ai_act_serious"], ai_act_category=category, detected_at=AWARE, params=DEFAULTS)
        assert c.deadline == AWARE + timedelta(days=days)


def test_a_clock_is_running_overdue_met_late_or_exempt() -> None:
    (c,) = clocks(kinds=["personal_data_breach"], ai_act_category="", detected_at=AWARE, params=DEFAULTS)
    before, after = AWARE + timedelta(hours=71), AWARE + timedelta(hours=73)
    assert clock_status(c, notified_at=None, exempt=False, now=before).state == "running"
    overdue = clock_status(c, notified_at=None, exempt=False, now=after)
    assert overdue.state == "overdue" and overdue.raised
    assert clock_status(c, notified_at=before, exempt=False, now=after).state == "met"
    assert clock_status(c, notified_at=after, exempt=False, now=after).raised
    assert clock_status(c, notified_at=None, exempt=True, now=after).state == "exempt"


def test_the_law_caps_the_clocks_a_policy_may_set() -> None:
    assert validate({"gdpr_breach_notify_hours": 96}) == [
        ("values.gdpr_breach_notify_hours", "must be at most 72 (law)")]
    assert validate({"gdpr_breach_notify_hours": 48, "monitoring_psi_max": {"1": 0.05}}) == []
    assert validate({"monitoring_psi_max": {"1": "high"}})[0][0] == "values.monitoring_psi_max.1"
