"""The organisation's policy parameters: every ``{brace}`` of the control catalog
(``portal/reports/controls.md``), with its default, type and the controls that read it.

``services.parameters_publish`` validates against ``SCHEMA``; ``parameters_in_force`` merges the version in
force over ``DEFAULTS`` (so a parameter added to the code later has a value in older versions too). A report
records the ParameterSet version it used; with no version published, the defaults apply and the report says
"defaults".

Values marked ``law`` come from the cited text: a version may raise them (keep records longer than the law
asks) but never lower them. Keys of ``monitoring_max_days`` are tier numbers as strings, because the values
are stored as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from .models import ParameterSet


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    default: Any
    kind: str  # "int" | "str" | "tiers" (tier number -> int) | "tier_limits" (tier number -> number)
    controls: str
    description: str
    minimum: int = 0
    law: bool = False
    maximum: int | None = None  # a legal deadline: a version may shorten it, never lengthen it


PARAMS: tuple[Param, ...] = (
    Param("production_environment", "production", "str", "F7 and all prod(D)", "The environment that is "
          "production."),
    Param("audit_latency_minutes", 5, "int", "H1", "An ePHI access or run has its audit entry within this.", 1),
    Param("log_review_max_window_days", 30, "int", "H2", "Longest window one activity review may cover.", 1),
    Param("anomaly_disposition_days", 14, "int", "H2", "An anomaly found in a review is disposed of within this.", 1),
    Param("access_review_max_days", 365, "int", "H4", "A PHI dataset's access review is at most this old.", 1),
    Param("deprovision_revoke_hours", 24, "int", "H4 F8", "Grants and roles are removed within this of "
          "deprovisioning.", 1),
    Param("required_auth", "SSO+MFA", "str", "H5", "Authentication method required for PHI access, approvals "
          "and deploys."),
    Param("risk_analysis_max_months", 12, "int", "H10", "A HIPAA risk analysis covering a deployment is at most "
          "this old.", 1),
    Param("erasure_disposition_days", 90, "int", "G7", "Each model version affected by an erasure has a "
          "disposition within this.", 1),
    Param("security_test_max_months", 12, "int", "G11", "A system holding personal data has a security test at "
          "most this old.", 1),
    Param("dpia_large_scale_subjects", 10000, "int", "G12", "Special-category data about this many subjects or "
          "more is large-scale (a DPIA trigger).", 1),
    Param("model_retired_lookback_months", 12, "int", "F1", "Model versions retired this recently still need an "
          "inventory record.", 0),
    Param("validation_max_tier", 2, "int", "F3 F5", "Validation and outcomes analysis apply to models of this "
          "materiality tier or a more material one (tier 1 = most material).", 1),
    Param("validation_team", "model-risk", "str", "F3", "The validation unit: the team whose members validate "
          "models."),
    Param("monitoring_max_days", {"1": 30, "2": 90, "3": 365}, "tiers", "F4", "Most days between two monitoring "
          "results, by tier (tier 1 = most material, as the inventory's tier)."),
    Param("breach_issue_days", 5, "int", "F4", "A threshold breach opens an issue within this.", 1),
    Param("outcomes_max_months", 12, "int", "F5", "Outcomes analysis and periodic review are at most this old.", 1),
    Param("approvers_min", 2, "int", "F7", "Distinct approvers an in-scope production deployment needs.", 1),
    Param("role_review_max_days", 92, "int", "F8", "Holders of deploy, approve and admin roles are reviewed "
          "this often (a quarter).", 1),
    Param("backtest_max_months", 12, "int", "F9", "A credit-decisioning model's back-test is at most this "
          "old.", 1),
    Param("emergency_approval_business_days", 5, "int", "F10", "An emergency deployment is approved after the "
          "fact within this.", 1),
    Param("log_max_gap_minutes", 60, "int", "A4", "Longest gap in a high-risk deployment's logs while it is "
          "active.", 1),
    Param("log_retention_days_min", 183, "int", "A4", "High-risk deployment logs are kept at least this long "
          "(six months).", 183, law=True),
    Param("overseer_training_max_months", 12, "int", "A6", "An overseer's training is at most this old.", 1),
    Param("stop_control_test_max_months", 12, "int", "A6", "The stop/override control was tested at most this "
          "long ago.", 1),
    Param("posture_period_days", 365, "int", "the dashboard posture", "The rolling period (days up to the "
          "evaluation) the scheduled posture evaluation covers.", 1),
    Param("hipaa_retention_years", 6, "int", "H7", "HIPAA documentation is kept this long.", 6, law=True),
    Param("ai_act_retention_years", 10, "int", "A9", "AI Act technical documentation is kept this long.", 10,
          law=True),
    # Monitoring and incidents (portal/monitoring, portal/incidents).
    Param("monitoring_psi_max", {"1": 0.1, "2": 0.2, "3": 0.25}, "tier_limits", "F4 A10", "Highest population "
          "stability index a monitoring result may report before it is a breach, by tier."),
    Param("monitoring_ks_max", {"1": 0.1, "2": 0.15, "3": 0.2}, "tier_limits", "F4 A10", "Highest "
          "Kolmogorov-Smirnov statistic a monitoring result may report before it is a breach, by tier."),
    Param("ai_act_incident_days", 15, "int", "A10", "A serious incident is reported within this many days of "
          "awareness (Art. 73(2)).", 1, law=True, maximum=15),
    Param("ai_act_incident_death_days", 10, "int", "A10", "... within this many days when it involves a death "
          "(Art. 73(4)).", 1, law=True, maximum=10),
    Param("ai_act_incident_widespread_days", 2, "int", "A10", "... within this many days for a widespread "
          "infringement or a serious disruption of critical infrastructure (Art. 73(3)).", 1, law=True, maximum=2),
    Param("gdpr_breach_notify_hours", 72, "int", "G13", "A personal-data breach is notified to the supervisory "
          "authority within this many hours of awareness (Art. 33(1)).", 1, law=True, maximum=72),
    Param("hipaa_breach_notify_days", 60, "int", "H11", "A breach of unsecured PHI is notified within this many "
          "days of discovery (§164.404(b)).", 1, law=True, maximum=60),
)
SCHEMA: dict[str, Param] = {p.name: p for p in PARAMS}
DEFAULTS: dict[str, Any] = {p.name: p.default for p in PARAMS}


def _tier_problems(where: str, value: Any, *, days: bool) -> list[tuple[str, str]]:
    """A tier table: tier number -> days (a positive integer) or -> a limit (a positive number)."""
    what, example = ("days", 30) if days else ("limit", 0.1)
    if not isinstance(value, dict) or not value:
        return [(where, f"must be an object of tier number to {what}, e.g. {{\"1\": {example}}}")]
    problems = []
    for tier, v in value.items():
        if not str(tier).isdigit() or int(tier) < 1:
            problems.append((f"{where}.{tier}", "tier must be a positive integer"))
        elif isinstance(v, bool) or not isinstance(v, int if days else int | float) or not 0 < v < 1e6:
            problems.append((f"{where}.{tier}", f"{what} must be a positive " + ("integer" if days else "number")))
    return problems


def validate(values: Any) -> list[tuple[str, str]]:
    """Problems with ``values`` as (key, message); empty when every key is known and well-typed."""
    if not isinstance(values, dict):
        return [("values", "must be an object of parameter names to values")]
    problems: list[tuple[str, str]] = []
    for key, value in values.items():
        p = SCHEMA.get(key)
        if p is None:
            problems.append((f"values.{key}", "unknown parameter"))
            continue
        where = f"values.{key}"
        if p.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                problems.append((where, "must be an integer"))
            elif value < p.minimum:
                problems.append((where, f"must be at least {p.minimum}" + (" (law)" if p.law else "")))
            elif p.maximum is not None and value > p.maximum:
                problems.append((where, f"must be at most {p.maximum} (law)"))
        elif p.kind == "str":
            if not isinstance(value, str) or not value.strip():
                problems.append((where, "must be a non-empty string"))
        elif p.kind in ("tiers", "tier_limits"):
            problems += _tier_problems(where, value, days=p.kind == "tiers")
    return problems


def normalise(values: dict[str, Any]) -> dict[str, Any]:
    """Validated values in their stored form (strings stripped, tier keys as strings)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        kind = SCHEMA[key].kind
        if kind == "str":
            out[key] = value.strip()
        elif kind in ("tiers", "tier_limits"):
            out[key] = {str(int(t)): d for t, d in sorted(value.items(), key=lambda td: int(td[0]))}
        else:
            out[key] = value
    return out


def parameters_timeline() -> Callable[[datetime], tuple[ParameterSet | None, dict[str, Any]]]:
    """``parameters_in_force`` for many times with one query: a function of the time."""
    versions: list[ParameterSet] = []
    loaded = False

    def at(t: datetime) -> tuple[ParameterSet | None, dict[str, Any]]:
        nonlocal loaded
        if not loaded:  # read on first use: a page with nothing to judge reads nothing
            versions.extend(ParameterSet.objects.order_by("effective_from", "version"))
            loaded = True
        current = None
        for v in versions:  # a handful of versions: a scan is the simplest correct choice
            if v.effective_from <= t:
                current = v
        return current, {**DEFAULTS, **(current.values if current else {})}

    return at


def parameters_in_force(at: datetime | None = None) -> tuple[ParameterSet | None, dict[str, Any]]:
    """The parameter set in force at ``at`` (None when only the defaults apply) and the merged values."""
    at = at or timezone.now()
    current = ParameterSet.objects.filter(effective_from__lte=at).order_by("-effective_from", "-version").first()
    values = {**DEFAULTS, **(current.values if current else {})}
    return current, values
