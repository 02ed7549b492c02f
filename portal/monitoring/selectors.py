"""Reads of monitoring results and alerts for pages: each a query or two, filtered by what the user may see."""

from __future__ import annotations

from typing import Any

from lineage.models import Node
from portal.accounts.models import User

from .models import Alert, MonitoringResult

RESULTS_SHOWN = 50


def alerts_open(*, user: User, limit: int = 10, offset: int = 0) -> list[Alert]:
    return list(Alert.objects.visible_to(user).filter(state=Alert.State.OPEN)
                .select_related("deployment", "result").order_by("-opened_at", "-pk")[offset:offset + limit])


def alerts_open_count(*, user: User) -> int:
    return Alert.objects.visible_to(user).filter(state=Alert.State.OPEN).count()


def deployment_monitoring(*, user: User, deployment: Node) -> dict[str, Any]:
    """The deployment page's monitoring panel: latest results (with their runs) and its alerts."""
    results = list(MonitoringResult.objects.filter(deployment=deployment)
                   .select_related("run", "reference").order_by("-observed_at", "metric")[:RESULTS_SHOWN])
    alerts = list(Alert.objects.visible_to(user).filter(deployment=deployment).exclude(state=Alert.State.CLOSED)
                  .select_related("result").order_by("-opened_at")[:RESULTS_SHOWN])
    return {"monitoring_results": results, "monitoring_alerts": alerts,
            "monitoring_last": results[0].observed_at if results else None}
