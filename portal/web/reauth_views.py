"""The page side of signing at the identity provider (``portal.accounts.reauth``), one flow for every signed
action: the action's POST view, for an SSO user, keeps the form and sends the browser to the provider
(``reauth_begin``); the callback records the fresh sign-in and hands its one-time result id here; the continue
page posts the kept form back to the same action with that id, where the service takes it once."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.accounts import oidc
from portal.accounts.reauth import FIELD, signs_at_provider
from portal.lib.errors import DomainError

SESSION_INTENT = "reauth_intent"  # the form an SSO signer filled, while the provider asks them again
NOT_KEPT = {"csrfmiddlewaretoken", "password", FIELD}


def needs_reauth(request: HttpRequest) -> bool:
    """This POST is a signature by an SSO user who has not yet signed in again at the provider for it."""
    return signs_at_provider(request.user) and not request.POST.get(FIELD)  # type: ignore[arg-type]


def reauth_form(request: HttpRequest) -> str:
    """The one-time result id the continue page posted with the form ("" when there is none)."""
    return request.POST.get(FIELD, "")


def _safe(request: HttpRequest, url: str) -> bool:
    return bool(url) and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                                          require_https=request.is_secure())


def reauth_begin(request: HttpRequest, *, back: str) -> HttpResponse:
    """Keep the POSTed form (not the password) and where it was posted, then send the browser to sign in again
    at the provider (``prompt=login``, ``max_age=0``). ``back``: the page to return to when it does not work."""
    fields = [(k, v) for k, values in request.POST.lists() if k not in NOT_KEPT for v in values]
    return _to_provider(request, {"url": request.path, "fields": fields, "back": back})


def _to_provider(request: HttpRequest, intent: dict[str, Any]) -> HttpResponse:
    try:
        url, pending = oidc.authorization_url(
            redirect_uri=request.build_absolute_uri(reverse("web:oidc-callback")),
            next_url=reverse("web:reauth-continue"), reauth=True)
    except oidc.SsoError as exc:
        messages.error(request, exc.message)
        return redirect(intent["back"] if _safe(request, intent["back"]) else reverse("web:home"))
    request.session[oidc.SESSION_PENDING] = pending.as_dict()
    request.session.pop(oidc.SESSION_REAUTH, None)
    request.session[SESSION_INTENT] = intent
    return redirect(url)


def _sso_enabled(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """404 for every method and every visitor while single sign-on is not configured, as ``/login/sso``."""
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not oidc.enabled():
            raise Http404
        return view(request, *args, **kwargs)
    return wrapped


@_sso_enabled
@never_cache
@login_required
@require_GET
def reauth_start(request: HttpRequest) -> HttpResponse:
    """Sign in again at the provider without a form: the ``reauth_url`` an API answer names. The continue page
    then shows the one-time result id to send with the API call."""
    if not signs_at_provider(request.user):  # type: ignore[arg-type]
        messages.error(request, "You sign with your portal password; there is nothing to sign in again for.")
        return redirect("web:home")
    return _to_provider(request, {"url": "", "fields": [], "back": reverse("web:home")})


@_sso_enabled
@never_cache
@login_required
@require_GET
def reauth_continue(request: HttpRequest) -> HttpResponse:
    """Back from the provider: the kept form, with the one-time result id, ready to be posted to the action (or,
    for an API client, the id to send). Taken once: a reload finds nothing."""
    token = request.session.pop(oidc.SESSION_REAUTH, None)
    intent = request.session.pop(SESSION_INTENT, None) or {}
    back = intent.get("back", "")
    if not token:
        messages.error(request, "You were not signed in again at the identity provider; nothing was signed.")
        return redirect(back if _safe(request, back) else reverse("web:home"))
    if intent.get("url") and not _safe(request, intent["url"]):
        raise DomainError("The form to sign is not one of this portal's.")
    return render(request, "accounts/reauth_continue.html", {
        "action_url": intent.get("url", ""), "fields": intent.get("fields", []), "token": token, "field": FIELD,
        "back": back, "sso_label": oidc.settings.PORTAL_OIDC_LABEL})
