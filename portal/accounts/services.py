"""Writes for users and tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from portal.audit.services import audit_record

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
    by: User | None = None,
) -> User:
    """Create the user if missing and set whatever is given; leave the rest alone."""
    if role is not None and role not in Role.values:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(Role.values)}")
    user, created = User.objects.get_or_create(username=username)
    before = {"role": user.role, "email": user.email, "teams": sorted(user.teams.values_list("name", flat=True))}
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
    after = {"role": user.role, "email": user.email, "teams": sorted(user.teams.values_list("name", flat=True))}
    if created:
        audit_record(actor=by, action="account.user_created", target_kind="user", target_id=user.username,
                     payload={"after": after})
    elif before != after:
        action = "account.role_changed" if before["role"] != after["role"] else "account.user_changed"
        audit_record(actor=by, action=action, target_kind="user", target_id=user.username,
                     payload={"before": before, "after": after})
    if password is not None:
        audit_record(actor=by, action="account.password_set", target_kind="user", target_id=user.username)
    return user


@transaction.atomic
def token_issue(*, user: User, name: str = "", by: User | None = None) -> tuple[ApiToken, str]:
    """Create a token for the user. Returns the row and the raw token, which is never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:10], digest=token_digest(raw))
    audit_record(actor=by or user, action="account.token_issued", target_kind="token", target_id=str(token.pk),
                 payload={"user": user.username, "name": name, "prefix": token.prefix})
    return token, raw


@transaction.atomic
def token_revoke(*, token: ApiToken, by: User | None = None) -> ApiToken:
    if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
        audit_record(actor=by or token.user, action="account.token_revoked", target_kind="token",
                     target_id=str(token.pk), payload={"user": token.user.username, "prefix": token.prefix})
    token.refresh_from_db()
    return token


@transaction.atomic
def namespace_assign(*, namespace: str, team: str, by: User | None = None) -> NamespaceOwner:
    team_obj, _ = Team.objects.get_or_create(name=team)
    before = NamespaceOwner.objects.filter(namespace=namespace).values_list("team__name", flat=True).first()
    owner, _ = NamespaceOwner.objects.update_or_create(namespace=namespace, defaults={"team": team_obj})
    if before != team:
        audit_record(actor=by, action="account.namespace_assigned", target_kind="namespace", target_id=namespace,
                     payload={"before": before, "after": team})
    return owner


@transaction.atomic
def login_record(*, username: str, user: User | None) -> None:
    """Record a sign-in attempt: success with the user, failure with the name that was tried."""
    if user is not None:
        audit_record(actor=user, action="account.login_succeeded", target_kind="user", target_id=user.username)
    else:
        audit_record(actor=None, action="account.login_failed", target_kind="user", target_id=username[:150])


def password_confirm(*, user: User, password: str, refused_action: str, target_kind: str, target_id: str) -> bool:
    """Re-authentication for electronic signatures: the user's password now, not their session.

    A refusal is recorded under ``refused_action`` in its own transaction, so call this before opening the
    transaction of the change it guards: the record is kept when the caller then raises and rolls back.
    """
    if user.check_password(password):
        return True
    with transaction.atomic():
        audit_record(actor=user, action=refused_action, target_kind=target_kind, target_id=target_id,
                     payload={"reason": "wrong password"})
    return False
