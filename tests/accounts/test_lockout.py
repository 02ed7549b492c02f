"""Sign-in lockout per username and per client address, and throttling of API token guessing."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.accounts.models import LoginAttempt
from portal.accounts.services import TOKEN_PREFIX, user_ensure
from portal.audit.models import AuditEntry

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-1"


@pytest.fixture
def dora(db) -> object:
    return user_ensure(username="dora", role="viewer", password=PASSWORD)


@pytest.fixture
def limits(settings) -> object:
    settings.PORTAL_LOGIN_MAX_FAILURES = 3
    settings.PORTAL_LOGIN_MAX_FAILURES_PER_CLIENT = 5
    settings.PORTAL_LOGIN_WINDOW_SECONDS = 900
    settings.PORTAL_TOKEN_MAX_FAILURES = 4
    settings.PORTAL_TOKEN_WINDOW_SECONDS = 300
    return settings


def _login(client, username: str, password: str, addr: str = "10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=addr)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_right_password_is_refused_once_a_username_is_locked(client, dora, limits) -> None:
    assert [_login(client, "dora", "wrong").status_code for _ in range(3)] == [200, 200, 429]
    r = _login(client, "dora", PASSWORD)
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    assert b"Too many failed sign-ins" in r.content
    assert not _signed_in(client)
    actions = list(AuditEntry.objects.filter(action__startswith="account.login").values_list("action", flat=True))
    assert actions == ["account.login_failed"] * 3 + ["account.login_locked", "account.login_refused"]


def test_a_lockout_ends_after_the_window(client, dora, limits) -> None:
    for _ in range(3):
        _login(client, "dora", "wrong")
    LoginAttempt.objects.update(time=timezone.now() - timedelta(seconds=901))
    assert _login(client, "dora", PASSWORD).status_code == 302
    assert _signed_in(client)


def test_a_success_resets_the_count_for_the_username(client, dora, limits) -> None:
    for _ in range(2):
        _login(client, "dora", "wrong")
    assert _login(client, "dora", PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        _login(client, "dora", "wrong")
    assert _login(client, "dora", PASSWORD).status_code == 302


def test_another_address_is_not_locked_out_by_a_username_spray_elsewhere(client, dora, limits) -> None:
    for i in range(5):  # five usernames, one failure each, from one address: the address is locked
        _login(client, f"user{i}", "wrong", addr="10.6.6.6")
    r = _login(client, "dora", PASSWORD, addr="10.6.6.6")
    assert r.status_code == 429 and not _signed_in(client)
    assert _login(client, "dora", PASSWORD, addr="10.0.0.2").status_code == 302


def test_usernames_that_do_not_exist_lock_the_same_way(client, limits) -> None:
    assert [_login(client, "nobody", "wrong").status_code for _ in range(3)] == [200, 200, 429]
    assert _login(client, "NOBODY", "wrong").status_code == 429  # case does not give fresh attempts


def test_a_nul_in_the_username_is_a_400_and_the_service_records_it_safely(client, limits) -> None:
    from portal.accounts.services import login_record

    assert _login(client, "ev\x00il<script>", "wrong").status_code == 400
    login_record(username="ev\x00il<script>", user=None, client="10.0.0.1")
    assert AuditEntry.objects.get(action="account.login_failed").target_id == "ev\ufffdil<script>"


def test_token_guessing_gets_429_and_never_authenticates(client, dora, limits) -> None:
    from tests.conftest import api_client

    good = api_client(dora)
    for _ in range(4):
        guess = TOKEN_PREFIX + secrets.token_urlsafe(32)
        r = client.get("/api/v1/nodes", HTTP_AUTHORIZATION=f"Bearer {guess}", REMOTE_ADDR="10.9.9.9")
        assert r.status_code == 401
    r = client.get("/api/v1/nodes", HTTP_AUTHORIZATION=f"Bearer {TOKEN_PREFIX}x", REMOTE_ADDR="10.9.9.9")
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    assert r.json()["detail"].startswith("Too many invalid API tokens")
    assert AuditEntry.objects.filter(action="account.token_throttled", target_id="10.9.9.9").count() == 1
    # every pipeline behind that NAT keeps working: a known valid token from the throttled address passes
    right = good._credentials["HTTP_AUTHORIZATION"]
    assert client.get("/api/v1/nodes", HTTP_AUTHORIZATION=right, REMOTE_ADDR="10.9.9.9").status_code == 200
    assert client.get("/api/v1/nodes", HTTP_AUTHORIZATION=right, REMOTE_ADDR="10.1.1.1").status_code == 200


def test_a_wrong_token_with_a_real_tokens_prefix_is_still_checked_and_refused_under_throttle(client, dora,
                                                                                              limits) -> None:
    from portal.accounts.services import token_issue

    _, raw = token_issue(user=dora)
    for _ in range(4):
        client.get("/api/v1/nodes", HTTP_AUTHORIZATION=f"Bearer {TOKEN_PREFIX}guess", REMOTE_ADDR="10.9.9.9")
    forged = raw[:10] + secrets.token_urlsafe(32)
    r = client.get("/api/v1/nodes", HTTP_AUTHORIZATION=f"Bearer {forged}", REMOTE_ADDR="10.9.9.9")
    assert r.status_code == 401


def test_a_global_ceiling_throttles_unknown_tokens_spread_over_many_addresses(client, dora, limits,
                                                                                caplog) -> None:
    from tests.conftest import api_client

    limits.PORTAL_TOKEN_MAX_FAILURES_GLOBAL = 6
    for i in range(6):  # one guess per address: no address reaches its own limit of 4
        guess = TOKEN_PREFIX + secrets.token_urlsafe(32)
        assert client.get("/api/v1/nodes", HTTP_AUTHORIZATION=f"Bearer {guess}",
                          REMOTE_ADDR=f"10.5.0.{i}").status_code == 401
    r = client.get("/api/v1/nodes", HTTP_AUTHORIZATION=f"Bearer {TOKEN_PREFIX}x", REMOTE_ADDR="10.5.1.1")
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    right = api_client(dora)._credentials["HTTP_AUTHORIZATION"]
    assert client.get("/api/v1/nodes", HTTP_AUTHORIZATION=right, REMOTE_ADDR="10.5.1.1").status_code == 200
    assert AuditEntry.objects.filter(action="account.token_throttled", target_id="*").count() == 1
    assert "unknown API tokens" in caplog.text


def test_old_attempts_are_pruned_but_recent_ones_kept(client, limits) -> None:
    from portal.accounts.tasks import login_attempts_prune_task

    for _ in range(2):
        _login(client, "dora", "wrong")
    LoginAttempt.objects.filter(pk=LoginAttempt.objects.order_by("pk").first().pk).update(
        time=timezone.now() - timedelta(days=2))
    assert login_attempts_prune_task.delay().get() == 1
    assert LoginAttempt.objects.count() == 1


def test_a_client_cannot_escape_the_address_lockout_by_sending_x_forwarded_for(client, dora, settings,
                                                                                limits) -> None:
    settings.PORTAL_TRUST_X_FORWARDED_FOR = True
    for i in range(5):  # the proxy (REMOTE_ADDR 10.0.0.254) appends the real address, 203.0.113.7
        client.post("/login/", {"username": f"user{i}", "password": "wrong"}, REMOTE_ADDR="10.0.0.254",
                    HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.7")
    r = client.post("/login/", {"username": "dora", "password": PASSWORD}, REMOTE_ADDR="10.0.0.254",
                    HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.7")
    assert r.status_code == 429
    assert set(LoginAttempt.objects.values_list("client", flat=True)) == {"203.0.113.7"}


@pytest.mark.parametrize("lookalike", ["ｅlena.garcia", "ingrid.larſen", "ⅰngrid.larsen", "ELENA.GARCIA"])
def test_unicode_look_alikes_of_a_username_share_its_lockout(client, limits, lookalike) -> None:
    from unicodedata import normalize

    # Django normalises the username with NFKC before authenticating, so every look-alike reaches the same
    # account: it must count toward (and be refused by) the same lockout.
    real = normalize("NFKC", lookalike).casefold()
    user_ensure(username=real, role="viewer", password=PASSWORD)
    assert [_login(client, real, "wrong").status_code for _ in range(3)] == [200, 200, 429]
    r = _login(client, lookalike, PASSWORD)
    assert r.status_code == 429 and not _signed_in(client)


def test_look_alikes_do_not_give_fresh_attempts(client, limits) -> None:
    user_ensure(username="elena.garcia", role="viewer", password=PASSWORD)
    names = ("ｅlena.garcia", "ｅｌｅｎａ.garcia", "Elena.Garcia")
    codes = [_login(client, name, "wrong").status_code for name in names]
    assert codes == [200, 200, 429]
    assert _login(client, "ＥＬＥＮＡ.garcia", PASSWORD).status_code == 429
