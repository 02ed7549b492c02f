"""Approving evidence as a compliance officer who signs in through the identity provider; a local approver still
uses the password and, where configured, the authenticator's code."""

from __future__ import annotations

import json
import time

import pytest

from portal.audit.models import AuditEntry
from portal.evidence.models import Document
from tests.accounts.sso import REFUSED, sso_refused, sso_sign, sso_sign_in, sso_signed_entry
from tests.accounts.test_mfa import enrol
from tests.approvals.conftest import PASSWORD
from tests.evidence.conftest import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def doc(model, people) -> Document:
    return upload(people["requester"])


def _approve(client, doc):
    return lambda: client.post(f"/evidence/{doc.pk}/approve", {"reason": "Read it: the DPIA is complete."})


def test_an_sso_officer_approves_after_signing_in_again(client, sso_idp, doc) -> None:
    sso_sign_in(client, sso_idp, "cora")
    page = client.get(f"/evidence/{doc.pk}").content.decode()
    assert 'name="password"' not in page and "sign in again at Northwind sign-in" in page
    r = sso_sign(client, sso_idp, _approve(client, doc))
    assert "Approved." in r.content.decode()
    doc.refresh_from_db()
    assert doc.approved_by.username == "cora"
    sso_signed_entry("evidence.approved")


@pytest.mark.parametrize("scenario", REFUSED)
def test_approving_is_refused_without_a_fresh_sign_in(client, sso_idp, doc, scenario) -> None:
    sso_refused(client, sso_idp, signer="cora", post=_approve(client, doc), scenario=scenario,
                signed=AuditEntry.objects.filter(action="evidence.approved").count)


def test_a_local_approver_still_approves_with_the_password_and_code(client, doc, people, settings) -> None:
    from portal.accounts import totp

    risk = people["risk"]
    secret, _ = enrol(client, risk)
    client.force_login(risk)
    r = client.post(f"/evidence/{doc.pk}/approve", {"password": PASSWORD, "reason": "ok", "otp": "000000"},
                    follow=True)
    assert "code is wrong" in r.content.decode() and not Document.objects.get(pk=doc.pk).approved_at
    client.post(f"/evidence/{doc.pk}/approve", {"password": PASSWORD, "reason": "ok",
                                                "otp": totp.totp(secret, time.time())})
    doc.refresh_from_db()
    assert doc.approved_by == risk
    entry = json.loads(AuditEntry.objects.get(action="evidence.approved").payload)
    assert entry["auth_methods"] == ["pwd", "otp"] and "reauthentication" not in entry
