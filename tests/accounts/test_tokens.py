"""Users, roles and API tokens."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from portal.accounts.models import ApiToken, User

pytestmark = pytest.mark.django_db


def test_issue_token_creates_the_user_and_prints_only_the_token() -> None:
    out = StringIO()
    call_command("issue_token", "airflow", "--role", "ingestor", "--email", "af@example.com", "--team", "data",
                 "--password", "a-long-password-1", stdout=out)
    raw = out.getvalue().strip()
    assert raw.startswith("lp_") and "\n" not in raw
    user = User.objects.get(username="airflow")
    assert (user.role, user.email, list(user.teams.values_list("name", flat=True))) == (
        "ingestor", "af@example.com", ["data"])
    assert user.check_password("a-long-password-1")
    token = ApiToken.objects.get(user=user)
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {token.digest, token.prefix}


def test_issue_token_on_an_existing_user_changes_only_what_is_given() -> None:
    call_command("issue_token", "ann", "--role", "approver", "--email", "ann@example.com", stdout=StringIO())
    call_command("issue_token", "ann", stdout=StringIO())
    user = User.objects.get(username="ann")
    assert (user.role, user.email, user.api_tokens.count()) == ("approver", "ann@example.com", 2)


def test_issue_token_refuses_an_unknown_role() -> None:
    with pytest.raises(CommandError):
        call_command("issue_token", "x", "--role", "emperor", stdout=StringIO())
    assert not User.objects.filter(username="x").exists()


def test_the_settings_page_creates_shows_once_and_revokes(client, alice) -> None:
    client.force_login(alice)
    r = client.post("/settings/tokens/new", {"name": "laptop"})
    assert r.status_code == 200
    raw = r.context["new_token"]
    assert raw.encode() in r.content
    token = ApiToken.objects.get(user=alice)
    assert raw.encode() not in client.get("/settings/tokens/").content
    assert client.post(f"/settings/tokens/{token.pk}/revoke").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_charlie_cannot_revoke_alices_token(client, alice, charlie) -> None:
    from portal.accounts.services import token_issue

    token, _ = token_issue(user=alice)
    client.force_login(charlie)
    assert client.post(f"/settings/tokens/{token.pk}/revoke").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_pages_need_a_login(client) -> None:
    assert client.get("/settings/tokens/").status_code == 302
    assert client.get("/").status_code == 302
    assert client.get("/settings/tokens/new").status_code in (302, 405)


def test_assign_namespace_hides_it_from_other_teams(alice, charlie) -> None:
    from portal.accounts.selectors import namespace_visible

    assert namespace_visible(charlie, "s3://lake")
    call_command("assign_namespace", "s3://lake", "credit-risk", stdout=StringIO())
    assert namespace_visible(alice, "s3://lake")
    assert not namespace_visible(charlie, "s3://lake")
