"""Environments: declared ungoverned by a policy, governed by default when no policy names them, and a
superseded release that stays valid for its version while that version is live."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.test import override_settings

from portal.approvals import services
from portal.approvals.models import Release, Violation
from portal.audit.models import AuditEntry
from tests.approvals.conftest import PASSWORD, ingest, train
from tests.conftest import api_client
from tests.factories import deploy_facets, run_event

pytestmark = pytest.mark.django_db
GATE = "/api/v1/gate"


def gate(user, version="7", environment="staging"):
    return api_client(user).get(GATE, {"model": "credit", "version": version, "environment": environment}).json()


def deploy(version: str, environment: str, time: str = "2026-02-01T00:00:00Z") -> None:
    ingest(run_event(job="deploy", run_facets=deploy_facets("credit", version, environment), time=time))


def approve(release, *who):
    for u in who:
        services.release_sign(release=release, by=u, password=PASSWORD, meaning="approval", reason="ok",
                              reviewed_digest=Release.objects.get(pk=release.pk).subject_digest)
    release.refresh_from_db()
    return release


def test_a_policy_can_declare_an_environment_ungoverned_with_a_reason(model, policy, people) -> None:
    with pytest.raises(services.ApprovalError) as err:
        services.policy_create(by=people["admin"], environment="staging", groups=[], governed=False, reason=" ")
    assert err.value.field == "reason"
    p = services.policy_create(by=people["admin"], environment="staging", groups=[], governed=False,
                               reason="Sandbox: no customer traffic.")
    entry = AuditEntry.objects.filter(action="approval.policy_changed", target_id=p.key).get()
    assert json.loads(entry.payload)["governed"] is False
    body = gate(people["admin"])
    assert body["allowed"] is True and body["release"] is None
    assert "staging needs no approval" in body["reasons"][0] and "Sandbox" in body["reasons"][0]
    assert body["attestation"]["signed"]["policy"] == {"key": p.key, "version": 1, "governed": False}
    deploy("7", "staging")
    assert not Violation.objects.exists()
    with pytest.raises(services.ApprovalError, match="needs no approval") as err:
        services.release_request(by=people["requester"], model="credit", version="7", environment="staging",
                                 justification="x")
    assert err.value.field == "environment"


def test_a_governed_policy_still_needs_approver_groups(people) -> None:
    with pytest.raises(services.ApprovalError) as err:
        services.policy_create(by=people["admin"], environment="staging", groups=[], reason="x")
    assert err.value.field == "groups"


def test_the_api_and_the_policy_page_declare_an_environment_ungoverned(people, client) -> None:
    r = api_client(people["admin"]).post("/api/v1/policies", {"environment": "dev", "groups": [], "governed": False,
                                                              "reason": "developer sandbox"}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["governed"] is False
    client.force_login(people["admin"])
    client.post("/approvals/policies", {"environment": "qa", "governed": "no", "reason": "QA sandbox"})
    assert services.Policy.objects.get(environment="qa").governed is False
    assert "needs no approval" in client.get("/approvals/policies").content.decode()


def test_an_environment_no_policy_names_is_governed_by_default(model, policy, people) -> None:
    body = gate(people["admin"], environment="qa")
    assert body["allowed"] is False and "no approval policy governs qa" in " ".join(body["reasons"])
    deploy("7", "qa")
    assert Violation.objects.get().environment == "qa"


@override_settings(APPROVALS_UNPOLICED_ENVIRONMENTS="open")
def test_the_default_for_environments_without_policy_can_be_open(model, policy, people) -> None:
    body = gate(people["admin"], environment="qa")
    assert body["allowed"] is True and "PORTAL_UNPOLICED_ENVIRONMENTS=open" in body["reasons"][0]
    deploy("7", "qa")
    assert not Violation.objects.exists()


def test_a_superseded_release_stays_valid_while_its_version_is_live(model, policy, people, client) -> None:
    train(version="6", time="2026-01-01T00:00:00Z")
    v6 = approve(services.release_request(by=people["requester"], model="credit", version="6",
                                          environment="production", justification="v6"),
                 people["risk"], people["compliance"])
    deploy("6", "production", "2026-02-01T00:00:00Z")
    v7 = approve(services.release_request(by=people["requester"], model="credit", version="7",
                                          environment="production", justification="v7"),
                 people["risk"], people["compliance"])
    assert v7.state == Release.State.APPROVED
    v6.refresh_from_db()
    assert v6.state == Release.State.SUPERSEDED
    body = gate(people["admin"], version="6", environment="production")
    assert body["allowed"] is True and body["release"] == v6.pk
    assert f"superseded by release {v7.pk}" in body["reasons"][0] and "live" in body["reasons"][0]
    client.force_login(people["admin"])
    page = client.get("/lineage/node/" + quote("deployment:ml-pipelines:credit#6@production", safe="")).content.decode()
    assert f"release #{v6.pk}" in page and f"superseded by release {v7.pk}" in page
    assert "mo (for model-risk), cy (for compliance)" in page  # the deployment page names the approvers
    deploy("7", "production", "2026-02-02T00:00:00Z")  # v6 stops serving
    body = gate(people["admin"], version="6", environment="production")
    assert body["allowed"] is False and any("superseded" in r for r in body["reasons"])
    assert gate(people["admin"], version="7", environment="production")["allowed"] is True
