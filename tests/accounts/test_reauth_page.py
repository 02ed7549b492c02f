"""The page an SSO user lands on after signing in again for an API call: the one-time result id stands out as a
token to copy (as a new API token does), says it is shown once, and leads back to the portal."""

from __future__ import annotations

import pytest

from tests.accounts.oidc_provider import provider_round_trip
from tests.accounts.sso import sso_sign_in

pytestmark = pytest.mark.django_db


def test_the_result_id_is_shown_once_as_a_token_to_copy(client, sso_idp) -> None:
    sso_sign_in(client, sso_idp, "ines")
    back = client.get(provider_round_trip(client.get("/login/sso/reauth"), sso_idp))
    html = client.get(back["Location"]).content.decode()
    assert '<code class="token" id="reauth-token">' in html
    assert "shown once" in html and 'href="/"' in html.split('id="reauth-token"')[1]
