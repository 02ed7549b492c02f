from __future__ import annotations

from django.urls import path

from . import api

app_name = "incidents-api"

urlpatterns = [
    path("incidents", api.IncidentListApi.as_view(), name="list"),
    path("incidents/<int:pk>", api.IncidentDetailApi.as_view(), name="detail"),
    path("incidents/<int:pk>/actions", api.IncidentActionApi.as_view(), name="actions"),
    path("incidents/<int:pk>/notifications", api.IncidentNotifyApi.as_view(), name="notifications"),
    path("incidents/<int:pk>/close", api.IncidentCloseApi.as_view(), name="close"),
    path("alerts/<int:pk>/incident", api.AlertIncidentApi.as_view(), name="from-alert"),
]
