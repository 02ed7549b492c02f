"""Incidents of models in production and of the data they use, with the regulatory clocks they start."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from lineage.models import Node
from portal.monitoring.models import Alert


class Kind(models.TextChoices):
    AI_ACT_SERIOUS = "ai_act_serious", "Serious incident (EU AI Act Art. 73)"
    PERSONAL_DATA_BREACH = "personal_data_breach", "Personal-data breach (GDPR Art. 33)"
    PHI_BREACH = "phi_breach", "Breach of unsecured PHI (HIPAA §164.404-410)"
    MODEL_FAILURE = "model_failure", "Model failure"


class IncidentQuerySet(models.QuerySet["Incident"]):
    def visible_to(self, user: object) -> IncidentQuerySet:
        """Org-wide roles see every incident; others those touching a node they see, and those they opened."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        if user.sees_all_namespaces:  # type: ignore[attr-defined]
            return self.all()
        nodes = Node.objects.visible_to(user)  # type: ignore[arg-type]
        return self.filter(Q(deployments__in=nodes) | Q(model_versions__in=nodes) | Q(datasets__in=nodes)
                           | Q(opened_by=user)).distinct()


class Incident(models.Model):
    """An incident: what happened to which deployments, model versions and datasets, when it occurred and
    when the organisation became aware of it (``detected_at``, which starts the legal clocks), and how it was
    closed (an electronic signature, as a release's)."""

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    class AiActCategory(models.TextChoices):
        STANDARD = "standard", "Serious incident (15 days)"
        DEATH = "death", "Death of a person (10 days)"
        WIDESPREAD = "widespread", "Widespread infringement or critical infrastructure (2 days)"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    kinds = models.JSONField(default=list, help_text="One or more of Kind.")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    ai_act_category = models.CharField(max_length=12, choices=AiActCategory.choices, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    detected_at = models.DateTimeField(help_text="When the organisation became aware: the clocks start here.")
    state = models.CharField(max_length=6, choices=State.choices, default=State.OPEN)
    deployments = models.ManyToManyField(Node, blank=True, related_name="incidents")
    model_versions = models.ManyToManyField(Node, blank=True, related_name="+")
    datasets = models.ManyToManyField(Node, blank=True, related_name="+")
    alerts = models.ManyToManyField(Alert, blank=True, related_name="incidents")
    scope = models.JSONField(default=dict, blank=True,
                             help_text="Affected data subjects and derived nodes, from the erasure-impact walk.")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    closure_printed_name = models.CharField(max_length=300, blank=True)
    closure_reason = models.TextField(blank=True)
    closure_binding = models.CharField(max_length=64, blank=True,
                                       help_text="SHA-256 over the incident, signer, name, reason and time.")

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-detected_at", "-pk"]

    def __str__(self) -> str:
        return f"incident {self.pk}: {self.title}"

    @property
    def kind_names(self) -> list[str]:
        """The kinds in words, as the pages show them (an unknown stored value as itself)."""
        labels = dict(Kind.choices)
        return [str(labels.get(k, k)) for k in self.kinds]


class Notification(models.Model):
    """The report to an authority that a clock asks for, or the recorded decision that none is due."""

    class Clock(models.TextChoices):
        AI_ACT = "ai_act", "EU AI Act Art. 73 report to the market surveillance authority"
        GDPR = "gdpr", "GDPR Art. 33 notification to the supervisory authority"
        HIPAA = "hipaa", "HIPAA §164.404-408 notification"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="notifications")
    clock = models.CharField(max_length=6, choices=Clock.choices)
    notified_at = models.DateTimeField(null=True, blank=True)
    authority = models.CharField(max_length=300, blank=True)
    reference = models.CharField(max_length=300, blank=True)
    exempt_reason = models.TextField(blank=True, help_text="Why no notification is due (e.g. Art. 33(1): unlikely "
                                                           "to result in a risk), instead of notifying.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "clock"], name="notification_once_per_clock")]

    def __str__(self) -> str:
        return f"{self.clock} notification of incident {self.incident_id}"


class Action(models.Model):
    """Something done about an incident (containment, a fix, a retraining), in order."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="actions")
    text = models.TextField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"action on incident {self.incident_id}"
