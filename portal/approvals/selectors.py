"""Reads for approvals that take request filters: violations."""

from __future__ import annotations

from datetime import datetime

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet

from lineage.models import Node
from portal.accounts.models import User

from .models import Policy, Release, Violation, policy_key


def violation_list(*, user: User, environment: str | None = None, namespace: str | None = None,
                   status: str | None = None, detected_after: datetime | None = None,
                   detected_before: datetime | None = None) -> QuerySet[Violation]:
    """Violations of model versions ``user`` may see, newest first, each with ``is_open``.

    A violation stays on record for ever; it is *open* while its deployment is still active and no approved
    release covers that model version in that environment (a retrospective approval, or a release superseded
    while the version is live), and *closed* once either is no longer true."""
    covered = Release.objects.filter(
        model_version=OuterRef("model_version"), environment=OuterRef("environment")).filter(
        Q(state=Release.State.APPROVED) | Q(state=Release.State.SUPERSEDED, approved_at__isnull=False))
    qs = (Violation.objects.filter(model_version__in=Node.objects.visible_to(user))
          .annotate(is_open=ExpressionWrapper(Q(deployment__state="active") & ~Exists(covered),
                                              output_field=BooleanField()))
          .select_related("deployment", "model_version").order_by("-detected_at", "-pk"))
    if environment:
        qs = qs.filter(environment=environment)
    if namespace:
        qs = qs.filter(model_version__namespace=namespace)
    if status:
        qs = qs.filter(is_open=status == "open")
    if detected_after:
        qs = qs.filter(detected_at__gte=detected_after)
    if detected_before:
        qs = qs.filter(detected_at__lt=detected_before)
    return qs


def policy_latest(*, environment: str, namespace: str = "", model_name: str = "",
                  sensitive_tag: str = "") -> Policy | None:
    """The newest version of the policy of this environment and scope (whatever its ``effective_from``): the one
    a new version follows."""
    key = policy_key(environment, namespace, model_name, sensitive_tag)
    return Policy.objects.filter(key=key).order_by("-version").first()
