"""The second factor: enrolment from the settings page, sign-in's second step, recovery codes, the requirement
by role, and the code asked again at each electronic signature. Codes are generated from the enrolled secret
with the RFC 6238 implementation the test checks against the RFC's vectors (test_totp.py)."""

from __future__ import annotations

import base64
import re
import time

import pytest

from portal.accounts import mfa, totp
from portal.accounts.models import RecoveryCode, TotpDevice
from portal.accounts.services import user_ensure
from portal.approvals import services as approvals
from portal.approvals.models import Signature
from portal.audit.models import AuditEntry
from tests.approvals.conftest import PASSWORD, train
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def required(settings) -> object:
    settings.PORTAL_MFA_REQUIRED_ROLES = ("approver", "compliance_officer", "admin")
    settings.PORTAL_LOGIN_MAX_FAILURES = 5
    return settings


def _secret_of(page: bytes) -> bytes:
    text = re.search(rb'id="totp-secret">([A-Z2-7]+)<', page).group(1).decode()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def enrol(client, user) -> tuple[bytes, list[str]]:
    """Set up an authenticator through the settings page, as a person would; returns the secret and codes."""
    client.force_login(user)
    secret = _secret_of(client.post("/settings/two-factor/", {"action": "start"}).content)
    # confirm with the previous step's code: the next code (this step's) stays fresh for the tests
    r = client.post("/settings/two-factor/", {"action": "confirm", "code": totp.totp(secret, time.time() - 30)})
    codes = re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>", r.content.decode())
    client.logout()
    return secret, codes


def _sign_in(client, username: str, password: str = PASSWORD):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR="10.0.0.1")


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_enrolment_shows_recovery_codes_once_and_stores_them_hashed(client, people) -> None:
    secret, codes = enrol(client, people["risk"])
    assert len(codes) == 10 and len(set(codes)) == 10
    device = TotpDevice.objects.get(user=people["risk"])
    assert device.confirmed_at and secret not in bytes(device.secret)
    stored = set(RecoveryCode.objects.filter(user=people["risk"]).values_list("digest", flat=True))
    assert stored == {totp.digest(c) for c in codes} and not stored & set(codes)
    assert AuditEntry.objects.filter(action="account.mfa_enrolled", target_id="mo").exists()
    client.force_login(people["risk"])
    assert b"recovery-codes" not in client.get("/settings/two-factor/").content


def test_a_wrong_first_code_does_not_confirm_and_the_key_is_shown_again(client, people) -> None:
    client.force_login(people["risk"])
    secret = _secret_of(client.post("/settings/two-factor/", {"action": "start"}).content)
    wrong = str((int(totp.totp(secret, time.time())) + 1) % 1_000_000).zfill(6)
    r = client.post("/settings/two-factor/", {"action": "confirm", "code": wrong})
    assert b"not the authenticator" in r.content and _secret_of(r.content) == secret
    assert mfa.device_of(people["risk"]) is None


def test_sign_in_asks_for_the_code_after_the_password(client, people) -> None:
    secret, _ = enrol(client, people["risk"])
    r = _sign_in(client, "mo")
    assert r.status_code == 302 and r["Location"] == "/login/code" and not _signed_in(client)
    assert client.get("/approvals/").status_code == 302  # not signed in yet
    r = client.post("/login/code", {"code": "000000" if totp.totp(secret, time.time()) != "000000" else "111111"})
    assert r.status_code == 400 and not _signed_in(client)
    r = client.post("/login/code", {"code": totp.totp(secret, time.time())})
    assert r.status_code == 302 and _signed_in(client)
    assert client.session["auth_methods"] == ["pwd", "otp"]


def test_a_replayed_code_is_refused(client, people) -> None:
    secret, _ = enrol(client, people["risk"])
    code = totp.totp(secret, time.time())
    _sign_in(client, "mo")
    assert client.post("/login/code", {"code": code}).status_code == 302
    client.logout()
    _sign_in(client, "mo")
    r = client.post("/login/code", {"code": code})
    assert r.status_code == 400 and b"already used" in r.content and not _signed_in(client)


def test_clock_skew_is_bounded_to_one_step_either_side(people, settings) -> None:
    user = people["risk"]
    settings.PORTAL_TOTP_SKEW_STEPS = 1
    enrolment = mfa.totp_enrol_start(user=user)
    secret = base64.b32decode(enrolment.secret + "=" * (-len(enrolment.secret) % 8))
    now = time.time()
    mfa.totp_enrol_confirm(user=user, code=totp.totp(secret, now - 120), at=now - 120)

    def verify(offset: float) -> str:
        return mfa.second_factor_verify(user=user, code=totp.totp(secret, now + offset), at=now,
                                        refused_action="test.refused", target_kind="user", target_id="mo")

    with pytest.raises(mfa.SecondFactorError):
        verify(-61)  # two steps behind
    with pytest.raises(mfa.SecondFactorError):
        verify(+61)  # two steps ahead
    assert verify(-30) == "otp"
    assert verify(+30) == "otp"
    with pytest.raises(mfa.SecondFactorError):
        verify(0)  # older than the step just accepted: a replay window is closed by last_step


def test_a_recovery_code_signs_in_once(client, people) -> None:
    _, codes = enrol(client, people["risk"])
    _sign_in(client, "mo")
    assert client.post("/login/code", {"code": codes[0].upper()}).status_code == 302
    assert client.session["auth_methods"] == ["pwd", "rcode"]
    client.logout()
    _sign_in(client, "mo")
    assert client.post("/login/code", {"code": codes[0]}).status_code == 400 and not _signed_in(client)


def test_wrong_codes_count_toward_the_sign_in_lockout(client, people, required) -> None:
    secret, _ = enrol(client, people["risk"])
    _sign_in(client, "mo")
    for _ in range(5):
        client.post("/login/code", {"code": "12345"})
    r = client.post("/login/code", {"code": totp.totp(secret, time.time())})
    assert r.status_code == 429 and not _signed_in(client)
    assert _sign_in(client, "mo").status_code == 429


def test_a_required_role_without_an_authenticator_may_only_enrol(client, people, required) -> None:
    assert _sign_in(client, "mo").status_code == 302 and _signed_in(client)
    r = client.get("/approvals/")
    assert r.status_code == 302 and r["Location"].startswith("/settings/two-factor/")
    assert client.get("/api/v1/releases").status_code == 403
    assert client.get("/settings/two-factor/").status_code == 200
    assert api_client(people["risk"]).get("/api/v1/releases").status_code == 200  # tokens are not affected
    client.logout()
    viewer = user_ensure(username="vera", role="viewer", password=PASSWORD)
    client.force_login(viewer)
    assert client.get("/approvals/").status_code == 200


def test_a_required_signer_cannot_sign_without_a_code_and_the_signature_records_the_methods(
        client, people, release, required) -> None:
    signer = people["risk"]
    with pytest.raises(mfa.SecondFactorMissing):
        approvals.release_sign(release=release, by=signer, password=PASSWORD, meaning="approval", reason="ok",
                               reviewed_digest=release.subject_digest)
    secret, _ = enrol(client, signer)
    r = api_client(signer).post(f"/api/v1/releases/{release.pk}/approve", {
        "password": PASSWORD, "reason": "ok", "subject_digest": release.subject_digest}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "otp"
    code = totp.totp(secret, time.time())
    r = api_client(signer).post(f"/api/v1/releases/{release.pk}/approve",
                                {"password": PASSWORD, "reason": "ok", "otp": code,
                                 "subject_digest": release.subject_digest}, format="json")
    assert r.status_code == 200, r.content
    sig = Signature.objects.get(release=release, signer=signer)
    assert sig.auth_methods == ["pwd", "otp"]
    assert r.json()["signatures"][0]["auth_methods"] == ["pwd", "otp"]
    entry = AuditEntry.objects.filter(action="approval.signed").latest("seq")
    assert '"auth_methods": ["pwd", "otp"]' in entry.payload or "otp" in str(entry.payload)
    assert AuditEntry.objects.filter(action="approval.signature_refused").count() == 1


def test_a_stale_digest_is_refused_before_the_code_is_spent_and_a_fresh_one_signs_with_it(
        client, people, release, required) -> None:
    """Both pins hold in the signing path: the digest is checked before the password and the second factor (a
    409 spends neither the code nor a refusal), then the same code signs the digest the signer now reviews."""
    signer = people["risk"]
    secret, _ = enrol(client, signer)
    reviewed = release.subject_digest
    train(auc=0.93, time="2026-01-05T00:00:00Z")
    approvals.release_refresh(release=release)
    code = totp.totp(secret, time.time())
    r = api_client(signer).post(f"/api/v1/releases/{release.pk}/approve", {
        "password": PASSWORD, "reason": "ok", "otp": code, "subject_digest": reviewed}, format="json")
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "subject_digest"
    assert not AuditEntry.objects.filter(action="approval.signature_refused").exists()
    release.refresh_from_db()
    r = api_client(signer).post(f"/api/v1/releases/{release.pk}/approve", {
        "password": PASSWORD, "reason": "ok", "otp": code, "subject_digest": release.subject_digest}, format="json")
    assert r.status_code == 200, r.content
    sig = Signature.objects.get(release=release, signer=signer)
    assert sig.auth_methods == ["pwd", "otp"] and sig.subject_digest == release.subject_digest != reviewed


def test_the_sign_form_asks_for_the_code(client, people, release, required) -> None:
    secret, _ = enrol(client, people["risk"])
    client.force_login(people["risk"])
    page = client.get(f"/approvals/releases/{release.pk}").content
    assert b'name="otp"' in page
    client.post(f"/approvals/releases/{release.pk}/sign", {
        "meaning": "approval", "reason": "ok", "password": PASSWORD, "otp": totp.totp(secret, time.time()),
        "subject_digest": release.subject_digest})
    assert Signature.objects.get(release=release).auth_methods == ["pwd", "otp"]


def test_an_operator_resets_a_lost_authenticator(client, people) -> None:
    from django.core.management import call_command

    enrol(client, people["risk"])
    call_command("mfa_reset", "mo")
    assert mfa.device_of(people["risk"]) is None and not RecoveryCode.objects.filter(user=people["risk"]).exists()
    assert AuditEntry.objects.get(action="account.mfa_removed", target_id="mo").actor_id is None


def test_a_superuser_counts_as_an_admin(client, required) -> None:
    from portal.accounts.models import User

    root = User.objects.create_superuser(username="root", password=PASSWORD)
    client.force_login(root)
    assert client.get("/admin/").status_code == 302
    required.PORTAL_MFA_REQUIRED_ROLES = ("approver",)
    assert client.get("/admin/").status_code == 200
