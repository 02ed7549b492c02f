"""Governance API: a dataset's privacy attributes and subject index, a model version's inventory record, a
deployment's profile, and the versioned policy parameters.

Node ids are the portal's (``dataset:<ns>:<name>``, ...), percent-encoded in the URL. A node the caller may
not see is a 404; a change the caller may not make is a 403 (the rules are in ``services.py``).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lineage import governance_fields as G
from lineage import selectors as lineage_selectors
from lineage.api import ERRORS, NodeSummarySerializer
from lineage.models import Node
from portal.accounts.permissions import CanRead
from portal.lib.errors import FieldError

from . import parameters as P
from . import selectors, services
from .models import DatasetGovernance, DeploymentProfile, ModelInventory, ParameterSet


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know, so a misspelt attribute is a 400 rather than silently ignored."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError({k: ["unknown field"] for k in unknown})
        return attrs


def _node_or_404(request: Request, node_id: str, kinds: tuple[str, ...]) -> Node:
    node = lineage_selectors.node_get(user=request.user, node_id=node_id)
    if node is None or node.kind not in kinds:
        raise Http404
    return node


def _record(obj: Any, table: dict[str, Any], node: Node, user: Any, may_edit: bool) -> dict[str, Any]:
    return {
        "id": node.node_id,
        "recorded": not obj._state.adding,
        **services.snapshot(obj, table),
        "updated_at": obj.updated_at if not obj._state.adding else None,
        "updated_by": obj.updated_by.printed_name if obj.updated_by_id else None,
        "may_edit": may_edit,
    }


class _RecordOutput(serializers.Serializer):
    id = serializers.CharField(help_text="The node the record belongs to.")
    recorded = serializers.BooleanField(help_text="False while nothing has been set (the values are defaults).")
    updated_at = serializers.DateTimeField(allow_null=True)
    updated_by = serializers.CharField(allow_null=True)
    may_edit = serializers.BooleanField(help_text="Whether the caller may change it.")


# -- datasets --------------------------------------------------------------------------------------------
class DatasetGovernanceApi(APIView):
    """``GET`` a dataset's governance attributes; ``PATCH`` some of them. A dataset version's id answers for
    its dataset."""

    permission_classes = [CanRead]

    class InputSerializer(StrictSerializer):
        lawful_basis = serializers.ChoiceField(choices=G.LAWFUL_BASES, allow_blank=True, required=False,
                                               help_text="GDPR Art. 6(1) point a-f; a needs consent_reference.")
        purposes = serializers.ListField(child=serializers.CharField(max_length=200), required=False,
                                         max_length=G.MAX_LIST)
        consent_reference = serializers.CharField(allow_blank=True, max_length=500, required=False)
        special_category_condition = serializers.ChoiceField(choices=G.SPECIAL_CATEGORY_CONDITIONS,
                                                             allow_blank=True, required=False,
                                                             help_text="GDPR Art. 9(2) point a-j.")
        retention_until = serializers.DateField(allow_null=True, required=False)
        legal_hold = serializers.BooleanField(required=False, help_text="true needs legal_hold_reason.")
        legal_hold_reason = serializers.CharField(allow_blank=True, required=False, max_length=G.MAX_TEXT)
        disposition = serializers.ChoiceField(choices=G.DISPOSITIONS, allow_blank=True, required=False)
        disposed_at = serializers.DateTimeField(allow_null=True, required=False)

    class OutputSerializer(_RecordOutput):
        lawful_basis = serializers.CharField()
        purposes = serializers.ListField(child=serializers.CharField())
        consent_reference = serializers.CharField()
        special_category_condition = serializers.CharField()
        retention_until = serializers.DateField(allow_null=True)
        legal_hold = serializers.BooleanField()
        legal_hold_reason = serializers.CharField()
        disposition = serializers.CharField()
        disposed_at = serializers.DateTimeField(allow_null=True)
        subject_keys = serializers.IntegerField(help_text="How many subject keys the dataset's index holds.")
        warnings = serializers.ListField(child=serializers.CharField())

    @staticmethod
    def body(dataset: Node, user: Any) -> dict[str, Any]:
        gov = selectors.dataset_governance_get(dataset) or DatasetGovernance(node=dataset)
        return {**_record(gov, G.DATASET, dataset, user, services.may_set_dataset_governance(user)),
                "subject_keys": selectors.subject_key_count(dataset),
                "warnings": selectors.dataset_governance_warnings(dataset, gov)}

    def _dataset(self, request: Request, node_id: str) -> Node:
        return services.dataset_of(_node_or_404(request, node_id, ("dataset", "datasetVersion")))

    @extend_schema(operation_id="dataset_governance", responses={200: OutputSerializer, **ERRORS})
    def get(self, request: Request, node_id: str) -> Response:
        return Response(self.body(self._dataset(request, node_id), request.user))

    @extend_schema(operation_id="dataset_governance_set", request=InputSerializer,
                   responses={200: OutputSerializer, **ERRORS})
    def patch(self, request: Request, node_id: str) -> Response:
        dataset = self._dataset(request, node_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.dataset_governance_set(node=dataset, by=request.user, **data.validated_data)
        return Response(self.body(dataset, request.user))


class SubjectKeysAddApi(APIView):
    """Add data-subject keys to a dataset's subject index. Only a SHA-256 of each normalised key is kept."""

    permission_classes = [CanRead]

    class InputSerializer(StrictSerializer):
        keys = serializers.ListField(child=serializers.CharField(max_length=500, trim_whitespace=False),
                                     min_length=1, max_length=services.MAX_SUBJECT_KEYS,
                                     help_text="Raw subject keys, e.g. customer ids; stripped and case-folded "
                                     "before hashing.")

    class OutputSerializer(serializers.Serializer):
        id = serializers.CharField()
        submitted = serializers.IntegerField(help_text="Keys in the request.")
        added = serializers.IntegerField(help_text="Keys the index did not hold yet.")
        subject_keys = serializers.IntegerField(help_text="Keys the index holds now.")

    @extend_schema(operation_id="subject_keys_add", request=InputSerializer, responses={200: OutputSerializer,
                                                                                          **ERRORS})
    def post(self, request: Request, node_id: str) -> Response:
        dataset = services.dataset_of(_node_or_404(request, node_id, ("dataset", "datasetVersion")))
        services.subject_keys_check(by=request.user)  # before the body: no role, 403 whatever was sent
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        keys = data.validated_data["keys"]
        added = services.subject_keys_add(dataset=dataset, keys=keys, by=request.user)
        return Response({"id": dataset.node_id, "submitted": len(keys), "added": added,
                         "subject_keys": selectors.subject_key_count(dataset)})


class SubjectKeyResolveApi(APIView):
    """The datasets whose subject index holds a key (the start of a GDPR erasure impact analysis).

    A POST, so the key stays out of URLs and access logs. Compliance officers and admins only.
    """

    permission_classes = [CanRead]

    class InputSerializer(StrictSerializer):
        key = serializers.CharField(max_length=500, trim_whitespace=False)

    class OutputSerializer(serializers.Serializer):
        datasets = NodeSummarySerializer(many=True)

    @extend_schema(operation_id="subject_key_resolve", request=InputSerializer,
                   responses={200: OutputSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        if not services.may_set_dataset_governance(request.user):
            raise services.NotAllowed("Only compliance officers and admins may look up data subjects.")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        datasets = selectors.subject_key_datasets(data.validated_data["key"], user=request.user)
        return Response({"datasets": NodeSummarySerializer(datasets, many=True).data})


# -- model versions and deployments ------------------------------------------------------------------------
class ModelInventoryApi(APIView):
    """``GET`` a model version's inventory record; ``PATCH`` some of its fields."""

    permission_classes = [CanRead]

    class InputSerializer(StrictSerializer):
        owner = serializers.CharField(allow_blank=True, allow_null=True, required=False, max_length=254,
                                      help_text="Username or email of a portal user.")
        intended_use = serializers.CharField(allow_blank=True, required=False, max_length=G.MAX_TEXT)
        tier = serializers.IntegerField(min_value=1, max_value=9, allow_null=True, required=False,
                                        help_text="Materiality tier, 1 = most material.")
        limitations = serializers.CharField(allow_blank=True, required=False, max_length=G.MAX_TEXT)
        status = serializers.ChoiceField(choices=G.MODEL_STATUSES, required=False)
        retired_at = serializers.DateTimeField(allow_null=True, required=False)
        high_risk_annex = serializers.CharField(allow_blank=True, required=False, max_length=20,
                                                help_text="EU AI Act Annex III point, e.g. 5(b).")
        credit_decisioning = serializers.BooleanField(required=False)

    class OutputSerializer(_RecordOutput):
        owner = serializers.CharField(allow_null=True)
        intended_use = serializers.CharField()
        tier = serializers.IntegerField(allow_null=True)
        limitations = serializers.CharField()
        status = serializers.CharField()
        retired_at = serializers.DateTimeField(allow_null=True)
        high_risk_annex = serializers.CharField()
        credit_decisioning = serializers.BooleanField()

    @staticmethod
    def body(node: Node, user: Any) -> dict[str, Any]:
        inv = selectors.model_inventory_get(node) or ModelInventory(node=node)
        return _record(inv, G.INVENTORY, node, user, services.may_set_model_record(user, node))

    @extend_schema(operation_id="model_inventory", responses={200: OutputSerializer, **ERRORS})
    def get(self, request: Request, node_id: str) -> Response:
        return Response(self.body(_node_or_404(request, node_id, ("modelVersion",)), request.user))

    @extend_schema(operation_id="model_inventory_set", request=InputSerializer,
                   responses={200: OutputSerializer, **ERRORS})
    def patch(self, request: Request, node_id: str) -> Response:
        node = _node_or_404(request, node_id, ("modelVersion",))
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.model_inventory_set(node=node, by=request.user, **data.validated_data)
        return Response(self.body(node, request.user))


class DeploymentProfileApi(APIView):
    """``GET`` a deployment's regulatory profile; ``PATCH`` some of its fields."""

    permission_classes = [CanRead]

    class InputSerializer(StrictSerializer):
        sox_in_scope = serializers.BooleanField(required=False)
        hipaa_scope = serializers.BooleanField(required=False)
        human_in_loop = serializers.BooleanField(required=False)
        overseers = serializers.ListField(child=serializers.CharField(max_length=200), required=False,
                                          max_length=G.MAX_LIST, help_text="Usernames of the overseers.")
        change_record = serializers.CharField(allow_blank=True, required=False, max_length=300)
        emergency = serializers.BooleanField(required=False)
        log_location = serializers.CharField(allow_blank=True, required=False, max_length=500,
                                             help_text="Where its inference logs are kept (EU AI Act A4).")
        log_retention_days = serializers.IntegerField(min_value=0, allow_null=True, required=False)
        log_max_gap_minutes = serializers.IntegerField(min_value=0, allow_null=True, required=False,
                                                       help_text="Longest gap in its logs while active, as "
                                                       "measured.")
        stop_control_tested_at = serializers.DateTimeField(allow_null=True, required=False,
                                                           help_text="When the stop/override control was last "
                                                           "tested (A6).")

    class OutputSerializer(_RecordOutput):
        sox_in_scope = serializers.BooleanField()
        hipaa_scope = serializers.BooleanField()
        human_in_loop = serializers.BooleanField()
        overseers = serializers.ListField(child=serializers.CharField())
        change_record = serializers.CharField()
        emergency = serializers.BooleanField()
        log_location = serializers.CharField()
        log_retention_days = serializers.IntegerField(allow_null=True)
        log_max_gap_minutes = serializers.IntegerField(allow_null=True)
        stop_control_tested_at = serializers.DateTimeField(allow_null=True)

    @staticmethod
    def body(node: Node, user: Any) -> dict[str, Any]:
        profile = selectors.deployment_profile_get(node) or DeploymentProfile(node=node)
        return _record(profile, G.PROFILE, node, user, services.may_set_model_record(user, node))

    @extend_schema(operation_id="deployment_profile", responses={200: OutputSerializer, **ERRORS})
    def get(self, request: Request, node_id: str) -> Response:
        return Response(self.body(_node_or_404(request, node_id, ("deployment",)), request.user))

    @extend_schema(operation_id="deployment_profile_set", request=InputSerializer,
                   responses={200: OutputSerializer, **ERRORS})
    def patch(self, request: Request, node_id: str) -> Response:
        node = _node_or_404(request, node_id, ("deployment",))
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.deployment_profile_set(node=node, by=request.user, **data.validated_data)
        return Response(self.body(node, request.user))


# -- policy parameters -------------------------------------------------------------------------------------
class ParameterSetSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.printed_name", allow_null=True, default=None)

    class Meta:
        model = ParameterSet
        fields = ["version", "effective_from", "values", "reason", "created_by", "created_at"]


class ParametersApi(APIView):
    """``GET`` the parameters in force (at ``at``, default now), every version and the schema; ``POST`` a new
    version (admins)."""

    permission_classes = [CanRead]

    class InputSerializer(StrictSerializer):
        values = serializers.DictField(help_text="Parameters to change; the others keep the latest version's "
                                       "values. Unknown names are refused.")
        effective_from = serializers.DateTimeField(required=False, help_text="Default: now. Not before the "
                                                   "latest version's.")
        reason = serializers.CharField(max_length=G.MAX_TEXT)

    @extend_schema(operation_id="parameters", parameters=[OpenApiParameter("at", OpenApiTypes.DATETIME)],
                   responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request: Request) -> Response:
        at, raw = None, request.query_params.get("at")
        if raw:
            try:
                at = serializers.DateTimeField().to_internal_value(raw)
            except serializers.ValidationError as exc:
                raise FieldError("at", "must be an ISO 8601 date and time") from exc
        pset, values = P.parameters_in_force(at)
        return Response({
            "in_force": {"version": pset.version if pset else None,
                         "effective_from": pset.effective_from if pset else None, "values": values},
            "versions": ParameterSetSerializer(selectors.parameter_versions(), many=True).data,
            "schema": [{"name": p.name, "default": p.default, "type": p.kind, "controls": p.controls,
                        "description": p.description, "minimum": p.minimum, "law": p.law} for p in P.PARAMS],
        })

    @extend_schema(operation_id="parameters_publish", request=InputSerializer,
                   responses={201: ParameterSetSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        if not services.may_publish_parameters(request.user):
            raise services.NotAllowed("Only admins may publish policy parameters.")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        ps = services.parameters_publish(by=request.user, values=v["values"],
                                         effective_from=v.get("effective_from") or timezone.now(), reason=v["reason"])
        return Response(ParameterSetSerializer(ps).data, status=status.HTTP_201_CREATED)

