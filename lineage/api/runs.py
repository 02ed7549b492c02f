"""A run with its inputs, outputs, commits, model versions and state history."""

from __future__ import annotations

import uuid

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.permissions import CanRead

from .. import ids, selectors
from .common import ERRORS, node_or_404


class RunDetailApi(APIView):
    permission_classes = [CanRead]

    @extend_schema(operation_id="run_detail", responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request: Request, run_uuid: str) -> Response:
        try:
            run_uuid = str(uuid.UUID(run_uuid))
        except ValueError as exc:
            raise Http404 from exc
        run = node_or_404(request, ids.run_id(run_uuid))
        edges = list(run.in_edges.select_related("src").all()) + list(run.out_edges.select_related("dst").all())
        inputs = [e.src.node_id for e in edges if e.kind == "reads" and e.dst_id == run.pk]
        outputs = [e.dst.node_id for e in edges if e.kind == "writes" and e.src_id == run.pk]
        commits = [e.src.node_id for e in edges if e.kind == "built_from" and e.dst_id == run.pk]
        models = [e.dst.node_id for e in edges if e.kind == "produces" and e.src_id == run.pk]
        parents = [e.src.node_id for e in edges if e.kind == "parent_of" and e.dst_id == run.pk]
        history = [{"eventType": e.event_type, "eventTime": e.event_time, "receivedAt": e.received_at,
                    "warnings": e.warnings}
                   for e in selectors.run_events(run_uuid=run_uuid).only("event_type", "event_time", "received_at",
                                                                          "warnings")]
        return Response({
            "runId": run_uuid, "id": run.node_id, "state": run.state or "NEW",
            "job": run.attrs.get("job"), "startedAt": run.attrs.get("started_at"),
            "endedAt": run.attrs.get("ended_at"), "launchedBy": run.attrs.get("launched_by"),
            "deidentifies": run.deidentifies, "inputs": sorted(inputs), "outputs": sorted(outputs),
            "commit": commits[0] if commits else None, "commits": sorted(commits), "modelVersions": sorted(models),
            "parentRun": parents[0] if parents else None, "facets": run.facets, "stateHistory": history,
        })
