"""Approving evidence over the API (``POST /api/v1/documents/<id>/approve``) by an SSO officer and a local
approver."""

from __future__ import annotations

from typing import Any

import pytest

from portal.audit.models import AuditEntry
from portal.evidence.models import Document
from tests.accounts.sso import sso_sign_in
from tests.accounts.sso_api import local_api_asks_for_the_password, sso_api_signs_once
from tests.evidence.conftest import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def dpia(model, people) -> Document:
    return upload(people["requester"])


def _post(doc: Document) -> Any:
    return lambda api, fields: api.post(f"/api/v1/documents/{doc.pk}/approve",
                                        {"reason": "Read it: the DPIA is complete.", **fields}, format="json")


def _signed() -> int:
    return AuditEntry.objects.filter(action="evidence.approved").count()


def test_an_sso_officer_approves_over_the_api_with_a_fresh_sign_in_once(client, sso_idp, dpia) -> None:
    cora = sso_sign_in(client, sso_idp, "cora")
    sso_api_signs_once(client, sso_idp, cora, _post(dpia), _signed)
    assert Document.objects.get(pk=dpia.pk).approved_by == cora


def test_a_local_approver_approving_over_the_api_is_asked_for_the_password(dpia, people) -> None:
    local_api_asks_for_the_password(people["risk"], _post(dpia), _signed)
    assert not Document.objects.get(pk=dpia.pk).approved_at
