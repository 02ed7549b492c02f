"""Evidence pages: status codes and effects, lightly; user data escaped."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portal.approvals import services as approvals
from portal.evidence.models import Document
from tests.approvals.conftest import PASSWORD
from tests.evidence.conftest import MODEL_NODE, PDF, upload

pytestmark = pytest.mark.django_db
HOSTILE = '<script>alert("x")</script>'


def test_pages_render_a_hostile_title_escaped(client, model, people, release) -> None:
    doc = upload(people["requester"], title=HOSTILE, description=HOSTILE, attributes={"notes": HOSTILE},
                 release_ids=[release.pk], sections=[HOSTILE])
    client.force_login(people["requester"])
    for url in ("/evidence/", f"/evidence/{doc.pk}", f"/lineage/node/{quote(MODEL_NODE)}",
                f"/approvals/releases/{release.pk}"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert HOSTILE.encode() not in r.content, url
        assert b"&lt;script&gt;" in r.content, url
    assert b"style=" not in client.get(f"/evidence/{doc.pk}").content


def test_the_list_filters_by_type_and_node(client, model, people) -> None:
    upload(people["requester"], title="The DPIA")
    upload(people["requester"], title="The register", doc_type="risk_register", content=PDF + b"r", node_ids=[])
    client.force_login(people["requester"])
    r = client.get("/evidence/", {"type": "dpia"})
    assert b"The DPIA" in r.content and b"The register" not in r.content
    r = client.get("/evidence/", {"node": MODEL_NODE})
    assert b"The DPIA" in r.content and b"The register" not in r.content


def test_upload_form_then_approve_form(client, model, people) -> None:
    client.force_login(people["requester"])
    assert client.get("/evidence/upload", {"node": MODEL_NODE}).status_code == 200
    r = client.post("/evidence/upload", {
        "file": SimpleUploadedFile("plan.md", b"# Monitoring plan\n", content_type="application/octet-stream"),
        "doc_type": "monitoring_plan", "title": "Monitoring plan", "version": "1", "node_ids": MODEL_NODE,
        "sections": "drift, fairness", "attributes": '{"cadence": "weekly", "thresholds": {"psi": 0.2}}'})
    doc = Document.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/evidence/{doc.pk}"
    assert doc.content_type == "text/markdown" and doc.sections == ["drift", "fairness"]
    client.force_login(people["risk"])
    page = client.get(f"/evidence/{doc.pk}")
    assert b"Approve" in page.content
    r = client.post(f"/evidence/{doc.pk}/approve", {"password": "wrong", "reason": "ok"}, follow=True)
    assert b"password is wrong" in r.content
    client.post(f"/evidence/{doc.pk}/approve", {"password": PASSWORD, "reason": "ok"})
    doc.refresh_from_db()
    assert doc.approved_by == people["risk"]
    r = client.get(f"/evidence/{doc.pk}/content")
    assert r.status_code == 200 and r.content == b"# Monitoring plan\n" and r["X-Content-SHA256"] == doc.sha256


def test_the_upload_form_names_a_bad_field(client, model, people) -> None:
    client.force_login(people["requester"])
    r = client.post("/evidence/upload", {
        "file": SimpleUploadedFile("x.exe", b"MZ\x90", content_type="application/x-msdownload"),
        "doc_type": "dpia", "title": "t", "version": "1", "node_ids": MODEL_NODE})
    assert r.status_code == 200 and b"are not accepted" in r.content and not Document.objects.exists()


def test_the_release_page_names_the_missing_evidence(client, model, people, policy) -> None:
    approvals.policy_create(by=people["admin"], environment="production", reason="GDPR art. 35",
                            groups=[("model-risk", 1)], required_evidence=["dpia", "validation_report"])
    release = approvals.release_request(by=people["requester"], model="credit", version="7",
                                        environment="production", justification="refresh")
    client.force_login(people["requester"])
    assert b"missing evidence: dpia, validation_report" in client.get(f"/approvals/releases/{release.pk}").content


def test_the_retention_lock_shows_instead_of_the_delete_form(client, model, people, dpo) -> None:
    doc = upload(people["requester"])
    client.force_login(dpo)
    assert b"Under a retention lock" in client.get(f"/evidence/{doc.pk}").content
    client.post(f"/evidence/{doc.pk}/delete", {"reason": "x"})
    assert Document.objects.filter(pk=doc.pk).exists()


def test_charlie_gets_404_on_a_credit_risk_document(client, model, people, charlie, credit_owned) -> None:
    doc = upload(people["requester"], title="Credit DPIA")
    client.force_login(charlie)
    assert b"Credit DPIA" not in client.get("/evidence/").content
    for url in (f"/evidence/{doc.pk}", f"/evidence/{doc.pk}/content"):
        assert client.get(url).status_code == 404
    assert client.post(f"/evidence/{doc.pk}/approve", {"password": "x", "reason": "x"}).status_code == 404
    assert client.post(f"/evidence/{doc.pk}/attachments", {"node_id": MODEL_NODE,
                                                           "action": "detach"}).status_code == 404
    assert Document.objects.get(pk=doc.pk).nodes.count() == 1


def test_deeply_nested_json_in_the_upload_form_or_file_is_a_form_error_not_a_crash(client, model, people) -> None:
    client.force_login(people["requester"])
    deep = "[" * 100_000 + "]" * 100_000
    base = {"doc_type": "monitoring_plan", "title": "Monitoring plan", "version": "1", "node_ids": MODEL_NODE}
    r = client.post("/evidence/upload", {**base, "attributes": deep,
                                         "file": SimpleUploadedFile("plan.md", b"# Plan\n")})
    assert r.status_code == 200 and b"nested deeper than" in r.content
    file = SimpleUploadedFile("plan.json", deep.encode(), content_type="application/json")
    r = client.post("/evidence/upload", {**base, "file": file})
    assert r.status_code == 200 and not Document.objects.exists()
