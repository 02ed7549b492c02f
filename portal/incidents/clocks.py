"""The regulatory clocks an incident starts, from its kinds and the policy parameters. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

AI_ACT_DAYS = {"standard": "ai_act_incident_days", "death": "ai_act_incident_death_days",
               "widespread": "ai_act_incident_widespread_days"}
LABELS = {"ai_act": "EU AI Act Art. 73 report", "gdpr": "GDPR Art. 33 notification",
          "hipaa": "HIPAA breach notification"}


@dataclass(frozen=True, slots=True)
class Clock:
    name: str  # ai_act | gdpr | hipaa (Notification.Clock)
    label: str
    limit: str  # "15 days", "72 hours"
    deadline: datetime


@dataclass(frozen=True, slots=True)
class ClockStatus:
    clock: Clock
    state: str  # running | overdue | met | late | exempt
    at: datetime | None  # when notified (met, late)

    @property
    def raised(self) -> bool:
        return self.state in ("overdue", "late")


def clocks(*, kinds: list[str], ai_act_category: str, detected_at: datetime, params: dict[str, Any]) -> list[Clock]:
    """Each deadline runs from awareness (``detected_at``): Art. 73(2)-(4), Art. 33(1), §164.404(b)."""
    out = []
    if "ai_act_serious" in kinds:
        days = params[AI_ACT_DAYS.get(ai_act_category or "standard", "ai_act_incident_days")]
        out.append(Clock("ai_act", LABELS["ai_act"], f"{days} days", detected_at + timedelta(days=days)))
    if "personal_data_breach" in kinds:
        hours = params["gdpr_breach_notify_hours"]
        out.append(Clock("gdpr", LABELS["gdpr"], f"{hours} hours", detected_at + timedelta(hours=hours)))
    if "phi_breach" in kinds:
        days = params["hipaa_breach_notify_days"]
        out.append(Clock("hipaa", LABELS["hipaa"], f"{days} days", detected_at + timedelta(days=days)))
    return out


def clock_status(clock: Clock, *, notified_at: datetime | None, exempt: bool, now: datetime) -> ClockStatus:
    if exempt:
        return ClockStatus(clock, "exempt", None)
    if notified_at is not None:
        return ClockStatus(clock, "met" if notified_at <= clock.deadline else "late", notified_at)
    return ClockStatus(clock, "overdue" if now > clock.deadline else "running", None)
