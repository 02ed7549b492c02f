"""Service accounts (role ``ingestor``) use the API only: a session of theirs may manage its own tokens and sign
out, and every other page answers 403. One rule here, so a new page cannot forget it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from portal.accounts.mfa import second_factor_missing
from portal.accounts.models import Role
from portal.accounts.permissions import READ_ROLES
from portal.lib.errors import error_body

from .errors import refusal

ALLOWED_PREFIXES = ("/api/", "/login/", "/logout/", "/settings/tokens/", "/healthz", "/metrics", "/static/")


class ServiceAccountPagesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated and getattr(user, "role", "") == Role.INGESTOR
                and not user.is_superuser and not request.path.startswith(ALLOWED_PREFIXES)):
            return refusal(request, "Service accounts use the API; pages are for people.",
                           roles=frozenset(READ_ROLES))
        return self.get_response(request)


# What a user whose role requires a second factor may reach before enrolling one.
ENROLMENT_PREFIXES = ("/settings/two-factor/", "/logout/", "/login/", "/healthz", "/static/")


class SecondFactorEnrolmentMiddleware:
    """A signed-in user whose role requires a second factor (``PORTAL_MFA_REQUIRED_ROLES``) and who has none yet
    is sent to the enrolment page from every page; session calls to the API answer 403. API tokens are not
    affected: service accounts have no second factor, and signing through the API asks for a code anyway."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated and not request.path.startswith(ENROLMENT_PREFIXES)
                and second_factor_missing(user) and not request.session.get("mfa_by_provider")):
            if request.path.startswith("/api/"):
                if request.headers.get("Authorization", "").lower().startswith("bearer "):
                    return self.get_response(request)
                message = "Set up a second factor first (Settings, two-factor sign-in)."
                return JsonResponse(error_body(message, [{"field": None, "message": message}]), status=403)
            return redirect(f"{reverse('web:two-factor')}?required=1")
        return self.get_response(request)
