"""A policy's required evidence: releases wait for it, the gate refuses without it, policies name real types."""

from __future__ import annotations

import json

import pytest

from portal.approvals import services as approvals
from portal.approvals.models import Release
from portal.audit.models import AuditEntry
from portal.evidence import services
from tests.approvals.conftest import PASSWORD
from tests.conftest import api_client
from tests.evidence.conftest import MODEL_NODE, PDF, approve, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict_policy(people, policy):
    return approvals.policy_create(by=people["admin"], environment="production", reason="SR 11-7 and GDPR art. 35",
                                   groups=[("model-risk", 1), ("compliance", 1)],
                                   required_evidence=["dpia", "validation_report"])


@pytest.fixture
def strict_release(model, strict_policy, people):
    return approvals.release_request(by=people["requester"], model="credit", version="7", environment="production",
                                     justification="quarterly refresh")


def sign_both(release, people) -> Release:
    for who in ("risk", "compliance"):
        approvals.release_sign(release=release, by=people[who], password=PASSWORD, meaning="approval",
                               reason="reviewed", reviewed_digest=release.subject_digest)
    release.refresh_from_db()
    return release


def gate(user) -> dict:
    return approvals.gate_check(user=user, model="credit", version="7", environment="production")


def test_a_release_with_quorum_waits_for_the_required_evidence(strict_release, people) -> None:
    release = sign_both(strict_release, people)
    assert release.state == Release.State.PENDING
    assert release.state_reason == "quorum met; missing evidence: dpia, validation_report"
    g = gate(people["risk"])
    assert g["allowed"] is False
    assert any("missing evidence: dpia, validation_report" in r for r in g["reasons"])


def test_unapproved_or_unattached_evidence_does_not_count(strict_release, people) -> None:
    upload(people["requester"])  # a DPIA on the model version, not approved
    approve(upload(people["requester"], doc_type="validation_report", content=PDF + b"v", node_ids=[]),
            people["risk2"])  # approved, attached to nothing
    release = sign_both(strict_release, people)
    assert release.state_reason == "quorum met; missing evidence: dpia, validation_report"


def test_approving_the_last_document_approves_the_waiting_release(strict_release, people) -> None:
    release = sign_both(strict_release, people)
    approve(upload(people["requester"]), people["risk2"])  # DPIA on the model version
    release.refresh_from_db()
    assert release.state_reason == "quorum met; missing evidence: validation_report"
    report = upload(people["risk2"], doc_type="validation_report", content=PDF + b"report", node_ids=[],
                    release_ids=[release.pk])
    approve(report, people["compliance"])
    release.refresh_from_db()
    assert release.state == Release.State.APPROVED
    g = gate(people["risk"])
    assert g["allowed"] is True and g["release"] == release.pk


def test_evidence_first_then_quorum_approves(strict_release, people) -> None:
    approve(upload(people["requester"]), people["risk2"])
    approve(upload(people["requester"], doc_type="validation_report", content=PDF + b"r"), people["risk2"])
    assert sign_both(strict_release, people).state == Release.State.APPROVED


def test_the_gate_refuses_when_evidence_lapses_after_approval(strict_release, people) -> None:
    dpia = approve(upload(people["requester"]), people["risk2"])
    approve(upload(people["requester"], doc_type="validation_report", content=PDF + b"r"), people["risk2"])
    release = sign_both(strict_release, people)
    assert release.state == Release.State.APPROVED
    services.document_detach(document=dpia, by=people["requester"], node_ids=[MODEL_NODE])
    g = gate(people["risk"])
    assert g["allowed"] is False and "missing evidence: dpia" in g["reasons"]
    assert json.loads(AuditEntry.objects.filter(action="evidence.detached").get().payload)["nodes"] == [MODEL_NODE]


def test_policies_accept_only_document_types(people) -> None:
    with pytest.raises(approvals.ApprovalError) as err:
        approvals.policy_create(by=people["admin"], environment="qa", groups=[("model-risk", 1)], reason="x",
                                required_evidence=["dpia", "horoscope"])
    assert err.value.field == "required_evidence"
    r = api_client(people["admin"]).post("/api/v1/policies", {
        "environment": "qa", "groups": [{"team": "model-risk"}], "reason": "x",
        "required_evidence": ["horoscope"]}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"].startswith("required_evidence")
    from portal.approvals.models import Policy

    assert not Policy.objects.filter(environment="qa").exists()


def test_the_release_api_names_the_missing_evidence(strict_release, people) -> None:
    r = api_client(people["requester"]).get(f"/api/v1/releases/{strict_release.pk}")
    assert r.json()["missing_evidence"] == ["dpia", "validation_report"]
