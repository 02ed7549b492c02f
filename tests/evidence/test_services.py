"""Upload (hash, limits, types, retention, visibility), approval, attachments, supersede, delete and the lock."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date, timedelta

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from portal.audit.models import AuditEntry
from portal.evidence import services
from portal.evidence.models import Document
from portal.lib.errors import FieldError
from tests.approvals.conftest import PASSWORD
from tests.evidence.conftest import MODEL_NODE, PDF, approve, upload

pytestmark = pytest.mark.django_db


def payload(action: str) -> dict:
    return json.loads(AuditEntry.objects.get(action=action).payload)


def test_it_stores_the_sha256_size_and_the_audit_entry(model, people) -> None:
    doc = upload(people["requester"])
    assert doc.sha256 == hashlib.sha256(PDF).hexdigest() and doc.size == len(PDF)
    assert bytes(Document.objects.get(pk=doc.pk).content) == PDF
    assert list(doc.nodes.values_list("node_id", flat=True)) == [MODEL_NODE]
    entry = payload("evidence.uploaded")
    assert entry["sha256"] == doc.sha256 and entry["type"] == "dpia" and entry["nodes"] == [MODEL_NODE]


def test_it_refuses_files_over_the_limit_and_empty_files(model, people, settings) -> None:
    settings.PORTAL_EVIDENCE_MAX_BYTES = 100
    with pytest.raises(FieldError, match="limit is 100 bytes") as err:
        upload(people["requester"], content=PDF + b"x" * 100)
    assert err.value.field == "file"
    with pytest.raises(FieldError, match="empty"):
        upload(people["requester"], content=b"")
    assert not Document.objects.exists()


@pytest.mark.parametrize(("name", "declared", "content"), [
    ("report.pdf", "application/pdf", b"MZ\x90\x00 not a pdf"),
    ("notes.txt", "text/plain", b"\xff\xfe\x00binary"),
    ("tool.exe", "application/x-msdownload", b"MZ\x90\x00"),
    ("page.html", "text/html", b"<script>alert(1)</script>"),
    ("data.json", "application/json", b"{not json"),
    ("doc.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04junk"),
])
def test_it_refuses_types_off_the_list_and_content_that_does_not_match(model, people, name, declared,
                                                                        content) -> None:
    with pytest.raises(FieldError) as err:
        upload(people["requester"], file_name=name, content_type=declared, content=content)
    assert err.value.field == "file"


def test_it_accepts_the_listed_types_and_reads_generic_ones_by_extension(model, people) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    cases = [("register.xlsx", "application/octet-stream", buf.getvalue(), services.XLSX),
             ("plan.md", "", b"# Monitoring plan\nPSI weekly\n", "text/markdown"),
             ("risks.csv", "application/vnd.ms-excel", b"id,risk\n1,drift\n", "text/csv"),
             ("facts.json", "application/json; charset=utf-8", b'{"auc": 0.81}', "application/json"),
             ("chart.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "image/png")]
    for name, declared, content, stored in cases:
        doc = upload(people["requester"], file_name=name, content_type=declared, content=content)
        assert doc.content_type == stored


def test_file_names_lose_their_paths_and_control_characters(model, people) -> None:
    doc = upload(people["requester"], file_name="..\\..\\C:/tmp/evil\r\nname.pdf")
    assert doc.filename == "evilname.pdf"


def test_retention_defaults_by_type_and_a_given_date_only_lengthens_it(model, people) -> None:
    today = timezone.now().date()
    hipaa = upload(people["requester"], doc_type="risk_analysis")
    assert hipaa.retention_until == today.replace(year=today.year + 6)
    annex = upload(people["requester"], doc_type="annex_iv", content=PDF + b"1")
    assert annex.retention_until == today.replace(year=today.year + 10)
    short = upload(people["requester"], retention_until=date(2027, 1, 1), content=PDF + b"2")
    assert short.retention_until == today.replace(year=today.year + 6)
    long = upload(people["admin"], retention_until=date(today.year + 20, 1, 1), content=PDF + b"3")
    assert long.retention_until == date(today.year + 20, 1, 1)


def test_only_compliance_officers_and_admins_may_lengthen_the_retention_lock(model, people, dpo) -> None:
    today = timezone.now().date()
    with pytest.raises(services.NotAllowed, match="compliance officers and admins") as err:
        upload(people["requester"], retention_until=date(today.year + 20, 1, 1))
    assert err.value.field == "retention_until" and not Document.objects.exists()
    doc = upload(dpo, retention_until=date(today.year + 20, 1, 1))
    assert doc.retention_until == date(today.year + 20, 1, 1)


def test_no_one_may_lock_a_document_beyond_its_types_maximum_retention(model, people, dpo, settings) -> None:
    settings.PORTAL_EVIDENCE_RETENTION_MAX_YEARS = {**settings.PORTAL_EVIDENCE_RETENTION_MAX_YEARS, "dpia": 12}
    today = timezone.now().date()
    for who in (dpo, people["admin"]):
        with pytest.raises(FieldError, match="at most 12 years") as err:
            upload(who, retention_until=date(9999, 12, 31))
        assert err.value.field == "retention_until"
    assert upload(dpo, retention_until=today.replace(year=today.year + 12)).retention_until.year == today.year + 12
    assert not Document.objects.filter(retention_until__year=9999).exists()


def test_an_upload_over_the_users_quota_is_refused_and_others_are_not_affected(model, people, dpo,
                                                                               settings) -> None:
    settings.PORTAL_EVIDENCE_QUOTA_BYTES = 2 * len(PDF) + 5
    upload(people["requester"], content=PDF + b"1")
    upload(people["requester"], content=PDF + b"2")
    with pytest.raises(services.QuotaExceeded, match="quota") as err:
        upload(people["requester"], content=PDF + b"3")
    assert err.value.status_code == 413 and err.value.field == "file"
    assert Document.objects.filter(author=people["requester"]).count() == 2
    upload(dpo, content=PDF + b"4")


def test_it_refuses_nodes_the_uploader_cannot_see(model, charlie, credit_owned) -> None:
    charlie.set_password(PASSWORD)
    with pytest.raises(FieldError, match="No node") as err:
        upload(charlie)
    assert err.value.field == "node_ids" and not Document.objects.exists()


def test_service_accounts_and_auditors_may_not_upload(model, ingestor) -> None:
    with pytest.raises(services.NotAllowed):
        upload(ingestor)
    from portal.accounts.services import user_ensure

    with pytest.raises(services.NotAllowed):
        upload(user_ensure(username="ivy", role="auditor"))


def test_bad_fields_are_named(model, people) -> None:
    rita = people["requester"]
    for kw, field in [({"doc_type": "selfie"}, "doc_type"), ({"title": "  "}, "title"),
                      ({"effective_until": timezone.now() - timedelta(days=2)}, "effective_until"),
                      ({"release_ids": [999999]}, "release_ids"), ({"attributes": ["x"]}, "attributes")]:
        with pytest.raises(FieldError) as err:
            upload(rita, **kw)
        assert err.value.field == field
    assert not Document.objects.exists()


def test_the_author_cannot_approve_their_own_document(model, people) -> None:
    doc = upload(people["risk"])
    with pytest.raises(services.NotAllowed, match="someone else"):
        approve(doc, people["risk"])
    doc.refresh_from_db()
    assert doc.approved_at is None


def test_a_viewer_cannot_approve(model, people) -> None:
    doc = upload(people["risk"])
    with pytest.raises(services.NotAllowed):
        approve(doc, people["requester"])


def test_a_wrong_password_approves_nothing_and_is_recorded(model, people) -> None:
    doc = upload(people["requester"])
    with pytest.raises(services.EvidenceError) as err:
        approve(doc, people["risk"], password="guess")
    assert err.value.field == "password"
    doc.refresh_from_db()
    assert doc.approved_at is None
    assert AuditEntry.objects.filter(action="evidence.approval_refused", actor_id=people["risk"].pk,
                                     target_id=str(doc.pk)).exists()


def test_approval_records_who_when_and_why_once(model, people) -> None:
    doc = approve(upload(people["requester"]), people["risk"], reason="DPIA complete")
    assert doc.approved_by == people["risk"] and doc.approved_at and doc.approval_reason == "DPIA complete"
    assert Document.objects.approved().in_effect().filter(doc_type="dpia", nodes__node_id=MODEL_NODE).exists()
    assert payload("evidence.approved")["sha256"] == doc.sha256
    with pytest.raises(services.EvidenceError, match="already approved"):
        approve(doc, people["compliance"])


def test_superseding_ends_the_old_documents_effective_period(model, people) -> None:
    start = timezone.now() - timedelta(days=30)
    old = approve(upload(people["requester"], effective_from=start), people["risk"])
    new_from = timezone.now() - timedelta(days=1)
    new = upload(people["requester"], version="2", content=PDF + b"v2", supersedes=old, effective_from=new_from)
    old.refresh_from_db()
    assert new.supersedes == old and old.effective_until == new_from
    assert not Document.objects.in_effect().filter(pk=old.pk).exists()
    assert Document.objects.in_effect(start + timedelta(days=1)).filter(pk=old.pk).exists()
    assert AuditEntry.objects.filter(action="evidence.superseded", target_id=str(old.pk)).exists()
    with pytest.raises(FieldError, match="already superseded"):
        upload(people["requester"], version="3", content=PDF + b"v3", supersedes=old)
    with pytest.raises(FieldError, match="cannot supersede"):
        upload(people["requester"], doc_type="risk_register", content=PDF + b"x", supersedes=new)


def test_attach_and_detach_are_audited_and_the_document_stays(model, people, release) -> None:
    doc = upload(people["requester"], node_ids=[])
    services.document_attach(document=doc, by=people["requester"], release_ids=[release.pk],
                             node_ids=[MODEL_NODE])
    assert list(doc.releases.all()) == [release] and doc.nodes.count() == 1
    services.document_detach(document=doc, by=people["requester"], node_ids=[MODEL_NODE])
    assert doc.nodes.count() == 0 and Document.objects.filter(pk=doc.pk).exists()
    actions = list(AuditEntry.objects.filter(target_id=str(doc.pk)).values_list("action", flat=True))
    assert actions == ["evidence.uploaded", "evidence.attached", "evidence.detached"]


def test_another_viewer_may_not_move_someone_elses_document(model, people) -> None:
    from portal.accounts.services import user_ensure

    other = user_ensure(username="vic", role="viewer", team="credit-risk")
    doc = upload(people["requester"])
    with pytest.raises(services.NotAllowed):
        services.document_detach(document=doc, by=other, node_ids=[MODEL_NODE])


def test_the_retention_lock_refuses_delete(model, people, dpo) -> None:
    doc = upload(people["requester"])
    with pytest.raises(services.RetentionLocked, match="retention lock until") as err:
        services.document_delete(document=doc, by=dpo, reason="duplicate")
    assert err.value.status_code == 409 and Document.objects.filter(pk=doc.pk).exists()
    with pytest.raises(services.NotAllowed):
        services.document_delete(document=doc, by=people["requester"], reason="mine")


def test_delete_after_the_lock_is_audited(model, people, dpo) -> None:
    doc = upload(people["requester"])
    # Only maintenance may shorten a lock; here time passing is what we simulate.
    from django.db import connection

    from portal.audit.db import maintenance

    with maintenance(connection):
        Document.objects.filter(pk=doc.pk).update(retention_until=date(2000, 1, 1))
    services.document_delete(document=doc, by=dpo, reason="retention period over")
    assert not Document.objects.filter(pk=doc.pk).exists()
    entry = payload("evidence.deleted")
    assert entry["sha256"] == doc.sha256 and entry["reason"] == "retention period over"


def test_the_database_refuses_early_deletes_and_file_changes(model, people) -> None:
    doc = upload(people["requester"])
    with pytest.raises(DatabaseError), transaction.atomic():
        Document.objects.filter(pk=doc.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        Document.objects.filter(pk=doc.pk).update(content=b"%PDF-forged", sha256="0" * 64)
    with pytest.raises(DatabaseError), transaction.atomic():
        Document.objects.filter(pk=doc.pk).update(retention_until=date(2000, 1, 1))
    Document.objects.filter(pk=doc.pk).update(retention_until=date(2099, 1, 1), title="renamed")
    assert Document.objects.get(pk=doc.pk).sha256 == doc.sha256
