"""Writes for users and tokens."""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import unicodedata
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from portal.audit import context
from portal.audit.services import audit_record
from portal.lib.errors import DomainError

from .models import ApiToken, LoginAttempt, NamespaceOwner, Role, Team, User
from .tokencache import token_forget

TOKEN_PREFIX = "lp_"  # noqa: S105 - a marker, not a secret
TOKEN_PREFIX_LENGTH = 10  # characters kept to recognise a token: the marker and 7 random ones
logger = logging.getLogger(__name__)


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
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:TOKEN_PREFIX_LENGTH], digest=token_digest(raw))
    audit_record(actor=by or user, action="account.token_issued", target_kind="token", target_id=str(token.pk),
                 payload={"user": user.username, "name": name, "prefix": token.prefix})
    return token, raw


@transaction.atomic
def token_revoke(*, token: ApiToken, by: User | None = None) -> ApiToken:
    if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
        digest = token.digest  # this process refuses it at once; other workers when their entry expires
        transaction.on_commit(lambda: token_forget(digest=digest))
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


# -- sign-in lockout and token throttling ----------------------------------------------------------------
def login_key(username: str) -> str:
    """The identity a sign-in attempt is counted against: NFKC-normalised and case-folded.

    Django normalises usernames with NFKC before it authenticates, so ``ｅlena.garcia`` (a full-width e),
    ``ingrid.larſen`` (a long s) and ``ⅰngrid.larsen`` (a roman numeral) all reach the same account; counting them
    under the name as typed would give every look-alike a fresh set of attempts. Case-folding after NFKC (and NFKC
    again, since folding can produce compatibility characters) maps them, and upper case, to one key.
    """
    name = username.replace("\x00", "\ufffd")
    name = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return name.strip()[:150]


def _client(client: str | None) -> str:
    return (context.current().client if client is None else client)[:64]


def _wait(times: list[datetime], limit: int, window: timedelta, now: datetime) -> int:
    """Seconds until fewer than ``limit`` of ``times`` (newest first) fall inside the window; 0 if already."""
    if limit <= 0 or len(times) < limit:
        return 0
    return max(1, math.ceil((times[limit - 1] + window - now).total_seconds()))


def login_lockout(*, username: str, client: str | None = None) -> int:
    """Seconds before another password check for this username, or from this client address, may run (0: now).

    A username is locked after ``PORTAL_LOGIN_MAX_FAILURES`` failures within the window since its last success;
    a client address after ``PORTAL_LOGIN_MAX_FAILURES_PER_CLIENT`` failures within the window, whatever the
    usernames. Attempts refused while locked do not extend the lock.
    """
    now = timezone.now()
    window = timedelta(seconds=settings.PORTAL_LOGIN_WINDOW_SECONDS)
    key, addr = login_key(username), _client(client)
    recent = LoginAttempt.objects.filter(kind=LoginAttempt.Kind.PASSWORD, time__gt=now - window)
    mine = recent.filter(username=key)
    last_ok = mine.filter(outcome=LoginAttempt.Outcome.SUCCEEDED).order_by("-time").values_list("time", flat=True)
    failures = mine.filter(outcome=LoginAttempt.Outcome.FAILED)
    if last_ok.first():
        failures = failures.filter(time__gt=last_ok.first())
    limit = settings.PORTAL_LOGIN_MAX_FAILURES
    by_user = _wait(list(failures.order_by("-time").values_list("time", flat=True)[:limit]), limit, window, now)
    by_client = 0
    if addr:
        climit = settings.PORTAL_LOGIN_MAX_FAILURES_PER_CLIENT
        times = recent.filter(client=addr, outcome=LoginAttempt.Outcome.FAILED).order_by("-time")
        by_client = _wait(list(times.values_list("time", flat=True)[:climit]), climit, window, now)
    return max(by_user, by_client)


@transaction.atomic
def login_record(*, username: str, user: User | None, client: str | None = None, refused: bool = False) -> int:
    """Record a password check: success with the user, failure with the name that was tried, or a refusal
    because of a lockout. Returns the lockout now in force, in seconds (0: none).

    A failure that starts a lockout is recorded as ``account.login_locked`` as well.
    """
    key, addr = login_key(username), _client(client)
    outcome = (LoginAttempt.Outcome.REFUSED if refused else
               LoginAttempt.Outcome.SUCCEEDED if user is not None else LoginAttempt.Outcome.FAILED)
    LoginAttempt.objects.create(kind=LoginAttempt.Kind.PASSWORD, username=key, client=addr, outcome=outcome,
                                time=timezone.now())
    if user is not None:
        audit_record(actor=user, action="account.login_succeeded", target_kind="user", target_id=user.username)
        return 0
    wait = login_lockout(username=username, client=addr)
    if refused:
        audit_record(actor=None, action="account.login_refused", target_kind="user", target_id=key,
                     payload={"reason": "locked out", "retry_after": wait})
        return wait
    audit_record(actor=None, action="account.login_failed", target_kind="user", target_id=key)
    if wait:
        audit_record(actor=None, action="account.login_locked", target_kind="user", target_id=key,
                     payload={"client": addr, "seconds": wait})
    return wait


def _token_failures(*, since: datetime, client: str | None = None) -> QuerySet[LoginAttempt]:
    rows = LoginAttempt.objects.filter(kind=LoginAttempt.Kind.TOKEN, time__gt=since)
    return rows if client is None else rows.filter(client=client)


def token_lockout(*, client: str | None = None) -> int:
    """Seconds before unknown API tokens are checked again, from this client address or from anywhere (0: now).

    Two limits: ``PORTAL_TOKEN_MAX_FAILURES`` unknown tokens from one address, and a global ceiling of
    ``PORTAL_TOKEN_MAX_FAILURES_GLOBAL`` from all addresses together (guesses spread over a botnet). The throttle
    applies to unknown tokens only: the authentication class still checks a token whose prefix belongs to an
    active token, so the pipelines behind one NAT keep working while a neighbour floods.
    """
    addr = _client(client)
    now = timezone.now()
    since = now - timedelta(seconds=settings.PORTAL_TOKEN_WINDOW_SECONDS)
    window = timedelta(seconds=settings.PORTAL_TOKEN_WINDOW_SECONDS)
    waits = [0]
    if addr:
        limit = settings.PORTAL_TOKEN_MAX_FAILURES
        times = _token_failures(since=since, client=addr).order_by("-time").values_list("time", flat=True)[:limit]
        waits.append(_wait(list(times), limit, window, now))
    ceiling = settings.PORTAL_TOKEN_MAX_FAILURES_GLOBAL
    times = _token_failures(since=since).order_by("-time").values_list("time", flat=True)[:ceiling]
    waits.append(_wait(list(times), ceiling, window, now))
    return max(waits)


def token_prefix_known(prefix: str) -> bool:
    """Whether an active token starts with these characters: only such tokens are checked while throttled."""
    return len(prefix) == TOKEN_PREFIX_LENGTH and ApiToken.objects.active().filter(prefix=prefix).exists()


@transaction.atomic
def token_failure_record(*, prefix: str, client: str | None = None) -> int:
    """Record an unknown or revoked token from a client address. Returns the throttle now in force, in seconds.

    The failure that starts a throttle (of the address, or the global ceiling) is written to the audit trail and
    the log once; later ones are not, so a flood of guesses does not flood the trail.
    """
    addr = _client(client)
    LoginAttempt.objects.create(kind=LoginAttempt.Kind.TOKEN, username=prefix[:TOKEN_PREFIX_LENGTH], client=addr,
                                outcome=LoginAttempt.Outcome.FAILED, time=timezone.now())
    wait = token_lockout(client=addr)
    since = timezone.now() - timedelta(seconds=settings.PORTAL_TOKEN_WINDOW_SECONDS)
    for target, limit, rows in (
        (addr, settings.PORTAL_TOKEN_MAX_FAILURES, _token_failures(since=since, client=addr) if addr else None),
        ("*", settings.PORTAL_TOKEN_MAX_FAILURES_GLOBAL, _token_failures(since=since)),
    ):
        if rows is not None and wait and rows.count() == limit:
            logger.warning("throttling unknown API tokens from %s: %d in %ss", target, limit,
                           settings.PORTAL_TOKEN_WINDOW_SECONDS)
            audit_record(actor=None, action="account.token_throttled", target_kind="client", target_id=target,
                         payload={"failures": limit, "seconds": wait})
    return wait


def login_attempts_prune(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Forget credential checks older than every lockout window. The audit trail keeps what happened."""
    longest = max(settings.PORTAL_LOGIN_WINDOW_SECONDS, settings.PORTAL_TOKEN_WINDOW_SECONDS)
    cutoff = timezone.now() - max(older_than, timedelta(seconds=longest))
    deleted, _ = LoginAttempt.objects.filter(time__lt=cutoff).delete()
    return deleted


class LockedOut(DomainError):
    """Too many wrong passwords: password checks for this user or address are refused for a while."""

    status_code = 429


def password_confirm(*, user: User, password: str, refused_action: str, target_kind: str, target_id: str) -> bool:
    """Re-authentication for electronic signatures: the user's password now, not their session.

    A refusal is recorded under ``refused_action`` in its own transaction, so call this before opening the
    transaction of the change it guards: the record is kept when the caller then raises and rolls back.
    Wrong passwords count toward the sign-in lockout; while it lasts even the right password is refused
    (``LockedOut``).
    """
    if login_lockout(username=user.username):
        with transaction.atomic():
            wait = login_record(username=user.username, user=None, refused=True)
            audit_record(actor=user, action=refused_action, target_kind=target_kind, target_id=target_id,
                         payload={"reason": "locked out"})
        raise LockedOut(f"Too many wrong passwords: password checks are locked for {math.ceil(wait / 60)} more "
                        "minute(s); nothing was done.", field="password")
    if user.check_password(password):
        return True
    with transaction.atomic():
        login_record(username=user.username, user=None)
        audit_record(actor=user, action=refused_action, target_kind=target_kind, target_id=target_id,
                     payload={"reason": "wrong password"})
    return False
