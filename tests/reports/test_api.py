"""Reports API: who may ask, the 202 flow, downloads, verification, and the catalog."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from portal.audit.models import AuditEntry
from portal.reports.models import Report
from tests.conftest import api_client


@pytest.fixture
def officer_client(officer):
    return api_client(officer)


def test_anonymous_gets_401_and_readers_403(small_graph, alice_client, ingest_client):
    assert APIClient().get("/api/v1/reports").status_code == 401
    assert APIClient().post("/api/v1/reports", {"kind": "framework", "framework": "gdpr"},
                            format="json").status_code == 401
    for client in (alice_client, ingest_client):
        r = client.post("/api/v1/reports", {"kind": "framework", "framework": "gdpr"}, format="json")
        assert r.status_code == 403
        assert client.get("/api/v1/reports").status_code == 403
    assert Report.objects.count() == 0


def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(small_graph, officer_client):
    for body, field in (({"kind": "framework", "framework": "nist"}, "framework"),
                        ({"kind": "nonsense"}, "kind"),
                        ({"kind": "framework", "framework": "gdpr", "scope": {"tags": "PHI"}}, "scope"),
                        ({"kind": "dossier", "model": "modelVersion:missing#1"}, "model"),
                        ({"kind": "erasure", "subject_key": "nobody"}, "subject_key")):
        r = officer_client.post("/api/v1/reports", body, format="json")
        assert r.status_code == 400, (body, r.content)
        assert r.json()["errors"][0]["field"].startswith(field), r.json()
    assert Report.objects.count() == 0
    assert not AuditEntry.objects.filter(action="report.requested").exists()


@pytest.mark.django_db(transaction=True)
def test_request_poll_and_download(small_graph, officer_client):
    r = officer_client.post("/api/v1/reports", {"kind": "framework", "framework": "gdpr",
                                                "scope": {"tags": ["PII"]}}, format="json")
    assert r.status_code == 202, r.content
    url = r.headers["Location"]
    status = officer_client.get(url).json()
    assert status["state"] == "done" and status["progress"] == 100  # eager in the embedded default
    pdf = officer_client.get(status["pdf"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and pdf["X-Report-SHA256"] == status["pdf_sha256"]
    bundle = officer_client.get(f"{url}/bundle").json()
    assert bundle["report"]["scope"]["tags"] == ["PII"]
    assert officer_client.get(f"{url}/csv").status_code == 400  # only erasure reports have a CSV
    assert AuditEntry.objects.filter(action="report.downloaded", target_id=status["id"]).count() == 2
    verdict = officer_client.post("/api/v1/reports/verify", {"file": _file(pdf.content)}, format="multipart")
    assert verdict.json()["ok"] is True and verdict.json()["report"] == status["id"]
    forged = officer_client.post("/api/v1/reports/verify", {"file": _file(pdf.content + b"\n")}, format="multipart")
    assert forged.json()["ok"] is False


def test_a_report_not_yet_done_answers_409_for_its_pdf(small_graph, officer, officer_client):
    report = Report.objects.create(kind="framework", framework="gdpr", title="t", requested_by=officer)
    r = officer_client.get(f"/api/v1/reports/{report.pk}/pdf")
    assert r.status_code == 409 and "queued" in r.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_erasure_by_subject_key_and_csv(small_graph, officer_client, officer):
    from lineage.governance_fields import subject_key_hash
    from portal.governance.models import SubjectKey

    source = small_graph["ds:customers"]
    SubjectKey.objects.create(dataset=source, key_hash=subject_key_hash(" Customer-1001 "))
    r = officer_client.post("/api/v1/reports", {"kind": "erasure", "subject_key": "customer-1001"}, format="json")
    assert r.status_code == 202, r.content
    report = Report.objects.get(pk=r.json()["id"])
    assert "customer-1001" not in str(report.__dict__).lower()  # only the hash is kept
    csv = officer_client.get(f"/api/v1/reports/{report.pk}/csv").content.decode()
    assert csv.splitlines()[0] == "kind,node_id,name,namespace,active_deployments,path"
    assert small_graph["mv:churn"].node_id in csv


def test_the_catalog_lists_every_framework_and_says_what_is_evaluated(alice_client):
    catalog = {f["id"]: f for f in alice_client.get("/api/v1/controls").json()}
    assert set(catalog) == {"hipaa", "gdpr", "model-risk", "sox", "eu-ai-act"}
    h = {c["id"]: c for c in catalog["hipaa"]["controls"]}
    assert h["H1"]["evaluated"] and not h["H2"]["evaluated"] and h["H2"]["needs"]


def _file(content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("report.pdf", content, content_type="application/pdf")


def test_listing_by_an_unknown_kind_is_a_400_naming_it(officer_client):
    r = officer_client.get("/api/v1/reports?kind=nonsense")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "kind"
    assert officer_client.get("/api/v1/reports?kind=erasure").json()["count"] == 0


@pytest.mark.django_db(transaction=True)
def test_countersign_is_for_auditors_with_their_password(small_graph, officer, officer_client, charlie_client):
    from portal.accounts.services import user_ensure

    r = officer_client.post("/api/v1/reports", {"kind": "framework", "framework": "hipaa"}, format="json")
    url = f"/api/v1/reports/{r.json()['id']}/countersign"
    assert officer_client.post(url, {"password": "pw-olivia", "reason": "x"}, format="json").status_code == 403
    assert charlie_client.post(url, {}, format="json").status_code == 403
    auditor = api_client(user_ensure(username="ingrid", role="auditor", password="pw-ingrid-1",
                                     email="ingrid@example.com"))
    bad = auditor.post(url, {"password": "nope", "reason": "reviewed"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "password"
    ok = auditor.post(url, {"password": "pw-ingrid-1", "reason": "reviewed"}, format="json")
    assert ok.status_code == 200, ok.content
    assert AuditEntry.objects.filter(action="report.countersigned").count() == 1
    pdf = officer_client.get(f"/api/v1/reports/{r.json()['id']}/pdf")
    assert "hipaa-report-" in pdf["Content-Disposition"]
