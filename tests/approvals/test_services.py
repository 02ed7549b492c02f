"""Releases, separation of duties, signatures, voiding, expiry, break-glass, the gate and violations."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.utils import timezone

from lineage.models import Node
from portal.accounts.services import LockedOut
from portal.approvals import services
from portal.approvals.models import Release, Signature, Violation
from portal.audit import keys
from portal.audit.models import AuditEntry
from portal.audit.verifier import canonical
from tests.approvals.conftest import PASSWORD, ingest, train
from tests.factories import deploy_facets, run_event

pytestmark = pytest.mark.django_db


def sign(release, user, meaning="approval", password=PASSWORD, reason="reviewed validation report"):
    current = services.release_refresh(release=release).subject_digest  # as the signer's page shows it now
    return services.release_sign(release=release, by=user, password=password, meaning=meaning, reason=reason,
                                 reviewed_digest=current)


def test_a_release_pins_the_subject_digest_and_the_policy_version(release, policy) -> None:
    assert release.state == Release.State.PENDING
    assert len(release.subject_digest) == 64
    assert release.subject["policy"] == {"id": policy.pk, "key": policy.key, "version": 1}
    assert [c["author_email"] for c in release.subject["commits"]] == ["dan@example.com"]
    assert AuditEntry.objects.filter(action="approval.release_requested", target_id=str(release.pk)).exists()


def test_quorum_across_groups_approves_once_both_groups_signed(release, people) -> None:
    sign(release, people["risk"])
    release.refresh_from_db()
    assert release.state == Release.State.PENDING
    sign(release, people["compliance"])
    release.refresh_from_db()
    assert release.state == Release.State.APPROVED
    assert set(release.signatures.values_list("counted_for", flat=True)) == {"model-risk", "compliance"}


def test_two_votes_from_one_group_do_not_make_a_quorum(release, people) -> None:
    sign(release, people["risk"])
    sign(release, people["risk2"])
    release.refresh_from_db()
    assert release.state == Release.State.PENDING


def test_a_member_of_both_groups_counts_once(release, people) -> None:
    sign(release, people["both"])
    release.refresh_from_db()
    assert release.state == Release.State.PENDING
    sign(release, people["risk"])
    release.refresh_from_db()
    assert release.state == Release.State.APPROVED  # bo fills compliance, mo fills model-risk


@pytest.mark.parametrize(("who", "says"), [
    ("requester", "you requested this release"),
    ("author", "you authored commit:https://git.example.com/ml/credit.git:" + "d" * 40),
    ("launcher", "you launched run:"),
])
def test_nobody_approves_their_own_work(release, people, who, says) -> None:
    with pytest.raises(services.NotAllowed) as err:
        sign(release, people[who])
    assert says in err.value.message
    assert not release.signatures.exists()


def test_an_extra_email_links_a_person_to_their_commits(release, people) -> None:
    from portal.accounts.models import UserEmail

    UserEmail.objects.create(user=people["risk"], email="DAN@example.com")
    with pytest.raises(services.NotAllowed, match="you authored"):
        sign(release, people["risk"])


def test_a_wrong_password_signs_nothing_and_is_recorded(release, people) -> None:
    with pytest.raises(services.ApprovalError) as err:
        sign(release, people["risk"], password="guess")
    assert err.value.field == "password"
    assert not release.signatures.exists()
    assert AuditEntry.objects.filter(action="approval.signature_refused", actor_id=people["risk"].pk).exists()


def test_signing_twice_or_after_the_decision_is_refused(release, people) -> None:
    sign(release, people["risk"])
    with pytest.raises(services.ApprovalError, match="already signed"):
        sign(release, people["risk"])
    sign(release, people["compliance"])
    with pytest.raises(services.ApprovalError, match="approved"):
        sign(release, people["risk2"])


def test_a_rejection_needs_a_reason_and_closes_the_release(release, people) -> None:
    with pytest.raises(services.ApprovalError):
        services.release_reject(release=release, by=people["risk"], password=PASSWORD, reason=" ",
                                 reviewed_digest=release.subject_digest)
    services.release_reject(release=release, by=people["risk"], password=PASSWORD, reason="AUC regressed",
                             reviewed_digest=release.subject_digest)
    release.refresh_from_db()
    assert release.state == Release.State.REJECTED and "AUC regressed" in release.state_reason


def test_a_change_upstream_voids_the_votes_and_reopens(release, people) -> None:
    sign(release, people["risk"])
    train(auc=0.70, time="2026-01-03T00:00:00Z")  # the same version re-registered with other metrics
    sign(release, people["compliance"])
    release.refresh_from_db()
    assert release.state == Release.State.PENDING
    assert "metrics" in release.state_reason or "model_version" in release.state_reason
    voided = release.signatures.get(signer=people["risk"])
    assert voided.voided_at is not None and voided.void_reason
    live = release.signatures.filter(voided_at__isnull=True)
    assert list(live.values_list("signer__username", flat=True)) == ["cy"]
    assert live.get().subject_digest == release.subject_digest


def test_a_policy_change_voids_the_votes(release, people) -> None:
    sign(release, people["risk"])
    services.policy_create(by=people["admin"], environment="production", reason="stricter",
                           groups=[("model-risk", 2), ("compliance", 1)])
    release = services.release_refresh(release=release)
    assert release.state == Release.State.PENDING and release.policy.version == 2
    assert not release.signatures.filter(voided_at__isnull=True).exists()


def test_approvals_expire(release, people) -> None:
    sign(release, people["risk"])
    sign(release, people["compliance"])
    Release.objects.filter(pk=release.pk).update(approved_at=timezone.now() - timedelta(days=31))
    release = services.release_refresh(release=release)
    assert release.state == Release.State.EXPIRED
    result = services.gate_check(user=people["risk"], model="credit", version="7", environment="production")
    assert result["allowed"] is False


def test_only_admins_change_policies_and_with_a_reason(people) -> None:
    with pytest.raises(services.NotAllowed):
        services.policy_create(by=people["risk"], environment="staging", reason="x", groups=[("model-risk", 1)])
    with pytest.raises(services.ApprovalError):
        services.policy_create(by=people["admin"], environment="staging", reason="", groups=[("model-risk", 1)])


def test_a_stricter_policy_applies_to_models_derived_from_pii(model, policy, people) -> None:
    strict = services.policy_create(by=people["admin"], environment="production", sensitive_tag="PII",
                                    reason="DPIA needed", groups=[("model-risk", 2), ("compliance", 1)],
                                    required_evidence=["dpia"])
    assert services.policy_in_force(model_version=model, environment="production") == strict


def test_unknown_model_or_environment_is_refused(model, policy, people) -> None:
    with pytest.raises(services.ApprovalError) as err:
        services.release_request(by=people["requester"], model="credit", version="99", environment="production",
                                 justification="x")
    assert err.value.field == "version"
    with pytest.raises(services.ApprovalError) as err:
        services.release_request(by=people["requester"], model="credit", version="7", environment="moon",
                                 justification="x")
    assert err.value.field == "environment"


def test_the_gate_answers_with_a_signed_attestation(release, people) -> None:
    denied = services.gate_check(user=people["risk"], model="credit", version="7", environment="production")
    assert denied["allowed"] is False and denied["release"] is None
    assert any("pending" in r for r in denied["reasons"])
    sign(release, people["risk"])
    sign(release, people["compliance"])
    allowed = services.gate_check(user=people["risk"], model="credit", version="7", environment="production")
    assert allowed["allowed"] is True and allowed["release"] == release.pk
    att = allowed["attestation"]
    key = load_pem_public_key(keys.public_key_pem())
    key.verify(base64.b64decode(att["signature"]), canonical(att["signed"]))  # raises if forged
    assert att["signed"]["subject_digest"] == release.subject_digest


def test_break_glass_is_flagged_and_opens_a_retrospective(release, people) -> None:
    with pytest.raises(services.NotAllowed):
        services.release_break_glass(release=release, by=people["risk"], password=PASSWORD, reason="outage")
    services.release_break_glass(release=release, by=people["admin"], password=PASSWORD, reason="fraud spike")
    release.refresh_from_db()
    assert release.state == Release.State.APPROVED and release.break_glass
    retro = release.retrospectives.get()
    assert retro.state == Release.State.PENDING and retro.retrospective_due > timezone.now()
    gate = services.gate_check(user=people["risk"], model="credit", version="7", environment="production")
    assert gate["allowed"] and gate["break_glass"] and any("EXCEPTION" in r for r in gate["reasons"])


def test_a_deploy_without_an_approved_release_is_a_violation(release, people) -> None:
    ingest(run_event(job="deploy", run_facets=deploy_facets("credit", "7", "production"),
                     time="2026-02-01T00:00:00Z"))
    v = Violation.objects.get()
    assert v.environment == "production" and v.model_version.node_id == "modelVersion:ml-pipelines:credit#7"
    assert AuditEntry.objects.filter(action="approval.violation_recorded").exists()


def test_a_deploy_with_an_approved_release_is_not_a_violation(release, people) -> None:
    sign(release, people["risk"])
    sign(release, people["compliance"])
    ingest(run_event(job="deploy", run_facets=deploy_facets("credit", "7", "production"),
                     time="2026-02-01T00:00:00Z"))
    assert not Violation.objects.exists()
    assert Node.objects.get(kind="deployment").state == "active"


def test_signatures_are_bound_to_their_release(release, people) -> None:
    sign(release, people["risk"])
    sig = Signature.objects.get()
    assert sig.binding == services._binding(release.pk, people["risk"], sig.subject_digest, sig.meaning,
                                            sig.reason, sig.signed_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    assert sig.binding != services._binding(release.pk + 1, people["risk"], sig.subject_digest, sig.meaning,
                                             sig.reason, sig.signed_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def test_the_periodic_refresh_expires_old_approvals(release, people) -> None:
    from portal.approvals.tasks import releases_refresh_task

    sign(release, people["risk"])
    sign(release, people["compliance"])
    Release.objects.filter(pk=release.pk).update(approved_at=timezone.now() - timedelta(days=400))
    assert releases_refresh_task.delay().get() == 1
    release.refresh_from_db()
    assert release.state == Release.State.EXPIRED


def test_an_overdue_retrospective_is_named_by_the_gate(release, people) -> None:
    services.release_break_glass(release=release, by=people["admin"], password=PASSWORD, reason="fraud spike")
    Release.objects.filter(retrospective_of=release).update(retrospective_due=timezone.now() - timedelta(days=1))
    gate = services.gate_check(user=people["risk"], model="credit", version="7", environment="production")
    assert any("overdue" in r for r in gate["reasons"])


def test_approving_a_newer_version_supersedes_the_older_release_and_records_it(release, people) -> None:
    sign(release, people["risk"])
    sign(release, people["compliance"])
    train(version="8", time="2026-01-05T00:00:00Z")
    newer = services.release_request(by=people["requester"], model="credit", version="8", environment="production",
                                     justification="next")
    sign(newer, people["risk"])
    sign(newer, people["compliance"])
    release.refresh_from_db()
    assert release.state == Release.State.SUPERSEDED
    e = AuditEntry.objects.get(action="approval.release_superseded")
    assert e.target_id == str(release.pk)


def test_wrong_passwords_when_signing_lock_out_the_signer_even_with_the_right_one(release, people, settings) -> None:
    settings.PORTAL_LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        with pytest.raises(services.ApprovalError, match="password is wrong"):
            sign(release, people["risk"], password="guess")
    with pytest.raises(LockedOut, match="locked"):
        sign(release, people["risk"])
    assert not release.signatures.exists()
    assert AuditEntry.objects.filter(action="account.login_locked", target_id="mo").exists()
