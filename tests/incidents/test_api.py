"""Incidents API: who may do what, the error shape, one step from an alert, the clocks in the answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from lineage.models import Node
from portal.incidents.models import Incident
from portal.monitoring.models import Alert

pytestmark = pytest.mark.django_db


def _open(client: APIClient, deployment: Node, **over) -> dict:
    body = {"title": "Leaked scores", "kinds": ["personal_data_breach"], "severity": "high",
            "detected_at": (timezone.now() - timedelta(hours=2)).isoformat(), "deployments": [deployment.node_id],
            **over}
    r = client.post("/api/v1/incidents", body, format="json")
    assert r.status_code == 201, r.json()
    return r.json()


def test_an_incident_answers_with_its_deadlines(deployment: Node, olivia_client: APIClient) -> None:
    body = _open(olivia_client, deployment)
    (clock,) = body["clocks"]
    assert clock["clock"] == "gdpr" and clock["state"] == "running" and clock["limit"] == "72 hours"
    assert body["model_versions"] == ["modelVersion:ml-pipelines:credit#7"]


def test_a_breach_alert_opens_an_incident_in_one_call(alert: Alert, bob_client: APIClient) -> None:
    r = bob_client.post(f"/api/v1/alerts/{alert.pk}/incident")
    assert r.status_code == 201, r.json()
    assert r.json()["alerts"] == [alert.pk] and r.json()["scope"]["subjects"] == 3
    assert bob_client.post(f"/api/v1/alerts/{alert.pk}/incident").json()["errors"][0]["field"] == "alert"


def test_notify_and_close_with_a_signature(deployment: Node, olivia_client: APIClient) -> None:
    body = _open(olivia_client, deployment)
    url = f"/api/v1/incidents/{body['id']}"
    r = olivia_client.post(f"{url}/notifications", {"clock": "gdpr", "exempt_reason": "encrypted; Art. 34(3)(a)"},
                           format="json")
    assert r.status_code == 201 and r.json()["clocks"][0]["state"] == "exempt"
    assert olivia_client.post(f"{url}/close", {"password": "wrong", "reason": "x"},
                              format="json").json()["errors"][0]["field"] == "password"
    r = olivia_client.post(f"{url}/close", {"password": "pw-olivia", "reason": "contained"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "closed" and r.json()["closure_binding"]


def test_bad_input_is_a_400_naming_the_field(deployment: Node, olivia_client: APIClient) -> None:
    r = olivia_client.post("/api/v1/incidents", {"title": "x", "kinds": ["meteor"], "severity": "low",
                                                 "detected_at": "2026-01-01T00:00:00Z"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"].startswith("kinds")
    r = olivia_client.post("/api/v1/incidents", {"title": "x", "kinds": ["model_failure"], "severity": "low",
                                                 "detected_at": "2026-01-01T00:00:00Z",
                                                 "deployments": ["deployment:nope"]}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "deployments.0"
    assert not Incident.objects.exists()


def test_viewers_read_but_may_not_handle_and_approvers_may_not_close(deployment: Node, olivia_client: APIClient,
                                                                    alice_client: APIClient,
                                                                    bob_client: APIClient) -> None:
    body = _open(olivia_client, deployment)
    assert alice_client.get(f"/api/v1/incidents/{body['id']}").status_code == 200
    assert alice_client.post("/api/v1/incidents", {}, format="json").status_code == 403
    assert alice_client.post(f"/api/v1/incidents/{body['id']}/actions", {"text": "x"}, format="json").status_code == 403
    assert bob_client.post(f"/api/v1/incidents/{body['id']}/close", {"password": "x", "reason": "x"},
                           format="json").status_code == 403
    assert APIClient().get("/api/v1/incidents").status_code == 401


def test_charlie_gets_404(deployment: Node, olivia_client: APIClient, charlie_client: APIClient) -> None:
    body = _open(olivia_client, deployment)
    assert charlie_client.get("/api/v1/incidents").json() == []
    assert charlie_client.get(f"/api/v1/incidents/{body['id']}").status_code == 404


def test_what_is_learnt_later_is_recorded_and_audited(deployment: Node, olivia_client: APIClient,
                                                      bob_client: APIClient, alice_client: APIClient) -> None:
    import json

    from portal.audit.models import AuditEntry

    body = _open(olivia_client, deployment, kinds=["model_failure"], severity="low")
    url = f"/api/v1/incidents/{body['id']}"
    assert body["clocks"] == []
    r = bob_client.patch(url, {"kinds": ["model_failure", "personal_data_breach"], "severity": "high"},
                         format="json")
    assert r.status_code == 200, r.json()
    assert [c["clock"] for c in r.json()["clocks"]] == ["gdpr"] and r.json()["severity"] == "high"
    entry = AuditEntry.objects.get(action="incident.updated")
    payload = json.loads(entry.payload)
    assert payload["before"]["kinds"] == ["model_failure"] and payload["before"]["severity"] == "low"
    assert payload["after"]["kinds"] == ["model_failure", "personal_data_breach"]
    assert bob_client.patch(url, {"kinds": []}, format="json").json()["errors"][0]["field"].startswith("kinds")
    assert bob_client.patch(url, {"datasets": ["dataset:nope"]},
                            format="json").json()["errors"][0]["field"] == "datasets.0"
    assert alice_client.patch(url, {"severity": "low"}, format="json").status_code == 403
    assert Incident.objects.get().severity == "high"
