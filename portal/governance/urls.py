from __future__ import annotations

from django.urls import path, re_path

from . import api

app_name = "governance-api"

urlpatterns = [
    # Node ids contain colons and slashes: match greedily and let the suffix decide the operation.
    re_path(r"^datasets/(?P<node_id>.+)/governance$", api.DatasetGovernanceApi.as_view(), name="dataset-governance"),
    re_path(r"^datasets/(?P<node_id>.+)/subject-keys$", api.SubjectKeysAddApi.as_view(), name="subject-keys-add"),
    re_path(r"^model-versions/(?P<node_id>.+)/inventory$", api.ModelInventoryApi.as_view(), name="model-inventory"),
    re_path(r"^deployments/(?P<node_id>.+)/profile$", api.DeploymentProfileApi.as_view(), name="deployment-profile"),
    path("subject-keys/resolve", api.SubjectKeyResolveApi.as_view(), name="subject-key-resolve"),
    path("parameters", api.ParametersApi.as_view(), name="parameters"),
]
