"""Approvals API: status codes, effects and denials."""

from __future__ import annotations

import pytest

from tests.approvals.conftest import PASSWORD
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


def test_request_approve_and_gate_over_the_api(model, policy, people) -> None:
    rita, mo, cy = (api_client(people[u]) for u in ("requester", "risk", "compliance"))
    r = rita.post("/api/v1/releases", {"model": "credit", "version": "7", "environment": "production",
                                       "justification": "Q3 refresh"}, format="json")
    assert r.status_code == 201, r.content
    rid, digest = r.json()["id"], r.json()["subject_digest"]
    assert r.json()["state"] == "pending" and len(digest) == 64
    inbox = mo.get("/api/v1/releases", {"waiting_for_me": "true"}).json()
    assert [x["id"] for x in inbox["results"]] == [rid]
    r = mo.post(f"/api/v1/releases/{rid}/approve", {"password": PASSWORD, "reason": "validated",
                                                     "subject_digest": digest}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "pending"
    assert r.json()["quorum"]["missing"] == {"compliance": 1}
    r = cy.post(f"/api/v1/releases/{rid}/approve", {"password": PASSWORD, "reason": "DPIA on file",
                                                     "subject_digest": digest}, format="json")
    assert r.json()["state"] == "approved"
    g = mo.get("/api/v1/gate", {"model": "credit", "version": "7", "environment": "production"}).json()
    assert g["allowed"] is True and g["release"] == rid and g["attestation"]["signature"]


def test_denials_are_clear(release, people, charlie_client) -> None:
    rita, viewer = api_client(people["requester"]), api_client(people["requester"])
    url = f"/api/v1/releases/{release.pk}/approve"
    r = rita.post(url, {"password": PASSWORD, "reason": "mine"}, format="json")
    assert r.status_code == 403 and "requested this release" in r.json()["detail"]
    mo = api_client(people["risk"])
    r = mo.post(url, {"password": "nope", "reason": "x", "subject_digest": release.subject_digest}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "password"
    # The password is optional in the body (an SSO user sends ``reauth`` instead); a local user without one is
    # told so, naming the field.
    r = mo.post(url, {"reason": "x", "subject_digest": release.subject_digest}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "password"
    assert viewer.post("/api/v1/policies", {"environment": "staging", "groups": [{"team": "model-risk"}],
                                            "reason": "x"}, format="json").status_code == 403
    assert rita.post(f"/api/v1/releases/{release.pk}/withdraw", {}, format="json").status_code == 400
    assert mo.get("/api/v1/gate", {"model": "credit"}).json()["errors"][0]["field"] == "version"


def test_charlie_gets_404_for_another_teams_release(release, people, charlie_client, credit_ns_owned) -> None:
    from lineage.models import Node

    Node.objects.filter(pk=release.model_version_id).update(namespace="postgres://bank-db:5432")
    assert charlie_client.get(f"/api/v1/releases/{release.pk}").status_code == 404
    assert charlie_client.post(f"/api/v1/releases/{release.pk}/approve", {"password": "x", "reason": "x"},
                               format="json").status_code == 404
    assert charlie_client.get("/api/v1/releases").json()["count"] == 0


def test_admins_write_policies_and_everyone_reads_them(people) -> None:
    ada, mo = api_client(people["admin"]), api_client(people["risk"])
    r = ada.post("/api/v1/policies", {"environment": "staging", "groups": [{"team": "model-risk", "min_approvals": 1}],
                                      "reason": "staging needs one reviewer"}, format="json")
    assert r.status_code == 201 and r.json()["version"] == 1
    r = ada.post("/api/v1/policies", {"environment": "staging", "groups": [{"team": "nope"}], "reason": "x"},
                 format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "groups"
    assert mo.get("/api/v1/policies").json()["count"] == 1


def test_ingest_tokens_may_ask_the_gate_but_not_request(model, policy, ingest_client) -> None:
    assert ingest_client.get("/api/v1/gate", {"model": "credit", "version": "7",
                                              "environment": "production"}).json()["allowed"] is False
    assert ingest_client.post("/api/v1/releases", {}, format="json").status_code == 403
