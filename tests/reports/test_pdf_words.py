"""Words on the workpaper: dates, counts, periods and scopes (pure)."""

from __future__ import annotations

from portal.reports import pdf_words as W


def test_dates_read_like_dates():
    assert W.human_date("2026-12-06T11:20:31.512Z") == "6 December 2026"
    assert W.human_date("2026-12-06T11:20:31+00:00", time=True) == "6 December 2026, 11:20 UTC"
    assert W.human_date(None) == "\u2014" and W.human_date("soon") == "soon"


def test_counts_in_plain_words():
    assert W.count(1, "row") == "one row"
    assert W.count(0, "entry") == "no entries"
    assert W.count(12, "policy") == "twelve policies"
    assert W.count(1234, "run") == "1,234 runs"
    assert W.count(2, "analysis") == "two analyses"


def test_period_and_scope_in_words():
    assert W.period("2025-12-06T00:00:00Z", "2026-12-06T00:00:00Z") == \
        "6 December 2025 to 6 December 2026 (twelve months)"
    assert W.period("2026-12-01T00:00:00Z", "2026-12-06T00:00:00Z").endswith("(five days)")
    assert W.scope({}) == "the whole organisation"
    assert W.scope({"namespaces": ["a", "b"], "models": ["credit"]}).startswith(
        "the namespaces a and b; the model credit")
