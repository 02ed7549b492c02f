"""Report pages and the audit_report / verify_report commands."""

from __future__ import annotations

import io
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from portal.reports.models import Report


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_pages_need_a_reporting_role(small_graph, alice):
    assert Client().get("/reports/").status_code == 302  # to sign in
    viewer = _client(alice)
    assert viewer.get("/reports/").status_code == 403
    assert viewer.post("/reports/new", {"kind": "framework", "framework": "gdpr"}).status_code == 403
    assert viewer.get("/reports/erasure").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_an_officer_starts_a_report_and_sees_its_controls(small_graph, officer):
    c = _client(officer)
    page = c.get("/reports/")
    assert page.status_code == 200 and b"New framework report" in page.content
    r = c.post("/reports/new", {"kind": "framework", "framework": "eu-ai-act", "tags": "PHI"})
    report = Report.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/reports/{report.pk}/"
    detail = c.get(r["Location"]).content.decode()
    assert "A1 Risk management" in detail and "Download PDF" in detail
    assert c.get(f"/reports/{report.pk}/pdf").content.startswith(b"%PDF")


@pytest.mark.django_db(transaction=True)
def test_a_bad_form_says_why_and_creates_nothing(small_graph, officer):
    c = _client(officer)
    r = c.post("/reports/new", {"kind": "dossier", "model": "modelVersion:none#1"}, follow=True)
    assert b"no visible node" in r.content
    assert Report.objects.count() == 0


def test_a_running_report_shows_a_progress_bar(small_graph, officer):
    report = Report.objects.create(kind="framework", framework="gdpr", title="<b>t</b>", requested_by=officer,
                                   state="running", progress=42, step="evaluating G5")
    html = _client(officer).get(f"/reports/{report.pk}/").content.decode()
    assert '<progress id="report-progress-bar" max="100" value="42">' in html
    assert "evaluating G5" in html and "portal/reports.js" in html
    assert "&lt;b&gt;t&lt;/b&gt;" in html and "<b>t</b>" not in html


@pytest.mark.django_db(transaction=True)
def test_commands_generate_and_verify(small_graph, officer, tmp_path: Path):
    out, err = StringIO(), StringIO()
    pdf = tmp_path / "gdpr.pdf"
    call_command("audit_report", "--framework", "gdpr", "--scope", "tag:PII", "--user", "olivia", "--out", str(pdf),
                 stdout=out, stderr=err)
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "100%" in err.getvalue() and "sha256" in out.getvalue()
    ok = StringIO()
    call_command("verify_report", str(pdf), stdout=ok)
    assert ok.getvalue().startswith("OK: Unaltered")
    pdf.write_bytes(pdf.read_bytes() + b"%tampered")
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_report", str(pdf), stdout=StringIO())
    assert exit_.value.code == 1
    with pytest.raises(CommandError, match="--scope"):
        call_command("audit_report", "--framework", "gdpr", "--scope", "team:x", "--user", "olivia",
                     "--out", str(pdf))


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_shows_the_posture_to_reporting_roles_only(small_graph, officer, alice):
    from portal.reports.services import posture_evaluate

    posture_evaluate()
    posture_evaluate()
    html = _client(officer).get("/dashboard/").content.decode()
    assert "Compliance posture" in html and "HIPAA Security Rule" in html
    assert html.count("class=\"sparkline\"") == 5 and html.count("class=\"status-bar\"") == 5
    assert "Compliance posture" not in _client(alice).get("/dashboard/").content.decode()
    assert 'href="/reports/"' in html and 'href="/reports/"' not in _client(alice).get("/dashboard/").content.decode()


def test_a_refused_request_goes_back_to_the_form_not_to_the_referer(small_graph, officer):
    c = _client(officer)
    r = c.post("/reports/new", {"kind": "dossier", "model": "modelVersion:none#1"},
               HTTP_REFERER="https://evil.example/phish")
    assert r.status_code == 302 and r["Location"] == "/reports/"
    r = c.post("/reports/erasure", {"subject_key": "nobody"}, HTTP_REFERER="https://evil.example/phish")
    assert r.status_code == 302 and r["Location"] == "/reports/erasure"


@pytest.mark.django_db(transaction=True)
def test_an_auditor_countersigns_on_the_page_and_the_pdf_has_a_descriptive_name(small_graph, officer, settings):
    from portal.accounts.services import user_ensure
    from portal.audit.models import AuditEntry
    from portal.reports import services

    settings.PORTAL_ORGANISATION = "Northwind Health"
    report = services.report_request(by=officer, kind="framework", framework="gdpr")
    report.refresh_from_db()
    pdf = _client(officer).get(f"/reports/{report.pk}/pdf")
    expected = f"gdpr-report-northwind-health-{report.period_start:%Y-%m-%d}-to-{report.period_end:%Y-%m-%d}.pdf"
    assert pdf["Content-Disposition"] == f'attachment; filename="{expected}"'
    assert b"Countersign" not in _client(officer).get(f"/reports/{report.pk}/").content  # officers do not
    ingrid = user_ensure(username="ingrid", role="auditor", email="ingrid@example.com", password="pw-ingrid-1",
                         first_name="Ingrid", last_name="Larsen")
    c = _client(ingrid)
    assert b"Countersign as reviewer" in c.get(f"/reports/{report.pk}/").content
    c.post(f"/reports/{report.pk}/countersign", {"password": "wrong", "reason": "reviewed"})
    assert not Report.objects.filter(pk=report.pk, countersignature__isnull=False).exists()
    assert AuditEntry.objects.filter(action="report.countersign_refused").exists()
    before = report.pdf_sha256
    r = c.post(f"/reports/{report.pk}/countersign", {"password": "pw-ingrid-1", "reason": "Reviewed G1-G12."})
    assert r.status_code == 302
    report.refresh_from_db()
    assert report.bundle["report"]["reviewed_by"]["name"] == "Ingrid Larsen" and report.pdf_sha256 != before
    from pypdf import PdfReader

    cover = PdfReader(io.BytesIO(bytes(report.pdf))).pages[0].extract_text()
    assert "Ingrid Larsen (ingrid)" in cover and "Reviewed G1-G12." in cover
    entry = AuditEntry.objects.get(action="report.countersigned", target_id=str(report.pk))
    assert json.loads(entry.payload)["reviewed_sha256"] == before
    assert "Countersigned by" in c.get(f"/reports/{report.pk}/").content.decode()
    # both the reviewed PDF and the countersigned one verify
    assert services.report_verify(content=bytes(report.pdf)).ok
    second = c.post(f"/reports/{report.pk}/countersign", {"password": "pw-ingrid-1", "reason": "again"}, follow=True)
    assert "Already countersigned by Ingrid Larsen" in second.content.decode()


def test_a_compliance_officer_may_not_countersign(small_graph, officer):
    from portal.lib.errors import DomainError
    from portal.reports import services

    report = services.report_request(by=officer, kind="framework", framework="sox", enqueue=False)
    with pytest.raises(DomainError) as err:
        services.report_countersign(report=report, by=officer, password="pw-olivia", reason="mine")
    assert err.value.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_page_shows_the_generation_steps_a_worker_went_through(small_graph, officer):
    """In eager mode the request returns when the report is done: the steps are still there to read."""
    from portal.reports import services

    report = services.report_request(by=officer, kind="framework", framework="hipaa")
    report.refresh_from_db()
    steps = [s for _, s, _ in report.steps]
    assert steps[0] == "loading the lineage in scope" and steps[-1] == "done"
    assert any(s.startswith("evaluating") for s in steps) and any("drawing the PDF" in s for s in steps)
    page = _client(officer).get(f"/reports/{report.pk}/").content.decode()
    assert "Generation steps" in page and "drawing the PDF" in page
