"""Break-glass by an admin who signs in through the identity provider: signed by signing in again there."""

from __future__ import annotations

import json

import pytest

from portal.approvals.models import Release
from portal.audit.models import AuditEntry
from tests.accounts.sso import REFUSED, sso_refused, sso_sign, sso_sign_in

pytestmark = pytest.mark.django_db


def _break_glass(client, release):
    return lambda: client.post(f"/approvals/releases/{release.pk}/sign",
                               {"action": "break-glass", "reason": "outage, scores wrong"})


def test_an_sso_admin_breaks_glass_after_signing_in_again(client, sso_idp, release) -> None:
    sso_sign_in(client, sso_idp, "sam")
    form = client.get(f"/approvals/releases/{release.pk}").content.decode().split('id="bg-reason"')[1]
    assert 'name="password"' not in form.split("</form>")[0]
    r = sso_sign(client, sso_idp, _break_glass(client, release))
    assert r.status_code == 200 and "Authorised an emergency deploy" in r.content.decode()
    assert sso_idp.requests[-1]["prompt"] == "login"
    release.refresh_from_db()
    assert release.break_glass and release.state == Release.State.APPROVED
    entry = json.loads(AuditEntry.objects.get(action="approval.break_glass").payload)
    assert entry["auth_methods"][0] == "sso" and entry["reauthentication"]["subject"]


@pytest.mark.parametrize("scenario", REFUSED)
def test_break_glass_is_refused_without_a_fresh_sign_in_of_the_admin(client, sso_idp, release, scenario) -> None:
    sso_refused(client, sso_idp, signer="sam", post=_break_glass(client, release), scenario=scenario,
                signed=AuditEntry.objects.filter(action="approval.break_glass").count)


def test_a_local_admin_still_breaks_glass_with_the_password(client, release, people) -> None:
    from tests.approvals.conftest import PASSWORD

    client.force_login(people["admin"])
    r = client.post(f"/approvals/releases/{release.pk}/sign", {"action": "break-glass", "reason": "outage",
                                                               "password": "wrong"})
    assert "password is wrong" in r.content.decode()
    client.post(f"/approvals/releases/{release.pk}/sign", {"action": "break-glass", "reason": "outage",
                                                           "password": PASSWORD})
    assert Release.objects.get(pk=release.pk).break_glass
