"""Reports API: request (202), poll state and progress, download the PDF, bundle or CSV, verify a PDF."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.api import SignerInput
from portal.accounts.models import Role
from portal.accounts.permissions import CanReport, has_role
from portal.lib.errors import DomainError, FieldError
from portal.lib.pagination import BoundedPagination, page_parameters
from portal.lib.schema import paginated

from . import selectors, services
from .catalog import FRAMEWORKS
from .checks import checks_load
from .erasure import erasure_csv
from .models import Report

MAX_VERIFY_BYTES = 100 * 1024 * 1024


class ReportSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    pdf = serializers.SerializerMethodField()
    requested_by = serializers.CharField(source="requested_by.username")

    class Meta:
        model = Report
        fields = ["id", "kind", "framework", "title", "scope", "subject", "annex_iv", "period_start", "period_end",
                  "requested_by", "state", "progress", "step", "steps", "error", "attempts", "parameters_version",
                  "summary", "pdf_sha256", "pdf_size", "created_at", "started_at", "finished_at", "url", "pdf"]

    def get_url(self, r: Report) -> str:
        return reverse("reports-api:detail", args=[r.pk])

    def get_pdf(self, r: Report) -> str | None:
        return reverse("reports-api:pdf", args=[r.pk]) if r.state == Report.State.DONE else None


class ReportCollectionApi(APIView):
    """List reports, or request a new one (202: generation runs on a worker; poll the report's url)."""

    permission_classes = [IsAuthenticated, CanReport]

    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=Report.Kind.choices)
        framework = serializers.CharField(required=False, allow_blank=True, default="")
        scope = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)
        period_start = serializers.DateTimeField(required=False, allow_null=True)
        period_end = serializers.DateTimeField(required=False, allow_null=True)
        model = serializers.CharField(required=False, allow_blank=True, default="", help_text="Dossier: node id.")
        annex_iv = serializers.BooleanField(required=False, default=False)
        dataset = serializers.CharField(required=False, allow_blank=True, default="", help_text="Erasure: node id.")
        subject_key = serializers.CharField(required=False, allow_blank=True, default="", write_only=True,
                                            help_text="Erasure: a data-subject key; only its hash is kept.")
        title = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)

    @extend_schema(operation_id="v1_reports_list", responses={200: paginated(ReportSerializer)},
                   parameters=[OpenApiParameter("kind", str, enum=Report.Kind.values, required=False),
                               *page_parameters()])
    def get(self, request: Request) -> Response:
        qs = Report.objects.select_related("requested_by").defer("bundle", "pdf")
        kind = request.query_params.get("kind")
        if kind:
            if kind not in Report.Kind.values:
                raise FieldError("kind", f"one of {', '.join(Report.Kind.values)}")
            qs = qs.filter(kind=kind)
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ReportSerializer(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={202: ReportSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.report_request(by=request.user, **data.validated_data)
        report.refresh_from_db()
        body = ReportSerializer(report).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


def _report(pk: Any) -> Report:
    return get_object_or_404(Report.objects.select_related("requested_by"), pk=pk)


def _done(report: Report) -> None:
    if report.state != Report.State.DONE:
        raise ReportNotReady(f"The report is {report.state} ({report.progress}%: {report.step}).")


class ReportNotReady(DomainError):
    status_code = 409


class ReportDetailApi(APIView):
    permission_classes = [IsAuthenticated, CanReport]

    @extend_schema(responses={200: ReportSerializer})
    def get(self, request: Request, pk: Any) -> Response:
        return Response(ReportSerializer(_report(pk)).data)


def _download(request: Request, report: Report, fmt: str) -> None:
    services.report_downloaded(report=report, by=request.user, fmt=fmt)


class ReportPdfApi(APIView):
    permission_classes = [IsAuthenticated, CanReport]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: Any) -> HttpResponse:
        report = _report(pk)
        _done(report)
        _download(request, report, "pdf")
        response = HttpResponse(bytes(report.pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{services.report_file_name(report, "pdf")}"'
        response["X-Report-SHA256"] = report.pdf_sha256
        return response


class ReportBundleApi(APIView):
    permission_classes = [IsAuthenticated, CanReport]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: Any) -> Response:
        report = _report(pk)
        _done(report)
        _download(request, report, "json")
        return Response(report.bundle)


class ReportCsvApi(APIView):
    permission_classes = [IsAuthenticated, CanReport]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request, pk: Any) -> HttpResponse:
        report = _report(pk)
        _done(report)
        if report.kind != Report.Kind.ERASURE:
            raise FieldError(None, "Only erasure impact reports have a CSV.")
        _download(request, report, "csv")
        response = HttpResponse(erasure_csv(report.bundle["erasure"]), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{services.report_file_name(report, "csv")}"'
        return response


class CanCountersign(BasePermission):
    message = "Only auditors countersign reports."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return has_role(request.user, {Role.AUDITOR})


class ReportCountersignApi(APIView):
    """An auditor's countersignature (the reviewed-by block of the cover): the password again and a reason.
    The PDF is drawn again with the block filled; the audit trail records both digests."""

    permission_classes = [IsAuthenticated, CanCountersign]

    class InputSerializer(SignerInput):
        reason = serializers.CharField(max_length=2000)

    @extend_schema(request=InputSerializer, responses={200: ReportSerializer})
    def post(self, request: Request, pk: Any) -> Response:
        report = _report(pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.report_countersign(report=report, by=request.user, **data.validated_data)
        return Response(ReportSerializer(report).data)


class ReportVerifyApi(APIView):
    """Upload a PDF: is it an unaltered report of this portal, and which?"""

    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": inline_serializer("ReportVerifyInput", {"file": serializers.FileField()})},
        responses={200: inline_serializer("ReportVerdict", {
            "ok": serializers.BooleanField(), "sha256": serializers.CharField(), "message": serializers.CharField(),
            "report": serializers.UUIDField(allow_null=True), "audit_seq": serializers.IntegerField(allow_null=True),
        })},
    )
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise FieldError("file", "attach the PDF to verify")
        if upload.size > MAX_VERIFY_BYTES:
            raise FieldError("file", f"larger than {MAX_VERIFY_BYTES} bytes")
        verdict = services.report_verify(content=upload.read())
        return Response({"ok": verdict.ok, "sha256": verdict.sha256, "message": verdict.message,
                         "report": str(verdict.report.pk) if verdict.ok and verdict.report else None,
                         "audit_seq": verdict.audit_seq})


class ControlCatalogApi(APIView):
    """The control catalog: frameworks and controls, and whether the portal evaluates each."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        class ControlSerializer(serializers.Serializer):
            id = serializers.CharField()
            citation = serializers.CharField()
            title = serializers.CharField()
            evidence_shown = serializers.CharField()
            type = serializers.CharField()
            evaluated = serializers.BooleanField()
            needs = serializers.CharField(help_text="For a control the portal does not evaluate: the data it needs.")

        id = serializers.CharField()
        name = serializers.CharField()
        controls = ControlSerializer(many=True)

    @extend_schema(responses={200: OutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        checks = checks_load()
        return Response([{"id": f.id, "name": f.name, "controls": [
            {"id": c.id, "citation": c.citation, "title": c.title, "evidence_shown": c.evidence_shown,
             "type": c.type, "evaluated": c.id in checks, "needs": c.needs} for c in f.controls]}
            for f in FRAMEWORKS.values()])


class PostureApi(APIView):
    """The latest posture per framework: the scheduled evaluation over the whole organisation and the rolling
    period of the policy parameters (ad-hoc reports do not change it)."""

    permission_classes = [IsAuthenticated, CanReport]

    # "pass" is a keyword: the fields are given as a dict.
    OutputSerializer = inline_serializer("PostureApiOutput", {
        "framework": serializers.CharField(),
        "name": serializers.CharField(),
        "evaluated_at": serializers.DateTimeField(allow_null=True, help_text="Null: never evaluated, no counts."),
        "pass": serializers.IntegerField(required=False),
        "fail": serializers.IntegerField(required=False),
        "not_applicable": serializers.IntegerField(required=False, help_text="Controls with nothing in scope."),
        "not_evaluated": serializers.IntegerField(required=False),
        "evidence": serializers.IntegerField(required=False),
        "period_start": serializers.DateTimeField(required=False, allow_null=True),
        "period_end": serializers.DateTimeField(required=False, allow_null=True),
        "parameters_version": serializers.IntegerField(required=False, allow_null=True),
        "controls": serializers.DictField(child=serializers.CharField(), required=False,
                                          help_text="Status by control id."),
    }, many=True)

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        latest = selectors.posture_latest()
        return Response([{"framework": fid, "name": f.name, **({
            "evaluated_at": s.evaluated_at, "pass": s.passed, "fail": s.failed, "not_applicable": s.not_applicable,
            "not_evaluated": s.not_evaluated, "evidence": s.evidence, "period_start": s.period_start,
            "period_end": s.period_end, "parameters_version": s.parameters_version, "controls": s.controls,
        } if (s := latest.get(fid)) else {"evaluated_at": None})} for fid, f in FRAMEWORKS.items()])
