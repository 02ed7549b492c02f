"""Signing as an SSO user in any signed action (``portal.accounts.reauth``): a real test provider, its people, and
one attempt per scenario: a fresh sign-in there, a stale ``auth_time`` (the provider answered from an old
session), another person signing in there, and a result id presented a second time. Each signed action's tests
check the fresh one with ``sso_signed_entry`` and the refused ones (``REFUSED``) with ``sso_refused``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from portal.accounts.models import User
from portal.audit.models import AuditEntry
from tests.conftest import need_service

try:
    from tests.accounts.oidc_provider import (
        TestProvider,
        continue_form,
        oidc_provider,
        portal_using,
        provider_round_trip,
    )
except ImportError as exc:  # pyop is in the dev extra
    oidc_provider = None  # type: ignore[assignment]
    PROVIDER_MISSING = str(exc)

CALLBACK = "http://testserver/login/sso/callback"
SSO_PEOPLE = {
    "sam": {"preferred_username": "sam", "email": "sam@example.org", "groups": ["portal-admins"]},
    "cora": {"preferred_username": "cora", "email": "cora@example.org", "groups": ["portal-compliance"]},
    "ines": {"preferred_username": "ines", "email": "ines@example.org", "given_name": "Ines", "family_name": "Berg",
             "groups": ["portal-auditors"]},
    "omar": {"preferred_username": "omar", "email": "omar@example.org", "groups": ["portal-compliance"]},
}
REFUSED = ["stale", "another_person", "reused"]


@pytest.fixture
def sso_idp(settings: Any, tmp_path: Any) -> Iterator[TestProvider]:
    if oidc_provider is None:
        need_service("pyop", f"the test OpenID provider needs pyop (pip install -e '.[dev]'): {PROVIDER_MISSING}")
    settings.PORTAL_OIDC_LABEL = "Northwind sign-in"
    with oidc_provider(CALLBACK, SSO_PEOPLE, tmp_path) as op, portal_using(
            settings, op, role_map="portal-admins=admin,portal-compliance=compliance_officer,"
            "portal-auditors=auditor", team_map=""):
        yield op


def sso_sign_in(client: Any, op: TestProvider, username: str) -> User:
    """``username`` signs in to the portal through the provider (no portal password)."""
    op.login_as = username
    client.get(provider_round_trip(client.get("/login/sso"), op))
    user = User.objects.get(username=username)
    assert not user.has_usable_password() and "_auth_user_id" in client.session
    return user


def sso_sign(client: Any, op: TestProvider, post: Callable[[], Any], scenario: str = "fresh") -> Any:
    """Post a signature form as the signed-in SSO user, as ``scenario`` has it at the provider, and follow the
    flow to its end: the provider, the callback, the continue page and its form posted back to the action (twice
    for ``reused``). Returns the last page (followed)."""
    signer = op.login_as
    if scenario == "stale":
        op.auth_time = int(time.time()) - 3600
    if scenario == "another_person":
        op.login_as = "omar" if signer != "omar" else "cora"
    try:
        r = client.get(provider_round_trip(post(), op))  # the callback
    finally:
        op.auth_time, op.login_as = None, signer
    assert r.status_code == 302 and r["Location"] == "/login/sso/reauth/continue", r
    page = client.get(r["Location"])
    if page.status_code == 302:  # refused at the callback: back to the action's page, the reason in a message
        return client.get(page["Location"])
    action, fields = continue_form(page.content.decode())
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    done = client.post(action, data, follow=True)
    return client.post(action, data, follow=True) if scenario == "reused" else done


def refusal_text(scenario: str) -> str:
    return {"stale": "did not ask you to sign in again", "another_person": "signed in another person",
            "reused": "already used"}[scenario]


def sso_refused(client: Any, op: TestProvider, *, signer: str, post: Callable[[], Any], scenario: str,
                signed: Callable[[], int]) -> None:
    """``signer`` signs in through the provider and tries the signed action (``post``) as ``scenario`` (one of
    ``REFUSED``) has it: the page says why it was refused, and nothing was signed (``signed()`` counts what the action
    signed) but, for ``reused``, by the first post."""
    sso_sign_in(client, op, signer)
    r = sso_sign(client, op, post, scenario)
    assert refusal_text(scenario) in r.content.decode()
    # reused: the first post signed, the same result id again was refused before anything else
    assert signed() == (scenario == "reused")


def sso_signed_entry(action: str) -> dict[str, Any]:
    """The audit entry of the one ``action``: signed by an SSO user who signed in again at the provider."""
    entry: dict[str, Any] = json.loads(AuditEntry.objects.get(action=action).payload)
    assert entry["auth_methods"][0] == "sso" and entry["reauthentication"]["method"] == "oidc_reauth"
    return entry
