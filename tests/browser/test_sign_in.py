"""End to end, in Chromium: an approver whose role requires a second factor is sent to set one up, enrols an
authenticator from the settings page (the code computed from the key the page shows), keeps the recovery codes,
and from then on signs in with a code after the password."""

from __future__ import annotations

import base64
import time

import pytest

from portal.accounts import totp
from portal.demo import story as demo
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_a_signer_sets_up_an_authenticator_and_signs_in_with_a_code(new_page, settings) -> None:
    settings.PORTAL_MFA_REQUIRED_ROLES = ("approver", "compliance_officer", "admin")
    page = new_page(demo.MARCUS.username, demo.MARCUS.password)
    page.goto("/approvals/")
    assert "/settings/two-factor/" in page.url and "set up an authenticator" in page.inner_text("main")
    page.click("button[value=start]")
    key = page.inner_text("#totp-secret")
    secret = base64.b32decode(key + "=" * (-len(key) % 8))
    screenshot(page, "two-factor-enrol")
    page.fill("#code", totp.totp(secret, time.time() - 30))
    page.click("button[value=confirm]")
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    screenshot(page, "two-factor-recovery-codes")
    assert page.goto("/approvals/").status == 200 and "/approvals/" in page.url
    page.click("text=Sign out")
    page.goto("/login/")
    page.fill("#id_username", demo.MARCUS.username)
    page.fill("#id_password", demo.MARCUS.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/login/code")
    screenshot(page, "sign-in-code")
    page.fill("#code", totp.totp(secret, time.time()))
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url and demo.MARCUS.first_name in page.inner_text("header")
