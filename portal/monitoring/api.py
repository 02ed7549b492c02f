"""REST API of monitoring: results from monitors that do not speak OpenLineage, and the alerts on deployments."""

from __future__ import annotations

import math
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lineage import ids
from lineage.guard import Refusal, WriteRefused
from lineage.models import Node
from lineage.monitoring import BREACH_WHEN, MAX_MEASURES, rest_event
from lineage.openlineage import MAX_NAME_BYTES, MAX_NAMESPACE_BYTES, MAX_VERSION_BYTES, parse_event
from lineage.services import events_ingest
from portal.accounts.permissions import CanCurate, CanIngest, CanRead, request_user
from portal.lib.errors import FieldError
from portal.lib.schema import ErrorSerializer

from .models import Alert, MonitoringResult
from .services import alert_dismiss

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}


class _Finite(serializers.FloatField):
    def to_internal_value(self, data: Any) -> float:
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            raise serializers.ValidationError("must be a finite number")
        return value


class _Version(serializers.Serializer):
    namespace = serializers.CharField(max_length=MAX_NAMESPACE_BYTES)
    name = serializers.CharField(max_length=MAX_NAME_BYTES)
    version = serializers.CharField(max_length=MAX_VERSION_BYTES)


class ResultSerializer(serializers.ModelSerializer):
    run = serializers.CharField(source="run.node_id")
    deployment = serializers.CharField(source="deployment_ref")
    dataset_version = serializers.CharField(source="dataset_version.node_id", default=None, allow_null=True)
    reference = serializers.CharField(source="reference.node_id", default=None, allow_null=True)

    class Meta:
        model = MonitoringResult
        fields = ("id", "run", "deployment", "dataset_version", "reference", "metric", "feature", "column", "value",
                  "threshold", "breach_when", "psi", "ks", "success", "window_start", "window_end", "observed_at",
                  "tier", "parameter_version", "breaches")


class AlertSerializer(serializers.ModelSerializer):
    deployment = serializers.CharField(source="deployment.node_id")
    result = ResultSerializer()

    class Meta:
        model = Alert
        fields = ("id", "deployment", "state", "reason", "opened_at", "closed_at", "close_note", "result")


class MonitoringIngestApi(APIView):
    """A monitoring run's results against a deployment, for monitors that do not send OpenLineage.

    The body becomes the OpenLineage RunEvent such a monitor would send (run facet ``portalMonitoring``,
    ``dataQualityAssertions`` on its inputs), so it is stored, linked and replayed like one.
    """

    permission_classes = [CanIngest]

    class InputSerializer(serializers.Serializer):
        class Deployment(serializers.Serializer):
            namespace = serializers.CharField(max_length=MAX_NAMESPACE_BYTES)
            name = serializers.CharField(max_length=MAX_NAME_BYTES, help_text="The model's name.")
            version = serializers.CharField(max_length=MAX_VERSION_BYTES)
            environment = serializers.RegexField(r"^[A-Za-z0-9_.-]{1,100}$",
                                                 error_messages={"invalid": "letters, digits, . _ - only"})

        class Window(serializers.Serializer):
            start = serializers.DateTimeField()
            end = serializers.DateTimeField()

            def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
                if attrs["start"] > attrs["end"]:
                    raise serializers.ValidationError({"start": "must not be after end"})
                return attrs

        class Metric(serializers.Serializer):
            name = serializers.CharField(max_length=200)
            value = _Finite(required=False)
            threshold = _Finite(required=False)
            breach_when = serializers.ChoiceField(choices=BREACH_WHEN, default="above")
            feature = serializers.CharField(max_length=200, required=False, allow_blank=True)
            psi = _Finite(required=False, min_value=0)
            ks = _Finite(required=False, min_value=0, max_value=1)

            def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
                if not {"value", "psi", "ks"} & set(attrs):
                    raise serializers.ValidationError({"value": "give a value, psi or ks"})
                return attrs

        class Assertion(serializers.Serializer):
            dataset = _Version()
            assertion = serializers.CharField(max_length=200)
            success = serializers.BooleanField()
            column = serializers.CharField(max_length=500, required=False, allow_blank=True)

        deployment = Deployment()
        namespace = serializers.CharField(max_length=MAX_NAMESPACE_BYTES, required=False,
                                          help_text="The monitoring job's namespace (default: the deployment's).")
        monitor = serializers.CharField(max_length=MAX_NAME_BYTES, required=False,
                                        help_text="The monitoring job's name (default monitor.<model>).")
        run_id = serializers.UUIDField(required=False, help_text="Default: derived from the body.")
        time = serializers.DateTimeField(required=False, help_text="When the run finished (default: now).")
        window = Window(required=False)
        reference = _Version(required=False)
        inputs = _Version(many=True, required=False)
        metrics = serializers.ListField(child=Metric(), required=False, max_length=MAX_MEASURES)
        assertions = serializers.ListField(child=Assertion(), required=False, max_length=MAX_MEASURES)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if not attrs.get("metrics") and not attrs.get("assertions"):
                raise serializers.ValidationError({"metrics": "give at least one metric or assertion"})
            return attrs

    @extend_schema(operation_id="monitoring_ingest", request=InputSerializer,
                   responses={201: ResultSerializer(many=True), 200: ResultSerializer(many=True), **ERRORS})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = _jsonable(data.validated_data)
        dep = v["deployment"]
        dep_id = ids.deployment_id(dep["namespace"], dep["name"], dep["version"], dep["environment"])
        if not Node.objects.filter(node_id=dep_id, kind="deployment").exists():
            raise FieldError("deployment", f"no deployment {dep_id!r} has been recorded")
        v["time"] = v.get("time") or timezone.now().isoformat()
        event = parse_event(rest_event(v))
        outcome = events_ingest(events=[event], by=request_user(request))[0]
        if outcome.refusal is not None:  # the monitoring job in a namespace the token may not write, a run id reused
            x = outcome.refusal
            raise WriteRefused(Refusal(x.status, _BODY_FIELDS.get(x.field, x.field), x.message))
        results = MonitoringResult.objects.filter(run__node_id=ids.run_id(event.run_id or "")).select_related(
            "run", "dataset_version", "reference").order_by("pk")
        code = status.HTTP_201_CREATED if outcome.status == "created" else status.HTTP_200_OK
        return Response(ResultSerializer(results, many=True).data, status=code)


_BODY_FIELDS = {"job.namespace": "namespace", "run.runId": "run_id"}  # the event's fields as the body names them


def _jsonable(value: Any) -> Any:
    """Validated data with datetimes and UUIDs as ISO strings (the event is JSON)."""
    if isinstance(value, dict):
        return {k: _jsonable(x) for k, x in value.items()}
    if isinstance(value, list):
        return [_jsonable(x) for x in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value.__class__.__name__ == "UUID":
        return str(value)
    return value


class AlertListApi(APIView):
    permission_classes = [CanRead]

    @extend_schema(operation_id="alert_list", parameters=[
        OpenApiParameter("state", str, enum=list(Alert.State.values), description="Default: open and incident."),
        OpenApiParameter("deployment", str, description="A deployment node id.")],
        responses={200: AlertSerializer(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        qs = Alert.objects.visible_to(request.user).select_related(
            "deployment", "result__run", "result__dataset_version", "result__reference")
        state = request.query_params.get("state")
        if state and state not in Alert.State.values:
            raise FieldError("state", f"unknown state {state!r}; one of {', '.join(Alert.State.values)}")
        qs = qs.filter(state=state) if state else qs.open()
        if request.query_params.get("deployment"):
            qs = qs.filter(deployment__node_id=request.query_params["deployment"])
        return Response(AlertSerializer(qs[:500], many=True).data)


class AlertDismissApi(APIView):
    permission_classes = [CanCurate]

    class InputSerializer(serializers.Serializer):
        note = serializers.CharField(max_length=5000)

    @extend_schema(operation_id="alert_dismiss", request=InputSerializer, responses={200: AlertSerializer, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        alert = get_object_or_404(Alert.objects.visible_to(request.user), pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alert = alert_dismiss(alert=alert, by=request_user(request), note=data.validated_data["note"])
        return Response(AlertSerializer(alert).data)


class DeploymentResultsApi(APIView):
    permission_classes = [CanRead]

    @extend_schema(operation_id="monitoring_results", parameters=[
        OpenApiParameter("deployment", str, required=True, description="A deployment node id.")],
        responses={200: ResultSerializer(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        node_id = request.query_params.get("deployment", "")
        if not node_id:
            raise FieldError("deployment", "required: a deployment node id")
        dep = get_object_or_404(Node.objects.visible_to(request.user), node_id=node_id, kind="deployment")
        qs = MonitoringResult.objects.filter(deployment=dep).select_related("run", "dataset_version", "reference")
        return Response(ResultSerializer(qs[:1000], many=True).data)
