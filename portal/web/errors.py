"""The portal's refusal pages: a 403 inside the portal's layout that says which role grants access and who
gives roles. The API keeps its JSON errors (``portal.lib.errors``); the 404 and 500 pages are plain templates
(``404.html``, ``500.html``) that Django's handlers render."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from portal.accounts.models import Role
from portal.accounts.permissions import RoleRequired
from portal.accounts.selectors import administrators
from portal.lib.errors import error_body


def refusal(request: HttpRequest, message: str, *, roles: frozenset[str] = frozenset()) -> HttpResponse:
    """The styled 403 page: what was refused, the roles that would grant it, and the people who give roles."""
    granted_by = [label for value, label in Role.choices if value in roles]
    return render(request, "403.html", {"message": message, "granted_by": granted_by,
                                        "admins": administrators()}, status=403)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler403``: JSON under /api/, the styled page elsewhere."""
    message = str(exception) if isinstance(exception, PermissionDenied) and str(exception) else ""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(message or "You do not have permission to perform this action."),
                            status=403)
    roles = exception.roles if isinstance(exception, RoleRequired) else frozenset()
    return refusal(request, message, roles=roles)
