"""Reads of incidents for pages and metrics."""

from __future__ import annotations

from datetime import datetime

from portal.accounts.models import User
from portal.governance.parameters import parameters_timeline

from .clocks import ClockStatus
from .models import Incident
from .services import incident_clock_status


def incidents_open_by_deadline(*, user: User, limit: int = 10) -> list[tuple[Incident, list[ClockStatus]]]:
    """Open incidents, the most urgent first: overdue, then by the nearest deadline still running."""
    params_at = parameters_timeline()
    rows = [(i, incident_clock_status(i, params_at=params_at)) for i in
            Incident.objects.visible_to(user).filter(state=Incident.State.OPEN).prefetch_related("notifications")]

    def urgency(row: tuple[Incident, list[ClockStatus]]) -> tuple[int, datetime]:
        pending = [s.clock.deadline for s in row[1] if s.state in ("running", "overdue")]
        return (0 if any(s.state == "overdue" for s in row[1]) else 1 if pending else 2,
                min(pending) if pending else row[0].detected_at)

    return sorted(rows, key=urgency)[:limit]
