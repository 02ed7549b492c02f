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
