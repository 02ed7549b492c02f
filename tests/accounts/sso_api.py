"""Signing over the API (``portal.accounts.reauth.signer_confirm``): an SSO user without ``reauth`` is told where to
sign in again (403, ``reauth_url``), signs with the one-time result id of that sign-in, and cannot sign with it
twice; a local user without a password is told to send it (400 naming ``password``). One round per signed action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal.accounts.models import User
from tests.accounts.oidc_provider import TestProvider, provider_round_trip
from tests.conftest import api_client

Post = Callable[[Any, dict[str, Any]], Any]  # (API client, the signer's fields) -> response


def sso_result_id(client: Any, op: TestProvider) -> str:
    """Open a refusal's ``reauth_url`` in the browser (signed in through SSO): the provider, then the page that
    shows the one-time result id."""
    r = client.get(provider_round_trip(client.get("/login/sso/reauth"), op))
    page = client.get(r["Location"]).content.decode()
    return page.split('id="reauth-token">')[1].split("<")[0]


def sso_api_signs_once(client: Any, op: TestProvider, user: User, post: Post, signed: Callable[[], int]) -> None:
    """``user`` (signed in through SSO on ``client``) signs over the API with ``post``; ``signed()`` counts what the
    action recorded (its audit entries)."""
    api = api_client(user)
    for fields in ({}, {"password": "anything"}):
        r = post(api, fields)
        body = r.json()
        assert r.status_code == 403, body
        assert body["reauth_url"] == "/login/sso/reauth" and body["reauth_field"] == "reauth", body
        assert body["errors"][0]["field"] == "reauth" and "sign in again" in body["detail"], body
    assert signed() == 0
    result = sso_result_id(client, op)
    assert op.requests[-1]["prompt"] == "login"
    r = post(api, {"reauth": result})
    assert r.status_code == 200, r.json()
    assert signed() == 1
    r = post(api, {"reauth": result})
    assert r.status_code == 403 and "already used" in r.json()["detail"], r.json()
    assert signed() == 1


def local_api_asks_for_the_password(user: User, post: Post, signed: Callable[[], int]) -> None:
    """A local user's signature over the API without a password: 400 naming ``password``, nothing signed."""
    r = post(api_client(user), {})
    body = r.json()
    assert r.status_code == 400 and body["errors"][0]["field"] == "password", body
    assert "reauth_url" not in body and signed() == 0
