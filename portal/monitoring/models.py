"""Monitoring results of deployed models, read from lineage (``portalMonitoring``, ``dataQualityAssertions``),
and the alerts their breaches open."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from lineage.models import Node


class MonitoringResult(models.Model):
    """One metric, drift statistic or data-quality assertion reported by a monitoring run.

    ``key`` makes recording idempotent: a rebuild of the graph replays the run and finds its results stored.
    ``breaches`` says why the result is a breach (empty when it is not), with the limits that applied.
    """

    key = models.CharField(max_length=64, unique=True)
    run = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+")
    job = models.CharField(max_length=2000)
    deployment = models.ForeignKey(Node, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="monitoring_results")
    deployment_ref = models.CharField(max_length=2000, blank=True,
                                      help_text="The deployment the run named (kept when it is not in the graph).")
    dataset_version = models.ForeignKey(Node, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                        help_text="For a data-quality assertion: the dataset version checked.")
    reference = models.ForeignKey(Node, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    metric = models.CharField(max_length=200)
    feature = models.CharField(max_length=200, blank=True)
    column = models.CharField(max_length=500, blank=True)
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    breach_when = models.CharField(max_length=5, default="above")
    psi = models.FloatField(null=True, blank=True)
    ks = models.FloatField(null=True, blank=True)
    success = models.BooleanField(null=True, blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    observed_at = models.DateTimeField()
    tier = models.PositiveSmallIntegerField(null=True, blank=True)
    parameter_version = models.PositiveIntegerField(null=True, blank=True)
    breaches = models.JSONField(default=list, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-observed_at", "pk"]
        indexes = [models.Index(fields=["deployment", "observed_at"], name="monresult_deployment_time")]

    def __str__(self) -> str:
        return f"{self.metric} of {self.deployment_ref or self.dataset_version_id} at {self.observed_at:%Y-%m-%d}"

    @property
    def breached(self) -> bool:
        return bool(self.breaches)


class AlertQuerySet(models.QuerySet["Alert"]):
    def visible_to(self, user: object) -> AlertQuerySet:
        return self.filter(deployment__in=Node.objects.visible_to(user))  # type: ignore[arg-type]

    def open(self) -> AlertQuerySet:
        return self.exclude(state=Alert.State.CLOSED)


class Alert(models.Model):
    """A threshold breach on a deployment, open until an incident takes it over or someone dismisses it."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        INCIDENT = "incident", "Incident opened"
        CLOSED = "closed", "Dismissed"

    deployment = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="alerts")
    result = models.OneToOneField(MonitoringResult, on_delete=models.PROTECT, related_name="alert")
    opened_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    reason = models.TextField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    close_note = models.TextField(blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-pk"]
        indexes = [models.Index(fields=["state", "opened_at"], name="alert_state_opened")]

    def __str__(self) -> str:
        return f"alert {self.pk} on {self.deployment_id}: {self.reason}"
