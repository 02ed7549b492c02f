"""REST API of incidents: list, open (also from a breach alert), detail, actions, notifications, closure."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lineage.models import Node
from portal.accounts.api import SignerInput
from portal.accounts.permissions import CanRead, request_user
from portal.lib.errors import FieldError
from portal.lib.schema import ErrorSerializer
from portal.monitoring.models import Alert

from . import services
from .models import Incident, Kind, Notification

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}


class _MayHandle(CanRead):
    message = "Only approvers, compliance officers and admins handle incidents."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return super().has_permission(request, view)
        return services.may_handle(request.user)  # anonymous: False, and DRF answers 401


class IncidentSerializer(serializers.ModelSerializer):
    deployments: serializers.SlugRelatedField[Node] = serializers.SlugRelatedField(
        slug_field="node_id", many=True, read_only=True)
    model_versions: serializers.SlugRelatedField[Node] = serializers.SlugRelatedField(
        slug_field="node_id", many=True, read_only=True)
    datasets: serializers.SlugRelatedField[Node] = serializers.SlugRelatedField(
        slug_field="node_id", many=True, read_only=True)
    alerts: serializers.PrimaryKeyRelatedField[Alert] = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    opened_by = serializers.CharField(source="opened_by.username")
    closed_by = serializers.CharField(source="closed_by.username", default=None, allow_null=True)
    clocks = serializers.SerializerMethodField()
    notifications = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = ("id", "title", "description", "kinds", "severity", "ai_act_category", "occurred_at", "detected_at",
                  "state", "deployments", "model_versions", "datasets", "alerts", "scope", "opened_by", "opened_at",
                  "closed_at", "closed_by", "closure_printed_name", "closure_reason", "closure_binding", "clocks",
                  "notifications", "actions")

    def get_clocks(self, obj: Incident) -> list[dict[str, Any]]:
        return [{"clock": s.clock.name, "label": s.clock.label, "limit": s.clock.limit,
                 "deadline": s.clock.deadline.isoformat(), "state": s.state, "raised": s.raised,
                 "notified_at": s.at.isoformat() if s.at else None} for s in services.incident_clock_status(obj)]

    def get_notifications(self, obj: Incident) -> list[dict[str, Any]]:
        return [{"clock": n.clock, "notified_at": n.notified_at.isoformat() if n.notified_at else None,
                 "authority": n.authority, "reference": n.reference, "exempt_reason": n.exempt_reason}
                for n in obj.notifications.all()]

    def get_actions(self, obj: Incident) -> list[dict[str, Any]]:
        return [{"at": a.at.isoformat(), "by": a.by.username, "text": a.text} for a in obj.actions.all()]


class _Nodes(serializers.Serializer):
    """The nodes an incident touches, by node id (a list replaces the one recorded)."""

    deployments = serializers.ListField(child=serializers.CharField(max_length=2000), required=False, max_length=100)
    model_versions = serializers.ListField(child=serializers.CharField(max_length=2000), required=False,
                                           max_length=100)
    datasets = serializers.ListField(child=serializers.CharField(max_length=2000), required=False, max_length=100)


def _incidents(request: Request) -> Any:
    return Incident.objects.visible_to(request.user).select_related("opened_by", "closed_by").prefetch_related(
        "deployments", "model_versions", "datasets", "alerts", "notifications", "actions__by")


class IncidentListApi(APIView):
    permission_classes = [_MayHandle]

    class InputSerializer(_Nodes):
        title = serializers.CharField(max_length=300)
        description = serializers.CharField(required=False, allow_blank=True, max_length=20000)
        kinds = serializers.ListField(child=serializers.ChoiceField(choices=Kind.choices), min_length=1)
        severity = serializers.ChoiceField(choices=Incident.Severity.choices)
        ai_act_category = serializers.ChoiceField(choices=Incident.AiActCategory.choices, required=False)
        occurred_at = serializers.DateTimeField(required=False)
        detected_at = serializers.DateTimeField()

    @extend_schema(operation_id="incident_list", parameters=[
        OpenApiParameter("state", str, enum=list(Incident.State.values))],
        responses={200: IncidentSerializer(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        qs = _incidents(request)
        state = request.query_params.get("state")
        if state:
            if state not in Incident.State.values:
                raise FieldError("state", f"unknown state {state!r}; one of {', '.join(Incident.State.values)}")
            qs = qs.filter(state=state)
        return Response(IncidentSerializer(qs[:500], many=True).data)

    @extend_schema(operation_id="incident_open", request=InputSerializer, responses={201: IncidentSerializer,
                                                                                       **ERRORS})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        incident = services.incident_open(by=request_user(request), **data.validated_data)
        return Response(IncidentSerializer(_incidents(request).get(pk=incident.pk)).data,
                        status=status.HTTP_201_CREATED)


class IncidentDetailApi(APIView):
    permission_classes = [_MayHandle]

    class InputSerializer(_Nodes):
        title = serializers.CharField(max_length=300, required=False)
        description = serializers.CharField(required=False, allow_blank=True, max_length=20000)
        kinds = serializers.ListField(child=serializers.ChoiceField(choices=Kind.choices), min_length=1,
                                      required=False)
        severity = serializers.ChoiceField(choices=Incident.Severity.choices, required=False)
        ai_act_category = serializers.ChoiceField(choices=Incident.AiActCategory.choices, required=False)
        occurred_at = serializers.DateTimeField(required=False)

    @extend_schema(operation_id="incident_detail", responses={200: IncidentSerializer, **ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        return Response(IncidentSerializer(get_object_or_404(_incidents(request), pk=pk)).data)

    @extend_schema(operation_id="incident_update", request=InputSerializer,
                   responses={200: IncidentSerializer, **ERRORS})
    def patch(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(_incidents(request), pk=pk)
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.incident_update(by=request_user(request), incident=incident, **data.validated_data)
        return Response(IncidentSerializer(_incidents(request).get(pk=pk)).data)


class AlertIncidentApi(APIView):
    """Open an incident from a breach alert in one step."""

    permission_classes = [_MayHandle]

    @extend_schema(operation_id="alert_incident_open", request=None, responses={201: IncidentSerializer, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        alert = get_object_or_404(Alert.objects.visible_to(request.user).select_related("deployment", "result"), pk=pk)
        incident = services.incident_open_from_alert(by=request_user(request), alert=alert)
        return Response(IncidentSerializer(_incidents(request).get(pk=incident.pk)).data,
                        status=status.HTTP_201_CREATED)


class IncidentActionApi(APIView):
    permission_classes = [_MayHandle]

    class InputSerializer(serializers.Serializer):
        text = serializers.CharField(max_length=20000)

    @extend_schema(operation_id="incident_action_add", request=InputSerializer,
                   responses={201: IncidentSerializer, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(_incidents(request), pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.incident_action_add(by=request_user(request), incident=incident, text=data.validated_data["text"])
        return Response(IncidentSerializer(_incidents(request).get(pk=pk)).data, status=status.HTTP_201_CREATED)


class IncidentNotifyApi(APIView):
    permission_classes = [_MayHandle]

    class InputSerializer(serializers.Serializer):
        clock = serializers.ChoiceField(choices=Notification.Clock.choices)
        notified_at = serializers.DateTimeField(required=False)
        authority = serializers.CharField(required=False, allow_blank=True, max_length=300)
        reference = serializers.CharField(required=False, allow_blank=True, max_length=300)
        exempt_reason = serializers.CharField(required=False, allow_blank=True, max_length=5000)

    @extend_schema(operation_id="incident_notify", request=InputSerializer,
                   responses={201: IncidentSerializer, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(_incidents(request), pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.incident_notify(by=request_user(request), incident=incident, **data.validated_data)
        return Response(IncidentSerializer(_incidents(request).get(pk=pk)).data, status=status.HTTP_201_CREATED)


class IncidentCloseApi(APIView):
    """Close with an electronic signature: the password now (not the token), and a reason."""

    permission_classes = [_MayHandle]

    class InputSerializer(SignerInput):
        reason = serializers.CharField(max_length=5000)

    @extend_schema(operation_id="incident_close", request=InputSerializer, responses={200: IncidentSerializer,
                                                                                        **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(_incidents(request), pk=pk)
        services.incident_close_check(by=request_user(request))  # a refusal never depends on what was sent
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.incident_close(by=request_user(request), incident=incident, **data.validated_data)
        return Response(IncidentSerializer(_incidents(request).get(pk=pk)).data)
