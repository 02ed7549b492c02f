from __future__ import annotations

from django.urls import path

from . import api

app_name = "approvals-api"

urlpatterns = [
    path("releases", api.ReleaseListCreateApi.as_view(), name="releases"),
    path("releases/<int:pk>", api.ReleaseDetailApi.as_view(), name="release-detail"),
    path("releases/<int:pk>/approve", api.ReleaseApproveApi.as_view(), name="release-approve"),
    path("releases/<int:pk>/reject", api.ReleaseRejectApi.as_view(), name="release-reject"),
    path("releases/<int:pk>/withdraw", api.ReleaseWithdrawApi.as_view(), name="release-withdraw"),
    path("releases/<int:pk>/break-glass", api.ReleaseBreakGlassApi.as_view(), name="release-break-glass"),
    path("releases/<str:pk>/diff", api.ReleaseDiffApi.as_view(), name="release-diff"),
    path("releases/<int:pk>/eligibility", api.ReleaseEligibilityApi.as_view(), name="release-eligibility"),
    path("violations", api.ViolationListApi.as_view(), name="violations"),
    path("policies", api.PolicyListCreateApi.as_view(), name="policies"),
    path("gate", api.GateApi.as_view(), name="gate"),
]
