"""Notification clocks of incidents (GDPR Art. 33, HIPAA §164.404, EU AI Act Art. 73), shared by G13, H11, A10."""

from __future__ import annotations

from ..facts import Facts, IncidentFact
from . import Failing, Result, verdict


def clock_problem(f: Facts, incident: IncidentFact, clock_name: str) -> str | None:
    """Why the incident's clock fails: notified after its deadline, or the deadline passed with nothing recorded.
    A clock still running at the report's time is not a failure (yet)."""
    c = incident.clock(clock_name)
    if c is None or c.exempt:
        return None
    if c.notified_at is not None:
        if c.notified_at > c.deadline:
            return (f"{c.label} made {c.notified_at:%Y-%m-%d %H:%M}, after the deadline "
                    f"{c.deadline:%Y-%m-%d %H:%M}")
        return None
    if f.now > c.deadline:
        return f"no {c.label} recorded; the deadline was {c.deadline:%Y-%m-%d %H:%M}"
    return None


def _state(f: Facts, incident: IncidentFact, clock_name: str) -> str:
    c = incident.clock(clock_name)
    if c is None:
        return "-"
    if c.exempt:
        return "not due (recorded)"
    if c.notified_at is not None:
        return f"notified {c.notified_at:%Y-%m-%d %H:%M}" + (" (late)" if c.notified_at > c.deadline else "")
    return "overdue" if f.now > c.deadline else "running"


def timeliness(f: Facts, *, kind: str, clock_name: str, what: str, none: str) -> Result:
    """Pass or fail over the incidents of ``kind`` in scope: each notified by its clock's deadline (or recorded
    as not due)."""
    incidents = [i for i in f.incidents if kind in i.kinds]
    fails, rows = [], []
    for i in incidents:
        c = i.clock(clock_name)
        rows.append([f"#{i.id} {i.title}", i.detected_at.isoformat(), c.deadline.isoformat() if c else "-",
                     _state(f, i, clock_name), i.state])
        problem = clock_problem(f, i, clock_name)
        if problem:
            fails.append(Failing(f"incident:{i.id}", "incident", f"incident #{i.id} {i.title}", problem))
    return verdict(incidents, fails, what=what, none=none,
                   columns=["Incident", "Aware since", "Deadline", "Notification", "State"], rows=rows)
