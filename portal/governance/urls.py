from __future__ import annotations

from django.urls import path, re_path

from . import api, erasure_api

app_name = "governance-api"

NODE = r"(?P<node_id>[\s\S]+)"

urlpatterns = [
    # Node ids contain colons and slashes: match greedily and let the suffix decide the operation.
    re_path(rf"^datasets/{NODE}/governance$", api.DatasetGovernanceApi.as_view(), name="dataset-governance"),
    re_path(rf"^datasets/{NODE}/subject-keys$", api.SubjectKeysAddApi.as_view(), name="subject-keys-add"),
    re_path(rf"^model-versions/{NODE}/inventory$", api.ModelInventoryApi.as_view(), name="model-inventory"),
    re_path(rf"^deployments/{NODE}/profile$", api.DeploymentProfileApi.as_view(), name="deployment-profile"),
    path("subject-keys/resolve", api.SubjectKeyResolveApi.as_view(), name="subject-key-resolve"),
    path("parameters", api.ParametersApi.as_view(), name="parameters"),
    path("erasure-requests", erasure_api.ErasureRequestsApi.as_view(), name="erasure-requests"),
    path("erasure-requests/<int:pk>", erasure_api.ErasureRequestDetailApi.as_view(), name="erasure-request"),
    path("erasure-requests/<int:pk>/dispositions", erasure_api.ErasureDispositionApi.as_view(),
         name="erasure-disposition"),
    path("erasure-requests/<int:pk>/respond", erasure_api.ErasureRespondApi.as_view(), name="erasure-respond"),
]
