"""Governance attributes sent with lineage: the portalGovernance facet, the inventory and profile fields of
the model-version and deployment facets, and the REST records."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from lineage import ids
from lineage.models import Node
from lineage.services import lineage_rebuild
from portal.accounts.models import User
from portal.governance import selectors
from portal.governance.models import DatasetGovernance, DeploymentProfile, ModelInventory, SubjectKey
from tests.factories import dataset, deploy_facets, model_output, run_event
from tests.governance.conftest import BANK, ML, entries, governance_facet, ingest

pytestmark = pytest.mark.django_db
H1001 = hashlib.sha256(b"customer-1001").hexdigest()


def customers(**fields: Any) -> dict[str, Any]:
    return dataset(BANK, "core.customers", **governance_facet(**fields))


def gov() -> DatasetGovernance:
    return DatasetGovernance.objects.get(node__node_id=ids.dataset_id(BANK, "core.customers"))


def test_the_facet_sets_the_attributes_it_carries() -> None:
    (outcome,) = ingest(run_event(inputs=[customers(lawfulBasis="b", purposes=["credit risk assessment"],
                                                    retentionUntil="2031-12-31", subjectKeyHashes=[H1001])]))
    assert outcome.warnings == []
    g = gov()
    assert (g.lawful_basis, g.purposes, g.retention_until) == ("b", ["credit risk assessment"], date(2031, 12, 31))
    assert [n.node_id for n in selectors.subject_key_datasets("Customer-1001")] == [g.node.node_id]
    (entry,) = entries("governance.dataset_set")
    assert entry.payload["source"] == "lineage" and entry.payload["before"] is None
    assert entries("governance.subject_keys_added")[0].payload["added"] == 1
    # A later facet sets only what it carries; the same values again change nothing.
    ingest(run_event(inputs=[customers(legalHold=True, legalHoldReason="Case 25-cv-0142")],
                     time="2026-01-11T10:00:00Z"))
    ingest(run_event(inputs=[customers(legalHold=True, legalHoldReason="Case 25-cv-0142")],
                     time="2026-01-12T10:00:00Z"))
    g = gov()
    assert g.lawful_basis == "b" and g.legal_hold and g.legal_hold_reason == "Case 25-cv-0142"
    assert len(entries("governance.dataset_set")) == 2


@pytest.mark.parametrize(("fields", "bad"), [
    ({"lawfulBasis": "consent"}, "lawfulBasis"),
    ({"lawfulBasis": "a"}, "consentReference"),
    ({"legalHold": True}, "legalHoldReason"),
    ({"purposes": ["ok", ""]}, "purposes"),
    ({"retentionUntil": "next year"}, "retentionUntil"),
    ({"lawfulBasis": "b", "subjectKeyHashes": ["customer-1001"]}, "subjectKeyHashes"),
])
def test_an_unusable_facet_is_ignored_with_a_warning(fields: dict[str, Any], bad: str) -> None:
    (outcome,) = ingest(run_event(inputs=[customers(**fields)]))
    assert outcome.status == "created"  # lenient: the event is stored, the facet kept as sent
    assert any(f"portalGovernance.{bad}" in w for w in outcome.warnings), outcome.warnings
    assert not DatasetGovernance.objects.exists() and not SubjectKey.objects.exists()
    assert "portalGovernance" in Node.objects.get(node_id=ids.dataset_id(BANK, "core.customers")).facets


def test_a_pipeline_does_not_release_a_legal_hold() -> None:
    ingest(run_event(inputs=[customers(legalHold=True, legalHoldReason="Case 1")]))
    ingest(run_event(inputs=[customers(legalHold=False)], time="2026-01-11T10:00:00Z"))
    assert gov().legal_hold


# Both storage paths (portal/lib/sql.py): COPY for every set-based write on PostgreSQL, or VALUES for every one;
# at the default threshold the two sizes below would take different paths.
@pytest.mark.parametrize("copy_min_rows", [1, 10**9], ids=["copy", "values"])
def test_one_batch_is_applied_in_a_fixed_number_of_statements(copy_min_rows: int, settings: Any) -> None:
    settings.PORTAL_SQL_COPY_MIN_ROWS = copy_min_rows
    def batch(n: int, t: str) -> list[dict[str, Any]]:
        return [run_event(inputs=[dataset(BANK, f"t{i}", **governance_facet(lawfulBasis="f", purposes=["x"],
                                                                           subjectKeyHashes=[H1001]))],
                          time=t) for i in range(n)]

    def queries(n: int, t: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            ingest(*batch(n, t))
        return len([q for q in ctx.captured_queries if "governance_" in q["sql"]])

    few, many = queries(2, "2026-01-10T10:00:00Z"), queries(40, "2026-01-10T11:00:00Z")
    assert few == many
    assert DatasetGovernance.objects.count() == 40 and SubjectKey.objects.count() == 40


def test_model_and_deployment_facets_carry_inventory_and_profile(bob: User) -> None:
    out = model_output("credit", "7")
    out["facets"]["portalModelVersion"].update(owner="bob@example.com", tier=1, intendedUse="PD for retail",
                                               highRiskAnnex="5(b)", creditDecisioning=True)
    ingest(run_event(outputs=[out]))
    dep = deploy_facets("credit", "7", "production")
    dep["portalDeployment"].update(soxInScope=True, overseers=["bob"], changeRecord="CHG-9", humanInLoop=False,
                                   logMaxGapMinutes=7, stopControlTestedAt="2026-01-02T00:00:00Z")
    ingest(run_event(job="deploy", run_facets=dep, time="2026-01-11T10:00:00Z"))
    inv = ModelInventory.objects.get()
    assert (inv.owner, inv.tier, inv.high_risk_annex, inv.credit_decisioning) == (bob, 1, "5(b)", True)
    p = DeploymentProfile.objects.get()
    assert p.node.node_id == ids.deployment_id(ML, "credit", "7", "production")
    assert (p.sox_in_scope, p.overseers, p.change_record, p.human_in_loop) == (True, ["bob"], "CHG-9", False)
    assert p.log_max_gap_minutes == 7 and p.stop_control_tested_at.isoformat().startswith("2026-01-02T00:00")


def test_a_bad_inventory_field_keeps_the_model_version() -> None:
    out = model_output("credit", "7")
    out["facets"]["portalModelVersion"]["tier"] = "high"
    (outcome,) = ingest(run_event(outputs=[out]))
    assert any("portalModelVersion.tier" in w for w in outcome.warnings)
    assert Node.objects.filter(kind="modelVersion").exists() and not ModelInventory.objects.exists()


def test_an_unknown_owner_is_left_unset_and_noted() -> None:
    out = model_output("credit", "7")
    out["facets"]["portalModelVersion"].update(owner="ghost@example.com", tier=2)
    ingest(run_event(outputs=[out]))
    inv = ModelInventory.objects.get()
    assert inv.owner is None and inv.tier == 2
    assert entries("governance.inventory_set")[0].payload["owner_unknown"] == "ghost@example.com"


def test_a_rebuild_does_not_replay_attributes_over_later_portal_edits(dpo: User) -> None:
    from portal.governance import services

    ingest(run_event(inputs=[customers(lawfulBasis="b", purposes=["x"])]))
    services.dataset_governance_set(node=gov().node, by=dpo, lawful_basis="f")
    lineage_rebuild()
    assert gov().lawful_basis == "f"


def test_rest_records_carry_inventory_and_profile_fields(ingest_client: APIClient, bob: User) -> None:
    r = ingest_client.post("/api/v1/model-versions", {"namespace": ML, "name": "credit", "version": "8",
                                                      "owner": "bob", "tier": 2, "intended_use": "PD",
                                                      "credit_decisioning": True}, format="json")
    assert r.status_code == 201, r.json()
    inv = ModelInventory.objects.get()
    assert (inv.owner, inv.tier, inv.intended_use, inv.credit_decisioning) == (bob, 2, "PD", True)
    r = ingest_client.post("/api/v1/deployments", {"model": {"namespace": ML, "name": "credit", "version": "8"},
                                                   "environment": "production", "sox_in_scope": True,
                                                   "change_record": "CHG-1"}, format="json")
    assert r.status_code == 201, r.json()
    assert DeploymentProfile.objects.get().sox_in_scope


def test_rest_records_refuse_bad_inventory_fields(ingest_client: APIClient) -> None:
    for body, field in (({"owner": "ghost"}, "owner"), ({"tier": 0}, "tier"), ({"high_risk_annex": "x"},
                                                                                  "high_risk_annex")):
        r = ingest_client.post("/api/v1/model-versions", {"namespace": ML, "name": "credit", "version": "8",
                                                          **body}, format="json")
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == field
    assert not Node.objects.filter(kind="modelVersion").exists()

