"""``{% node_governance node user as gov %}``: what ``governance/_node_attributes.html`` shows on a node page,
so the node page's view needs nothing extra."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from lineage.models import Node

from .. import selectors, services
from ..models import DatasetGovernance, Disposition, LawfulBasis, ModelInventory, SpecialCategoryCondition

register = template.Library()


def _label(choices: Any, value: str) -> str:
    return str(choices(value).label) if value else ""


def _yes(value: bool) -> str:
    return "yes" if value else "no"


@register.simple_tag
def node_governance(node: Node, user: Any) -> dict[str, Any] | None:
    if node.kind in ("dataset", "datasetVersion"):
        try:
            dataset = services.dataset_of(node)
        except services.FieldError:
            return None
        gov = selectors.dataset_governance_get(dataset) or DatasetGovernance(node=dataset)
        hold = f"yes: {gov.legal_hold_reason}" if gov.legal_hold else "no"
        disposed = (f"{_label(Disposition, gov.disposition)} {gov.disposed_at:%Y-%m-%d}" if gov.disposition
                    and gov.disposed_at else _label(Disposition, gov.disposition))
        rows = [("Lawful basis", _label(LawfulBasis, gov.lawful_basis)), ("Purposes", ", ".join(gov.purposes)),
                ("Consent reference", gov.consent_reference),
                ("Special-category condition", _label(SpecialCategoryCondition, gov.special_category_condition)),
                ("Retain until", gov.retention_until.isoformat() if gov.retention_until else ""),
                ("Legal hold", hold), ("Disposition", disposed),
                ("Subject keys", str(selectors.subject_key_count(dataset)))]
        return {"title": "Governance attributes", "rows": rows, "target": dataset if dataset != node else None,
                "warnings": selectors.dataset_governance_warnings(dataset, gov),
                "edit_url": reverse("governance:node", args=[dataset.node_id])
                if services.may_set_dataset_governance(user) else None}
    if node.kind == "modelVersion":
        inv = selectors.model_inventory_get(node)
        rows = [] if inv is None else [
            ("Owner", inv.owner.printed_name if inv.owner_id else ""), ("Intended use", inv.intended_use),
            ("Tier", str(inv.tier or "")), ("Limitations", inv.limitations),
            ("Status", _label(ModelInventory.Status, inv.status)
             + (f" {inv.retired_at:%Y-%m-%d}" if inv.retired_at else "")),
            ("EU AI Act high-risk", f"Annex III {inv.high_risk_annex}" if inv.high_risk_annex else "no"),
            ("Credit decisioning", _yes(inv.credit_decisioning))]
        return {"title": "Model inventory record", "rows": rows, "target": None, "warnings": [] if inv else
                ["No inventory record: the model inventory check (SR 11-7 / SR 26-2) fails for this version."],
                "edit_url": reverse("governance:node", args=[node.node_id])
                if services.may_set_model_record(user, node) else None}
    if node.kind == "deployment":
        p = selectors.deployment_profile_get(node)
        rows = [] if p is None else [
            ("SOX in scope", _yes(p.sox_in_scope)), ("HIPAA scope", _yes(p.hipaa_scope)),
            ("Human in the loop", _yes(p.human_in_loop)), ("Overseers", ", ".join(p.overseers)),
            ("Change record", p.change_record), ("Emergency change", _yes(p.emergency)),
            ("Inference logs", p.log_location), ("Log retention (days)", str(p.log_retention_days or "")),
            ("Longest log gap (minutes)", "" if p.log_max_gap_minutes is None else str(p.log_max_gap_minutes)),
            ("Stop control tested", f"{p.stop_control_tested_at:%Y-%m-%d}" if p.stop_control_tested_at else "")]
        return {"title": "Deployment profile", "rows": rows, "target": None,
                "warnings": [] if p else ["No profile recorded."],
                "edit_url": reverse("governance:node", args=[node.node_id])
                if services.may_set_model_record(user, node) else None}
    return None
