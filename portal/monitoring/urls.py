from __future__ import annotations

from django.urls import path

from . import api

app_name = "monitoring"

urlpatterns = [
    path("monitoring", api.MonitoringIngestApi.as_view(), name="ingest"),
    path("monitoring/results", api.DeploymentResultsApi.as_view(), name="results"),
    path("alerts", api.AlertListApi.as_view(), name="alerts"),
    path("alerts/<int:pk>/dismiss", api.AlertDismissApi.as_view(), name="alert-dismiss"),
]
