"""The demo's history is dated relative to today: a report's default period always covers it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from portal.demo import story as demo


@pytest.mark.parametrize("today", [date(2026, 12, 6), date(2031, 2, 14), date(2027, 1, 4)])
def test_the_anchor_is_a_monday_of_the_current_28_day_block(today, monkeypatch):
    monkeypatch.delenv("PORTAL_DEMO_ANCHOR", raising=False)
    a = demo.anchor(today)
    assert a.weekday() == 0 and a <= today < a + timedelta(days=28)
    assert demo.anchor(a + timedelta(days=27)) == a  # the same events all block long: loading stays idempotent


def test_the_story_lies_in_the_last_months_before_today():
    now = datetime.now(UTC)
    times = [datetime.fromisoformat(e["eventTime"].replace("Z", "+00:00")) for e in demo.events()]
    assert min(times) > now - timedelta(days=150), min(times)  # inside a 12-month period, spread over months
    assert max(times) < now - timedelta(days=14), max(times)  # and all in the past
    assert (max(times) - min(times)).days >= 60
    commits = [datetime.fromisoformat(json.loads(json.dumps(c))["time"]) for c in demo.commits()]
    assert all(now - timedelta(days=200) < t < now for t in commits)
