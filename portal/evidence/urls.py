from __future__ import annotations

from django.urls import path

from . import api

app_name = "evidence-api"

urlpatterns = [
    path("documents", api.DocumentListCreateApi.as_view(), name="documents"),
    path("documents/<uuid:pk>", api.DocumentDetailApi.as_view(), name="document-detail"),
    path("documents/<uuid:pk>/content", api.DocumentContentApi.as_view(), name="document-content"),
    path("documents/<uuid:pk>/approve", api.DocumentApproveApi.as_view(), name="document-approve"),
    path("documents/<uuid:pk>/attachments", api.DocumentAttachmentsApi.as_view(), name="document-attachments"),
]
