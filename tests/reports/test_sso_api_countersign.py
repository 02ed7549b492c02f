"""Countersigning a report over the API (``POST /api/v1/reports/<id>/countersign``) by an SSO auditor and a local
one."""

from __future__ import annotations

from typing import Any

import pytest

from portal.accounts.services import user_ensure
from portal.reports.models import Report, ReportSignature
from tests.accounts.sso import sso_sign_in
from tests.accounts.sso_api import local_api_asks_for_the_password, sso_api_signs_once
from tests.reports.test_sso_countersign import report  # noqa: F401 - the finished report, a fixture

pytestmark = pytest.mark.django_db(transaction=True)  # the report is drawn after its commit, as in test_views


def _post(done: Report) -> Any:
    return lambda api, fields: api.post(f"/api/v1/reports/{done.pk}/countersign",
                                        {"reason": "Reviewed G1-G12.", **fields}, format="json")


def _signed(done: Report) -> Any:
    return lambda: ReportSignature.objects.filter(report=done).count()


def test_an_sso_auditor_countersigns_over_the_api_with_a_fresh_sign_in_once(client, sso_idp,
                                                                         report) -> None:  # noqa: F811
    ines = sso_sign_in(client, sso_idp, "ines")
    sso_api_signs_once(client, sso_idp, ines, _post(report), _signed(report))
    assert ReportSignature.objects.get(report=report).signer == ines


def test_a_local_auditor_countersigning_over_the_api_is_asked_for_the_password(report) -> None:  # noqa: F811
    ingrid = user_ensure(username="ingrid", role="auditor", email="ingrid@example.com", password="pw-ingrid-1")
    local_api_asks_for_the_password(ingrid, _post(report), _signed(report))
