"""The demo's governance story: realistic attributes, the findings it promises, and idempotence."""

from __future__ import annotations

from datetime import date

import pytest

from lineage import ids
from lineage.models import Node
from portal.audit.models import AuditEntry
from portal.demo import governance as gdemo
from portal.demo import story as demo
from portal.governance import selectors
from portal.governance.models import DatasetGovernance, DeploymentProfile, ModelInventory, ParameterSet, SubjectKey
from portal.governance.parameters import parameters_in_force
from tests.demo.test_load_demo import load

pytestmark = pytest.mark.django_db


def gov(ds: demo.Dataset) -> DatasetGovernance:
    return DatasetGovernance.objects.get(node__node_id=ids.dataset_id(ds.namespace, ds.name))


def test_the_demo_tells_the_governance_story() -> None:
    load()
    assert gov(demo.CUSTOMERS).lawful_basis == "b"
    assert gov(demo.PATIENTS).special_category_condition == "h"
    assert gov(demo.CRM_CUSTOMERS).lawful_basis == "f"
    expired = [g.node.name for g in DatasetGovernance.objects.filter(retention_until__lt=date(2026, 11, 1),
                                                                     legal_hold=False, disposition="")]
    assert expired == [demo.WEB_EVENTS.name]  # GDPR G3 fails for it, and for nothing else
    assert gov(demo.LOANS).legal_hold
    assert [n.name for n in selectors.subject_key_datasets("customer-1001")] == sorted(
        [demo.CRM_CUSTOMERS.name, demo.CUSTOMERS.name, demo.LOANS.name, demo.TRANSACTIONS.name])
    deployed = set(Node.objects.filter(kind="deployment").values_list("in_edges__src_id", flat=True))
    missing = Node.objects.filter(pk__in=deployed).exclude(inventory__isnull=False)
    assert [(n.name, n.version) for n in missing] == [(demo.CHURN_MODEL, "4")]  # SR 11-7 F1 fails for it
    credit_prod = DeploymentProfile.objects.get(node__node_id=ids.deployment_id(
        demo.CREDIT_NS, demo.CREDIT_MODEL, "6", "production"))
    assert credit_prod.sox_in_scope
    readmission = ModelInventory.objects.get(node__node_id=ids.model_version_id(
        demo.CLINICAL_NS, demo.READMISSION_MODEL, "2"))
    assert readmission.high_risk_annex == "5(c)" and readmission.owner.username == demo.TOMAS.username
    assert ParameterSet.objects.get().effective_from == gdemo.PARAMETERS_FROM
    assert parameters_in_force(demo.at(30))[0].version == 1


def test_loading_it_twice_changes_nothing() -> None:
    load()
    counts = (DatasetGovernance.objects.count(), ModelInventory.objects.count(), DeploymentProfile.objects.count(),
              SubjectKey.objects.count(), ParameterSet.objects.count())
    audited = AuditEntry.objects.filter(action__startswith="governance.").count()
    load()
    assert (DatasetGovernance.objects.count(), ModelInventory.objects.count(), DeploymentProfile.objects.count(),
            SubjectKey.objects.count(), ParameterSet.objects.count()) == counts
    assert AuditEntry.objects.filter(action__startswith="governance.").count() == audited
    assert counts[0] == len(gdemo.DATASETS) and counts[1] == len(gdemo.INVENTORY)
