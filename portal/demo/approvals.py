"""Demo approvals for `load_demo`.

Policies for the approver teams model-risk and compliance, approved releases for what the demo deploys, one
release waiting for a compliance signature, one waiting for every approver, and one deployment that never had
a release (a violation).
Production releases also wait for an approved validation report: ``portal/demo/evidence.py`` supplies them.
"""

from __future__ import annotations

from lineage.models import Node
from portal.accounts.models import User
from portal.approvals import services
from portal.approvals.models import Policy, Release

from . import story as demo


def _signers(model: str) -> tuple[demo.DemoUser, demo.DemoUser]:
    """(model-risk, compliance) signers. Marcus merged the credit-scoring commits, so separation of duties
    keeps him off those releases: Elena reviews model risk there and Sam signs for compliance."""
    return (demo.ELENA, demo.SAM) if model == demo.CREDIT_MODEL else (demo.MARCUS, demo.ELENA)
# (model, version, environment, requester): approved before the deploy events arrive.
APPROVED = [
    (demo.CREDIT_MODEL, "5", "staging", demo.PRIYA), (demo.CREDIT_MODEL, "5", "production", demo.PRIYA),
    (demo.CREDIT_MODEL, "6", "staging", demo.PRIYA), (demo.CREDIT_MODEL, "6", "production", demo.PRIYA),
    (demo.CREDIT_MODEL, "7", "staging", demo.PRIYA),
    (demo.READMISSION_MODEL, "1", "staging", demo.TOMAS), (demo.READMISSION_MODEL, "1", "production", demo.TOMAS),
    (demo.READMISSION_MODEL, "2", "staging", demo.TOMAS), (demo.READMISSION_MODEL, "2", "production", demo.TOMAS),
    (demo.CHURN_MODEL, "3", "staging", demo.PRIYA), (demo.CHURN_MODEL, "4", "staging", demo.PRIYA),
]
# churn 3 reaches production without any release: the demo's violation.
PENDING = (demo.CREDIT_MODEL, "7", "production", demo.PRIYA)
# Waits for everyone: model-risk (Marcus or Elena) and compliance (Elena or Sam), so each demo approver
# finds a release in their inbox (credit 7 waits for Sam only: Elena signed it and Marcus committed to it).
WAITING = (demo.CHURN_MODEL, "4", "production", demo.PRIYA)


def _policies(admin: User) -> None:
    if Policy.objects.exists():
        return
    services.policy_create(by=admin, environment="staging", groups=[("model-risk", 1)], approval_expiry_days=365,
                           reason="Staging needs one independent model-risk review.")
    services.policy_create(by=admin, environment="production", groups=[("model-risk", 1), ("compliance", 1)],
                           approval_expiry_days=365, required_evidence=["validation_report"],
                           reason="SR 11-7: an approved independent validation report and compliance sign-off.")
    services.policy_create(by=admin, environment="production", sensitive_tag="PHI", approval_expiry_days=180,
                           groups=[("model-risk", 1), ("compliance", 1)],
                           required_evidence=["dpia", "validation_report"],
                           reason="HIPAA: models derived from PHI need a DPIA and a shorter approval life.")


def _release(users: dict[str, User], model: str, version: str, env: str, requester: demo.DemoUser) -> Release | None:
    mv = Node.objects.filter(kind="modelVersion", name=model, version=version).first()
    if mv is None or Release.objects.filter(model_version=mv, environment=env).exists():
        return None
    return services.release_request(by=users[requester.username], model=model, version=version, environment=env,
                                    justification=f"Promote {model} {version} to {env} after validation.")


def load(users: dict[str, User]) -> int:
    """Create what is missing; return how many releases were created."""
    _policies(users[demo.ALEX.username])
    created = 0
    for model, version, env, requester in APPROVED:
        release = _release(users, model, version, env, requester)
        if release is None:
            continue
        created += 1
        risk, compliance = _signers(model)
        services.release_sign(release=release, by=users[risk.username], password=risk.password,
                              meaning="approval", reason="Independent validation passed: AUC and stability OK.",
                              reviewed_digest=release.subject_digest)
        if env == "production":
            services.release_sign(release=release, by=users[compliance.username], password=compliance.password,
                                  meaning="approval", reason="Lawful basis and DPIA on file.",
                                  reviewed_digest=release.subject_digest)
    pending = _release(users, *PENDING)
    if pending is not None:
        created += 1
        risk, _ = _signers(PENDING[0])
        services.release_sign(release=pending, by=users[risk.username], password=risk.password,
                              meaning="approval", reason="Validation report v7 reviewed; back-test within limits.",
                              reviewed_digest=pending.subject_digest)
    if _release(users, *WAITING) is not None:
        created += 1
    return created
