"""/metrics: scraped and parsed with prometheus-client's own parser; who may scrape; the broker's queue depth."""

from __future__ import annotations

import ipaddress
import os
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from lineage.models import Node
from portal.accounts.models import User
from portal.audit.services import checkpoint_create
from portal.incidents import services as incidents
from tests.conftest import need_service
from tests.monitoring.test_api import body

pytestmark = pytest.mark.django_db


def scrape(client: Client | None = None, **extra: Any) -> dict[str, dict[tuple, float]]:
    r = (client or Client()).get("/metrics", **extra)
    assert r.status_code == 200, r.content
    assert r["Content-Type"].startswith("text/plain; version=0.0.4")
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(r.content.decode()):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_it_exposes_ingest_audit_releases_alerts_and_incidents(deployment: Node, ingest_client: APIClient,
                                                                officer: User) -> None:
    before = scrape().get("portal_ingest_requests_total", {})
    created = (("endpoint", "monitoring:ingest"), ("outcome", "created"))
    refused = (("endpoint", "monitoring:ingest"), ("outcome", "refused"))
    assert ingest_client.post("/api/v1/monitoring", body(), format="json").status_code == 201
    assert ingest_client.post("/api/v1/monitoring", {}, format="json").status_code == 400
    checkpoint_create(force=True)
    incidents.incident_open(by=officer, title="Leak", kinds=["personal_data_breach"], severity="high",
                            detected_at=timezone.now() - timedelta(hours=80), deployments=[deployment.node_id])
    incidents.incident_open(by=officer, title="Drift", kinds=["model_failure"], severity="low",
                            detected_at=timezone.now(), deployments=[deployment.node_id])
    m = scrape()
    assert m["portal_ingest_requests_total"][created] == before.get(created, 0) + 1
    assert m["portal_ingest_requests_total"][refused] == before.get(refused, 0) + 1
    assert m["portal_ingest_request_seconds_count"][created] >= 1
    assert m["portal_alerts_open"][()] == 2
    assert m["portal_incidents_open"][(("deadline", "overdue"),)] == 1
    assert m["portal_incidents_open"][(("deadline", "none"),)] == 1
    assert m["portal_audit_entries"][()] > 0 and m["portal_audit_unsigned_entries"][()] >= 1
    assert 0 <= m["portal_audit_checkpoint_age_seconds"][()] < 600
    assert m["portal_releases_waiting"][()] == 0 and m["portal_violations"][()] == 1


def test_only_the_token_or_an_allowed_network_may_scrape(db: Any, settings: Any) -> None:
    settings.PORTAL_METRICS_TOKEN = "s3cret-metrics-token"
    settings.PORTAL_METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.1.0.0/16")]
    assert Client().get("/metrics").status_code == 403  # loopback is no longer allowed
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    outside = Client(REMOTE_ADDR="192.0.2.7")
    assert outside.get("/metrics").status_code == 403
    assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token").status_code == 200
    assert Client().post("/metrics").status_code == 405


@pytest.mark.services
def test_it_reports_the_depth_of_a_celery_queue_on_redis(db: Any, settings: Any) -> None:
    url = os.environ.get("CELERY_TEST_BROKER_URL", "")
    if not url.startswith("redis://"):
        need_service("redis", "CELERY_TEST_BROKER_URL names no Redis broker")
    from kombu import Connection

    queue = f"metrics-test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_BROKER_URL, settings.PORTAL_METRICS_QUEUES = url, [queue]
    with Connection(url, connect_timeout=2) as conn:
        q = conn.SimpleQueue(queue)
        try:
            for i in range(3):
                q.put({"n": i})
            assert scrape()["portal_celery_queue_depth"][(("queue", queue),)] == 3
        finally:
            q.clear()
            q.close()


def test_every_grafana_panel_queries_metrics_the_portal_exposes() -> None:
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).parents[2] / "docs" / "grafana-dashboard.json").read_text())
    exposed = {"portal_ingest_requests_total", "portal_ingest_request_seconds_bucket", "portal_audit_unsigned_entries",
               "portal_audit_checkpoint_age_seconds", "portal_audit_chain_ok", "portal_releases_waiting",
               "portal_violations", "portal_alerts_open", "portal_incidents_open",
               "portal_report_duration_seconds_bucket", "portal_reports", "portal_celery_queue_depth"}
    used = {name for p in dashboard["panels"] for t in p["targets"] for name in re.findall(r"portal_\w+", t["expr"])}
    assert used == exposed
