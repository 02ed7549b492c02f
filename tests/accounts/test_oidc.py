"""Single sign-on against a real OpenID Connect provider (pyop) started on 127.0.0.1 by the test: the code flow
with PKCE, user creation and update from claims, and the refusals: a tampered, forged, expired or replayed ID
token, a code injected into another sign-in, a state mismatch, and a local account's name."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from portal.accounts.models import ExternalIdentity, User
from portal.accounts.services import user_ensure
from portal.audit.models import AuditEntry
from tests.conftest import need_service

try:
    from tests.accounts.oidc_provider import oidc_provider, portal_using
except ImportError as exc:  # pyop is in the dev extra; by hand without it, skip (CI fails instead)
    oidc_provider = portal_using = None
    PROVIDER_MISSING = str(exc)
else:
    PROVIDER_MISSING = ""

pytestmark = pytest.mark.django_db
CALLBACK = "http://testserver/login/sso/callback"
USERS = {
    "elena": {"preferred_username": "elena.garcia", "email": "elena.garcia@example.org", "given_name": "Elena",
              "family_name": "Garcia", "groups": ["portal-compliance", "grp-credit-risk"]},
    "omar": {"preferred_username": "omar", "email": "omar@example.org", "groups": ["everyone"]},
}


@pytest.fixture
def idp(settings, tmp_path):
    if oidc_provider is None:
        need_service("pyop", f"the test OpenID provider needs pyop (pip install -e '.[dev]'): {PROVIDER_MISSING}")
    with oidc_provider(CALLBACK, USERS, tmp_path) as op, portal_using(
            settings, op, role_map="portal-compliance=compliance_officer,portal-admins=admin",
            team_map="grp-credit-risk=credit-risk,grp-clinical=clinical"):
        op.login_as = "elena"
        yield op


def at_provider(client, op):
    """The browser's round trip: the portal sends it to the provider, the provider (where the person signs in)
    sends it back to the callback with a code."""
    r = client.get("/login/sso")
    assert r.status_code == 302 and r["Location"].startswith(f"{op.issuer}/authorize?")
    back = requests.get(r["Location"], allow_redirects=False, timeout=10, verify=op.ca_file)
    assert back.status_code == 302, back.text
    return back.headers["Location"]


def sso(client, op):
    return client.get(at_provider(client, op))


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def _resign(token: str, changes: dict, key=None) -> str:
    """Re-issue the ID token with changed claims, signed with ``key`` (default: the provider's own key)."""
    claims = {**jwt.decode(token, options={"verify_signature": False}), **changes}
    header = jwt.get_unverified_header(token)
    return jwt.encode(claims, key or _provider_pem(), algorithm="RS256", headers={"kid": header["kid"]})


_provider = {}


def _provider_pem() -> bytes:
    return _provider["op"].provider.signing_key.key.exportKey()


def test_first_sign_in_creates_the_user_with_role_and_teams_from_the_groups(client, idp) -> None:
    r = sso(client, idp)
    assert r.status_code == 302 and _signed_in(client)
    user = User.objects.get(username="elena.garcia")
    assert user.role == "compliance_officer" and user.email == "elena.garcia@example.org"
    assert list(user.teams.values_list("name", flat=True)) == ["credit-risk"]
    assert user.printed_name == "Elena Garcia" and not user.has_usable_password()
    assert ExternalIdentity.objects.get(user=user).issuer == idp.issuer
    asked = idp.requests[-1]
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43 and asked["nonce"]
    assert client.session["auth_methods"][0] == "sso"
    entry = AuditEntry.objects.get(action="account.user_created", target_id="elena.garcia")
    assert '"source": "sso"' in entry.payload or "sso" in str(entry.payload)


def test_the_next_sign_in_follows_the_providers_groups(client, idp) -> None:
    sso(client, idp)
    client.logout()
    USERS["elena"]["groups"] = ["portal-admins", "grp-clinical"]
    try:
        sso(client, idp)
    finally:
        USERS["elena"]["groups"] = ["portal-compliance", "grp-credit-risk"]
    user = User.objects.get(username="elena.garcia")
    assert user.role == "admin" and list(user.teams.values_list("name", flat=True)) == ["clinical"]
    assert AuditEntry.objects.filter(action="account.role_changed", target_id="elena.garcia").exists()


def test_a_user_in_no_mapped_group_gets_the_default_role_or_is_refused(client, idp, settings) -> None:
    idp.login_as = "omar"
    sso(client, idp)
    assert User.objects.get(username="omar").role == "viewer"
    client.logout()
    settings.PORTAL_OIDC_DEFAULT_ROLE = ""
    r = sso(client, idp)
    assert r.status_code == 400 and b"gives access" in r.content and not _signed_in(client)


def test_a_tampered_id_token_is_refused(client, idp) -> None:
    def tamper(token: str) -> str:  # change a claim, keep the provider's signature
        head, payload, sig = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["groups"] = ["portal-admins"]
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        return f"{head}.{forged}.{sig}"

    idp.tamper = tamper
    r = sso(client, idp)
    assert r.status_code == 400 and b"signature does not verify" in r.content
    assert not _signed_in(client) and not User.objects.filter(username="elena.garcia").exists()
    assert AuditEntry.objects.filter(action="account.sso_refused").exists()


@pytest.mark.parametrize(("changes", "message"), [
    ({"nonce": "a-nonce-of-another-sign-in"}, b"nonce does not match"),
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, b"expired"),
    ({"aud": "another-client"}, b"another client"),
    ({"iss": "https://evil.example"}, b"another provider"),
])
def test_an_id_token_for_another_sign_in_client_or_issuer_or_an_expired_one_is_refused(client, idp, changes,
                                                                                      message) -> None:
    _provider["op"] = idp
    idp.tamper = lambda token: _resign(token, changes)
    r = sso(client, idp)
    assert r.status_code == 400 and message in r.content, r.content[-400:]
    assert not _signed_in(client)


def test_a_token_signed_with_another_key_or_none_is_refused(client, idp) -> None:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    idp.tamper = lambda token: _resign(token, {}, key=attacker)
    assert b"signature does not verify" in sso(client, idp).content
    idp.tamper = lambda token: jwt.encode(jwt.decode(token, options={"verify_signature": False}), None,
                                          algorithm="none")
    r = sso(client, idp)
    assert r.status_code == 400 and b"not accepted" in r.content and not _signed_in(client)


def test_a_code_injected_into_another_sign_in_is_refused_by_pkce(client, idp) -> None:
    from django.test import Client

    stolen = at_provider(Client(), idp)  # the victim's answer, carrying their code
    code = stolen.split("code=")[1].split("&")[0]
    mine = at_provider(client, idp)  # the attacker's own sign-in, with their state and verifier
    state = mine.split("state=")[1].split("&")[0]
    r = client.get("/login/sso/callback", {"code": code, "state": state})
    assert r.status_code == 400 and b"refused the request" in r.content and not _signed_in(client)


def test_an_answer_with_another_sessions_state_is_refused(client, idp) -> None:
    from django.test import Client

    theirs = at_provider(Client(), idp)
    at_provider(client, idp)
    r = client.get(theirs)
    assert r.status_code == 400 and b"state mismatch" in r.content and not _signed_in(client)


def test_a_local_account_with_the_same_name_is_not_taken_over(client, idp) -> None:
    user_ensure(username="elena.garcia", role="admin", password="break-glass-password-1")
    r = sso(client, idp)
    assert r.status_code == 400 and b"local account" in r.content and not _signed_in(client)
    assert User.objects.get(username="elena.garcia").role == "admin"


def test_the_providers_amr_satisfies_the_second_factor_when_configured(client, idp, settings) -> None:
    settings.PORTAL_MFA_REQUIRED_ROLES = ("compliance_officer", "admin")
    settings.PORTAL_OIDC_MFA_AMR = "otp,hwk,mfa"
    idp.extra_claims = {"amr": ["pwd", "otp"], "acr": "urn:example:loa2"}
    sso(client, idp)
    assert client.get("/dashboard/").status_code == 200
    assert client.session["auth_methods"] == ["sso", "pwd", "otp"]
    client.logout()
    idp.extra_claims = {"amr": ["pwd"]}
    sso(client, idp)
    r = client.get("/dashboard/")
    assert r.status_code == 302 and r["Location"].startswith("/settings/two-factor/")
    client.logout()
    settings.PORTAL_OIDC_MFA_ACR = "urn:example:loa2"
    idp.extra_claims = {"amr": ["pwd"], "acr": "urn:example:loa2"}
    sso(client, idp)
    assert client.get("/dashboard/").status_code == 200


def test_local_passwords_still_work_for_break_glass_admins(client, idp) -> None:
    user_ensure(username="root-admin", role="admin", password="break-glass-password-1")
    r = client.post("/login/", {"username": "root-admin", "password": "break-glass-password-1"})
    assert r.status_code == 302 and _signed_in(client)


def test_the_sign_in_page_offers_sso_only_when_configured(client, idp, settings) -> None:
    assert b"/login/sso" in client.get("/login/").content
    settings.PORTAL_OIDC_ISSUER = ""
    assert b"/login/sso" not in client.get("/login/").content
    assert client.get("/login/sso").status_code == 404
