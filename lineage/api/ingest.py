"""OpenLineage ingestion (Marquez-compatible): one event, a batch, and the Marquez-shaped graph read."""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.permissions import CanIngest, CanRead, request_user
from portal.lib.errors import FieldError, TooLarge
from portal.lib.pagination import bounded_int_parameter

from .. import asof, marquez, selectors, services
from ..guard import WriteRefused
from ..intake import event_ingest_grouped, ingest_arriving
from ..openlineage import EventError, ParsedEvent, check_event_time, parse_event, split_batch, time_problem
from .asof import ASOF_PARAMETERS, asof_param, marquez_nodes, node_at_or_404
from .columns import column_lineage_marquez
from .common import ERRORS, INGEST_ERRORS, depth_param


def read_body(request: Request, limit: int) -> bytes:
    """The request body, gunzipped if ``Content-Encoding: gzip``, refusing anything over ``limit`` bytes (413)."""
    too_big = f"the body is larger than the limit of {limit} bytes"
    length = request.META.get("CONTENT_LENGTH")
    if length and length.isdigit() and int(length) > limit:
        raise TooLarge(too_big, field="body")
    try:
        body = request.body
    except RequestDataTooBig as exc:
        raise TooLarge(too_big, field="body") from exc
    if len(body) > limit:
        raise TooLarge(too_big, field="body")
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise FieldError("body", f"not valid gzip: {exc}") from exc
        if len(body) > limit or inflater.unconsumed_tail:
            raise TooLarge(f"the decompressed body is larger than the limit of {limit} bytes", field="body")
    elif encoding not in ("", "identity"):
        raise FieldError("Content-Encoding", f"unsupported encoding {encoding!r}; use gzip or none")
    if not body.strip():
        raise FieldError("body", "the body is empty")
    return body


def _max_future() -> timedelta:
    return timedelta(seconds=settings.LINEAGE_MAX_FUTURE_SECONDS)


def parse_checked(raw: bytes) -> ParsedEvent:
    """Parse one event and check its time against the clock (``EventError`` when it cannot be taken)."""
    ev = parse_event(raw)
    days = settings.LINEAGE_EVENT_HORIZON_DAYS
    check_event_time(ev, now=timezone.now(), max_future=_max_future(),
                     horizon=timedelta(days=days) if days > 0 else None)
    return ev


def _parse(raw: bytes) -> ParsedEvent:
    try:
        return parse_checked(raw)
    except EventError as exc:
        raise FieldError(exc.field, exc.message) from exc


def not_future(value: datetime) -> None:
    """A serializer validator for a record's ``time``: the same clock-skew bound as events."""
    problem = time_problem(value, now=timezone.now(), max_future=_max_future())
    if problem:
        raise serializers.ValidationError(problem)


class _ReadOrIngest(BasePermission):
    """GET is a lineage read; POST is ingestion."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        perm = CanRead() if request.method in ("GET", "HEAD", "OPTIONS") else CanIngest()
        self.message = perm.message
        return perm.has_permission(request, view)


class LineageApi(APIView):
    """``POST`` one OpenLineage event (Marquez-compatible); ``GET`` the Marquez-shaped lineage graph."""

    permission_classes = [_ReadOrIngest]

    @extend_schema(
        operation_id="lineage_ingest",
        request={"application/json": OpenApiTypes.OBJECT},
        responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT, **INGEST_ERRORS},
        description="One OpenLineage RunEvent, DatasetEvent or JobEvent (spec 2-0-x), optionally gzip-encoded. "
        "201 for a new event, 200 for an exact duplicate (same run, event type, event time and job). With "
        "deferred application (the default) the event is stored and checked when answered and applied to the graph "
        "moments later: GET /api/v1/lineage/pending and a node's `pending` say what still waits.",
    )
    def post(self, request: Request) -> Response:
        with ingest_arriving():
            event = _parse(read_body(request, settings.LINEAGE_MAX_EVENT_BYTES))
            outcome = event_ingest_grouped(event=event, by=request_user(request))
        if outcome.refusal is not None:
            raise WriteRefused(outcome.refusal)
        code = status.HTTP_201_CREATED if outcome.status == "created" else status.HTTP_200_OK
        return Response({"status": outcome.status, "warnings": outcome.warnings}, status=code)

    @extend_schema(
        operation_id="lineage_graph_marquez",
        parameters=[
            OpenApiParameter("nodeId", str, required=True,
                             description="Marquez node id: dataset:<ns>:<name>, job:<ns>:<name>, run:<uuid>, "
                             "datasetField:<ns>:<name>:<field> (answered with Marquez's column-lineage graph of "
                             "DATASET_FIELD nodes), or any portal node id."),
            bounded_int_parameter("depth", low=0, high=settings.LINEAGE_MAX_DEPTH,
                                  description="Job hops, as in Marquez (default 20); for a datasetField id, "
                                  "column levels."),
            OpenApiParameter("withDownstream", bool, description="For a datasetField id: the derived columns "
                             "too (default false: upstream only, as Marquez's column lineage)."),
            *ASOF_PARAMETERS,
        ],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        node_id = request.query_params.get("nodeId")
        if not node_id:
            raise FieldError("nodeId", "this query parameter is required")
        node_id = node_id.split("#", 1)[0] if node_id.startswith(("dataset:", "job:", "datasetField:")) else node_id
        at = asof_param(request)
        if node_id.startswith("datasetField:"):
            if at is not None:
                raise FieldError("asOf", "column lineage is answered for the current graph only")
            return Response(column_lineage_marquez(request, node_id))
        node = node_at_or_404(request, node_id, at)
        hops = depth_param(request, default=20)
        walk_depth = min(2 * hops + 1, 2 * settings.LINEAGE_MAX_DEPTH)
        if at is not None:
            seeds = asof.walk_seeds(node, at)
            up = asof.lineage_walk(seeds=seeds, direction="upstream", depth=walk_depth, at=at)
            down = asof.lineage_walk(seeds=seeds, direction="downstream", depth=walk_depth, at=at)
            fold_nodes = marquez_nodes(request, sorted(set(up.distance) | set(down.distance)), at)
            return Response(marquez.fold(fold_nodes, up.edges + down.edges, root=node.pk))
        seeds = selectors.walk_seeds(node)
        up = selectors.lineage_walk(seeds=seeds, direction="upstream", depth=walk_depth)
        down = selectors.lineage_walk(seeds=seeds, direction="downstream", depth=walk_depth)
        fold_nodes = selectors.fold_nodes(user=request_user(request), pks=sorted(set(up.distance) | set(down.distance)))
        return Response(marquez.fold(fold_nodes, up.edges + down.edges, root=node.pk))


class LineageBatchApi(APIView):
    """Many OpenLineage events in one request (JSON array or NDJSON), applied in one transaction."""

    permission_classes = [CanIngest]

    @extend_schema(
        operation_id="lineage_ingest_batch",
        request={"application/json": OpenApiTypes.OBJECT, "application/x-ndjson": OpenApiTypes.STR},
        parameters=[OpenApiParameter("atomic", bool, description="Refuse the whole batch if any event is "
                                     "invalid (default: store the valid ones and report the rest).")],
        responses={200: OpenApiTypes.OBJECT, **INGEST_ERRORS},
    )
    def post(self, request: Request) -> Response:
        body = read_body(request, settings.LINEAGE_MAX_BATCH_BYTES)
        try:
            items = split_batch(body)
        except EventError as exc:
            raise FieldError("body", exc.message) from exc
        if len(items) > settings.LINEAGE_MAX_BATCH_EVENTS:
            raise FieldError("body", f"{len(items)} events is over the batch limit of "
                             f"{settings.LINEAGE_MAX_BATCH_EVENTS}")
        results: list[dict[str, Any]] = [{} for _ in items]
        good: list[tuple[int, ParsedEvent]] = []
        for i, raw in enumerate(items):
            try:
                if len(raw) > settings.LINEAGE_MAX_EVENT_BYTES:
                    raise EventError(None, f"the event is larger than {settings.LINEAGE_MAX_EVENT_BYTES} bytes")
                good.append((i, parse_checked(raw)))
            except EventError as exc:
                results[i] = {"index": i, "status": "error", "code": 400, "warnings": [],
                              "error": {"field": exc.field, "message": exc.message}}
        errors = len(items) - len(good)
        atomic = request.query_params.get("atomic", "").lower() in ("1", "true", "yes")
        if errors and atomic:
            first = next(r for r in results if r)
            return Response({"detail": f"{errors} of {len(items)} events are invalid; nothing was stored.",
                             "errors": [{"field": f"[{r['index']}]" + (f".{r['error']['field']}"
                                                                       if r["error"]["field"] else ""),
                                         "message": r["error"]["message"]} for r in results if r],
                             "first": first}, status=400)
        try:
            outcomes = services.events_ingest(events=[ev for _, ev in good], by=request_user(request),
                                              atomic=atomic) if good else []
        except services.BatchRefused as exc:
            refused = [(i, o.refusal) for (i, _), o in zip(good, exc.outcomes, strict=True) if o.refusal]
            return Response({"detail": f"{len(refused)} of {len(items)} events are refused; nothing was stored.",
                             "errors": [{"field": f"[{i}].{r.field}", "message": r.message} for i, r in refused]},
                            status=refused[0][1].status)
        for (i, _), outcome in zip(good, outcomes, strict=True):
            if outcome.refusal is not None:
                results[i] = {"index": i, "status": "error", "code": outcome.refusal.status,
                              "warnings": outcome.warnings,
                              "error": {"field": outcome.refusal.field, "message": outcome.refusal.message}}
                continue
            results[i] = {"index": i, "status": outcome.status, "error": None, "warnings": outcome.warnings}
        counts = {s: sum(1 for r in results if r["status"] == s) for s in ("created", "duplicate", "error")}
        return Response({**counts, "results": results}, status=status.HTTP_200_OK)


class LineagePendingApi(APIView):
    """The events stored but not yet applied to the graph (deferred ingestion): counts only."""

    permission_classes = [CanRead]

    class OutputSerializer(serializers.Serializer[Any]):
        events = serializers.IntegerField(help_text="Events waiting to be applied (of jobs, and dataset events of "
                                          "datasets, the caller may see; every event for org-wide roles).")
        failed = serializers.IntegerField(help_text="Of those, events that failed to apply alone and wait for an "
                                          "operator (`manage.py lineage_apply_pending --retry-failed`).")
        since = serializers.DateTimeField(allow_null=True, help_text="Receipt time of the oldest waiting event.")
        oldestAgeSeconds = serializers.FloatField(help_text="Its age in seconds (0 when none waits).")  # noqa: N815

    @extend_schema(operation_id="lineage_pending", responses={200: OutputSerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(selectors.pending_summary(user=request_user(request))).data)
