from __future__ import annotations

from django.urls import path

from . import api

app_name = "audit-api"

urlpatterns = [
    path("entries", api.AuditEntryListApi.as_view(), name="entries"),
    path("verify", api.AuditVerifyApi.as_view(), name="verify"),
    path("checkpoint", api.CheckpointLatestApi.as_view(), name="checkpoint"),
    path("public-key", api.PublicKeyApi.as_view(), name="public-key"),
    path("proof/inclusion", api.InclusionProofApi.as_view(), name="inclusion-proof"),
    path("proof/consistency", api.ConsistencyProofApi.as_view(), name="consistency-proof"),
]
