"""Users, roles, teams and API tokens."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    INGESTOR = "ingestor", "Ingestor (service account)"
    VIEWER = "viewer", "Viewer"
    APPROVER = "approver", "Approver"
    COMPLIANCE_OFFICER = "compliance_officer", "Compliance officer"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Administrator"


class Team(models.Model):
    """A group of people. Teams own namespaces; members see what their teams own."""

    name = models.SlugField(max_length=100, unique=True)
    display_name = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return self.display_name or self.name


class User(AbstractUser):
    """A person or a service account. The role says what the user may do."""

    role = models.CharField(max_length=32, choices=Role.choices, default=Role.VIEWER)
    teams = models.ManyToManyField(Team, blank=True, related_name="members")

    @property
    def printed_name(self) -> str:
        return self.get_full_name() or self.username

    @property
    def sees_all_namespaces(self) -> bool:
        return self.is_superuser or self.role in settings.PORTAL_ORG_WIDE_ROLES


class UserEmail(models.Model):
    """An extra email address of a user, used to link commits to the people who wrote them."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="extra_emails")
    email = models.EmailField(unique=True)

    def __str__(self) -> str:
        return self.email


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 digest is stored; the token is shown once.

    Tokens carry 256 bits of randomness, so a fast hash is enough: there is nothing to brute-force.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, help_text="First characters of the token, to recognise it.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class NamespaceOwner(models.Model):
    """A team owns a lineage namespace. A namespace no team owns is visible to every signed-in user."""

    namespace = models.CharField(max_length=500, unique=True)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="namespaces")

    def __str__(self) -> str:
        return f"{self.namespace} → {self.team}"


class LoginAttempt(models.Model):
    """One credential check: a sign-in, a re-authentication to sign, or an unknown API token.

    Failures drive lockout and token throttling. They are kept in the database, not a per-process cache,
    so every gunicorn worker sees the same count.
    """

    class Kind(models.TextChoices):
        PASSWORD = "password", "Password"
        TOKEN = "token", "API token"

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Wrong username or password"
        REFUSED = "refused", "Refused while locked out"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PASSWORD)
    username = models.CharField(max_length=150, blank=True, help_text="As typed, lower-cased.")
    client = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    time = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["username", "time"], name="loginattempt_user_time"),
            models.Index(fields=["kind", "client", "time"], name="loginattempt_client_time"),
        ]

    def __str__(self) -> str:
        return f"{self.username} {self.outcome} @ {self.time}"


class TotpDevice(models.Model):
    """A user's authenticator (RFC 6238). The shared secret is encrypted with a key derived from the portal's
    secret key, so a copy of the database alone cannot mint codes. ``last_step`` is the newest time step a code
    was accepted for: a code of that step or an older one is a replay and is refused."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_device")
    secret = models.BinaryField(help_text="Fernet-encrypted shared secret.")
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True, help_text="Empty until a first code is entered.")
    last_step = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"authenticator of {self.user}"


class RecoveryCode(models.Model):
    """A one-use code to pass the second factor without the authenticator. Only its SHA-256 digest is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    digest = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "digest"], name="recoverycode_unique_per_user")]

    def __str__(self) -> str:
        return f"recovery code of {self.user}"


class ExternalIdentity(models.Model):
    """A user's account at the OpenID Connect provider: ``(issuer, subject)`` is the link, not the username,
    so a provider account can never take over a local account that merely shares its name."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="external_identities")
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="externalidentity_unique")]

    def __str__(self) -> str:
        return f"{self.user} at {self.issuer}"


class Reauthentication(models.Model):
    """The result of a fresh sign-in at the identity provider (``oidc.reauth_evidence``) that stands in for the
    password of an SSO user in one electronic signature. Its ``token`` is the one-time result id a page form or
    an API call presents; ``used_at`` is set when a signature takes it, and it is never taken twice."""

    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reauthentications")
    evidence = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"re-authentication of {self.user} at {self.created_at}"
