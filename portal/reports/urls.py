from __future__ import annotations

from django.urls import path

from . import api

app_name = "reports-api"

urlpatterns = [
    path("reports", api.ReportCollectionApi.as_view(), name="collection"),
    path("reports/verify", api.ReportVerifyApi.as_view(), name="verify"),
    path("reports/<uuid:pk>", api.ReportDetailApi.as_view(), name="detail"),
    path("reports/<uuid:pk>/pdf", api.ReportPdfApi.as_view(), name="pdf"),
    path("reports/<uuid:pk>/bundle", api.ReportBundleApi.as_view(), name="bundle"),
    path("reports/<uuid:pk>/csv", api.ReportCsvApi.as_view(), name="csv"),
    path("reports/<uuid:pk>/countersign", api.ReportCountersignApi.as_view(), name="countersign"),
    path("controls", api.ControlCatalogApi.as_view(), name="controls"),
    path("compliance/posture", api.PostureApi.as_view(), name="posture"),
]
