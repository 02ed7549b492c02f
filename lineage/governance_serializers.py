"""Optional governance fields of the lineage REST records: ``POST /api/v1/model-versions`` may carry a
model version's inventory fields and ``POST /api/v1/deployments`` a deployment's profile fields.

The rules are the pure ones of ``governance_fields.py``; the governance app applies the records through the
ingest hook it registers (``services.governance_hooks``).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from portal.accounts.selectors import users_by_name
from portal.lib.errors import FieldError

from . import governance_fields as G


class InventoryFields(serializers.Serializer[Any]):
    """Optional inventory fields a pipeline may send when it registers a model version."""

    owner = serializers.CharField(required=False, max_length=254, help_text="Username or email of a portal user.")
    intended_use = serializers.CharField(required=False, max_length=G.MAX_TEXT)
    tier = serializers.IntegerField(required=False, min_value=1, max_value=9)
    limitations = serializers.CharField(required=False, max_length=G.MAX_TEXT)
    high_risk_annex = serializers.RegexField(G.ANNEX_POINT.pattern, required=False,
                                             help_text="EU AI Act Annex III point, e.g. 5(b).")
    credit_decisioning = serializers.BooleanField(required=False)


class ProfileFields(serializers.Serializer[Any]):
    """Optional profile fields a pipeline may send when it reports a deployment."""

    sox_in_scope = serializers.BooleanField(required=False)
    hipaa_scope = serializers.BooleanField(required=False)
    human_in_loop = serializers.BooleanField(required=False)
    overseers = serializers.ListField(child=serializers.CharField(max_length=200), required=False,
                                      max_length=G.MAX_LIST)
    change_record = serializers.CharField(required=False, max_length=300)
    emergency = serializers.BooleanField(required=False)
    log_location = serializers.CharField(required=False, max_length=500)
    log_retention_days = serializers.IntegerField(required=False, min_value=0)
    log_max_gap_minutes = serializers.IntegerField(required=False, min_value=0)
    stop_control_tested_at = serializers.DateTimeField(required=False)


def record_fields_split(v: dict[str, Any], kind: str) -> None:
    """Move the optional inventory (``kind="inventory"``) or profile fields of a validated REST payload under
    ``v[kind]``, where ``portal_record_ingest`` finds them. An owner must be a portal user."""
    names = InventoryFields().fields if kind == "inventory" else ProfileFields().fields
    record = {name: v.pop(name) for name in list(names) if name in v}
    if record.get("owner") and not users_by_name([record["owner"]]):
        raise FieldError("owner", f"no portal user has the username or email {record['owner']!r}")
    if record:
        try:
            v[kind] = G.clean(G.INVENTORY if kind == "inventory" else G.PROFILE, record, blank=False)
        except G.Invalid as exc:
            raise FieldError(exc.field, exc.message) from exc
