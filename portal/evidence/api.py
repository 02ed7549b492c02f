"""Evidence API: upload (multipart), list, metadata, content, approve, attachments, delete."""

from __future__ import annotations

import base64
from typing import Any

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lineage.models import Node
from portal.accounts.api import SignerInput
from portal.accounts.permissions import CanRead, has_role
from portal.approvals.models import Release
from portal.lib.errors import FieldError
from portal.lib.pagination import BoundedPagination, page_parameters
from portal.lib.schema import paginated

from . import selectors, services
from .attributes import schema_markdown
from .models import Document, DocumentType


class DocumentSerializer(serializers.ModelSerializer):
    doc_type_label = serializers.CharField(source="get_doc_type_display")
    author = serializers.CharField(source="author.printed_name")
    approved_by = serializers.CharField(source="approved_by.printed_name", allow_null=True, default=None)
    in_effect = serializers.SerializerMethodField()
    nodes = serializers.SerializerMethodField()
    releases = serializers.SerializerMethodField()
    content_url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = ["id", "doc_type", "doc_type_label", "title", "version", "description", "filename", "content_type",
                  "size", "sha256", "author", "approved_by", "approved_at", "approval_reason", "effective_from",
                  "effective_until", "in_effect", "retention_until", "sections", "attributes", "supersedes",
                  "nodes", "releases", "content_url", "created_at"]

    def get_in_effect(self, d: Document) -> bool:
        return d.in_effect_at()

    def get_nodes(self, d: Document) -> list[str]:
        """Only the attachments the reader may see: ids of other teams' nodes are not disclosed."""
        return selectors.node_ids_visible(user=self.context["user"], document=d)

    def get_releases(self, d: Document) -> list[int]:
        return selectors.release_ids_visible(user=self.context["user"], document=d)

    def get_content_url(self, d: Document) -> str:
        return f"/api/v1/documents/{d.pk}/content"


def _writes_need(roles: set[str], message: str) -> type[BasePermission]:
    """A role needed for the view's writes, checked before the body is read (the service checks it again), so a
    caller without the role gets 403 whatever the body. Views of one document check after the lookup instead,
    so a document the caller may not see stays a 404."""

    class WritesNeed(BasePermission):
        def has_permission(self, request: Request, view: APIView) -> bool:
            self.message = message
            return request.method in ("GET", "HEAD", "OPTIONS") or has_role(request.user, roles)

    return WritesNeed


def _document_or_404(request: Request, pk: Any) -> Document:
    doc = Document.objects.visible_to(request.user).defer("content").select_related(
        "author", "approved_by").filter(pk=pk).first()
    if doc is None:
        raise Http404
    return doc


def _out(doc: Document, request: Request) -> dict[str, Any]:
    doc = selectors.with_attachments(Document.objects.defer("content").select_related("author", "approved_by"),
                                     user=request.user).get(pk=doc.pk)
    return dict(DocumentSerializer(doc, context={"user": request.user}).data)


def content_response(doc: Document) -> HttpResponse:
    """The file as an attachment, never rendered inline by the browser, with its SHA-256."""
    content_type = doc.content_type + ("; charset=utf-8" if doc.content_type.startswith("text/") else "")
    response = HttpResponse(bytes(doc.content), content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, doc.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    response["X-Content-SHA256"] = doc.sha256
    response["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(doc.sha256)).decode()}:"
    return response


class DocumentListCreateApi(APIView):
    permission_classes = [CanRead, _writes_need(services.UPLOAD_ROLES, services.UPLOAD_REFUSED)]
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(allow_empty_file=True)
        doc_type = serializers.ChoiceField(choices=DocumentType.choices)
        title = serializers.CharField(max_length=500)
        version = serializers.CharField(max_length=50, default="1")
        description = serializers.CharField(max_length=20000, required=False, default="", allow_blank=True)
        effective_from = serializers.DateTimeField(required=False)
        effective_until = serializers.DateTimeField(required=False, allow_null=True, default=None)
        retention_until = serializers.DateField(required=False, allow_null=True, default=None)
        sections = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)
        attributes = serializers.JSONField(
            binary=True, required=False, default=dict,
            help_text="A JSON object, sent as a string field: the type's attributes below (what the report "
                      "controls read). Unknown keys are refused, required ones named.\n\n" + schema_markdown())
        node_ids = serializers.ListField(child=serializers.CharField(max_length=2000), required=False, default=list)
        release_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False,
                                            default=list)
        supersedes = serializers.UUIDField(required=False, allow_null=True, default=None)

    @extend_schema(operation_id="document_list", parameters=[
        OpenApiParameter("node", str, description="A node id: documents attached to it."),
        OpenApiParameter("release", int, description="A release id: documents attached to it."),
        OpenApiParameter("type", str, enum=DocumentType.values), OpenApiParameter("approved", bool),
        OpenApiParameter("q", str, description="Title, file name or SHA-256."), *page_parameters()],
        responses={200: paginated(DocumentSerializer)})
    def get(self, request: Request) -> Response:
        p = request.query_params
        node = release = None
        if p.get("node"):
            node = Node.objects.visible_to(request.user).filter(node_id=p["node"]).first()
            if node is None:
                raise FieldError("node", "No such node is known.")
        if p.get("release"):
            if not p["release"].isdigit():
                raise FieldError("release", "A release id is a number.")
            release = Release.objects.visible_to(request.user).filter(pk=int(p["release"])).first()
            if release is None:
                raise FieldError("release", "No such release is known.")
        if p.get("type") and p["type"] not in DocumentType.values:
            raise FieldError("type", f"unknown type; expected one of {', '.join(DocumentType.values)}")
        approved = None
        if p.get("approved"):
            approved = p["approved"].lower() in ("1", "true", "yes")
        qs = selectors.document_list(user=request.user, node=node, release=release, doc_type=p.get("type") or None,
                                     q=p.get("q") or None, approved=approved)
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(
            DocumentSerializer(page, many=True, context={"user": request.user}).data)

    @extend_schema(operation_id="document_upload", request={"multipart/form-data": InputSerializer},
                   responses={201: DocumentSerializer})
    def post(self, request: Request) -> Response:
        # Refuse an oversized body before the parser spools it to disk.
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.PORTAL_EVIDENCE_MAX_BYTES + 1024 * 1024:
            raise FieldError("file", f"The upload is {length} bytes; the limit is "
                                     f"{settings.PORTAL_EVIDENCE_MAX_BYTES} bytes.")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        upload = v.pop("file")
        if upload.size > settings.PORTAL_EVIDENCE_MAX_BYTES:
            raise FieldError("file", f"The file is {upload.size} bytes; the limit is "
                                     f"{settings.PORTAL_EVIDENCE_MAX_BYTES} bytes.")
        supersedes = None
        if v.get("supersedes"):
            supersedes = Document.objects.visible_to(request.user).filter(pk=v["supersedes"]).first()
            if supersedes is None:
                raise FieldError("supersedes", "No such document is known.")
        v["supersedes"] = supersedes
        v.setdefault("effective_from", timezone.now())
        doc = services.document_upload(by=request.user, file_name=upload.name or "", content=upload.read(),
                                       content_type=upload.content_type or "", **v)
        return Response(_out(doc, request), status=status.HTTP_201_CREATED)


class DocumentDetailApi(APIView):
    permission_classes = [CanRead]
    parser_classes = [JSONParser]

    class DeleteInputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=5000)

    @extend_schema(operation_id="document_detail", responses={200: DocumentSerializer})
    def get(self, request: Request, pk: Any) -> Response:
        return Response(_out(_document_or_404(request, pk), request))

    @extend_schema(operation_id="document_delete", request=DeleteInputSerializer,
                   responses={204: None, 409: OpenApiResponse(description="Under a retention lock.")})
    def delete(self, request: Request, pk: Any) -> Response:
        doc = _document_or_404(request, pk)
        services.require_role(request.user, services.DELETE_ROLES, services.DELETE_REFUSED)
        data = self.DeleteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.document_delete(document=doc, by=request.user, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentContentApi(APIView):
    permission_classes = [CanRead]

    @extend_schema(operation_id="document_content",
                   responses={(200, "*/*"): OpenApiResponse(
                       OpenApiTypes.BINARY, description="The file, as an attachment, with the content type it was "
                                                        "uploaded with. Header X-Content-SHA256 is its SHA-256 in "
                                                        "hex; Repr-Digest the same per RFC 9530.")})
    def get(self, request: Request, pk: Any) -> HttpResponse:
        doc = _document_or_404(request, pk)
        return content_response(Document.objects.get(pk=doc.pk))


class DocumentApproveApi(APIView):
    permission_classes = [CanRead]

    class InputSerializer(SignerInput):
        otp = serializers.CharField(max_length=20, required=False, default="", allow_blank=True,
                                    help_text="The authenticator's current code, when the approver has a second "
                                    "factor or their role requires one.")
        reason = serializers.CharField(max_length=5000)

    @extend_schema(operation_id="document_approve", request=InputSerializer, responses={200: DocumentSerializer})
    def post(self, request: Request, pk: Any) -> Response:
        doc = _document_or_404(request, pk)
        services.require_role(request.user, services.APPROVE_ROLES, services.APPROVE_REFUSED)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        doc = services.document_approve(document=doc, by=request.user, **data.validated_data)
        return Response(_out(doc, request))


class DocumentAttachmentsApi(APIView):
    permission_classes = [CanRead]

    class InputSerializer(serializers.Serializer):
        action = serializers.ChoiceField(choices=["attach", "detach"], default="attach")
        node_ids = serializers.ListField(child=serializers.CharField(max_length=2000), required=False, default=list)
        release_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False,
                                            default=list)

    @extend_schema(operation_id="document_attachments", request=InputSerializer, responses={200: DocumentSerializer})
    def post(self, request: Request, pk: Any) -> Response:
        doc = _document_or_404(request, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        write = services.document_attach if v.pop("action") == "attach" else services.document_detach
        doc = write(document=doc, by=request.user, **v)
        return Response(_out(doc, request))
