"""Portal records sent by CI: commits, model versions (with inventory fields) and deployments (with profile
fields)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.permissions import CanIngest, request_user
from portal.lib.errors import FieldError

from .. import facets as F
from .. import ids, services
from ..governance_serializers import InventoryFields, ProfileFields, record_fields_split
from ..models import Node
from ..openlineage import MAX_NAME_BYTES, MAX_NAMESPACE_BYTES, MAX_VERSION_BYTES, name_problem
from .common import ERRORS, NodeDetailSerializer
from .ingest import not_future


def _fits(limit: int) -> Any:
    """A serializer validator: the value can be stored as part of a node id (see openlineage.name_problem)."""
    def check(value: str) -> None:
        problem = name_problem(value, limit)
        if problem:
            raise serializers.ValidationError(problem)
    return check


class _PersonSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)


class CommitCreateApi(APIView):
    permission_classes = [CanIngest]

    class InputSerializer(serializers.Serializer[Any]):
        repo = serializers.CharField(max_length=MAX_NAMESPACE_BYTES, validators=[_fits(MAX_NAMESPACE_BYTES)])
        sha = serializers.RegexField(r"^[0-9a-fA-F]{7,64}$", error_messages={"invalid": "must be a hex git sha"})
        author = _PersonSerializer(required=False)
        committer = _PersonSerializer(required=False)
        message = serializers.CharField(required=False, allow_blank=True, max_length=20000)
        branch = serializers.CharField(required=False, allow_blank=True, max_length=500)
        time = serializers.DateTimeField(validators=[not_future])

    @extend_schema(operation_id="commit_create", request=InputSerializer,
                   responses={201: NodeDetailSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        payload = {"repo": v["repo"], "sha": v["sha"].lower(), "message": v.get("message", ""),
                   "branch": v.get("branch", ""), "time": v["time"].isoformat()}
        for role in ("author", "committer"):
            person = v.get(role) or {}
            payload[f"{role}_name"] = person.get("name", "")
            payload[f"{role}_email"] = (person.get("email") or "").lower()
        node = services.portal_record_ingest(kind="commit", payload=payload, by=request_user(request))
        return Response(NodeDetailSerializer(node).data, status=status.HTTP_201_CREATED)


class _ModelSerializer(serializers.Serializer[Any]):
    namespace = serializers.CharField(max_length=MAX_NAMESPACE_BYTES, validators=[_fits(MAX_NAMESPACE_BYTES)])
    name = serializers.CharField(max_length=500, validators=[_fits(MAX_NAME_BYTES)])
    version = serializers.CharField(max_length=MAX_VERSION_BYTES, validators=[_fits(MAX_VERSION_BYTES)])


class ModelVersionCreateApi(APIView):
    permission_classes = [CanIngest]

    class InputSerializer(_ModelSerializer, InventoryFields):
        framework = serializers.CharField(required=False, allow_blank=True, max_length=100)
        metrics = serializers.DictField(child=serializers.FloatField(), required=False)
        parameters = serializers.DictField(required=False)
        description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
        run_id = serializers.UUIDField(required=False, help_text="The run that trained this version.")
        time = serializers.DateTimeField(required=False, validators=[not_future])

    @extend_schema(operation_id="model_version_create", request=InputSerializer,
                   responses={201: NodeDetailSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        if v.get("run_id"):
            v["run_id"] = str(v["run_id"])
            if not Node.objects.filter(node_id=ids.run_id(v["run_id"])).exists():
                raise FieldError("run_id", "no run with this id has been ingested")
        v["time"] = (v.get("time") or timezone.now()).isoformat()
        record_fields_split(v, "inventory")
        node = services.portal_record_ingest(kind="modelVersion", payload=v, by=request_user(request))
        return Response(NodeDetailSerializer(node).data, status=status.HTTP_201_CREATED)


class DeploymentCreateApi(APIView):
    permission_classes = [CanIngest]

    class InputSerializer(ProfileFields):
        model = _ModelSerializer()
        environment = serializers.RegexField(r"^[A-Za-z0-9_.-]{1,100}$",
                                             error_messages={"invalid": "letters, digits, . _ - only"})
        action = serializers.ChoiceField(choices=F.DEPLOY_ACTIONS, default="deploy")
        endpoint = serializers.CharField(required=False, allow_blank=True, max_length=1000)
        time = serializers.DateTimeField(required=False, validators=[not_future])

    @extend_schema(operation_id="deployment_create", request=InputSerializer,
                   responses={201: NodeDetailSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        m = v["model"]
        if not Node.objects.filter(node_id=ids.model_version_id(m["namespace"], m["name"], m["version"])).exists():
            raise FieldError("model", "no such model version; register it first (POST /api/v1/model-versions)")
        v["model"] = dict(m)
        v["time"] = (v.get("time") or timezone.now()).isoformat()
        record_fields_split(v, "profile")
        node = services.portal_record_ingest(kind="deployment", payload=v, by=request_user(request))
        return Response(NodeDetailSerializer(node).data, status=status.HTTP_201_CREATED)
