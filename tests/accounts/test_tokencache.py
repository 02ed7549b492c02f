"""Valid API tokens are remembered per process for a few seconds; revocation and deactivation are honoured."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient, APIRequestFactory

from portal.accounts.authentication import BearerTokenAuthentication
from portal.accounts.models import ApiToken, User
from portal.accounts.services import token_issue, token_revoke, user_ensure

pytestmark = pytest.mark.django_db

PATH = "/api/v1/nodes"


@pytest.fixture
def viewer(db: Any) -> User:
    return user_ensure(username="vera", role="viewer", team="credit-risk")


def _client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _authenticate(raw: str) -> tuple[User, ApiToken] | None:
    request = APIRequestFactory().get(PATH, HTTP_AUTHORIZATION=f"Bearer {raw}")
    return BearerTokenAuthentication().authenticate(request)  # type: ignore[arg-type]


def test_a_valid_token_is_one_indexed_read_and_then_none(viewer: User, settings: Any) -> None:
    settings.PORTAL_TOKEN_CACHE_SECONDS = 60
    token, raw = token_issue(user=viewer)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    with CaptureQueriesContext(connection) as first:
        user, got = _authenticate(raw) or (None, None)
    assert (user, got) == (viewer, token)
    # No lockout or throttle queries for a token that is valid: only the lookup by digest.
    assert len(first.captured_queries) == 1, [q["sql"] for q in first.captured_queries]
    assert "digest" in first.captured_queries[0]["sql"]
    with CaptureQueriesContext(connection) as second:
        user, got = _authenticate(raw) or (None, None)
    assert (user, got) == (viewer, token)
    assert second.captured_queries == []


def test_each_request_gets_its_own_copy_of_the_user(viewer: User, settings: Any) -> None:
    settings.PORTAL_TOKEN_CACHE_SECONDS = 60
    _, raw = token_issue(user=viewer)
    first = _authenticate(raw)
    assert first is not None
    first[0].role = "admin"  # what one request does to its user must not leak into the next
    second = _authenticate(raw)
    assert second is not None and second[0].role == "viewer" and second[0] is not first[0]


def test_the_tokens_user_is_the_requests_own_copy_too(viewer: User, settings: Any) -> None:
    """``request.auth.user`` is the same copy as ``request.user``, not an object shared by every request."""
    settings.PORTAL_TOKEN_CACHE_SECONDS = 60
    _, raw = token_issue(user=viewer)
    _authenticate(raw)
    user, token = _authenticate(raw)  # type: ignore[misc]
    again = _authenticate(raw)
    assert again is not None and token.user is user and again[1].user is not user


@pytest.mark.parametrize("change", ["deactivated", "demoted"])
def test_a_user_changed_in_this_process_is_not_served_from_the_cache(
        viewer: User, settings: Any, change: str, django_capture_on_commit_callbacks: Any) -> None:
    """Deactivating or demoting a user through the model (admin, SSO sync, user_ensure) drops their cached tokens
    in this process at once: the cache must not keep serving the old role."""
    settings.PORTAL_TOKEN_CACHE_SECONDS = 60
    viewer.role = "admin"
    viewer.save()
    _, raw = token_issue(user=viewer)
    assert _authenticate(raw)[0].role == "admin"  # type: ignore[index]
    with django_capture_on_commit_callbacks(execute=True):
        if change == "deactivated":
            viewer.is_active = False
        else:
            viewer.role = "viewer"
        viewer.save()
    if change == "deactivated":
        assert _client(raw).get(PATH).status_code == 401
    else:
        assert _authenticate(raw)[0].role == "viewer"  # type: ignore[index]


def test_a_token_revoked_in_this_process_is_refused_at_once(viewer: User, settings: Any,
                                                            django_capture_on_commit_callbacks: Any) -> None:
    settings.PORTAL_TOKEN_CACHE_SECONDS = 60
    token, raw = token_issue(user=viewer)
    client = _client(raw)
    assert client.get(PATH).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        token_revoke(token=token, by=viewer)
    assert client.get(PATH).status_code == 401


@pytest.mark.parametrize("withdraw", ["token revoked", "user deactivated"])
def test_a_credential_withdrawn_elsewhere_is_refused_once_its_entry_expires(viewer: User, settings: Any,
                                                                            withdraw: str) -> None:
    settings.PORTAL_TOKEN_CACHE_SECONDS = 1
    token, raw = token_issue(user=viewer)
    client = _client(raw)
    assert client.get(PATH).status_code == 200
    # Another worker (or the admin) withdraws it: this process does not hear of it...
    if withdraw == "token revoked":
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    else:
        User.objects.filter(pk=viewer.pk).update(is_active=False)
    assert client.get(PATH).status_code == 200
    time.sleep(1.1)
    # ... and refuses it once its entry is older than PORTAL_TOKEN_CACHE_SECONDS.
    response = client.get(PATH)
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or revoked token."


def test_with_the_cache_off_every_request_reads_the_token(viewer: User, settings: Any) -> None:
    settings.PORTAL_TOKEN_CACHE_SECONDS = 0
    token, raw = token_issue(user=viewer)
    client = _client(raw)
    assert client.get(PATH).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert client.get(PATH).status_code == 401


def test_unknown_tokens_are_still_recorded_and_throttled(viewer: User, settings: Any) -> None:
    settings.PORTAL_TOKEN_MAX_FAILURES = 2
    for _ in range(2):
        assert _client("lp_not-a-token-at-all").get(PATH).status_code == 401
    throttled = _client("lp_another-unknown-one").get(PATH)
    assert throttled.status_code == 429
    # A valid token from the same address is still let in, cached or not.
    _, raw = token_issue(user=viewer)
    assert _client(raw).get(PATH).status_code == 200
