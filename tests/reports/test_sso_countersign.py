"""Countersigning a report as an auditor who signs in through the identity provider."""

from __future__ import annotations

import pytest

from portal.reports import services
from portal.reports.models import Report, ReportSignature
from tests.accounts.sso import REFUSED, sso_refused, sso_sign, sso_sign_in, sso_signed_entry

pytestmark = pytest.mark.django_db(transaction=True)  # the report is drawn after its commit, as in test_views


@pytest.fixture
def report(small_graph, officer) -> Report:
    report = services.report_request(by=officer, kind="framework", framework="gdpr")
    report.refresh_from_db()
    assert report.state == Report.State.DONE
    return report


def _countersign(client, report):
    return lambda: client.post(f"/reports/{report.pk}/countersign", {"reason": "Reviewed G1-G12."})


def test_an_sso_auditor_countersigns_after_signing_in_again(client, sso_idp, report) -> None:
    sso_sign_in(client, sso_idp, "ines")
    page = client.get(f"/reports/{report.pk}/").content.decode()
    assert "Countersign as reviewer" in page and 'name="password"' not in page
    r = sso_sign(client, sso_idp, _countersign(client, report))
    assert "Countersigned" in r.content.decode()
    report.refresh_from_db()
    assert report.bundle["report"]["reviewed_by"]["username"] == "ines"
    sso_signed_entry("report.countersigned")


@pytest.mark.parametrize("scenario", REFUSED)
def test_countersigning_is_refused_without_a_fresh_sign_in(client, sso_idp, report, scenario) -> None:
    sso_refused(client, sso_idp, signer="ines", post=_countersign(client, report), scenario=scenario,
                signed=ReportSignature.objects.filter(report=report).count)


def test_a_local_auditor_still_countersigns_with_the_password(client, report) -> None:
    from portal.accounts.services import user_ensure

    ingrid = user_ensure(username="ingrid", role="auditor", email="ingrid@example.com", password="pw-ingrid-1")
    client.force_login(ingrid)
    client.post(f"/reports/{report.pk}/countersign", {"password": "wrong", "reason": "reviewed"})
    assert not ReportSignature.objects.filter(report=report).exists()
    client.post(f"/reports/{report.pk}/countersign", {"password": "pw-ingrid-1", "reason": "reviewed"})
    assert ReportSignature.objects.filter(report=report, signer=ingrid).exists()
