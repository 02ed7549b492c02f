from __future__ import annotations

from django.urls import path, re_path

from . import api

app_name = "lineage"

urlpatterns = [
    path("lineage", api.LineageApi.as_view(), name="lineage"),
    path("lineage/batch", api.LineageBatchApi.as_view(), name="lineage-batch"),
    path("lineage/pending", api.LineagePendingApi.as_view(), name="lineage-pending"),
    path("commits", api.CommitCreateApi.as_view(), name="commit-create"),
    path("model-versions", api.ModelVersionCreateApi.as_view(), name="model-version-create"),
    path("deployments", api.DeploymentCreateApi.as_view(), name="deployment-create"),
    path("nodes", api.NodeListApi.as_view(), name="node-list"),
    # Node ids contain colons and slashes: match greedily and let the suffix decide the operation.
    # A column's walks come first: their paths end in /upstream and /downstream too.
    re_path(r"^nodes/(?P<node_id>[\s\S]+)/columns/(?P<field_name>[^/]+)/upstream$", api.ColumnUpstreamApi.as_view(),
            name="column-upstream"),
    re_path(r"^nodes/(?P<node_id>[\s\S]+)/columns/(?P<field_name>[^/]+)/downstream$",
            api.ColumnDownstreamApi.as_view(), name="column-downstream"),
    re_path(r"^nodes/(?P<node_id>[\s\S]+)/upstream$", api.NodeUpstreamApi.as_view(), name="node-upstream"),
    re_path(r"^nodes/(?P<node_id>[\s\S]+)/downstream$", api.NodeDownstreamApi.as_view(), name="node-downstream"),
    re_path(r"^nodes/(?P<node_id>[\s\S]+)/columns$", api.DatasetColumnsApi.as_view(), name="node-columns"),
    re_path(r"^nodes/(?P<node_id>[\s\S]+)/graph$", api.NodeGraphApi.as_view(), name="node-graph"),
    re_path(r"^nodes/(?P<node_id>[\s\S]+)/tags$", api.NodeTagsApi.as_view(), name="node-tags"),
    re_path(r"^nodes/(?P<node_id>[\s\S]+)$", api.NodeDetailApi.as_view(), name="node-detail"),
    path("paths", api.PathApi.as_view(), name="path"),
    path("runs/<str:run_uuid>", api.RunDetailApi.as_view(), name="run-detail"),
]
