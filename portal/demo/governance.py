"""Demo governance attributes for `load_demo`: what the Northwind datasets, models and deployments declare.

Set through the services, so the audit trail tells who recorded what. Running it again changes nothing:
the services write (and audit) only what differs. The demo leaves three findings for the compliance checks:

- ``raw/web/events`` (churn clickstream, PII) is past its retention date with no legal hold and no
  disposition (GDPR G3 fails), while ``core.loans``, also past its date, is under a litigation hold;
- churn 4, deployed to staging, has no inventory record (SR 11-7 / SR 26-2 F1 fails);
- credit-scoring's production deployments are SOX in scope; readmission is high-risk (Annex III 5(c))
  with named overseers.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from lineage import ids
from lineage.models import Node
from portal.accounts.models import User
from portal.governance import services
from portal.governance.models import ParameterSet

from . import story as demo

D = demo
CREDIT_PURPOSE = "credit risk assessment"
RETENTION_PURPOSE = "customer retention analytics"



def _after(*, years: float = 0, days: int = 0) -> date:
    """A date relative to the story's start (the demo's dates move with it): loans' retention ended during the
    story (a legal hold keeps them), web events' too (not yet deleted), the others lie years ahead."""
    return (D.BASE_TIME + timedelta(days=round(365.25 * years) + days)).date()


# dataset -> attributes (the dataset's namespace and name come from portal/demo/story.py)
DATASETS: list[tuple[demo.Dataset, dict[str, Any]]] = [
    (D.CUSTOMERS, {"lawful_basis": "b", "purposes": ["account servicing", CREDIT_PURPOSE],
                   "retention_until": _after(years=7.3)}),
    (D.TRANSACTIONS, {"lawful_basis": "b", "purposes": ["payment processing", CREDIT_PURPOSE],
                      "retention_until": _after(years=6.3)}),
    (D.LOANS, {"lawful_basis": "b", "purposes": ["loan servicing", CREDIT_PURPOSE],
               "retention_until": _after(days=60), "legal_hold": True,
               "legal_hold_reason": "Litigation hold: Doe v. Northwind Bank, case 25-cv-0142."}),
    (D.CREDIT_FEATURES, {"lawful_basis": "b", "purposes": [CREDIT_PURPOSE], "retention_until": _after(years=2.3)}),
    (D.PATIENTS, {"lawful_basis": "e", "purposes": ["direct care", "readmission risk prediction"],
                  "special_category_condition": "h", "retention_until": _after(years=8.3)}),
    (D.ADMISSIONS, {"lawful_basis": "e", "purposes": ["direct care", "readmission risk prediction"],
                    "special_category_condition": "h", "retention_until": _after(years=8.3)}),
    (D.ADMISSIONS_DEID, {"purposes": ["readmission risk prediction"], "retention_until": _after(years=2.1)}),
    (D.CRM_CUSTOMERS, {"lawful_basis": "f", "purposes": [RETENTION_PURPOSE, "customer service"],
                       "retention_until": _after(years=3.3)}),
    (D.WEB_EVENTS, {"lawful_basis": "f", "purposes": [RETENTION_PURPOSE, "site analytics"],
                    "retention_until": _after(days=80)}),
    (D.CHURN_FEATURES, {"lawful_basis": "f", "purposes": [RETENTION_PURPOSE], "retention_until": _after(years=1.8)}),
]
# A few data subjects, so an erasure request can be traced from a key.
SUBJECT_KEYS: list[tuple[demo.Dataset, list[str]]] = [
    (D.CUSTOMERS, ["customer-1001", "customer-1002", "customer-1003"]),
    (D.TRANSACTIONS, ["customer-1001", "customer-1002"]),
    (D.LOANS, ["customer-1001"]),
    (D.CRM_CUSTOMERS, ["customer-1001", "customer-2040"]),
    (D.PATIENTS, ["MRN-004217"]),
    (D.ADMISSIONS, ["MRN-004217"]),
]

_CREDIT_USE = "Probability of default for retail credit applications; the score feeds the automated decision."
_CREDIT_LIMITS = "Not validated for business lending or thin-file applicants (< 6 months of history)."
_READM_USE = "30-day readmission risk at discharge, to prioritise follow-up calls by care coordinators."
_READM_LIMITS = "Trained on adult inpatients of two hospitals; not for paediatric or maternity wards."
_CHURN_USE = "Weekly churn propensity for retention offers."
_CHURN_LIMITS = "Scores customers with at least one month of tenure only."


def _credit(status: str, **extra: Any) -> dict[str, Any]:
    return {"owner": D.PRIYA.username, "intended_use": _CREDIT_USE, "tier": 1, "limitations": _CREDIT_LIMITS,
            "status": status, "high_risk_annex": "5(b)", "credit_decisioning": True, **extra}


def _readmission(status: str, **extra: Any) -> dict[str, Any]:
    return {"owner": D.TOMAS.username, "intended_use": _READM_USE, "tier": 2, "limitations": _READM_LIMITS,
            "status": status, "high_risk_annex": "5(c)", **extra}


# model version -> inventory record. churn 4 is missing on purpose.
INVENTORY: list[tuple[demo.Model, dict[str, Any]]] = [
    (D.CREDIT_MODELS["5"], _credit("retired", retired_at=D.at(18, 14, 4))),
    (D.CREDIT_MODELS["6"], _credit("production")),
    (D.CREDIT_MODELS["7"], _credit("validation")),
    (D.READMISSION_MODELS["1"], _readmission("retired", retired_at=D.at(40, 15, 4))),
    (D.READMISSION_MODELS["2"], _readmission("production")),
    (D.CHURN_MODELS["3"], {"owner": D.PRIYA.username, "intended_use": _CHURN_USE, "tier": 3,
                           "limitations": _CHURN_LIMITS, "status": "production"}),
]
def _logs(bucket: str, gap_minutes: int, tested_day: int) -> dict[str, Any]:
    """Where a high-risk deployment's inference logs go, and when its stop/override control was tested."""
    return {"log_location": f"s3://{bucket}/inference-logs/", "log_retention_days": 400,
            "log_max_gap_minutes": gap_minutes, "stop_control_tested_at": D.at(tested_day, 11)}


READMISSION_OVERSEERS = [D.TOMAS.username, D.ELENA.username]
# (model version, environment) -> profile
PROFILES: list[tuple[demo.Model, str, dict[str, Any]]] = [
    (D.CREDIT_MODELS["5"], "production", {"sox_in_scope": True, "change_record": "CHG0031102",
                                          "overseers": [D.MARCUS.username]}),
    (D.CREDIT_MODELS["6"], "production", {"sox_in_scope": True, "change_record": "CHG0031845",
                                          "overseers": [D.MARCUS.username], **_logs("credit-risk-ml", 9, 19)}),
    (D.CREDIT_MODELS["7"], "staging", {"change_record": "CHG0032077"}),
    (D.READMISSION_MODELS["1"], "production", {"hipaa_scope": True, "change_record": "CHG0031377",
                                               "overseers": READMISSION_OVERSEERS}),
    (D.READMISSION_MODELS["2"], "production", {"hipaa_scope": True, "change_record": "CHG0032410",
                                               "overseers": READMISSION_OVERSEERS, **_logs("clinical-ai-ml", 14, 41)}),
    (D.CHURN_MODELS["3"], "production", {"human_in_loop": False}),
]
PARAMETERS_FROM = D.BASE_TIME - timedelta(days=31)  # in force before the story begins
PARAMETERS_REASON = "Initial policy parameters, adopted by the Model Risk Committee before the first release."


def _node(node_id: str) -> Node | None:
    return Node.objects.filter(node_id=node_id).first()


def load(users: dict[str, User]) -> int:
    """Record what is missing or different; return how many records were visited."""
    dpo, approver, admin = users[D.SAM.username], users[D.MARCUS.username], users[D.ALEX.username]
    done = 0
    for ds, attrs in DATASETS:
        node = _node(ids.dataset_id(ds.namespace, ds.name))
        if node is not None:
            services.dataset_governance_set(node=node, by=dpo, **attrs)
            done += 1
    for ds, keys in SUBJECT_KEYS:
        node = _node(ids.dataset_id(ds.namespace, ds.name))
        if node is not None:
            services.subject_keys_add(dataset=node, keys=keys, by=dpo)
    for model, attrs in INVENTORY:
        node = _node(ids.model_version_id(model.namespace, model.name, model.version))
        if node is not None:
            services.model_inventory_set(node=node, by=approver, **attrs)
            done += 1
    for model, env, attrs in PROFILES:
        node = _node(ids.deployment_id(model.namespace, model.name, model.version, env))
        if node is not None:
            services.deployment_profile_set(node=node, by=approver, **attrs)
            done += 1
    if not ParameterSet.objects.exists():
        services.parameters_publish(by=admin, values={}, effective_from=PARAMETERS_FROM, reason=PARAMETERS_REASON)
    return done
