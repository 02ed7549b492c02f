"""Service accounts (role ``ingestor``) use the API only: a session of theirs may manage its own tokens and sign
out, and every other page answers 403. One rule here, so a new page cannot forget it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

from portal.accounts.models import Role

ALLOWED_PREFIXES = ("/api/", "/login/", "/logout/", "/settings/tokens/", "/healthz", "/metrics", "/static/")


class ServiceAccountPagesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated and getattr(user, "role", "") == Role.INGESTOR
                and not user.is_superuser and not request.path.startswith(ALLOWED_PREFIXES)):
            return HttpResponseForbidden("Service accounts use the API; pages are for people.",
                                         content_type="text/plain; charset=utf-8")
        return self.get_response(request)
