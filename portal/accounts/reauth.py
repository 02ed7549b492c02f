"""Who is signing, asked again: the one check every electronic signature of the portal goes through.

A local user confirms with their password (and their second factor where the action and their role ask for it).
A user who signs in through the identity provider has no portal password: they sign in again there
(``prompt=login``, ``max_age=0``; see ``portal.accounts.oidc``), the callback records the checked answer as a
``Reauthentication`` and hands its one-time ``token`` (the result id) to the page or API client, which presents
it with the signature. ``signer_confirm`` takes the token once, checks it is the signer's and still fresh, and
returns the evidence that the caller keeps in its audit entry.

Like ``password_confirm``, call ``signer_confirm`` before opening the transaction of the change it guards: a
refusal is recorded in its own transaction and kept when the caller rolls back.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from portal.audit.services import audit_record
from portal.lib.errors import DomainError

from . import oidc
from .mfa import (
    AMR_PASSWORD,
    SecondFactorMissing,
    device_of,
    second_factor_required,
    second_factor_verify,
    signature_second_factor,
)
from .models import Reauthentication, User
from .services import password_confirm

FIELD = "reauth"  # the form and API field that carries the one-time result id


class ReauthRequired(DomainError):
    """An SSO user tried to sign with a password they do not have: they must sign in again at the provider.
    ``extra`` goes into the API's error body: where to do it and what to send back. 403, not 401: the API
    token is good, the signature needs more."""

    status_code = 403

    def __init__(self, message: str) -> None:
        super().__init__(message, field=FIELD)
        self.extra = {"reauth_url": reverse("web:oidc-reauth"), "reauth_field": FIELD}


class PasswordMissing(DomainError):
    """A local user sent no password with a signature."""


class ReauthRefused(DomainError):
    """The re-authentication presented is unknown, another person's, already used or too old."""

    status_code = 403


@dataclass(frozen=True, slots=True)
class Confirmation:
    """How the signer was asked again: RFC 8176 ``amr`` values, and the provider's evidence for an SSO user."""

    methods: list[str]
    evidence: dict[str, Any] | None = field(default=None)

    def audit(self) -> dict[str, Any]:
        """What the signature's audit entry records about it."""
        return {"auth_methods": self.methods, **({"reauthentication": self.evidence} if self.evidence else {})}


def signs_at_provider(user: User) -> bool:
    """The user signs through the identity provider (no portal password), so signatures go there."""
    return oidc.enabled() and oidc.sso_only(user)


def reauth_record(*, user: User, evidence: dict[str, Any]) -> Reauthentication:
    """Keep the checked answer of a re-authentication (``oidc.reauth_evidence``) under a one-time token."""
    return Reauthentication.objects.create(token=secrets.token_urlsafe(32), user=user, evidence=evidence)


def reauth_prune() -> int:
    """Forget re-authentications no signature can take any more (used, or older than the evidence may be); the
    audit entry of the signature that took one keeps its evidence. The beat schedule runs it hourly."""
    stale = timezone.now() - timedelta(seconds=oidc.REAUTH_MAX_AGE + oidc.LEEWAY_SECONDS)
    deleted, _ = Reauthentication.objects.filter(Q(created_at__lt=stale) | Q(used_at__isnull=False)).delete()
    return deleted


def _refuse(user: User, message: str, refused_action: str, target_kind: str, target_id: str) -> ReauthRefused:
    with transaction.atomic():
        audit_record(actor=user, action=refused_action, target_kind=target_kind, target_id=target_id,
                     payload={"reason": message})
    return ReauthRefused(message, field=FIELD)


def _take(user: User, token: str) -> dict[str, Any] | None:
    """Claim the token once (a conditional update): only ``user``'s, never used, not older than the evidence may
    be. None when there is no such token."""
    young = timezone.now() - timedelta(seconds=oidc.REAUTH_MAX_AGE + oidc.LEEWAY_SECONDS)
    rows = Reauthentication.objects.filter(token=token, user=user, used_at__isnull=True, created_at__gte=young)
    if not token or rows.update(used_at=timezone.now()) != 1:
        return None
    return Reauthentication.objects.get(token=token).evidence


def signer_confirm(*, user: User, password: str, refused_action: str, target_kind: str, target_id: str,
                   wrong_password: Exception, reauth: str = "", otp: str = "", second_factor: bool = True
                   ) -> Confirmation:
    """Ask the signer again: ``reauth`` (the one-time result id of a fresh sign-in at the provider) when given,
    else the password, raising ``wrong_password`` when it is wrong. ``second_factor``: the action needs the
    user's second factor when they have or need one (from the provider's sign-in, or the portal's code).
    An SSO user without ``reauth`` gets ``ReauthRequired`` saying where to sign in again."""
    if reauth:
        evidence = _take(user, reauth)
        if evidence is None:
            raise _refuse(user, "This re-authentication is unknown, not yours or already used; nothing was signed.",
                          refused_action, target_kind, target_id)
        try:
            oidc.reauth_check(user=user, evidence=evidence)
        except oidc.SsoError as exc:
            raise _refuse(user, exc.message, refused_action, target_kind, target_id) from exc
        methods = ["sso", *evidence.get("amr", [])]
        if second_factor and second_factor_required(user) and not evidence.get("second_factor"):
            if device_of(user) is None:
                raise SecondFactorMissing("Your role signs with a second factor, and the identity provider's "
                                          "sign-in did not include one; nothing was signed.", field="otp")
            methods.append(second_factor_verify(user=user, code=otp, refused_action=refused_action,
                                                target_kind=target_kind, target_id=target_id))
        return Confirmation(methods, evidence)
    if signs_at_provider(user):
        raise ReauthRequired(f"You sign in through {oidc.settings.PORTAL_OIDC_LABEL} and have no portal password: "
                             "sign in again there (open reauth_url in your browser) and send the one-time "
                             f"result id it shows as {FIELD!r}; nothing was signed.")
    if not password:  # not a wrong password: nothing to count toward the lockout
        raise PasswordMissing("Your password is asked again for this signature; nothing was signed.",
                              field="password")
    if not password_confirm(user=user, password=password, refused_action=refused_action, target_kind=target_kind,
                            target_id=target_id):
        raise wrong_password
    if not second_factor:
        return Confirmation([AMR_PASSWORD])
    return Confirmation(signature_second_factor(user=user, otp=otp, refused_action=refused_action,
                                                target_kind=target_kind, target_id=target_id))
