"""An SSO user (no portal password) signs a release by signing in again at the identity provider: a real
OpenID Connect provider (pyop) on 127.0.0.1, asked with ``prompt=login`` and ``max_age=0``; the answer counts only
for the same person (``sub``) freshly authenticated (``auth_time``), and is recorded with the signature."""

from __future__ import annotations

import json
import time

import pytest

from portal.accounts import oidc
from portal.accounts.reauth import ReauthRefused, reauth_record
from portal.approvals import services
from portal.approvals.models import Release, Signature
from portal.audit.models import AuditEntry
from tests.accounts.sso import sso_sign, sso_sign_in
from tests.conftest import api_client, need_service

try:
    from tests.accounts.oidc_provider import oidc_provider, portal_using, provider_round_trip
except ImportError as exc:  # pyop is in the dev extra
    oidc_provider = portal_using = provider_round_trip = None
    PROVIDER_MISSING = str(exc)

pytestmark = pytest.mark.django_db
CALLBACK = "http://testserver/login/sso/callback"
USERS = {
    "sara": {"preferred_username": "sara", "email": "sara@example.org", "given_name": "Sara", "family_name": "Lind",
             "groups": ["portal-approvers", "grp-model-risk"]},
    "omar": {"preferred_username": "omar", "email": "omar@example.org", "groups": ["portal-approvers",
                                                                                  "grp-model-risk"]},
}


@pytest.fixture
def idp(settings, tmp_path):
    if oidc_provider is None:
        need_service("pyop", f"the test OpenID provider needs pyop (pip install -e '.[dev]'): {PROVIDER_MISSING}")
    settings.PORTAL_OIDC_LABEL = "Northwind sign-in"
    with oidc_provider(CALLBACK, USERS, tmp_path) as op, portal_using(
            settings, op, role_map="portal-approvers=approver", team_map="grp-model-risk=model-risk"):
        op.login_as = "sara"
        yield op


@pytest.fixture
def sara(client, idp, release):
    """Sara signed in through SSO (an approver of model-risk, no portal password)."""
    return sso_sign_in(client, idp, "sara")


def _sign(client, release, op, **form):
    data = {"action": "approve", "meaning": "approval", "reason": "Back-test within limits",
            "subject_digest": release.subject_digest, **form}
    return sso_sign(client, op, lambda: client.post(f"/approvals/releases/{release.pk}/sign", data))


def test_the_release_page_asks_an_sso_user_to_sign_at_the_provider_not_for_a_password(client, sara,
                                                                                      release) -> None:
    html = client.get(f"/approvals/releases/{release.pk}").content.decode()
    form = html.split('id="sign-form"')[1].split("</form>")[0]
    assert 'name="password"' not in form and "Sign at Northwind sign-in" in form


def test_an_sso_user_signs_after_signing_in_again_at_the_provider(client, sara, idp, release) -> None:
    r = _sign(client, release, idp)
    assert r.status_code == 200 and "Signed release" in r.content.decode()
    asked = idp.requests[-1]
    assert asked["prompt"] == "login" and asked["max_age"] == "0"
    sig = Signature.objects.get(release=release, signer=sara)
    assert sig.auth_methods[0] == "sso" and sig.meaning == "approval"
    entry = AuditEntry.objects.get(action="approval.signed", target_id=str(release.pk))
    evidence = json.loads(entry.payload)["reauthentication"]
    assert evidence["method"] == "oidc_reauth" and evidence["issuer"] == idp.issuer
    assert evidence["subject"] == sara.external_identities.get().subject
    assert abs(evidence["auth_time"] - time.time()) < 120 and evidence["auth_time"] >= evidence["started"] - 60


def test_a_provider_that_does_not_ask_again_signs_nothing(client, sara, idp, release) -> None:
    idp.auth_time = int(time.time()) - 3600  # it answered from its own session of an hour ago
    r = _sign(client, release, idp)
    html = r.content.decode()
    assert "did not ask you to sign in again" in html and "nothing was signed" in html
    assert not Signature.objects.filter(release=release).exists()
    assert AuditEntry.objects.filter(action="account.sso_refused").exists()


def test_another_person_signing_in_at_the_provider_signs_nothing(client, sara, idp, release) -> None:
    idp.login_as = "omar"  # someone else at the keyboard of the provider's page
    r = _sign(client, release, idp)
    assert "signed in another person" in r.content.decode()
    assert not Signature.objects.filter(release=release).exists()


def test_the_evidence_counts_once_and_only_for_the_release_it_was_asked_for(client, sara, idp, release) -> None:
    _sign(client, release, idp)
    r = client.get("/login/sso/reauth/continue", follow=True)  # the continue page again: the id was handed once
    assert "not signed in again" in r.content.decode()
    assert Signature.objects.filter(release=release).count() == 1


def test_the_service_refuses_stale_or_foreign_evidence(sara, idp, release, people) -> None:
    link = sara.external_identities.get()
    fresh = {"method": "oidc_reauth", "issuer": link.issuer, "subject": link.subject, "auth_time": time.time(),
             "amr": [], "second_factor": False}
    stale = reauth_record(user=sara, evidence={**fresh, "auth_time": time.time() - oidc.REAUTH_MAX_AGE - 5})
    with pytest.raises(ReauthRefused, match="too old"):
        services.release_sign(release=release, by=sara, password="", meaning="approval", reason="ok",
                              reviewed_digest=release.subject_digest, reauth=stale.token)
    with pytest.raises(ReauthRefused, match="not yours"):
        services.release_sign(release=release, by=people["risk"], password="", meaning="approval", reason="ok",
                              reviewed_digest=release.subject_digest,
                              reauth=reauth_record(user=sara, evidence=fresh).token)
    assert AuditEntry.objects.filter(action="approval.signature_refused").count() == 2
    assert Release.objects.get(pk=release.pk).signatures.count() == 0


def _api_approve(api, release, **body):
    return api.post(f"/api/v1/releases/{release.pk}/approve", {"reason": "Back-test within limits",
                                                               "subject_digest": release.subject_digest, **body},
                    format="json")


def _result_id(client, idp) -> str:
    """Open the refusal's reauth_url in the browser (signed in through SSO): the provider, then the page that
    shows the one-time result id."""
    r = client.get(provider_round_trip(client.get("/login/sso/reauth"), idp))
    page = client.get(r["Location"]).content.decode()
    return page.split('id="reauth-token">')[1].split("<")[0]


def test_the_api_tells_an_sso_user_where_to_sign_in_again_and_takes_the_result_once(client, sara, idp,
                                                                                   release) -> None:
    api = api_client(sara)
    r = _api_approve(api, release, password="anything")
    body = r.json()
    assert r.status_code == 403 and body["reauth_url"] == "/login/sso/reauth" and body["reauth_field"] == "reauth"
    assert "sign in again" in body["detail"] and body["errors"][0]["field"] == "reauth"
    result = _result_id(client, idp)
    assert idp.requests[-1]["prompt"] == "login"
    r = _api_approve(api, release, reauth=result)
    assert r.status_code == 200, r.json()
    assert Signature.objects.get(release=release, signer=sara).auth_methods[0] == "sso"
    r = _api_approve(api, release, reauth=result)
    assert r.status_code == 403 and "already used" in r.json()["detail"]


@pytest.mark.parametrize("scenario", ["stale", "another_person"])
def test_the_api_gets_no_result_id_from_a_stale_or_foreign_sign_in(client, sara, idp, release, scenario) -> None:
    if scenario == "stale":
        idp.auth_time = int(time.time()) - 3600
    else:
        idp.login_as = "omar"
    r = client.get(provider_round_trip(client.get("/login/sso/reauth"), idp))
    page = client.get(r["Location"], follow=True).content.decode()
    assert "reauth-token" not in page and "nothing was signed" in page
    assert _api_approve(api_client(sara), release, reauth="guessed").status_code == 403
    assert not Signature.objects.filter(release=release).exists()
