"""Releases of model versions into environments, the policies that govern them, and signed votes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from lineage.models import Node, Tag
from portal.accounts.models import Team


def policy_key(environment: str, namespace: str = "", model_name: str = "", sensitive_tag: str = "") -> str:
    """A policy's identity: its versions share it."""
    return "|".join((environment, namespace, model_name, sensitive_tag))


class Policy(models.Model):
    """One version of the approval policy for an environment, optionally narrowed to a model, a namespace or
    models derived from a sensitive tag. Versions are never edited: a change is a new row with version + 1.
    """

    key = models.CharField(max_length=600, help_text="environment|namespace|model|tag: the policy's identity.")
    environment = models.CharField(max_length=100)
    namespace = models.CharField(max_length=500, blank=True)
    model_name = models.CharField(max_length=500, blank=True)
    sensitive_tag = models.CharField(max_length=20, blank=True, choices=Tag.choices)
    version = models.PositiveIntegerField()
    governed = models.BooleanField(default=True, help_text=(
        "False declares the environment ungoverned for this scope: deploys need no release and are no violation."))
    effective_from = models.DateTimeField()
    approval_expiry_days = models.PositiveIntegerField(default=30)
    min_wait_hours = models.PositiveIntegerField(default=0)
    required_evidence = models.JSONField(default=list, blank=True)
    retrospective_days = models.PositiveIntegerField(default=5)
    material_change = models.JSONField(default=dict, blank=True, help_text=(
        "The material-change rule set (portal/approvals/materiality.py): which changes since approval are "
        "material and which reviews they may trigger. Empty: the defaults (a version written before rule sets)."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "version"], name="policy_key_version")]
        ordering = ["environment", "key", "-version"]

    def __str__(self) -> str:
        return f"{self.scope_label} v{self.version}"

    @property
    def scope_label(self) -> str:
        parts = [f"model {self.model_name}" if self.model_name else "", f"namespace {self.namespace}"
                 if self.namespace else "", f"derived from {self.sensitive_tag}" if self.sensitive_tag else ""]
        scope = ", ".join(p for p in parts if p) or "default"
        return f"{self.environment} ({scope}{'' if self.governed else ', ungoverned'})"


class PolicyGroup(models.Model):
    """Members of ``team`` with the approver role may vote; ``min_approvals`` of them are needed."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="groups")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    min_approvals = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.min_approvals} from {self.team}"


class ReleaseQuerySet(models.QuerySet["Release"]):
    def visible_to(self, user: object) -> ReleaseQuerySet:
        return self.filter(model_version__in=Node.objects.visible_to(user))  # type: ignore[arg-type]


class ReleaseManager(models.Manager.from_queryset(ReleaseQuerySet)):  # type: ignore[misc]
    """Rows without ``approved_lineage`` (megabytes for a large upstream graph): read when it is used."""

    def get_queryset(self) -> ReleaseQuerySet:
        return super().get_queryset().defer("approved_lineage")  # type: ignore[no-any-return]


class Release(models.Model):
    """A request to put one model version into one environment, approved under the policy in force."""

    class State(models.TextChoices):
        DRAFT = "draft"
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"
        WITHDRAWN = "withdrawn"
        EXPIRED = "expired"
        SUPERSEDED = "superseded"

    model_version = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="releases")
    environment = models.CharField(max_length=100)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="releases")
    justification = models.TextField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    state_reason = models.TextField(blank=True)
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="releases")
    subject = models.JSONField()
    subject_digest = models.CharField(max_length=64)
    break_glass = models.BooleanField(default=False)
    break_glass_reason = models.TextField(blank=True)
    retrospective_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="retrospectives")
    retrospective_due = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_lineage = models.JSONField(null=True, blank=True, editable=False, help_text=(
        "The lineage this release was approved on (portal/approvals/diff.py lineage_capture): the subject and "
        "the whole upstream graph with its attributes. Releases approved before it was kept hold only "
        "{format: 0, not_stored_before: <time>}."))

    objects = ReleaseManager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["model_version", "environment", "state"], name="release_mv_env_state")]

    def __str__(self) -> str:
        return f"release {self.pk}: {self.model_version.node_id} → {self.environment} ({self.state})"


class Signature(models.Model):
    """An electronic signature (21 CFR Part 11 §11.50): printed name, UTC time, meaning, reason and the subject
    digest, bound to this release by ``binding`` (SHA-256 over all of them and the release id).
    """

    class Meaning(models.TextChoices):
        REVIEW = "review"
        APPROVAL = "approval"
        REJECTION = "rejection"
        RESPONSIBILITY = "responsibility"

    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="signatures")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signatures")
    printed_name = models.CharField(max_length=300)
    meaning = models.CharField(max_length=20, choices=Meaning.choices)
    reason = models.TextField()
    signed_at = models.DateTimeField()
    subject_digest = models.CharField(max_length=64)
    counted_for = models.CharField(max_length=100, blank=True, help_text="The approver group this vote filled.")
    binding = models.CharField(max_length=64)
    auth_methods = models.JSONField(default=list, blank=True, help_text="How the signer authenticated for this "
                                    "signature (RFC 8176 amr values: pwd, otp, rcode, or the identity provider's).")
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["signed_at"]
        constraints = [models.UniqueConstraint(fields=["release", "signer"], condition=Q(voided_at__isnull=True),
                                               name="signature_one_live_vote_per_person")]

    def __str__(self) -> str:
        return f"{self.printed_name} {self.meaning} release {self.release_id}"


class Violation(models.Model):
    """A deployment observed without an approved release for its environment."""

    deployment = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="violations")
    model_version = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+")
    environment = models.CharField(max_length=100)
    reason = models.TextField()
    detected_at = models.DateTimeField()

    class Meta:
        ordering = ["-detected_at"]
        constraints = [models.UniqueConstraint(fields=["deployment"], name="violation_once_per_deployment")]

    def __str__(self) -> str:
        return f"violation {self.deployment.node_id}"
