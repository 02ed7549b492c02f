"""Generated reports and the compliance posture over time."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Report(models.Model):
    """One generated report: its request, progress, the evidence bundle and the PDF drawn from it."""

    class Kind(models.TextChoices):
        FRAMEWORK = "framework", "Framework report"
        DOSSIER = "dossier", "Model dossier"
        ERASURE = "erasure", "Erasure impact"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    framework = models.CharField(max_length=20, blank=True)
    title = models.CharField(max_length=300)
    scope = models.JSONField(default=dict, blank=True, help_text="namespaces, models and tags; empty = everything.")
    subject = models.CharField(max_length=2000, blank=True, help_text="Dossier: the model version; erasure: dataset.")
    subject_key_hash = models.CharField(max_length=64, blank=True, help_text="Erasure by data-subject key (hashed).")
    annex_iv = models.BooleanField(default=False)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reports")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=200, blank=True)
    steps = models.JSONField(default=list, blank=True,
                             help_text="The progress steps as they happened: [percent, step, seconds since start].")
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    task_id = models.CharField(max_length=100, blank=True, help_text="The Celery task generating it.")
    parameters_version = models.PositiveIntegerField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    bundle = models.JSONField(null=True, blank=True)
    pdf = models.BinaryField(null=True, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    pdf_size = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.title} ({self.state})"


class ReportSignature(models.Model):
    """An auditor's countersignature of a generated report: the reviewed-by block of its cover.

    Re-authenticated (the auditor's password again) and recorded in the audit trail with the digest of the PDF
    that was reviewed and of the PDF re-drawn with the block filled; one per report.
    """

    report = models.OneToOneField(Report, on_delete=models.CASCADE, related_name="countersignature")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    printed_name = models.CharField(max_length=300)
    reason = models.TextField()
    signed_at = models.DateTimeField()
    reviewed_sha256 = models.CharField(max_length=64, help_text="The PDF the auditor reviewed.")

    def __str__(self) -> str:
        return f"{self.printed_name} reviewed {self.report_id}"


class PostureSnapshot(models.Model):
    """Counts by outcome of one framework over the whole organisation at a time (the dashboard's trend).

    Written only by the scheduled posture evaluation, over the fixed rolling period of the policy parameters
    (``posture_period_days``), with the period and parameters it used: an ad-hoc report, whatever its period,
    never moves the posture.
    """

    framework = models.CharField(max_length=20)
    evaluated_at = models.DateTimeField()
    passed = models.PositiveIntegerField()
    failed = models.PositiveIntegerField()
    not_applicable = models.PositiveIntegerField(default=0, help_text="Controls with nothing in scope.")
    not_evaluated = models.PositiveIntegerField()
    evidence = models.PositiveIntegerField()
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    parameters = models.JSONField(default=dict, blank=True, help_text="The parameter values evaluated with.")
    parameters_version = models.PositiveIntegerField(null=True, blank=True)
    controls = models.JSONField(default=dict, help_text="status by control id")

    class Meta:
        ordering = ["-evaluated_at"]
        indexes = [models.Index(fields=["framework", "-evaluated_at"], name="posture_latest")]

    def __str__(self) -> str:
        return f"{self.framework} {self.evaluated_at:%Y-%m-%d %H:%M}"
