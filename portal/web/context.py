"""The navigation: the current section, from the route that answered (one table, so a new page lands in one), and
where the logo leads (a service account's only page is its tokens)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from portal.accounts.models import Role
from portal.accounts.reauth import signs_at_provider

# A view name, or an app's namespace, to the navigation entry it belongs to. Node pages belong with the explorer
# (the graph), not with search.
SECTION_BY_VIEW = {"web:dashboard": "dashboard", "web:deployments": "dashboard", "web:violations": "dashboard",
                   "web:alerts": "dashboard", "web:releases-waiting": "dashboard", "reports:posture": "dashboard",
                   "web:explore": "explorer", "web:node-detail": "explorer",
                   "governance:node": "explorer", "web:home": "search", "web:tokens": "tokens",
                   "web:two-factor": "two-factor"}
SECTION_BY_APP = {"approvals": "approvals", "evidence": "evidence", "reports": "reports", "audit": "audit",
                  "incidents": "incidents"}


def navigation(request: HttpRequest) -> dict[str, str]:
    user = getattr(request, "user", None)
    service = bool(user and user.is_authenticated and getattr(user, "role", "") == Role.INGESTOR
                   and not user.is_superuser)
    match = getattr(request, "resolver_match", None)
    section = (SECTION_BY_VIEW.get(match.view_name) or SECTION_BY_APP.get(match.app_name, "")) if match else ""
    return {"nav_section": section, "portal_home": reverse("web:tokens" if service else "web:home")}


def signer(request: HttpRequest) -> dict[str, object]:
    """How the signed-in user confirms an electronic signature (``templates/accounts/_signer_confirm.html``):
    ``sso_signer`` signs in again at the identity provider instead of typing a password."""
    user = getattr(request, "user", None)
    return {"sso_signer": bool(user and user.is_authenticated and signs_at_provider(user)),
            "sso_label": settings.PORTAL_OIDC_LABEL}
