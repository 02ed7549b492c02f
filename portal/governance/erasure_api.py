"""API for GDPR Art. 17 erasure requests (compliance officers and admins; auditors read)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.permissions import CanCurate, CanReport

from . import erasure
from .models import ErasureDisposition, ErasureRequest


class _DispositionOut(serializers.Serializer):
    node_id = serializers.CharField()
    kind = serializers.CharField()
    outcome = serializers.CharField()
    reason = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decided_by = serializers.CharField(allow_null=True)


class ErasureRequestOut(serializers.Serializer):
    id = serializers.IntegerField()
    subject_key_hash = serializers.CharField(allow_null=True)
    dataset = serializers.CharField(allow_null=True)
    received_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    extended = serializers.BooleanField()
    responded_at = serializers.DateTimeField(allow_null=True)
    response = serializers.CharField()
    dispositions = _DispositionOut(many=True)


def _read_or_curate(request: Request) -> list[BasePermission]:
    return [IsAuthenticated(), CanReport() if request.method == "GET" else CanCurate()]


class ErasureRequestsApi(APIView):
    """List erasure requests, or open one: its impact becomes pending dispositions to decide."""

    class InputSerializer(serializers.Serializer):
        subject_key = serializers.CharField(required=False, allow_blank=True, default="", write_only=True,
                                            help_text="The data subject's key; only its SHA-256 is kept.")
        dataset = serializers.CharField(required=False, allow_blank=True, default="")
        received_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def get_permissions(self) -> list[BasePermission]:
        return _read_or_curate(self.request)

    @extend_schema(responses={200: ErasureRequestOut(many=True)})
    def get(self, request: Request) -> Response:
        rows = ErasureRequest.objects.select_related("dataset")[:200]
        return Response([erasure.erasure_request_dict(r) for r in rows])

    @extend_schema(request=InputSerializer, responses={201: ErasureRequestOut})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        opened = erasure.erasure_request_open(by=request.user, **data.validated_data)
        return Response(erasure.erasure_request_dict(opened), status=status.HTTP_201_CREATED)


class ErasureRequestDetailApi(APIView):
    permission_classes = [IsAuthenticated, CanReport]

    @extend_schema(responses={200: ErasureRequestOut})
    def get(self, request: Request, pk: int) -> Response:
        return Response(erasure.erasure_request_dict(get_object_or_404(ErasureRequest, pk=pk)))


class ErasureDispositionApi(APIView):
    """Decide one affected dataset (erased, anonymised, exempt) or model version (retrained, no_personal_data,
    exempt)."""

    permission_classes = [IsAuthenticated, CanCurate]

    class InputSerializer(serializers.Serializer):
        node_id = serializers.CharField()
        outcome = serializers.ChoiceField(choices=[c for c in ErasureDisposition.Outcome.values if c != "pending"])
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses={200: ErasureRequestOut})
    def post(self, request: Request, pk: int) -> Response:
        req = get_object_or_404(ErasureRequest, pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        erasure.erasure_disposition_set(by=request.user, request=req, **data.validated_data)
        return Response(erasure.erasure_request_dict(req))


class ErasureRespondApi(APIView):
    """Log the response to the data subject (after every affected dataset is decided)."""

    permission_classes = [IsAuthenticated, CanCurate]

    class InputSerializer(serializers.Serializer):
        response = serializers.CharField()
        extended = serializers.BooleanField(required=False, default=False)
        extension_reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses={200: ErasureRequestOut})
    def post(self, request: Request, pk: int) -> Response:
        req = get_object_or_404(ErasureRequest, pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        req = erasure.erasure_request_respond(by=request.user, request=req, **data.validated_data)
        return Response(erasure.erasure_request_dict(req))
