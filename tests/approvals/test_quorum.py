"""Quorum assignment: pure."""

from __future__ import annotations

from portal.approvals.quorum import quorum_assign


def test_one_person_in_two_groups_counts_once() -> None:
    met, assigned, missing = quorum_assign({"risk": 1, "compliance": 1}, {"bo": {"risk", "compliance"}})
    assert not met and len(assigned) == 1 and sum(missing.values()) == 1


def test_the_best_assignment_is_found() -> None:
    # greedy would put bo on risk and leave compliance empty; a matching puts bo on compliance
    met, assigned, _ = quorum_assign({"risk": 1, "compliance": 1}, {"bo": {"risk", "compliance"}, "mo": {"risk"}})
    assert met and assigned == {"mo": "risk", "bo": "compliance"}


def test_minimums_above_one() -> None:
    assert not quorum_assign({"risk": 2}, {"a": {"risk"}})[0]
    assert quorum_assign({"risk": 2}, {"a": {"risk"}, "b": {"risk"}, "c": set()})[0]
