"""Sign-in's second step and the two-factor settings page. Thin: the rules are in ``portal.accounts.mfa``."""

from __future__ import annotations

import time
from typing import Any

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from portal.accounts import mfa, oidc
from portal.accounts import services as account_services
from portal.accounts.models import User
from portal.accounts.reauth import reauth_record
from portal.audit.context import client_address
from portal.lib.errors import DomainError

PENDING = "mfa_pending"
SSO_PENDING = oidc.SESSION_PENDING
MFA_BY_PROVIDER = "mfa_by_provider"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
PENDING_SECONDS = 300
METHODS = "auth_methods"


def second_step_begin(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    """The password was right and the user has an authenticator: remember who, for five minutes, and ask for a
    code. The session is not signed in yet."""
    request.session.cycle_key()
    request.session[PENDING] = {"user": user.pk, "backend": getattr(user, "backend", ""), "next": next_url,
                                "since": time.time()}
    return redirect("web:login-code")


def session_sign_in(request: HttpRequest, user: User, methods: list[str], backend: str | None = None) -> None:
    """Sign ``user`` in, record the success, and keep how they authenticated (RFC 8176 ``amr`` values) in the
    session, for the pages and for signatures."""
    auth_login(request, user, backend=backend)
    request.session[METHODS] = methods
    account_services.login_record(username=user.username, user=user, client=client_address(request))


@never_cache
@sensitive_post_parameters("code")
def login_code(request: HttpRequest) -> HttpResponse:
    from .views import landing_url  # the landing table lives with the sign-in view

    pending: dict[str, Any] | None = request.session.get(PENDING)
    if not pending or time.time() - pending["since"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        messages.error(request, "Sign in again: the code must follow the password within five minutes.")
        return redirect("web:login")
    user = User.objects.filter(pk=pending["user"], is_active=True).first()
    if user is None:
        return redirect("web:login")
    error, status = "", 200
    if request.method == "POST":
        try:
            method = mfa.second_factor_verify(user=user, code=request.POST.get("code", ""),
                                              refused_action="account.login_failed", target_kind="user",
                                              target_id=user.username)
        except account_services.LockedOut as exc:
            request.session.pop(PENDING, None)
            error, status = exc.message, 429
        except DomainError as exc:
            error, status = exc.message, 400
        else:
            request.session.pop(PENDING, None)
            session_sign_in(request, user, [mfa.AMR_PASSWORD, method], backend=pending["backend"] or None)
            if method == mfa.AMR_RECOVERY:
                messages.warning(request, "You signed in with a recovery code; it cannot be used again.")
            nxt = pending["next"]
            safe = nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()},
                                                           require_https=request.is_secure())
            return redirect(nxt if safe else landing_url(user))
    return render(request, "accounts/login_code.html", {"error": error}, status=status)


@never_cache
@login_required
@sensitive_post_parameters("code")
def two_factor(request: HttpRequest) -> HttpResponse:
    """Set up, confirm, or remove the authenticator; new recovery codes. A removal or new codes need a code."""
    user: User = request.user  # type: ignore[assignment]
    context: dict[str, Any] = {"required": mfa.second_factor_required_by_role(user)}
    action = request.POST.get("action", "") if request.method == "POST" else ""
    try:
        if action == "start":
            context["enrolment"] = mfa.totp_enrol_start(user=user)
        elif action == "confirm":
            context["recovery_codes"] = mfa.totp_enrol_confirm(user=user, code=request.POST.get("code", ""))
            request.session[METHODS] = sorted({*request.session.get(METHODS, []), mfa.AMR_OTP})
        elif action in ("remove", "codes"):
            mfa.second_factor_verify(user=user, code=request.POST.get("code", ""), target_kind="user",
                                     refused_action="account.mfa_change_refused", target_id=user.username)
            if action == "remove":
                if context["required"]:
                    raise mfa.SecondFactorError("Your role requires a second factor: set up a new authenticator "
                                                "by asking an admin to reset this one.", field="otp")
                mfa.totp_remove(user=user, by=user)
                messages.success(request, "The authenticator was removed.")
            else:
                context["recovery_codes"] = mfa.recovery_codes_regenerate(user=user)
    except DomainError as exc:
        context["error"] = exc.message
    context["device"] = mfa.device_of(user)
    if context["device"] is None and "enrolment" not in context:
        context["enrolment"] = mfa.totp_pending(user=user)
    context["codes_left"] = user.recovery_codes.filter(used_at__isnull=True).count()
    return render(request, "accounts/two_factor.html", context)


def _callback_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("web:oidc-callback"))


@never_cache
def oidc_start(request: HttpRequest) -> HttpResponse:
    """Send the browser to the identity provider (authorization code flow with PKCE)."""
    if not oidc.enabled():
        raise Http404
    try:
        url, pending = oidc.authorization_url(redirect_uri=_callback_uri(request),
                                              next_url=request.GET.get("next", ""))
    except oidc.SsoError as exc:
        return sso_refused_page(request, exc.message, 502)
    request.session[SSO_PENDING] = pending.as_dict()
    return redirect(url)


@never_cache
def oidc_callback(request: HttpRequest) -> HttpResponse:
    """The provider's answer: verify it, create or update the user, and sign in (or ask for the portal's own
    second factor when the provider's authentication did not satisfy it and the user has an authenticator)."""
    from .views import landing_url

    if not oidc.enabled():
        raise Http404
    pending = request.session.pop(SSO_PENDING, None)
    if pending and pending.get("reauth"):
        return _reauth_return(request, pending)
    try:
        claims = oidc.callback(params=request.GET.dict(), pending=pending, redirect_uri=_callback_uri(request))
        user = oidc.user_sync(claims=claims)
    except oidc.SsoError as exc:
        audit_refusal(exc.message)
        return sso_refused_page(request, exc.message, 400)
    if not user.is_active:
        return sso_refused_page(request, "This account is disabled.", 403)
    by_provider = oidc.second_factor_by_provider(claims)
    nxt = pending.get("next", "") if pending else ""
    user.backend = MODEL_BACKEND  # type: ignore[attr-defined]
    if not by_provider and mfa.device_of(user) is not None:
        return second_step_begin(request, user, nxt)
    amr = claims.get("amr") or []
    session_sign_in(request, user, ["sso", *([amr] if isinstance(amr, str) else [str(a) for a in amr])],
                    backend=MODEL_BACKEND)
    request.session[MFA_BY_PROVIDER] = by_provider
    safe = nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure())
    return redirect(nxt if safe else landing_url(user))


def _reauth_return(request: HttpRequest, pending: dict[str, Any]) -> HttpResponse:
    """The provider's answer to a re-authentication (an electronic signature of an SSO user): verify it as a
    sign-in, check it is the signed-in user freshly authenticated, record it and hand its one-time result id to
    the page that asked (``pending["next"]``); the signature takes it once (``portal.accounts.reauth``)."""
    if not request.user.is_authenticated:
        return sso_refused_page(request, "Sign in first; nothing was signed.", 400)
    nxt = pending.get("next", "")
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        nxt = reverse("web:home")
    try:
        claims = oidc.callback(params=request.GET.dict(), pending=pending, redirect_uri=_callback_uri(request))
        evidence = oidc.reauth_evidence(user=request.user, claims=claims, started=float(pending.get("started") or 0))
        request.session[oidc.SESSION_REAUTH] = reauth_record(user=request.user, evidence=evidence).token
    except oidc.SsoError as exc:
        audit_refusal(exc.message)
        messages.error(request, exc.message)
    return redirect(nxt)


def sso_context() -> dict[str, Any]:
    return {"sso_enabled": oidc.enabled(), "sso_label": oidc.settings.PORTAL_OIDC_LABEL}


def sso_refused_page(request: HttpRequest, message: str, status: int) -> HttpResponse:
    from django.contrib.auth.forms import AuthenticationForm

    return render(request, "accounts/login.html", {"form": AuthenticationForm(request), "sso_error": message,
                                                   **sso_context()}, status=status)


def audit_refusal(reason: str) -> None:
    """Record a refused answer of the provider. In its own transaction: requests are not atomic, and
    ``audit_record`` outside one raises (a refused sign-in or re-authentication was a 500 before)."""
    from portal.audit.services import audit_record

    with transaction.atomic():
        audit_record(actor=None, action="account.sso_refused", target_kind="sso",
                     target_id=oidc.settings.PORTAL_OIDC_ISSUER, payload={"reason": reason})
