"""Valid API tokens remembered per process for a few seconds, so ingestion does not read the token per request.

Only tokens found valid (not revoked, user active) are kept, by digest, for ``PORTAL_TOKEN_CACHE_SECONDS``
(default 5; 0 turns the cache off). A token revoked or a user deactivated in another process is refused once
the entry expires; :func:`token_forget` drops entries at once in the process that revokes (or saves the user)
and keeps them from being cached again for one expiry, so a request that read the row before cannot put it
back. Unknown tokens are never cached: each one is looked up, recorded and throttled as before.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from .models import ApiToken, User


@dataclass(frozen=True, slots=True)
class CachedToken:
    token: ApiToken
    user: User
    until: float  # time.monotonic() after which the row is read again


_entries: dict[str, CachedToken] = {}
_forgotten: dict[str | int, float] = {}  # digest or user id -> until when nothing of it may be cached again
_lock = threading.Lock()


def _seconds() -> float:
    return float(getattr(settings, "PORTAL_TOKEN_CACHE_SECONDS", 5.0))


def token_cached(digest: str) -> tuple[ApiToken, User] | None:
    """The token and its user when a fresh entry exists; copies, so a request cannot change the shared one."""
    entry = _entries.get(digest)
    if entry is None:
        return None
    if time.monotonic() >= entry.until:
        with _lock:
            if _entries.get(digest) is entry:
                del _entries[digest]
        return None
    token, user = copy.copy(entry.token), copy.copy(entry.user)
    token.user = user  # request.auth.user is request.user: nothing shared between requests
    return token, user


def token_remember(digest: str, token: ApiToken, user: User) -> None:
    seconds = _seconds()
    if seconds <= 0:
        return
    now = time.monotonic()
    with _lock:
        # A request that read the row before a revocation committed must not cache it again after the forget.
        if any(_forgotten.get(key, 0.0) > now for key in (digest, user.pk)):
            return
        if len(_entries) >= 10_000:  # bounded: tokens are few, but never let the map grow without limit
            _entries.clear()
        _entries[digest] = CachedToken(copy.copy(token), copy.copy(user), now + seconds)


def token_touch(digest: str, last_used_at: datetime) -> None:
    """Note the new ``last_used_at`` in the cached row, so the next request does not write it again."""
    with _lock:
        entry = _entries.get(digest)
        if entry is not None:
            token = copy.copy(entry.token)
            token.last_used_at = last_used_at
            _entries[digest] = CachedToken(token, entry.user, entry.until)


def token_forget(*, digest: str | None = None, user_id: int | None = None) -> None:
    """Drop a revoked token, or every token of a user, from this process's cache (other processes: on expiry)."""
    now = time.monotonic()
    until = now + _seconds()
    with _lock:
        for stale in [k for k, t in _forgotten.items() if t <= now]:
            del _forgotten[stale]
        for mark in (digest, user_id):
            if mark is not None:
                _forgotten[mark] = until
        for key, entry in list(_entries.items()):
            if key == digest or (user_id is not None and entry.user.pk == user_id):
                del _entries[key]


def token_cache_clear() -> None:
    with _lock:
        _entries.clear()
        _forgotten.clear()


def user_saved(instance: User, **_: object) -> None:
    """``post_save`` of a user (admin, SSO sync, ``user_ensure``): their role or activity may have changed, so
    their cached tokens go once the change commits."""
    from django.db import transaction

    transaction.on_commit(lambda: token_forget(user_id=instance.pk))
