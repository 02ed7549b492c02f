"""Evidence documents: DPIAs, validation reports, risk registers, monitoring plans, model documentation…

A document is an immutable file (its SHA-256 is its identity) with a type, an author, an approval, an
effective period and a retention lock, attached to graph nodes (model versions, datasets, deployments)
and to releases. Policies' ``required_evidence`` names document types.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from lineage.models import Node


class DocumentType(models.TextChoices):
    POLICY = "policy", "Policy"
    RISK_ANALYSIS = "risk_analysis", "Risk analysis (HIPAA)"
    DPIA = "dpia", "Data protection impact assessment"
    FRIA = "fria", "Fundamental rights impact assessment"
    BALANCING_ASSESSMENT = "balancing_assessment", "Legitimate-interest balancing assessment"
    ROPA_ENTRY = "ropa_entry", "Record of processing (ROPA) entry"
    MODEL_DOCUMENTATION = "model_documentation", "Model documentation"
    VALIDATION_REPORT = "validation_report", "Independent validation report"
    OUTCOMES_ANALYSIS = "outcomes_analysis", "Outcomes analysis / back-test"
    MONITORING_PLAN = "monitoring_plan", "Monitoring plan"
    MONITORING_RESULT = "monitoring_result", "Monitoring result"
    RISK_REGISTER = "risk_register", "Risk register"
    ANNEX_IV = "annex_iv", "EU AI Act Annex IV technical documentation"
    INSTRUCTIONS_FOR_USE = "instructions_for_use", "Instructions for use"
    OVERSIGHT_TRAINING = "oversight_training", "Human-oversight training record"
    DEID_DETERMINATION = "deid_determination", "De-identification determination"
    QMS_PROCEDURE = "qms_procedure", "Quality management procedure"
    OTHER = "other", "Other"


class DocumentQuerySet(models.QuerySet["Document"]):
    def visible_to(self, user: object) -> DocumentQuerySet:
        """Org-wide roles see every document; others see what they wrote and what is attached to a node they
        may see, directly or through a release of a model version they may see."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        if user.sees_all_namespaces:  # type: ignore[attr-defined]
            return self.all()
        nodes = Node.objects.visible_to(user)  # type: ignore[arg-type]
        on_nodes = self.model.nodes.through.objects.filter(node__in=nodes).values("document_id")
        on_releases = self.model.releases.through.objects.filter(release__model_version__in=nodes).values(
            "document_id")
        return self.filter(Q(pk__in=on_nodes) | Q(pk__in=on_releases) | Q(author=user))

    def approved(self) -> DocumentQuerySet:
        return self.filter(approved_at__isnull=False)

    def in_effect(self, at: object = None) -> DocumentQuerySet:
        at = at or timezone.now()
        return self.filter(Q(effective_from__lte=at), Q(effective_until__isnull=True) | Q(effective_until__gt=at))


class Document(models.Model):
    """One evidence file and its metadata. The bytes, size and SHA-256 never change after upload (the database
    refuses it, see migration ``0003_retention_guard``); approval, attachments and the end of the effective period
    do."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    doc_type = models.CharField(max_length=30, choices=DocumentType.choices)
    title = models.CharField(max_length=500)
    version = models.CharField(max_length=50, default="1")
    description = models.TextField(blank=True)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    content = models.BinaryField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="documents")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="approved_documents")
    approved_at = models.DateTimeField(null=True, blank=True)
    approval_reason = models.TextField(blank=True)
    effective_from = models.DateTimeField()
    effective_until = models.DateTimeField(null=True, blank=True)
    retention_until = models.DateField(help_text="The document cannot be deleted before this date.")
    sections = models.JSONField(default=list, blank=True, help_text="Sections covered, e.g. DPIA 35(7)(a)-(d).")
    attributes = models.JSONField(default=dict, blank=True, help_text="Type-specific facts, e.g. validator findings.")
    supersedes = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    nodes = models.ManyToManyField(Node, blank=True, related_name="documents")
    releases = models.ManyToManyField("approvals.Release", blank=True, related_name="documents")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_doc_type_display()}: {self.title} v{self.version}"

    def in_effect_at(self, at: object = None) -> bool:
        at = at or timezone.now()
        return self.effective_from <= at and (self.effective_until is None or self.effective_until > at)  # type: ignore[operator]
