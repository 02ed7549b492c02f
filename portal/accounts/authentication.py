"""Bearer-token authentication for the API (the openlineage-python client's `api_key` auth)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from portal.audit.context import set_token

from .models import ApiToken, User
from .services import TOKEN_PREFIX_LENGTH, token_digest, token_failure_record, token_lockout, token_prefix_known
from .tokencache import token_cached, token_remember, token_touch

# Touch last_used_at at most this often, so ingestion does not write a row per request.
LAST_USED_RESOLUTION = timedelta(minutes=5)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>``. Too many unknown tokens from one client address (or from everywhere)
    answer 429 with Retry-After; tokens whose prefix belongs to an active token are still checked."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Bearer <token>'.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raw = ""
        prefix = raw[:TOKEN_PREFIX_LENGTH]
        digest = token_digest(raw) if raw else ""
        # A valid token is one dictionary lookup (tokencache.py) or one indexed read; the throttle's queries
        # run only for tokens that fail, which is where they matter.
        found = token_cached(digest) if digest else None
        if found is None and digest:
            token = ApiToken.objects.active().select_related("user").filter(digest=digest).first()
            if token is not None and token.user.is_active:
                token_remember(digest, token, token.user)
                found = token, token.user
        if found is None:
            # Unknown tokens are throttled; a token whose prefix is an active token's is always checked, so a
            # flood from one address (or everywhere) does not lock out the valid tokens of the pipelines
            # sharing it.
            wait = token_lockout()
            if wait and not token_prefix_known(prefix):
                raise exceptions.Throttled(wait, "Too many invalid API tokens from this address.")
            token_failure_record(prefix=prefix)
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        token, user = found
        set_token(token.prefix)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token_touch(digest, now)
        return user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
