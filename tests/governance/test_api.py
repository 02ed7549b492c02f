"""Governance API: who sees and changes what, the error shape, and nothing written on a refusal."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from rest_framework.test import APIClient

from lineage.models import Node
from portal.audit.models import AuditEntry
from portal.governance.models import DatasetGovernance, ModelInventory, ParameterSet, SubjectKey
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


def url(node: Node, suffix: str) -> str:
    base = {"dataset": "datasets", "datasetVersion": "datasets", "modelVersion": "model-versions",
            "deployment": "deployments"}[node.kind]
    return f"/api/v1/{base}/{quote(node.node_id, safe='')}/{suffix}"


def test_a_dataset_without_a_record_answers_defaults(graph: dict[str, Node], alice_client: APIClient) -> None:
    r = alice_client.get(url(graph["dataset"], "governance"))
    assert r.status_code == 200
    body = r.json()
    assert body["recorded"] is False and body["lawful_basis"] == "" and body["may_edit"] is False
    assert body["subject_keys"] == 0


def test_the_compliance_officer_patches_a_dataset(graph: dict[str, Node], dpo_client: APIClient) -> None:
    r = dpo_client.patch(url(graph["version"], "governance"), {"lawful_basis": "b", "purposes": ["billing"],
                                                               "retention_until": "2030-06-30"}, format="json")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["id"] == graph["dataset"].node_id and body["recorded"] and body["may_edit"]
    assert (body["lawful_basis"], body["purposes"], body["retention_until"]) == ("b", ["billing"], "2030-06-30")


def test_charlie_gets_404(graph: dict[str, Node], charlie_client: APIClient) -> None:
    for suffix, node in (("governance", graph["dataset"]), ("inventory", graph["model"]),
                         ("profile", graph["deployment"])):
        assert charlie_client.get(url(node, suffix)).status_code == 404
        assert charlie_client.patch(url(node, suffix), {}, format="json").status_code == 404
    assert charlie_client.post(url(graph["dataset"], "subject-keys"), {"keys": ["x"]},
                               format="json").status_code == 404


def test_a_viewer_gets_403_on_patch(graph: dict[str, Node], alice_client: APIClient) -> None:
    r = alice_client.patch(url(graph["dataset"], "governance"), {"lawful_basis": "b"}, format="json")
    assert r.status_code == 403 and r.json()["detail"]
    assert alice_client.patch(url(graph["model"], "inventory"), {"tier": 1}, format="json").status_code == 403
    assert alice_client.patch(url(graph["deployment"], "profile"), {"emergency": True},
                              format="json").status_code == 403
    assert not DatasetGovernance.objects.exists() and not ModelInventory.objects.exists()


def test_anonymous_gets_401(graph: dict[str, Node]) -> None:
    client = APIClient()
    assert client.get(url(graph["dataset"], "governance")).status_code == 401
    assert client.patch(url(graph["dataset"], "governance"), {"lawful_basis": "b"}, format="json").status_code == 401
    assert client.get("/api/v1/parameters").status_code == 401


def test_an_ingestor_token_does_not_read_governance(graph: dict[str, Node], ingest_client: APIClient) -> None:
    assert ingest_client.get(url(graph["dataset"], "governance")).status_code == 403


def test_the_wrong_kind_is_404(graph: dict[str, Node], dpo_client: APIClient) -> None:
    assert dpo_client.get(url(graph["model"], "governance").replace("model-versions", "datasets")).status_code == 404
    assert dpo_client.get(url(graph["dataset"], "inventory").replace("datasets", "model-versions")).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"lawful_basis": "a"}, "consent_reference"),
    ({"legal_hold": True}, "legal_hold_reason"),
    ({"lawful_basis": "consent"}, "lawful_basis"),
    ({"purposes": "billing"}, "purposes"),
    ({"purposes": ["ok", ""]}, "purposes.1"),
    ({"retention_until": "soon"}, "retention_until"),
    ({"lawfulBasis": "b"}, "lawfulBasis"),
])
def test_bad_input_is_400_naming_the_field_and_writes_nothing(graph: dict[str, Node], dpo_client: APIClient,
                                                              body: dict[str, Any], field: str) -> None:
    before = AuditEntry.objects.count()
    r = dpo_client.patch(url(graph["dataset"], "governance"), body, format="json")
    assert r.status_code == 400
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert not DatasetGovernance.objects.exists() and AuditEntry.objects.count() == before


def test_the_models_approver_patches_inventory_and_profile(graph: dict[str, Node], bob_client: APIClient) -> None:
    r = bob_client.patch(url(graph["model"], "inventory"), {"owner": "bob", "tier": 1, "status": "production",
                                                             "high_risk_annex": "5(b)"}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["owner"] == "bob" and r.json()["tier"] == 1
    r = bob_client.patch(url(graph["model"], "inventory"), {"owner": "nobody"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "owner"
    r = bob_client.patch(url(graph["deployment"], "profile"), {"sox_in_scope": True, "overseers": ["bob"]},
                         format="json")
    assert r.status_code == 200 and r.json()["sox_in_scope"] and r.json()["overseers"] == ["bob"]
    r = bob_client.patch(url(graph["deployment"], "profile"), {"log_location": "s3://logs/credit",
                                                               "log_retention_days": 200, "log_max_gap_minutes": 12,
                                                               "stop_control_tested_at": "2026-01-05T09:00:00Z"},
                         format="json")
    assert r.status_code == 200 and r.json()["log_max_gap_minutes"] == 12 and r.json()["sox_in_scope"]
    assert r.json()["stop_control_tested_at"].startswith("2026-01-05T09:00:00")
    r = bob_client.patch(url(graph["deployment"], "profile"), {"log_retention_days": -1}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "log_retention_days"


def test_subject_keys_are_added_and_resolved_without_storing_the_key(graph: dict[str, Node], dpo_client: APIClient,
                                                                     alice_client: APIClient) -> None:
    r = dpo_client.post(url(graph["dataset"], "subject-keys"), {"keys": ["customer-1001", "Customer-1001 "]},
                        format="json")
    assert r.status_code == 200 and r.json() == {"id": graph["dataset"].node_id, "submitted": 2, "added": 1,
                                                 "subject_keys": 1}
    r = dpo_client.post("/api/v1/subject-keys/resolve", {"key": "CUSTOMER-1001"}, format="json")
    assert r.status_code == 200 and [d["id"] for d in r.json()["datasets"]] == [graph["dataset"].node_id]
    assert alice_client.post("/api/v1/subject-keys/resolve", {"key": "customer-1001"}, format="json").status_code == 403
    assert alice_client.post(url(graph["dataset"], "subject-keys"), {"keys": ["x"]}, format="json").status_code == 403
    assert "customer-1001" not in str(list(SubjectKey.objects.values_list("key_hash", flat=True)))
    assert not AuditEntry.objects.filter(payload__contains="customer-1001").exists()


def test_parameters_list_and_publish(dpo_client: APIClient, admin_client: APIClient) -> None:
    r = dpo_client.get("/api/v1/parameters")
    assert r.status_code == 200 and r.json()["in_force"]["version"] is None
    assert r.json()["in_force"]["values"]["approvers_min"] == 2
    assert dpo_client.post("/api/v1/parameters", {"values": {}, "reason": "x"}, format="json").status_code == 403
    r = admin_client.post("/api/v1/parameters", {"values": {"approver_min": 3}, "reason": "typo"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "values.approver_min"
    assert not ParameterSet.objects.exists()
    r = admin_client.post("/api/v1/parameters", {"values": {"approvers_min": 3}, "reason": "stricter",
                                                 "effective_from": "2026-01-01T00:00:00Z"}, format="json")
    assert r.status_code == 201 and r.json()["version"] == 1 and r.json()["values"]["approvers_min"] == 3
    r = dpo_client.get("/api/v1/parameters", {"at": "2025-12-31T00:00:00Z"})
    assert r.json()["in_force"]["version"] is None and len(r.json()["versions"]) == 1
    assert dpo_client.get("/api/v1/parameters", {"at": "later"}).status_code == 400


def test_the_schema_documents_the_endpoints(admin_user: Any) -> None:
    r = api_client(admin_user).get("/api/schema/", {"format": "json"})
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/api/v1/datasets/{node_id}/governance" in paths and "/api/v1/subject-keys/resolve" in paths
