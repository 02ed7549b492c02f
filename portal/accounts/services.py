"""Writes for users and tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from .models import ApiToken, NamespaceOwner, Role, Team, User

TOKEN_PREFIX = "lp_"  # noqa: S105 - a marker, not a secret


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@transaction.atomic
def user_ensure(
    *,
    username: str,
    role: str | None = None,
    email: str | None = None,
    password: str | None = None,
    team: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
) -> User:
    """Create the user if missing and set whatever is given; leave the rest alone."""
    if role is not None and role not in Role.values:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(Role.values)}")
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
    if role is not None:
        user.role = role
        user.is_staff = role == Role.ADMIN
    if email is not None:
        user.email = email
    if first_name is not None:
        user.first_name = first_name
    if last_name is not None:
        user.last_name = last_name
    if password is not None:
        user.set_password(password)
    user.save()
    if team:
        team_obj, _ = Team.objects.get_or_create(name=team)
        user.teams.add(team_obj)
    return user


@transaction.atomic
def token_issue(*, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Create a token for the user. Returns the row and the raw token, which is never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:10], digest=token_digest(raw))
    return token, raw


@transaction.atomic
def token_revoke(*, token: ApiToken) -> ApiToken:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db()
    return token


@transaction.atomic
def namespace_assign(*, namespace: str, team: str) -> NamespaceOwner:
    team_obj, _ = Team.objects.get_or_create(name=team)
    owner, _ = NamespaceOwner.objects.update_or_create(namespace=namespace, defaults={"team": team_obj})
    return owner
