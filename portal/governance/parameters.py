"""The organisation's policy parameters (the ``{braces}`` of the control catalog) and their defaults.

A report records the ParameterSet version it used; with no version published, the defaults apply and
the report says "defaults".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from .models import ParameterSet

DEFAULTS: dict[str, Any] = {
    "production_environment": "production",
    "audit_latency_minutes": 5,  # H1: an audit entry within this long of the event
    "hipaa_retention_years": 6,  # H7 (law)
    "risk_analysis_max_months": 12,  # H10
    "approvers_min": 2,  # F7
    "validation_min_tier": 2,  # F3: validation required from this materiality tier (higher = more material)
    "validation_team": "model-risk",  # F3: the validation unit
    "monitoring_max_days": {"1": 365, "2": 90, "3": 30},  # F4: per tier
    "outcomes_max_months": 12,  # F5
    "model_retired_lookback_months": 12,  # F1
    "overseer_training_max_months": 12,  # A6
    "stop_control_test_max_months": 12,  # A6
    "log_max_gap_minutes": 60,  # A4
    "log_retention_days_min": 183,  # A4 (law: at least six months)
    "ai_act_retention_years": 10,  # A9 (law)
    "dpia_large_scale_subjects": 10000,  # G12
    "erasure_disposition_days": 90,  # G7
}


def parameters_in_force(at: datetime | None = None) -> tuple[ParameterSet | None, dict[str, Any]]:
    """The parameter set in force at ``at`` (None when only the defaults apply) and the merged values."""
    at = at or timezone.now()
    current = ParameterSet.objects.filter(effective_from__lte=at).order_by("-effective_from", "-version").first()
    values = {**DEFAULTS, **(current.values if current else {})}
    return current, values
