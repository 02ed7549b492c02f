"""The whole path on the database: a production deployment monitored month after month, a threshold breach,
its alert opened as an incident in one step, the deadlines on the page, the closures signed, and the
framework reports evaluating F4, A10 and G13 from it."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from lineage.models import Edge, Node
from portal.accounts.models import User
from portal.accounts.services import user_ensure
from portal.evidence.services import document_approve, document_upload
from portal.governance.models import ModelInventory
from portal.monitoring.models import Alert, MonitoringResult
from portal.reports.models import Report
from portal.reports.services import report_generate, report_request
from tests.conftest import api_client

from .conftest import BANK, DEPLOYMENT, ingest, monitor_event
from .test_api import body

pytestmark = pytest.mark.django_db


def iso(days_ago: float) -> str:
    return (timezone.now() - timedelta(days=days_ago)).isoformat()


def _controls(officer: User, framework: str) -> dict[str, dict]:
    report = report_request(by=officer, kind="framework", framework=framework, enqueue=False)
    report_generate(report_id=str(report.pk))
    report.refresh_from_db()
    assert report.state == Report.State.DONE, report.error
    return {c["id"]: c for c in report.bundle["controls"]}


def test_monitoring_to_incident_to_the_framework_reports(deployment: Node, officer: User,
                                                         ingest_client: APIClient) -> None:
    ModelInventory.objects.filter(node__node_id="modelVersion:ml-pipelines:credit#7").update(high_risk_annex="5(b)")
    validator = user_ensure(username="vera", role="approver", email="vera@example.com", password="pw-vera")
    plan = document_upload(by=officer, file_name="pmm-plan.txt", content=b"Post-market monitoring plan",
                           content_type="text/plain", doc_type="monitoring_plan", title="Credit PMM plan",
                           version="1", description="", effective_from=timezone.now() - timedelta(days=120),
                           attributes={"thresholds": {"auc": 0.75}, "metrics": ["auc", "drift"],
                                       "frequency_days": 31},
                           node_ids=["modelVersion:ml-pipelines:credit#7"])
    document_approve(document=plan, by=validator, password="pw-vera", reason="plan reviewed")

    # Monitoring over time: three monthly OpenLineage runs within limits, then a REST run that breaches.
    for days in (90, 60, 30):
        ingest(monitor_event({"name": "auc", "value": 0.79, "threshold": 0.75, "breachWhen": "below"},
                             {"name": "drift", "feature": "income", "psi": 0.05, "ks": 0.04},
                             time=iso(days), reads=f"day-{days}"))
    late = body(time=iso(2), inputs=[{"namespace": BANK, "name": "applications", "version": "day-2"}],
                window={"start": iso(30), "end": iso(2)}, assertions=[])
    assert ingest_client.post("/api/v1/monitoring", late, format="json").status_code == 201
    assert MonitoringResult.objects.filter(deployment=deployment).count() == 8
    assert Edge.objects.filter(src=deployment, kind="monitors").count() == 4  # the explorer shows four runs
    alerts = list(Alert.objects.filter(deployment=deployment).order_by("pk"))
    assert [a.result.metric for a in alerts] == ["auc", "drift"]

    # The breach opens an incident in one step; a second alert is dismissed as the same cause.
    olivia = api_client(officer)
    opened = olivia.post(f"/api/v1/alerts/{alerts[0].pk}/incident")
    assert opened.status_code == 201
    failure = opened.json()
    assert olivia.post(f"/api/v1/alerts/{alerts[1].pk}/dismiss", {"note": f"same cause as incident {failure['id']}"},
                       format="json").status_code == 200
    # Investigating it finds scores with personal data written to a public bucket: a breach, and serious.
    breach = olivia.post("/api/v1/incidents", {
        "title": "Scores with applicant data exposed", "kinds": ["personal_data_breach", "ai_act_serious"],
        "severity": "high", "detected_at": iso(1), "occurred_at": iso(3), "deployments": [DEPLOYMENT]},
        format="json").json()
    assert {c["clock"]: c["limit"] for c in breach["clocks"]} == {"gdpr": "72 hours", "ai_act": "15 days"}
    assert breach["scope"]["subjects"] == 0 and breach["scope"]["datasets"] == [f"dataset:{BANK}:features.credit"]

    page = Client()
    page.force_login(officer)
    html = page.get(f"/incidents/{breach['id']}").content.decode()
    gdpr_due = next(c for c in breach["clocks"] if c["clock"] == "gdpr")["deadline"]
    assert f"GDPR Art. 33 notification: due <time datetime=\"{gdpr_due[:19]}Z\"" in html  # the one format
    assert "Open incidents" in page.get("/dashboard/").content.decode()
    assert "Alert #" in page.get(f"/lineage/node/{quote(DEPLOYMENT, safe='')}").content.decode()

    for clock, authority in (("gdpr", "CNIL"), ("ai_act", "market surveillance authority")):
        r = olivia.post(f"/api/v1/incidents/{breach['id']}/notifications",
                        {"clock": clock, "notified_at": iso(0.5), "authority": authority}, format="json")
        assert r.status_code == 201, r.json()
    for incident in (failure, breach):
        olivia.post(f"/api/v1/incidents/{incident['id']}/actions", {"text": "model rolled back to v6"}, format="json")
        closed = olivia.post(f"/api/v1/incidents/{incident['id']}/close",
                             {"password": "pw-olivia", "reason": "rolled back, bucket closed"}, format="json")
        assert closed.status_code == 200 and closed.json()["closure_printed_name"] == "Olivia Officer"

    f4 = _controls(officer, "model-risk")["F4"]
    assert f4["status"] == "pass", f4
    (row,) = f4["evidence"]["rows"]
    assert row[2] == 8 and row[3] == 2 and f"#{failure['id']}" in row[4]
    a10 = _controls(officer, "eu-ai-act")["A10"]
    assert a10["status"] == "pass", a10
    assert a10["evidence"]["rows"][0][1:] == ["Credit PMM plan", 8, 1]
    g13 = _controls(officer, "gdpr")["G13"]
    assert g13["status"] == "pass" and g13["reason"] == "All 1 personal-data breach incidents pass."
    assert g13["evidence"]["rows"][0][3].startswith("notified")
