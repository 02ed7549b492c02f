"""One world per framework, built only through the services, and the verdicts the catalog's words give it.

Each table was written from the rule text of ``controls.md`` (and the readings in ``catalog.READINGS``) before
the checks ran: the control, the outcome and the entities that fail. It is the regression net for every
control; a change of a check that moves a verdict has to change the table, with its reason.
"""

from __future__ import annotations

import pytest

from lineage.models import Node
from portal.accounts.services import namespace_assign
from portal.approvals import services as approvals
from portal.governance import services as governance
from portal.governance.erasure import erasure_request_open

from .worlds import PASSWORD, World, phi_source, pii_source, plain

pytestmark = pytest.mark.django_db
NE, NA = "not_evaluated", "not_applicable"


def _node(kind: str, name: str, version: str = "", environment: str = "") -> str:
    qs = Node.objects.filter(kind=kind, name=name)
    if version:
        qs = qs.filter(version=version)
    if environment:
        qs = qs.filter(environment=environment)
    return qs.get().node_id


def _check(got: dict[str, tuple[str, set[str]]], expected: dict[str, tuple[str, set[str]]]) -> None:
    wrong = {c: (got[c], want) for c, want in expected.items() if got[c] != want}
    assert not wrong, "control: (got, expected)\n" + "\n".join(f"{c}: {g} != {w}" for c, (g, w) in wrong.items())
    assert set(got) == set(expected)


def test_hipaa_world():
    """A PHI source owned by the clinical team; an ETL run launched by a nurse's e-mail writes features (PHI by
    propagation); v1 of a model is trained by a shared login and served 150-50 days ago (superseded during the
    period) with a risk analysis approved today but in effect since 500 days ago; v2 trained by the nurse has a
    fresh risk analysis. No dataset claims de-identification."""
    w = World()
    w.user("tomas", "viewer", email="tomas.weber@clinic.example", team="clinical")
    namespace_assign(namespace="postgres://ehr:5432", team="clinical")
    w.run("etl_readmission", days=200, reads=[phi_source()], writes=[plain("features/readmission")],
          launched_by="tomas.weber@clinic.example")
    v1 = w.train("readmission", "1", days=190, reads=[plain("features/readmission")], launched_by="shared-login")
    shared_run = w.last_run
    v2 = w.train("readmission", "2", days=60, reads=[plain("features/readmission")],
                 launched_by="tomas.weber@clinic.example")
    d1 = w.deploy("readmission", "1", days=150)
    w.deploy("readmission", "2", days=50)
    w.document("risk_analysis", on=[v1], effective_days=500)
    w.document("risk_analysis", on=[v2], effective_days=40)
    _check(w.verdicts("hipaa"), {
        "H1": ("pass", set()),  # every PHI run audited at receipt (backfilled history); the chain verifies
        "H2": (NE, set()),
        "H3": ("fail", {shared_run}),  # "no shared IDs": the e-mail launcher is the nurse, the shared login no one
        "H4": (NE, set()), "H5": (NE, set()),
        "H6": ("pass", set()),  # written once, no hash mismatch reported
        "H7": ("pass", set()),  # the two risk analyses are locked 6 years from today
        "H8": (NE, set()),
        "H9": (NA, set()),  # no de-identified dataset
        "H10": ("fail", {d1.node_id}),  # v1's analysis is > 12 months old by effect; v2's is fresh
        "H11": (NA, set()),  # no PHI breach incident
    })


def test_gdpr_world():
    """A PII source with a basis, purposes and retention; features derived from it with none; a churn model whose
    v1 served 150-60 days ago without a ROPA entry and v2 with a complete one; an erasure request received 40
    days ago and not answered."""
    w = World()
    w.run("etl_churn", days=220, reads=[pii_source()], writes=[plain("features/churn")])
    w.train("churn", "1", days=200, reads=[plain("features/churn")])
    v2 = w.train("churn", "2", days=80, reads=[plain("features/churn")])
    d1 = w.deploy("churn", "1", days=150)
    w.deploy("churn", "2", days=60)
    source = Node.objects.get(kind="dataset", name="crm.customers")
    governance.dataset_governance_set(node=source, by=w.officer, lawful_basis="b", purposes=["contract"],
                                      retention_until="2031-12-31")
    w.document("ropa_entry", on=[v2], effective_days=70,
               sections=["30(1)(a)", "30(1)(b)", "30(1)(c)", "30(1)(d)", "30(1)(e)"],
               reasons={"30(1)(f)": "no transfers", "30(1)(g)": "measures in the security policy"})
    request = erasure_request_open(by=w.officer, dataset=source.node_id, received_at=w.at(40))
    derived = _node("dataset", "features/churn")
    _check(w.verdicts("gdpr"), {
        "G1": (NE, set()), "G2": (NE, set()),
        "G3": ("fail", {derived}),  # a personal-data dataset by propagation, with no retention date
        "G4": ("evidence", set()),
        "G5": ("fail", {derived}),  # and no lawful basis
        "G6": (NA, set()),  # no special-category data
        "G7": ("fail", {f"erasure_request:{request.pk}"}),  # not answered within one month
        "G8": (NE, set()), "G9": (NE, set()),
        "G10": ("fail", {d1.node_id}),  # v1 served during the period with no ROPA entry
        "G11": (NE, set()),
        "G12": (NA, set()),  # no trigger: a human in the loop, no special-category data, not high-risk
        "G13": (NA, set()),  # no personal-data breach incident
    })


def _credit_world() -> tuple[World, dict[str, str]]:
    """Credit scoring v1, trained 300 days ago, served 200 days ago without inventory, documentation, release or
    monitoring, superseded today by v2: tier 1, documented, validated by the validation unit, with a monitoring
    plan and a fresh result, an outcomes analysis, and a release signed by model risk and compliance before its
    deploy (now). Both deployments are SOX in scope."""
    w = World()
    admin = w.user("ada", "admin")
    rita = w.user("rita", "viewer", team="credit-risk")
    mo = w.user("mo", "approver", team="model-risk")
    cy = w.user("cy", "approver", team="compliance")
    val = w.user("val", "approver", team="model-risk")
    w.user("erin", "viewer", team="credit-risk")
    w.train("credit", "1", days=300, reads=[pii_source("bank.loans")], launched_by="erin@world.example")
    v2 = w.train("credit", "2", days=100, reads=[pii_source("bank.loans")], launched_by="erin@world.example")
    d1 = w.deploy("credit", "1", days=200)
    governance.model_inventory_set(node=v2, by=w.officer, owner="rita", intended_use="retail credit decisions",
                                   tier=1, limitations="not for business lending", status="production")
    w.document("model_documentation", on=[v2], effective_days=90,
               sections=["purpose", "method", "limitations", "testing"])
    w.document("validation_report", on=[v2], effective_days=30, author=val,
               findings=[{"severity": "medium", "status": "open", "text": "income imputation"}])
    w.document("monitoring_plan", on=[v2], effective_days=30, thresholds={"psi": 0.25})
    w.document("monitoring_result", on=[v2], effective_days=5, approve=False, breaches=[])
    w.document("outcomes_analysis", on=[v2], effective_days=20)
    approvals.policy_create(by=admin, environment="production", reason="SR 11-7",
                            groups=[("model-risk", 1), ("compliance", 1)])
    release = approvals.release_request(by=rita, model="credit", version="2", environment="production",
                                        justification="quarterly refresh")
    for signer in (mo, cy):
        release = approvals.release_sign(release=release, by=signer, password=PASSWORD, meaning="approval",
                                         reason="reviewed", reviewed_digest=release.subject_digest)
    assert release.state == "approved", release.state
    d2 = w.deploy("credit", "2", days=None)
    for d in (d1, d2):
        governance.deployment_profile_set(node=d, by=w.officer, sox_in_scope=True)
    v1 = Node.objects.get(kind="modelVersion", name="credit", version="1")
    return w, {"v1": v1.node_id, "d1": d1.node_id, "v2": v2.node_id, "d2": d2.node_id}


def test_sox_world():
    w, n = _credit_world()
    _check(w.verdicts("sox"), {
        "F6": ("fail", {n["d1"]}),  # v1 deployed with no change record approved before it; v2's precedes it
        "F7": ("fail", {n["d1"]}),  # no approved release to check; v2: two approvers, neither author nor deployer
        "F8": (NE, set()),
        "F10": (NA, set()),  # no emergency change
    })


def test_model_risk_world():
    w, n = _credit_world()
    _check(w.verdicts("model-risk"), {
        "F1": ("fail", {n["v1"]}),  # a deployed model version with no inventory record
        "F2": ("fail", {n["v1"]}),  # a production model version without documentation
        "F3": ("pass", set()),  # v1 has no tier (F1 fails it); v2 validated before use, independently
        "F4": ("fail", {n["d1"]}),  # v1 served with no monitoring plan
        "F5": ("pass", set()),  # v2's outcomes analysis took effect 20 days ago
        "F9": (NE, set()),
    })


def test_eu_ai_act_world():
    """A life/health-insurance pricing model (Annex III 5(c)): v1 served 200-50 days ago with no risk register,
    log record, instructions or overseer; v2 with a risk register reviewed after it was created and accepted by a
    named approver, logs kept a year with a 10-minute largest gap, instructions for its exact version, and a
    trained overseer whose stop control was tested 30 days ago. No release was approved."""
    w = World()
    v1 = w.train("insurance", "1", days=300, reads=[phi_source()])
    v2 = w.train("insurance", "2", days=100, reads=[phi_source()])
    d1 = w.deploy("insurance", "1", days=200)
    d2 = w.deploy("insurance", "2", days=50)
    for mv in (v1, v2):
        governance.model_inventory_set(node=mv, by=w.officer, high_risk_annex="5(c)", tier=2, owner="olivia",
                                       intended_use="pricing", limitations="adults only", status="production")
    w.document("risk_register", on=[v2], effective_days=90, residual_risks_accepted_by="sam")
    governance.deployment_profile_set(node=d2, by=w.officer, log_location="s3://logs/insurance",
                                      log_retention_days=365, log_max_gap_minutes=10, overseers=["sam"],
                                      stop_control_tested_at=w.at(30))
    w.document("instructions_for_use", on=[v2], effective_days=45,
               sections=["purpose", "accuracy", "limitations", "oversight", "logging"])
    w.document("oversight_training", on=[], effective_days=60, trainee="sam")
    _check(w.verdicts("eu-ai-act"), {
        "A1": ("fail", {v1.node_id}),  # no risk register for v1, which served during the period
        "A2": (NE, set()),
        "A3": (NA, set()),  # no approved release of a high-risk model
        "A4": ("fail", {d1.node_id}), "A5": ("fail", {d1.node_id}), "A6": ("fail", {d1.node_id}),
        "A7": (NE, set()), "A8": (NE, set()),
        "A9": ("pass", set()),  # the instructions are locked 10 years by default
        "A10": ("fail", {d1.node_id, d2.node_id}),  # no post-market monitoring plan for either
        "A11": (NE, set()),
    })
