"""Approvals API: releases, signatures, policies and the deploy gate."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.api import SignerInput
from portal.accounts.models import Role
from portal.accounts.permissions import CanRead
from portal.evidence.selectors import evidence_missing
from portal.lib.errors import FieldError, query_datetime
from portal.lib.pagination import BoundedPagination, page_parameters
from portal.lib.schema import ErrorSerializer, paginated

from . import diff, materiality, selectors, services
from .models import Policy, Release, Signature, Violation
from .serializers import PolicyInputSerializer


class SignatureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Signature
        fields = ["id", "printed_name", "meaning", "reason", "signed_at", "subject_digest", "counted_for",
                  "binding", "auth_methods", "voided_at", "void_reason"]


class PolicySerializer(serializers.ModelSerializer):
    groups = serializers.SerializerMethodField()
    material_change = serializers.SerializerMethodField(help_text=(
        "The material-change rule set this version applies (the defaults for a version written before rule "
        "sets): {rules: {name: {enabled, triggers}}, metric_drop_percent, lower_is_better}."))

    class Meta:
        model = Policy
        fields = ["id", "key", "environment", "namespace", "model_name", "sensitive_tag", "governed", "version",
                  "effective_from",
                  "approval_expiry_days", "min_wait_hours", "required_evidence", "retrospective_days", "reason",
                  "created_at", "groups", "material_change"]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_material_change(self, p: Policy) -> dict[str, Any]:
        return materiality.in_force(p.material_change)[0]

    def get_groups(self, p: Policy) -> list[dict[str, Any]]:
        return [{"team": g.team.name, "min_approvals": g.min_approvals} for g in p.groups.select_related("team")]


class ReleaseSerializer(serializers.ModelSerializer):
    model_version = serializers.CharField(source="model_version.node_id")
    requester = serializers.CharField(source="requester.printed_name")
    policy = PolicySerializer()
    signatures = SignatureSerializer(many=True)

    class Meta:
        model = Release
        fields = ["id", "model_version", "environment", "requester", "justification", "state", "state_reason",
                  "subject_digest", "break_glass", "break_glass_reason", "retrospective_of", "retrospective_due",
                  "created_at", "approved_at", "policy", "signatures"]


class ReleaseDetailSerializer(ReleaseSerializer):
    """A release as one reader sees it: with its subject, why the reader may not sign, the quorum and evidence
    still missing, and whether the subject's lineage walk is complete (a release whose walk reached its safety
    bound cannot be approved)."""

    subject = serializers.JSONField(help_text="What the digest covers: model version, upstream dataset versions, "
                                    "commits, runs, policy version, and whether the walk was truncated.")
    my_ineligibility = serializers.ListField(child=serializers.CharField(), help_text=(
        "Why the caller may not sign this release, one reason each; empty when they may."))
    quorum = inline_serializer("ReleaseQuorum", {
        "met": serializers.BooleanField(),
        "missing": serializers.DictField(child=serializers.IntegerField(), help_text="Approvals still missing "
                                         "per approver group."),
    })
    missing_evidence = serializers.ListField(child=serializers.CharField())
    lineage_complete = serializers.BooleanField(help_text="False when the upstream walk reached "
                                                "PORTAL_SUBJECT_MAX_NODES: the release cannot be approved.")

    class Meta(ReleaseSerializer.Meta):
        fields = [*ReleaseSerializer.Meta.fields, "subject", "my_ineligibility", "quorum", "missing_evidence",
                  "lineage_complete"]


SUBJECT_CHANGED = OpenApiResponse(ErrorSerializer, description="The release's subject digest is no longer the one "
                                  "the signer reviewed; the detail names what changed. Nothing was signed.")


def _release_or_404(request: Request, pk: int) -> Release:
    release = Release.objects.visible_to(request.user).filter(pk=pk).first()
    if release is None:
        raise Http404
    return release


def _detail(release: Release, request: Request) -> dict[str, Any]:
    release.refresh_from_db()
    data = dict(ReleaseSerializer(release).data)
    data["subject"] = release.subject
    data["my_ineligibility"] = services.ineligibility(release=release, user=request.user)
    met, _, missing = services.release_quorum(release)
    data["quorum"] = {"met": met, "missing": missing}
    data["missing_evidence"] = evidence_missing(release=release)
    data["lineage_complete"] = not release.subject.get("truncated")
    return data


class ReleaseListCreateApi(APIView):
    permission_classes = [CanRead]

    class InputSerializer(serializers.Serializer):
        model = serializers.CharField(max_length=500)
        version = serializers.CharField(max_length=200)
        namespace = serializers.CharField(max_length=500, required=False)
        environment = serializers.CharField(max_length=100)
        justification = serializers.CharField(max_length=10000)

    @extend_schema(operation_id="release_list", parameters=[
        OpenApiParameter("state", str, enum=Release.State.values), OpenApiParameter("environment", str),
        OpenApiParameter("model", str), OpenApiParameter("waiting_for_me", bool), *page_parameters()],
        responses={200: paginated(ReleaseSerializer)})
    def get(self, request: Request) -> Response:
        qs: QuerySet[Release] = Release.objects.visible_to(request.user).select_related(
            "model_version", "requester", "policy")
        p = request.query_params
        if p.get("state"):
            if p["state"] not in Release.State.values:
                raise FieldError("state", f"unknown state; expected one of {', '.join(Release.State.values)}")
            qs = qs.filter(state=p["state"])
        if p.get("environment"):
            qs = qs.filter(environment=p["environment"])
        if p.get("model"):
            qs = qs.filter(model_version__name=p["model"])
        if p.get("waiting_for_me", "").lower() in ("1", "true", "yes"):
            qs = qs.filter(state=Release.State.PENDING).exclude(signatures__signer=request.user,
                                                                 signatures__voided_at__isnull=True)
            qs = [r for r in qs if not services.ineligibility(release=r, user=request.user)]  # type: ignore[assignment]
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ReleaseSerializer(page, many=True).data)

    @extend_schema(operation_id="release_request", request=InputSerializer, responses={
        201: ReleaseDetailSerializer,
        409: OpenApiResponse(ErrorSerializer, description="A release of this model version to this environment "
                             "already waits; the detail names it.")})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        release = services.release_request(by=request.user, **data.validated_data)
        return Response({"id": release.pk, "state": release.state, "subject_digest": release.subject_digest,
                         **_detail(release, request)}, status=status.HTTP_201_CREATED)


class ReleaseDetailApi(APIView):
    permission_classes = [CanRead]

    @extend_schema(operation_id="release_detail", responses={200: ReleaseDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        release = _release_or_404(request, pk)
        release = services.release_refresh(release=release, by=request.user)
        return Response(_detail(release, request))


class ReleaseDiffChangeSerializer(serializers.Serializer):
    element = serializers.ChoiceField(choices=materiality.ELEMENTS)
    change = serializers.ChoiceField(choices=["added", "removed", "changed"])
    kind = serializers.CharField(help_text="The node's kind, or the edge's kind; empty for policy and walk.")
    node = serializers.CharField(help_text="The node id (an edge's source; the dataset a sensitive tag comes "
                                 "from), or \"a dataset of another team\" when the caller may not see it.")
    target = serializers.CharField(help_text="An edge's destination; empty otherwise.")
    detail = serializers.CharField(help_text="What changed, for people: attributes before → after, the tag, "
                                   "the metric; empty for a node the caller may not see.")
    in_subject = serializers.BooleanField(help_text="The change is in the digested subject: it voids the "
                                          "approval. False: it lies outside the subject.")
    rules = serializers.ListField(child=serializers.ChoiceField(choices=materiality.RULE_NAMES))
    triggers = serializers.ListField(child=serializers.ChoiceField(choices=materiality.TRIGGERS))
    label = serializers.CharField(help_text="The node's readable name (or the hidden label).")  # type: ignore[assignment]
    target_label = serializers.CharField(allow_blank=True)


class ApprovedNodeSerializer(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    version = serializers.CharField(allow_blank=True)
    state = serializers.CharField(allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(), help_text="TAG, or TAG@column.")
    attrs = serializers.DictField(child=serializers.CharField(allow_blank=True))
    hidden = serializers.BooleanField(help_text="One entry per kind stands for the nodes of other teams.")


class ReleaseDiffApi(APIView):
    """The lineage as approved against the lineage now (``diff.release_diff``), for the caller: nodes they may
    not see keep their kind and classification, never their ids, names or attributes."""

    permission_classes = [CanRead]
    ONLY = ("material", "subject", "outside")

    class OutputSerializer(serializers.Serializer):
        release = serializers.IntegerField()
        model_version = serializers.CharField()
        state = serializers.ChoiceField(choices=Release.State.values)
        approved_at = serializers.DateTimeField(allow_null=True)
        baseline = serializers.ChoiceField(choices=["stored", "subject", "none"], help_text=(
            "stored: the lineage kept at approval; subject: only the digested subject (approved before lineage "
            "was kept); none: nothing to compare (never approved, or reopened since)."))
        note = serializers.CharField(allow_blank=True)
        captured_at = serializers.CharField(allow_null=True)
        approved_digest = serializers.CharField(allow_null=True)
        current_digest = serializers.CharField(allow_null=True)
        voids_approval = serializers.BooleanField(help_text="The subject digest now differs from the approved one.")
        rules = inline_serializer("MaterialChangeRulesInForce", {
            "policy": serializers.CharField(), "policy_id": serializers.IntegerField(),
            "defaults": serializers.BooleanField(help_text="The policy version predates rule sets: defaults apply."),
            "values": serializers.JSONField()}, allow_null=True)
        changes = ReleaseDiffChangeSerializer(many=True)
        triggers = serializers.ListField(child=inline_serializer("MaterialChangeTrigger", {
            "trigger": serializers.ChoiceField(choices=materiality.TRIGGERS),
            "rules": serializers.ListField(child=serializers.ChoiceField(choices=materiality.RULE_NAMES))}))
        approved_lineage = ApprovedNodeSerializer(many=True, help_text="The lineage as approved.")
        approved_edges = serializers.IntegerField(help_text="Edges kept at approval between nodes the caller sees.")
        summary = inline_serializer("ReleaseDiffSummary", {
            "changes": serializers.IntegerField(), "in_subject": serializers.IntegerField(),
            "outside": serializers.IntegerField(), "material": serializers.IntegerField()})

    @extend_schema(
        operation_id="release_diff",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The release id."),
                    OpenApiParameter("only", str, enum=list(ONLY), description="Only material changes (a rule "
                                     "fired), those in the subject, or those outside it.")],
        responses={200: OutputSerializer, 400: ErrorSerializer, 404: ErrorSerializer})
    def get(self, request: Request, pk: str) -> Response:
        if not (pk.isascii() and pk.isdigit() and len(pk) <= 19 and 0 < int(pk) < 2**63):
            raise FieldError("id", "expected a release id: a positive integer")
        only = request.query_params.get("only", "")
        if only and only not in self.ONLY:
            raise FieldError("only", f"expected one of {', '.join(self.ONLY)}")
        release = _release_or_404(request, int(pk))
        return Response(diff.release_diff(release=release, user=request.user, only=only))


class _SignInput(SignerInput):
    otp = serializers.CharField(max_length=20, required=False, default="", allow_blank=True,
                                help_text="The authenticator's current code (or a recovery code), when the signer "
                                "has a second factor or their role requires one.")
    reason = serializers.CharField(max_length=5000)


class _VoteInput(_SignInput):
    subject_digest = serializers.RegexField(
        r"^[0-9a-f]{64}$", source="reviewed_digest",
        help_text="The release's subject digest as the signer reviewed it; another digest now is refused (409).")


class ReleaseApproveApi(APIView):
    permission_classes = [CanRead]

    class InputSerializer(_VoteInput):
        meaning = serializers.ChoiceField(choices=[Signature.Meaning.APPROVAL, Signature.Meaning.REVIEW,
                                                   Signature.Meaning.RESPONSIBILITY], default="approval")

    @extend_schema(operation_id="release_approve", request=InputSerializer,
                   responses={200: ReleaseDetailSerializer, 409: SUBJECT_CHANGED})
    def post(self, request: Request, pk: int) -> Response:
        release = _release_or_404(request, pk)
        services.release_sign_check(release=release, by=request.user)  # before the body
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        release = services.release_sign(release=release, by=request.user, **data.validated_data)
        return Response(_detail(release, request))


class ReleaseRejectApi(APIView):
    permission_classes = [CanRead]

    @extend_schema(operation_id="release_reject", request=_VoteInput,
                   responses={200: ReleaseDetailSerializer, 409: SUBJECT_CHANGED})
    def post(self, request: Request, pk: int) -> Response:
        release = _release_or_404(request, pk)
        services.release_sign_check(release=release, by=request.user)  # before the body
        data = _VoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        release = services.release_reject(release=release, by=request.user, **data.validated_data)
        return Response(_detail(release, request))


class ReleaseWithdrawApi(APIView):
    permission_classes = [CanRead]

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=5000)

    @extend_schema(operation_id="release_withdraw", request=InputSerializer, responses={200: ReleaseDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        release = _release_or_404(request, pk)
        services.release_withdraw_check(release=release, by=request.user)  # before the body
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        release = services.release_withdraw(release=release, by=request.user, **data.validated_data)
        return Response(_detail(release, request))


class ReleaseBreakGlassApi(APIView):
    permission_classes = [CanRead]

    @extend_schema(operation_id="release_break_glass", request=_SignInput, responses={200: ReleaseDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        release = _release_or_404(request, pk)
        services.release_break_glass_check(by=request.user)  # before the body
        data = _SignInput(data=request.data)
        data.is_valid(raise_exception=True)
        release = services.release_break_glass(release=release, by=request.user, **data.validated_data)
        return Response(_detail(release, request))


class _AdminWrites(BasePermission):
    message = "Only admins may change approval policies."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return user.is_superuser or user.role != Role.INGESTOR
        return user.is_superuser or user.role == Role.ADMIN


class PolicyListCreateApi(APIView):
    permission_classes = [_AdminWrites]

    InputSerializer = PolicyInputSerializer

    @extend_schema(operation_id="policy_list", parameters=page_parameters(),
                   responses={200: paginated(PolicySerializer)})
    def get(self, request: Request) -> Response:
        qs = Policy.objects.all().order_by("environment", "key", "-version")
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(PolicySerializer(page, many=True).data)

    @extend_schema(operation_id="policy_create", request=InputSerializer, responses={201: PolicySerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = services.policy_create(by=request.user, **data.validated_data)
        return Response(PolicySerializer(policy).data, status=status.HTTP_201_CREATED)


class GateApi(APIView):
    """CI/CD asks before deploying, about one exact model version (namespace, name, version). Any authenticated
    caller, service tokens included, for models in namespaces its teams own or no team owns."""

    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="gate", responses={200: OpenApiTypes.OBJECT}, parameters=[
        OpenApiParameter("model", str, required=True), OpenApiParameter("version", str, required=True),
        OpenApiParameter("environment", str, required=True),
        OpenApiParameter("namespace", str, description="The model's namespace: required when the model name is "
                         "used in several namespaces. The caller's teams must own it, or no team."),
        OpenApiParameter("alias", str, description="also require the version to hold this registry alias now")])
    def get(self, request: Request) -> Response:
        p = request.query_params
        for name in ("model", "version", "environment"):
            if not p.get(name):
                raise FieldError(name, "this query parameter is required")
        result = services.gate_check(user=request.user, model=p["model"], version=p["version"],
                                     environment=p["environment"], namespace=p.get("namespace") or None,
                                     alias=p.get("alias") or None)
        return Response(result)


class ViolationListApi(APIView):
    """Deployments observed without an approved release, with the filters the pages use."""

    permission_classes = [CanRead]

    class OutputSerializer(serializers.ModelSerializer):
        deployment = serializers.CharField(source="deployment.node_id")
        model_version = serializers.CharField(source="model_version.node_id")
        namespace = serializers.CharField(source="model_version.namespace")
        open = serializers.BooleanField(source="is_open", help_text=(
            "True while the deployment is active and no approved release covers it."))

        class Meta:
            model = Violation
            fields = ["id", "deployment", "model_version", "namespace", "environment", "reason", "detected_at",
                      "open"]

    @extend_schema(operation_id="violation_list", responses={200: paginated(OutputSerializer)}, parameters=[
        OpenApiParameter("environment", str), OpenApiParameter("namespace", str, description="The model's."),
        OpenApiParameter("status", str, enum=["open", "closed"]),
        OpenApiParameter("detected_after", OpenApiTypes.DATETIME, description="Inclusive, ISO 8601."),
        OpenApiParameter("detected_before", OpenApiTypes.DATETIME, description="Exclusive, ISO 8601."),
        *page_parameters()])
    def get(self, request: Request) -> Response:
        p = request.query_params
        if p.get("status") and p["status"] not in ("open", "closed"):
            raise FieldError("status", "expected open or closed")
        times = {name: query_datetime(p, name) for name in ("detected_after", "detected_before")}
        qs = selectors.violation_list(user=request.user, environment=p.get("environment") or None,
                                      namespace=p.get("namespace") or None, status=p.get("status") or None,
                                      **times)
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class ReleaseEligibilityApi(APIView):
    """Who may sign this release: each member of each approver group, eligible or the reasons why not."""

    permission_classes = [CanRead]

    class OutputSerializer(serializers.Serializer):
        release = serializers.IntegerField()
        feasible = serializers.BooleanField(help_text="Could the eligible members meet the quorum (one person, one "
                                            "group)?")
        short = serializers.DictField(child=serializers.IntegerField(), help_text="Approvals per group that no "
                                      "eligible member could give.")
        groups = inline_serializer("EligibilityGroup", many=True, fields={
            "team": serializers.CharField(),
            "min_approvals": serializers.IntegerField(),
            "members": inline_serializer("EligibilityMember", many=True, fields={
                "username": serializers.CharField(), "printed_name": serializers.CharField(),
                "eligible": serializers.BooleanField(),
                "reasons": serializers.ListField(child=serializers.CharField()),
                "signed": serializers.CharField(allow_null=True, help_text="The meaning of their live signature."),
            }),
        })

    @extend_schema(operation_id="release_eligibility", responses={200: OutputSerializer})
    def get(self, request: Request, pk: int) -> Response:
        release = _release_or_404(request, pk)
        feasible, short, pool = services.quorum_feasibility(release=release)
        signed = dict(release.signatures.filter(voided_at__isnull=True).values_list("signer_id", "meaning"))
        groups = [{"team": g.team.name, "min_approvals": g.min_approvals, "members": [
            {"username": u.username, "printed_name": u.printed_name, "eligible": not reasons,
             "reasons": [services.third_person(r) for r in reasons], "signed": signed.get(u.pk)}
            for group, u, reasons in pool if group == g.team.name]}
            for g in release.policy.groups.select_related("team")]
        return Response({"release": release.pk, "feasible": feasible, "short": short, "groups": groups})
