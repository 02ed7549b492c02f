"""The second factor: enrolment of an authenticator (TOTP), recovery codes, and the checks at sign-in and at
each electronic signature.

Who needs it: anyone who enrolled, and every user whose role is in ``PORTAL_MFA_REQUIRED_ROLES`` (signers and
admins by default; superusers count as admins). A required user who has not enrolled yet may only reach the enrolment
page (``SecondFactorEnrolmentMiddleware``) and cannot sign. A code is accepted within
``PORTAL_TOTP_SKEW_STEPS`` 30-second steps of the server's clock and only once: the device keeps the newest
step it accepted. Wrong codes count toward the sign-in lockout of the user.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.audit.services import audit_record
from portal.lib.errors import DomainError

from . import totp
from .models import RecoveryCode, TotpDevice, User
from .services import LockedOut, login_lockout, login_record

RECOVERY_CODES = 10
# Authentication method references (RFC 8176) recorded with sessions and signatures.
AMR_PASSWORD, AMR_OTP, AMR_RECOVERY = "pwd", "otp", "rcode"


class SecondFactorError(DomainError):
    status_code = 400


class SecondFactorMissing(DomainError):
    """The user's role requires a second factor and none is set up."""

    status_code = 403


def _fernet() -> Fernet:
    key = hashlib.sha256(b"lineage-portal totp secret v1\x00" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _secret(device: TotpDevice) -> bytes:
    try:
        return _fernet().decrypt(bytes(device.secret))
    except InvalidToken as exc:  # the secret key changed: the device must be enrolled again
        raise SecondFactorError("Your authenticator can no longer be checked; ask an admin to reset it.",
                                field="otp") from exc


def device_of(user: User) -> TotpDevice | None:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()


def second_factor_required_by_role(user: User) -> bool:
    """A superuser counts as an admin."""
    roles = settings.PORTAL_MFA_REQUIRED_ROLES
    return bool(user.role in roles or (user.is_superuser and "admin" in roles))


def second_factor_required(user: User) -> bool:
    """Does this user need a second factor (to sign in fully, and at each signature)?"""
    return second_factor_required_by_role(user) or device_of(user) is not None


def second_factor_missing(user: User) -> bool:
    """Required by role but not enrolled yet: the user may only enrol."""
    return bool(user.is_authenticated and second_factor_required_by_role(user) and device_of(user) is None)


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str


@transaction.atomic
def totp_enrol_start(*, user: User) -> Enrolment:
    """A new, unconfirmed secret for the user (replacing an earlier unconfirmed one). A confirmed device must be
    removed first, so enrolling again cannot be used to bypass it."""
    if device_of(user):
        raise SecondFactorError("An authenticator is already set up; remove it first.", field="otp")
    secret = totp.secret_new()
    TotpDevice.objects.update_or_create(user=user, defaults={"secret": _fernet().encrypt(secret), "last_step": 0,
                                                             "confirmed_at": None})
    return Enrolment(secret=totp.secret_text(secret),
                     uri=totp.provisioning_uri(secret, account=user.username, issuer=settings.PORTAL_TOTP_ISSUER))


def totp_pending(*, user: User) -> Enrolment | None:
    """The set-up started but not confirmed yet, to show again after a wrong first code."""
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).first()
    if device is None:
        return None
    secret = _secret(device)
    return Enrolment(secret=totp.secret_text(secret),
                     uri=totp.provisioning_uri(secret, account=user.username, issuer=settings.PORTAL_TOTP_ISSUER))


def _recovery_codes_new(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = ["-".join(secrets.token_hex(5)[i:i + 5] for i in (0, 5)) for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.bulk_create(RecoveryCode(user=user, digest=totp.digest(c)) for c in codes)
    return codes


@transaction.atomic
def totp_enrol_confirm(*, user: User, code: str, at: float | None = None) -> list[str]:
    """Confirm the pending secret with a first code; returns the recovery codes, shown once and stored hashed."""
    device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=True).first()
    if device is None:
        raise SecondFactorError("Start the set-up first.", field="otp")
    step = totp.totp_match(_secret(device), code, time.time() if at is None else at,
                           skew=settings.PORTAL_TOTP_SKEW_STEPS)
    if step is None:
        raise SecondFactorError("That code is not the authenticator's current code; check the phone's clock.",
                                field="otp")
    device.confirmed_at, device.last_step = timezone.now(), step
    device.save()
    codes = _recovery_codes_new(user)
    audit_record(actor=user, action="account.mfa_enrolled", target_kind="user", target_id=user.username,
                 payload={"method": "totp", "recovery_codes": len(codes)})
    return codes


@transaction.atomic
def totp_remove(*, user: User, by: User | None) -> None:
    """Remove the authenticator and recovery codes (the user, after a fresh check, or an admin resetting it)."""
    TotpDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    audit_record(actor=by, action="account.mfa_removed", target_kind="user", target_id=user.username)


@transaction.atomic
def recovery_codes_regenerate(*, user: User) -> list[str]:
    codes = _recovery_codes_new(user)
    audit_record(actor=user, action="account.mfa_recovery_codes_regenerated", target_kind="user",
                 target_id=user.username)
    return codes


def _check(user: User, code: str, at: float) -> str | None:
    """The method a code passes as (``otp`` or ``rcode``), consuming it; None if it passes as neither."""
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        return None
    step = totp.totp_match(_secret(device), code, at, skew=settings.PORTAL_TOTP_SKEW_STEPS)
    # Claim the step with a conditional update: of two requests racing with one code, one wins.
    if step is not None and TotpDevice.objects.filter(pk=device.pk, last_step__lt=step).update(last_step=step):
        return AMR_OTP
    if step is None and code.strip():
        used = RecoveryCode.objects.filter(user=user, digest=totp.digest(code.strip()), used_at__isnull=True)
        if used.update(used_at=timezone.now()):
            return AMR_RECOVERY
    return None


def second_factor_verify(*, user: User, code: str, refused_action: str, target_kind: str, target_id: str,
                         at: float | None = None) -> str:
    """Check a code (authenticator or recovery) for ``user``; returns the method it passed as.

    A wrong or replayed code is recorded under ``refused_action`` and counts toward the sign-in lockout; while
    the lockout lasts every code is refused (``LockedOut``). Like ``password_confirm``, call it before opening
    the transaction of the change it guards, so the refusal is kept when the caller rolls back.
    """
    if login_lockout(username=user.username):
        with transaction.atomic():
            login_record(username=user.username, user=None, refused=True)
            audit_record(actor=user, action=refused_action, target_kind=target_kind, target_id=target_id,
                         payload={"reason": "locked out"})
        raise LockedOut("Too many wrong passwords or codes: checks are locked for a while; nothing was done.",
                        field="otp")
    with transaction.atomic():
        method = _check(user, code or "", time.time() if at is None else at)
        if method == AMR_RECOVERY:
            audit_record(actor=user, action="account.mfa_recovery_code_used", target_kind="user",
                         target_id=user.username, payload={"left": RecoveryCode.objects.filter(
                             user=user, used_at__isnull=True).count()})
    if method is not None:
        return method
    with transaction.atomic():
        login_record(username=user.username, user=None)
        audit_record(actor=user, action=refused_action, target_kind=target_kind, target_id=target_id,
                     payload={"reason": "wrong or reused second-factor code"})
    raise SecondFactorError("The authentication code is wrong or was already used; nothing was done.", field="otp")


def signature_second_factor(*, user: User, otp: str, refused_action: str, target_kind: str, target_id: str
                            ) -> list[str]:
    """For an electronic signature, after the password was checked: the code, when the user needs a second
    factor. Returns the authentication methods of the signature (RFC 8176 ``amr`` values) for its manifest."""
    if not second_factor_required(user):
        return [AMR_PASSWORD]
    if device_of(user) is None:
        raise SecondFactorMissing("Your role signs with a second factor: set up an authenticator first "
                                  "(Settings, two-factor sign-in); nothing was signed.", field="otp")
    method = second_factor_verify(user=user, code=otp, refused_action=refused_action, target_kind=target_kind,
                                  target_id=target_id)
    return [AMR_PASSWORD, method]
