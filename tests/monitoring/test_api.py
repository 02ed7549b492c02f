"""POST /api/v1/monitoring for monitors that do not speak OpenLineage, and the alerts API."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from lineage.models import Edge, Node, RawEvent
from portal.monitoring.models import Alert, MonitoringResult

from .conftest import BANK, DEPLOYMENT

pytestmark = pytest.mark.django_db


def body(**over: Any) -> dict[str, Any]:
    return {"deployment": {"namespace": "ml-pipelines", "name": "credit", "version": "7", "environment": "production"},
            "time": "2026-03-01T00:00:00Z",
            "window": {"start": "2026-02-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
            "reference": {"namespace": BANK, "name": "features.credit", "version": "train-2026-01"},
            "inputs": [{"namespace": BANK, "name": "applications", "version": "2026-02"}],
            "metrics": [{"name": "auc", "value": 0.70, "threshold": 0.75, "breach_when": "below"},
                        {"name": "drift", "feature": "income", "psi": 0.35, "ks": 0.12}],
            "assertions": [{"dataset": {"namespace": BANK, "name": "applications", "version": "2026-02"},
                            "assertion": "not_null", "column": "income", "success": True}], **over}


def test_the_endpoint_records_a_run_like_an_openlineage_monitor(deployment: Node, ingest_client: APIClient) -> None:
    r = ingest_client.post("/api/v1/monitoring", body(), format="json")
    assert r.status_code == 201, r.json()
    results = {x["metric"]: x for x in r.json()}
    assert results["auc"]["breaches"] == ["auc 0.7 is below its threshold 0.75"]
    assert results["drift"]["breaches"] == ["drift (income) PSI 0.35 exceeds the tier limit 0.2"]
    assert results["not_null"]["dataset_version"] == f"datasetVersion:{BANK}:applications#2026-02"
    assert results["auc"]["window_start"].startswith("2026-02-01")
    run = Node.objects.get(node_id=results["auc"]["run"])
    assert Edge.objects.filter(src=deployment, dst=run, kind="monitors").exists()
    assert Alert.objects.filter(deployment=deployment).count() == 2
    # Kept in the raw log as the OpenLineage event it stands for, so a rebuild replays it.
    assert RawEvent.objects.filter(run_id=run.name).get().producer.endswith("/monitoring-api")
    again = ingest_client.post("/api/v1/monitoring", body(), format="json")
    assert again.status_code == 200 and MonitoringResult.objects.count() == 3


@pytest.mark.parametrize(("change", "field"), [
    ({"metrics": [], "assertions": []}, "metrics"),
    ({"metrics": [{"name": "auc"}]}, "metrics.0.value"),
    ({"metrics": [{"name": "auc", "value": "NaN"}]}, "metrics.0.value"),
    ({"metrics": [{"name": "d", "ks": 1.5}]}, "metrics.0.ks"),
    ({"window": {"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}}, "window.start"),
    ({"deployment": {"namespace": "ml-pipelines", "name": "credit", "version": "8", "environment": "production"}},
     "deployment"),
    ({"deployment": {"name": "credit", "version": "7", "environment": "production"}}, "deployment.namespace"),
])
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(deployment: Node, ingest_client: APIClient,
                                                                change: dict[str, Any], field: str) -> None:
    before = RawEvent.objects.count()
    r = ingest_client.post("/api/v1/monitoring", body(**change), format="json")
    assert r.status_code == 400, r.json()
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert RawEvent.objects.count() == before and not MonitoringResult.objects.exists()


def test_only_ingestors_post_and_viewers_read(deployment: Node, alice_client: APIClient,
                                             ingest_client: APIClient) -> None:
    assert alice_client.post("/api/v1/monitoring", body(), format="json").status_code == 403
    assert APIClient().post("/api/v1/monitoring", body(), format="json").status_code == 401
    ingest_client.post("/api/v1/monitoring", body(), format="json")
    alerts = alice_client.get("/api/v1/alerts").json()
    assert {a["deployment"] for a in alerts} == {DEPLOYMENT} and len(alerts) == 2
    results = alice_client.get("/api/v1/monitoring/results", {"deployment": DEPLOYMENT}).json()
    assert len(results) == 3
    assert alice_client.get("/api/v1/alerts", {"state": "nope"}).json()["errors"][0]["field"] == "state"


def test_charlie_gets_404(deployment: Node, ingest_client: APIClient, charlie_client: APIClient) -> None:
    ingest_client.post("/api/v1/monitoring", body(), format="json")
    assert charlie_client.get("/api/v1/alerts").json() == []
    assert charlie_client.get("/api/v1/monitoring/results", {"deployment": DEPLOYMENT}).status_code == 404
    alert = Alert.objects.first()
    assert charlie_client.post(f"/api/v1/alerts/{alert.pk}/dismiss", {"note": "x"}, format="json").status_code in (
        403, 404)


def test_a_compliance_officer_dismisses_an_alert_with_a_note(deployment: Node, ingest_client: APIClient,
                                                             officer_client: APIClient,
                                                             alice_client: APIClient) -> None:
    ingest_client.post("/api/v1/monitoring", body(), format="json")
    alert = Alert.objects.first()
    assert alice_client.post(f"/api/v1/alerts/{alert.pk}/dismiss", {"note": "x"}, format="json").status_code == 403
    assert officer_client.post(f"/api/v1/alerts/{alert.pk}/dismiss", {"note": ""},
                               format="json").json()["errors"][0]["field"] == "note"
    r = officer_client.post(f"/api/v1/alerts/{alert.pk}/dismiss", {"note": "seasonal"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "closed"
    assert officer_client.post(f"/api/v1/alerts/{alert.pk}/dismiss", {"note": "again"},
                               format="json").status_code == 400
