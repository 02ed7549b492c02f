"""Reads of governance attributes and policy parameters."""

from __future__ import annotations

from typing import Any

from lineage import governance_fields as G
from lineage.models import Node, NodeTag

from .models import DatasetGovernance, DeploymentProfile, ModelInventory, ParameterSet, SubjectKey


def dataset_governance_get(dataset: Node) -> DatasetGovernance | None:
    return DatasetGovernance.objects.filter(node=dataset).select_related("updated_by").first()


def model_inventory_get(node: Node) -> ModelInventory | None:
    return ModelInventory.objects.filter(node=node).select_related("owner", "updated_by").first()


def deployment_profile_get(node: Node) -> DeploymentProfile | None:
    return DeploymentProfile.objects.filter(node=node).select_related("updated_by").first()


def subject_key_count(dataset: Node) -> int:
    return SubjectKey.objects.filter(dataset=dataset).count()


def dataset_governance_warnings(dataset: Node, gov: DatasetGovernance | None) -> list[str]:
    """Mismatches worth a look that the portal does not refuse (the tags may still be on their way)."""
    special = NodeTag.objects.filter(node=dataset, tag__in=G.SPECIAL_TAGS).exists()
    condition = gov.special_category_condition if gov else ""
    if condition and not special:
        return ["A special-category condition is recorded, but the dataset is not tagged SPECIAL_CAT or PHI."]
    if special and not condition:
        return ["The dataset holds special-category data (SPECIAL_CAT or PHI) but records no Art. 9(2) condition."]
    return []


def subject_key_datasets(key: str, *, user: Any = None) -> list[Node]:
    """The datasets whose subject index holds ``key`` (normalised and hashed as when it was added).

    With ``user``, only the datasets that user may see.
    """
    qs = Node.objects.filter(kind="dataset", subject_keys__key_hash=G.subject_key_hash(key)).distinct()
    if user is not None:
        qs = qs.filter(pk__in=Node.objects.visible_to(user).values("pk"))
    return list(qs.order_by("node_id"))


def parameter_versions() -> list[ParameterSet]:
    return list(ParameterSet.objects.select_related("created_by").order_by("-version"))
