"""What the regulations need to know about graph nodes beyond their lineage, and the organisation's
versioned policy parameters (the ``{braces}`` of the control catalog).

One record per node, by kind: privacy attributes of datasets (GDPR/HIPAA), the inventory record of a
model version (SR 11-7 / SR 26-2, EU AI Act) and the profile of a deployment (SOX scope, oversight).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from lineage.models import Node


class LawfulBasis(models.TextChoices):
    """GDPR Art. 6(1) (a)-(f)."""

    CONSENT = "a", "6(1)(a) consent"
    CONTRACT = "b", "6(1)(b) contract"
    LEGAL_OBLIGATION = "c", "6(1)(c) legal obligation"
    VITAL_INTERESTS = "d", "6(1)(d) vital interests"
    PUBLIC_TASK = "e", "6(1)(e) public task"
    LEGITIMATE_INTERESTS = "f", "6(1)(f) legitimate interests"


class SpecialCategoryCondition(models.TextChoices):
    """GDPR Art. 9(2) (a)-(j)."""

    EXPLICIT_CONSENT = "a", "9(2)(a) explicit consent"
    EMPLOYMENT = "b", "9(2)(b) employment and social security"
    VITAL_INTERESTS = "c", "9(2)(c) vital interests"
    NOT_FOR_PROFIT = "d", "9(2)(d) not-for-profit body"
    MADE_PUBLIC = "e", "9(2)(e) made public by the subject"
    LEGAL_CLAIMS = "f", "9(2)(f) legal claims"
    PUBLIC_INTEREST = "g", "9(2)(g) substantial public interest"
    HEALTH_CARE = "h", "9(2)(h) health or social care"
    PUBLIC_HEALTH = "i", "9(2)(i) public health"
    RESEARCH = "j", "9(2)(j) archiving, research, statistics"


class Disposition(models.TextChoices):
    DELETED = "deleted", "Deleted"
    ANONYMISED = "anonymised", "Anonymised"


class DatasetGovernance(models.Model):
    """Privacy attributes of a dataset (applies to all its versions)."""

    node = models.OneToOneField(Node, primary_key=True, on_delete=models.CASCADE, related_name="governance")
    lawful_basis = models.CharField(max_length=1, blank=True, choices=LawfulBasis.choices)
    purposes = models.JSONField(default=list, blank=True)
    consent_reference = models.CharField(max_length=500, blank=True)
    special_category_condition = models.CharField(max_length=1, blank=True, choices=SpecialCategoryCondition.choices)
    retention_until = models.DateField(null=True, blank=True)
    legal_hold = models.BooleanField(default=False)
    legal_hold_reason = models.TextField(blank=True)
    disposition = models.CharField(max_length=12, blank=True, choices=Disposition.choices)
    disposed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"governance of {self.node_id}"


class SubjectKey(models.Model):
    """A data subject's key held by a dataset, stored only as a SHA-256 of the normalised key."""

    dataset = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="subject_keys")
    key_hash = models.CharField(max_length=64, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "key_hash"], name="subject_key_once")]

    def __str__(self) -> str:
        return f"subject key {self.key_hash[:12]}"


class ModelInventory(models.Model):
    """The model-inventory record of a model version (SR 11-7 §VI / SR 26-2; EU AI Act flags)."""

    class Status(models.TextChoices):
        DEVELOPMENT = "development", "In development"
        VALIDATION = "validation", "In validation"
        PRODUCTION = "production", "In production"
        RETIRED = "retired", "Retired"

    node = models.OneToOneField(Node, primary_key=True, on_delete=models.CASCADE, related_name="inventory")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="owned_models")
    intended_use = models.TextField(blank=True)
    tier = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Materiality tier, 1 = highest.")
    limitations = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DEVELOPMENT)
    retired_at = models.DateTimeField(null=True, blank=True)
    high_risk_annex = models.CharField(max_length=20, blank=True, help_text="EU AI Act Annex III point, e.g. 5(b).")
    credit_decisioning = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"inventory of {self.node_id}"


class DeploymentProfile(models.Model):
    """Regulatory profile of a deployment target."""

    node = models.OneToOneField(Node, primary_key=True, on_delete=models.CASCADE, related_name="profile")
    sox_in_scope = models.BooleanField(default=False)
    hipaa_scope = models.BooleanField(default=False)
    human_in_loop = models.BooleanField(default=True)
    overseers = models.JSONField(default=list, blank=True, help_text="Usernames of the people overseeing it.")
    change_record = models.CharField(max_length=300, blank=True)
    emergency = models.BooleanField(default=False)
    log_location = models.CharField(max_length=500, blank=True, help_text="Where its inference logs are kept.")
    log_retention_days = models.PositiveIntegerField(null=True, blank=True)
    log_max_gap_minutes = models.PositiveIntegerField(null=True, blank=True,
                                                      help_text="Longest gap in its logs while active, as measured.")
    stop_control_tested_at = models.DateTimeField(null=True, blank=True,
                                                  help_text="When the stop/override control was last tested.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"profile of {self.node_id}"


class ParameterSet(models.Model):
    """A version of the organisation's policy parameters, in force from ``effective_from``."""

    version = models.PositiveIntegerField(unique=True)
    effective_from = models.DateTimeField()
    values = models.JSONField()
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_from", "-version"]

    def __str__(self) -> str:
        return f"parameters v{self.version}"


class ErasureRequest(models.Model):
    """A GDPR Art. 17 request: the datasets and models it touches, a disposition for each, and the response.

    The data subject is identified only by the SHA-256 of their normalised key, like the subject index.
    """

    subject_key_hash = models.CharField(max_length=64, blank=True, db_index=True)
    dataset = models.ForeignKey(Node, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                help_text="When the request names a dataset rather than a subject key.")
    received_at = models.DateTimeField()
    extended = models.BooleanField(default=False, help_text="Art. 12(3): extended by two further months.")
    extension_reason = models.TextField(blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    response = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"erasure request {self.pk} received {self.received_at:%Y-%m-%d}"


class ErasureDisposition(models.Model):
    """What was done, for one request, with one affected dataset or model version."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        ERASED = "erased", "Erased"
        ANONYMISED = "anonymised", "Anonymised"
        EXEMPT = "exempt", "Exempt under Art. 17(3)"
        RETRAINED = "retrained", "Model retrained without the data"
        NO_PERSONAL_DATA = "no_personal_data", "Assessed: the model holds no personal data"

    request = models.ForeignKey(ErasureRequest, on_delete=models.CASCADE, related_name="dispositions")
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    reason = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["request", "node"], name="erasure_disposition_once")]

    def __str__(self) -> str:
        return f"{self.node_id}: {self.outcome}"
