"""Who is asking, for the audit row: request id, client address and token, carried per request."""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse


@dataclass(slots=True)
class RequestContext:
    request_id: str = ""
    client: str = ""
    token_prefix: str = ""


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("audit_request", default=None)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def current() -> RequestContext:
    return _current.get() or RequestContext()


def set_token(prefix: str) -> None:
    ctx = _current.get()
    if ctx is not None:
        ctx.token_prefix = prefix


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or, behind a trusted proxy, the X-Forwarded-For hop that proxy appended.

    The last hop, not the first: a client can send X-Forwarded-For itself, and the proxy appends to it, so only
    the entries the proxies added are true. Lockout and token throttling key on this address.
    """
    if getattr(settings, "PORTAL_TRUST_X_FORWARDED_FOR", False):
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        depth = max(1, int(getattr(settings, "PORTAL_TRUSTED_PROXIES", 1)))
        if hops:
            return str(hops[-min(depth, len(hops))])[:64]
    return (request.META.get("REMOTE_ADDR") or "")[:64]


class RequestContextMiddleware:
    """Gives every request an id (the caller's X-Request-ID if it is sane) and echoes it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        token = _current.set(RequestContext(request_id=rid, client=client_address(request)))
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = rid
        return response
