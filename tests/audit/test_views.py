"""Audit pages and the audited sign-in."""

from __future__ import annotations

import io
import zipfile

import pytest

from portal.accounts.services import user_ensure
from portal.audit.models import AuditEntry, AuditVerification

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(db):
    return user_ensure(username="ingrid", role="auditor", password="auditor-pass-1")


def test_sign_in_success_and_failure_are_recorded(client, auditor) -> None:
    r = client.post("/login/", {"username": "ingrid", "password": "wrong"})
    assert r.status_code == 200
    r = client.post("/login/", {"username": "ingrid", "password": "auditor-pass-1"})
    assert r.status_code == 302
    actions = list(AuditEntry.objects.filter(action__startswith="account.login").values_list("action", "target_id"))
    assert actions == [("account.login_failed", "ingrid"), ("account.login_succeeded", "ingrid")]


def test_the_audit_log_filters_and_shows_the_chain_status(client, auditor) -> None:
    client.force_login(auditor)
    client.post("/audit/verify")  # eager Celery in tests: runs now
    assert AuditVerification.objects.first().ok
    r = client.get("/audit/", {"action": "account."})
    assert r.status_code == 200
    assert b"verified up to entry" in r.content and b"account.user_created" in r.content
    seq = AuditEntry.objects.first().seq
    assert client.get(f"/audit/entries/{seq}").status_code == 200


def test_an_auditor_downloads_a_verifiable_export(client, auditor) -> None:
    client.force_login(auditor)
    r = client.post("/audit/export")
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "audit-export/verify.py" in names and "audit-export/entries.jsonl" in names
    assert AuditEntry.objects.filter(action="audit.exported").exists()


def test_viewers_and_anonymous_are_refused(client, alice) -> None:
    assert client.get("/audit/").status_code == 302
    client.force_login(alice)
    assert client.get("/audit/").status_code == 403
    assert client.post("/audit/export").status_code == 403
