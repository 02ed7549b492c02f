"""REST API for lineage, one module per resource: OpenLineage ingestion (``ingest``), portal records
(``records``), nodes (``nodes``), the explorer's graph and paths (``graph``) and runs (``runs``)."""

from __future__ import annotations

from .columns import ColumnDownstreamApi, ColumnUpstreamApi, DatasetColumnsApi
from .common import ERRORS, NodeDetailSerializer, NodeSummarySerializer
from .graph import GRAPH_DEFAULT_DEPTH, GRAPH_MAX_EXPAND, NodeGraphApi, PathApi
from .ingest import LineageApi, LineageBatchApi, LineagePendingApi, read_body
from .nodes import NodeDetailApi, NodeDownstreamApi, NodeListApi, NodeTagsApi, NodeUpstreamApi
from .records import CommitCreateApi, DeploymentCreateApi, ModelVersionCreateApi
from .runs import RunDetailApi

__all__ = [
    "ColumnDownstreamApi", "ColumnUpstreamApi", "DatasetColumnsApi",
    "ERRORS", "GRAPH_DEFAULT_DEPTH", "GRAPH_MAX_EXPAND", "CommitCreateApi", "DeploymentCreateApi", "LineageApi",
    "LineageBatchApi",
    "LineagePendingApi", "ModelVersionCreateApi", "NodeDetailApi", "NodeDetailSerializer", "NodeDownstreamApi",
    "NodeGraphApi", "NodeListApi", "NodeSummarySerializer", "NodeTagsApi", "NodeUpstreamApi", "PathApi",
    "RunDetailApi", "read_body",
]
