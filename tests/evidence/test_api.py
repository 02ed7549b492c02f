"""Evidence API: multipart upload, visibility, content download, approval, attachments, delete."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portal.audit.models import AuditEntry
from portal.evidence.models import Document
from tests.approvals.conftest import PASSWORD
from tests.conftest import api_client
from tests.evidence.conftest import MODEL_NODE, PDF, upload

pytestmark = pytest.mark.django_db
URL = "/api/v1/documents"


def form(**kw):
    data = {"file": SimpleUploadedFile("dpia.pdf", PDF, content_type="application/pdf"), "doc_type": "dpia",
            "title": "DPIA credit scoring", "version": "2", "node_ids": [MODEL_NODE],
            "sections": ["35(7)(a)", "35(7)(b)"], "attributes": '{"residual_risk": "low"}'}
    data.update(kw)
    return data


def test_a_viewer_uploads_a_document_with_a_multipart_form(model, people) -> None:
    r = api_client(people["requester"]).post(URL, form(), format="multipart")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest() and body["size"] == len(PDF)
    assert body["nodes"] == [MODEL_NODE] and body["approved_at"] is None and body["in_effect"] is True
    assert body["sections"] == ["35(7)(a)", "35(7)(b)"] and body["attributes"] == {"residual_risk": "low"}
    assert body["author"] == "rita" and body["retention_until"]
    assert AuditEntry.objects.filter(action="evidence.uploaded", target_id=body["id"]).exists()


@pytest.mark.parametrize(("changes", "field"), [
    ({"doc_type": "selfie"}, "doc_type"),
    ({"title": ""}, "title"),
    ({"file": SimpleUploadedFile("x.html", b"<script>", content_type="text/html")}, "file"),
    ({"file": SimpleUploadedFile("x.pdf", b"MZ not a pdf", content_type="application/pdf")}, "file"),
    ({"node_ids": ["dataset:nowhere:nothing"]}, "node_ids"),
    ({"attributes": "[1, 2]"}, "attributes"),
    ({"attributes": '{"validator_team": "model-risk"}'}, "attributes.validator_team"),
    ({"doc_type": "deid_determination", "attributes": "{}"}, "attributes.method"),
    ({"doc_type": "deid_determination", "attributes": '{"method": "guess"}'}, "attributes.method"),
    ({"effective_from": "yesterday"}, "effective_from"),
    ({"supersedes": "00000000-0000-0000-0000-000000000000"}, "supersedes"),
])
def test_bad_fields_are_a_400_naming_the_field_and_nothing_is_written(model, people, changes, field) -> None:
    before = AuditEntry.objects.count()
    r = api_client(people["requester"]).post(URL, form(**changes), format="multipart")
    assert r.status_code == 400, r.content
    assert r.json()["errors"][0]["field"] == field and r.json()["detail"]
    assert not Document.objects.exists() and AuditEntry.objects.count() == before + 1  # the token issue only


def test_a_missing_file_is_named(model, people) -> None:
    data = form()
    del data["file"]
    r = api_client(people["requester"]).post(URL, data, format="multipart")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "file"


def test_the_size_limit_is_a_400_on_file(model, people, settings) -> None:
    settings.PORTAL_EVIDENCE_MAX_BYTES = 50
    r = api_client(people["requester"]).post(URL, form(), format="multipart")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "file" and not Document.objects.exists()


def test_list_filters_and_detail(model, people, release) -> None:
    dpia = upload(people["requester"])
    report = upload(people["requester"], doc_type="validation_report", content=PDF + b"r", node_ids=[],
                    release_ids=[release.pk])
    client = api_client(people["requester"])
    assert {d["id"] for d in client.get(URL).json()["results"]} == {str(dpia.pk), str(report.pk)}
    assert [d["id"] for d in client.get(URL, {"type": "dpia"}).json()["results"]] == [str(dpia.pk)]
    assert [d["id"] for d in client.get(URL, {"node": MODEL_NODE}).json()["results"]] == [str(dpia.pk)]
    assert [d["id"] for d in client.get(URL, {"release": release.pk}).json()["results"]] == [str(report.pk)]
    assert client.get(URL, {"type": "selfie"}).json()["errors"][0]["field"] == "type"
    detail = client.get(f"{URL}/{report.pk}").json()
    assert detail["releases"] == [release.pk] and detail["doc_type_label"] == "Independent validation report"


def test_the_content_is_an_attachment_with_its_hash(model, people) -> None:
    doc = upload(people["requester"], file_name='evil"name.pdf')
    r = api_client(people["requester"]).get(f"{URL}/{doc.pk}/content")
    assert r.status_code == 200 and r.content == PDF
    assert r["Content-Type"] == "application/pdf" and r["X-Content-Type-Options"] == "nosniff"
    assert r["Content-Disposition"].startswith("attachment;") and r["X-Content-SHA256"] == doc.sha256
    assert r["Repr-Digest"].startswith("sha-256=:")


def test_charlie_gets_404_on_a_credit_risk_document(model, people, charlie_client, credit_owned) -> None:
    doc = upload(people["requester"])
    assert charlie_client.get(URL).json()["results"] == []
    for path in ("", "/content"):
        assert charlie_client.get(f"{URL}/{doc.pk}{path}").status_code == 404
    assert charlie_client.post(f"{URL}/{doc.pk}/approve", {"password": "x", "reason": "x"},
                               format="json").status_code == 404
    assert charlie_client.delete(f"{URL}/{doc.pk}", {"reason": "x"}, format="json").status_code == 404


def test_auditors_and_compliance_officers_see_every_document(model, people, credit_owned, dpo) -> None:
    from portal.accounts.services import user_ensure

    doc = upload(people["requester"])
    for user in (dpo, user_ensure(username="ivy", role="auditor")):
        assert api_client(user).get(f"{URL}/{doc.pk}").status_code == 200


def test_anonymous_is_401(model, people, client) -> None:
    doc = upload(people["requester"])
    from rest_framework.test import APIClient

    anon = APIClient()
    assert anon.get(URL).status_code == 401
    assert anon.get(f"{URL}/{doc.pk}/content").status_code == 401
    assert anon.post(URL, form(), format="multipart").status_code == 401


def test_ingestors_may_not_read_or_upload(model, people, ingest_client) -> None:
    assert ingest_client.get(URL).status_code == 403
    assert ingest_client.post(URL, form(), format="multipart").status_code == 403


def test_a_viewer_cannot_approve_and_an_approver_can(model, people) -> None:
    doc = upload(people["requester"])
    r = api_client(people["requester"]).post(f"{URL}/{doc.pk}/approve", {"password": PASSWORD, "reason": "x"},
                                             format="json")
    assert r.status_code == 403
    mo = api_client(people["risk"])
    r = mo.post(f"{URL}/{doc.pk}/approve", {"password": "nope", "reason": "x"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "password"
    r = mo.post(f"{URL}/{doc.pk}/approve", {"password": PASSWORD, "reason": "complete"}, format="json")
    assert r.status_code == 200 and r.json()["approved_by"] == "mo" and r.json()["approval_reason"] == "complete"


def test_the_author_gets_403_approving_their_own_document(model, people) -> None:
    doc = upload(people["risk"])
    r = api_client(people["risk"]).post(f"{URL}/{doc.pk}/approve", {"password": PASSWORD, "reason": "x"},
                                        format="json")
    assert r.status_code == 403 and "someone else" in r.json()["detail"]


def test_attach_and_detach_over_the_api(model, people, release) -> None:
    doc = upload(people["requester"], node_ids=[])
    client = api_client(people["requester"])
    r = client.post(f"{URL}/{doc.pk}/attachments", {"node_ids": [MODEL_NODE], "release_ids": [release.pk]},
                    format="json")
    assert r.status_code == 200 and r.json()["nodes"] == [MODEL_NODE] and r.json()["releases"] == [release.pk]
    r = client.post(f"{URL}/{doc.pk}/attachments", {"action": "detach", "release_ids": [release.pk]}, format="json")
    assert r.status_code == 200 and r.json()["releases"] == []
    r = client.post(f"{URL}/{doc.pk}/attachments", {"node_ids": ["nope"]}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "node_ids"


def test_delete_under_the_retention_lock_is_409(model, people, dpo) -> None:
    doc = upload(people["requester"])
    r = api_client(dpo).delete(f"{URL}/{doc.pk}", {"reason": "duplicate"}, format="json")
    assert r.status_code == 409 and "retention lock until" in r.json()["detail"]
    assert api_client(people["requester"]).delete(f"{URL}/{doc.pk}", {"reason": "x"},
                                                  format="json").status_code == 403
    assert api_client(dpo).delete(f"{URL}/{doc.pk}", {}, format="json").json()["errors"][0]["field"] == "reason"
    assert Document.objects.filter(pk=doc.pk).exists()


def test_the_schema_shows_the_multipart_upload(people) -> None:
    schema = api_client(people["requester"]).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = schema.json()["paths"]
    assert "multipart/form-data" in paths["/api/v1/documents"]["post"]["requestBody"]["content"]
    assert {"/api/v1/documents/{id}", "/api/v1/documents/{id}/content", "/api/v1/documents/{id}/approve",
            "/api/v1/documents/{id}/attachments"} <= set(paths)


def test_listing_costs_the_same_queries_for_many_documents(model, people, release,
                                                           django_assert_max_num_queries) -> None:
    for i in range(8):
        upload(people["requester"], content=PDF + str(i).encode(), release_ids=[release.pk])
    client = api_client(people["requester"])
    with django_assert_max_num_queries(12):
        assert len(client.get(URL).json()["results"]) == 8


def test_a_viewer_cannot_lock_a_document_until_9999(model, people, dpo) -> None:
    r = api_client(people["requester"]).post(URL, form(retention_until="9999-12-31"), format="multipart")
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "retention_until"
    r = api_client(dpo).post(URL, form(retention_until="9999-12-31"), format="multipart")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "retention_until"
    assert not Document.objects.exists()
