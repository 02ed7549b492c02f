"""Governance services: validation, permissions, audit entries, parameters versioning."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from lineage.models import Node
from portal.accounts.models import User
from portal.accounts.services import user_ensure
from portal.audit.models import AuditEntry
from portal.governance import parameters as P
from portal.governance import selectors, services
from portal.governance.models import DatasetGovernance, DeploymentProfile, ModelInventory, ParameterSet, SubjectKey
from portal.lib.errors import FieldError
from tests.governance.conftest import entries

pytestmark = pytest.mark.django_db


# -- datasets --------------------------------------------------------------------------------------------
def test_it_sets_attributes_and_audits_before_and_after(graph: dict[str, Node], dpo: User) -> None:
    gov = services.dataset_governance_set(node=graph["dataset"], by=dpo, lawful_basis="b",
                                          purposes=["credit risk assessment"], retention_until=date(2030, 1, 31))
    assert (gov.lawful_basis, gov.purposes, gov.retention_until) == ("b", ["credit risk assessment"],
                                                                     date(2030, 1, 31))
    services.dataset_governance_set(node=graph["dataset"], by=dpo, legal_hold=True, legal_hold_reason="Litigation")
    gov.refresh_from_db()
    assert gov.lawful_basis == "b" and gov.legal_hold and gov.updated_by == dpo  # partial: the basis is kept
    first, second = entries("governance.dataset_set")
    assert first.target_id == graph["dataset"].node_id and first.actor_id == dpo.pk
    assert first.payload["before"] is None and first.payload["after"]["retention_until"] == "2030-01-31"
    assert second.payload["before"]["legal_hold"] is False and second.payload["after"]["legal_hold"] is True


def test_setting_the_same_values_again_writes_nothing(graph: dict[str, Node], dpo: User) -> None:
    services.dataset_governance_set(node=graph["dataset"], by=dpo, lawful_basis="b")
    services.dataset_governance_set(node=graph["dataset"], by=dpo, lawful_basis="b")
    assert len(entries("governance.dataset_set")) == 1


def test_a_dataset_version_resolves_to_its_dataset(graph: dict[str, Node], dpo: User) -> None:
    gov = services.dataset_governance_set(node=graph["version"], by=dpo, lawful_basis="f")
    assert gov.node == graph["dataset"]


def test_other_kinds_have_no_dataset_governance(graph: dict[str, Node], dpo: User) -> None:
    with pytest.raises(FieldError) as exc:
        services.dataset_governance_set(node=graph["model"], by=dpo, lawful_basis="f")
    assert exc.value.field == "node"


@pytest.mark.parametrize(("fields", "field"), [
    ({"lawful_basis": "a"}, "consent_reference"),
    ({"legal_hold": True}, "legal_hold_reason"),
    ({"purposes": ["ok", "  "]}, "purposes"),
    ({"purposes": "billing"}, "purposes"),
    ({"lawful_basis": "z"}, "lawful_basis"),
    ({"special_category_condition": "k"}, "special_category_condition"),
    ({"colour": "blue"}, "colour"),
])
def test_it_refuses_bad_input_naming_the_field_and_writes_nothing(graph: dict[str, Node], dpo: User,
                                                                   fields: dict, field: str) -> None:
    with pytest.raises(FieldError) as exc:
        services.dataset_governance_set(node=graph["dataset"], by=dpo, **fields)
    assert exc.value.field == field
    assert not DatasetGovernance.objects.exists() and not entries("governance.dataset_set")


def test_consent_needs_a_reference_also_when_set_in_two_steps(graph: dict[str, Node], dpo: User) -> None:
    services.dataset_governance_set(node=graph["dataset"], by=dpo, lawful_basis="a", consent_reference="CMP-7")
    with pytest.raises(FieldError):
        services.dataset_governance_set(node=graph["dataset"], by=dpo, consent_reference="")
    assert DatasetGovernance.objects.get().consent_reference == "CMP-7"


def test_releasing_a_hold_drops_its_reason_and_a_disposition_gets_a_time(graph: dict[str, Node],
                                                                          dpo: User) -> None:
    services.dataset_governance_set(node=graph["dataset"], by=dpo, legal_hold=True, legal_hold_reason="Case 1")
    gov = services.dataset_governance_set(node=graph["dataset"], by=dpo, legal_hold=False, disposition="deleted")
    assert gov.legal_hold_reason == "" and gov.disposed_at is not None


def test_a_special_category_condition_without_the_tag_is_allowed_with_a_warning(graph: dict[str, Node],
                                                                                 dpo: User) -> None:
    gov = services.dataset_governance_set(node=graph["dataset"], by=dpo, special_category_condition="h")
    assert gov.special_category_condition == "h"
    assert selectors.dataset_governance_warnings(graph["dataset"], gov)


@pytest.mark.parametrize("username", ["alice", "bob"])
def test_only_compliance_and_admins_set_dataset_governance(graph: dict[str, Node], username: str,
                                                           alice: User, bob: User) -> None:
    with pytest.raises(services.NotAllowed):
        services.dataset_governance_set(node=graph["dataset"], by=User.objects.get(username=username),
                                        lawful_basis="b")


# -- subject keys ----------------------------------------------------------------------------------------
def test_subject_keys_are_stored_hashed_and_audited_by_count(graph: dict[str, Node], dpo: User) -> None:
    added = services.subject_keys_add(dataset=graph["version"], keys=["Customer-1001 ", "customer-1001",
                                                                        "customer-1002"], by=dpo)
    assert added == 2
    assert services.subject_keys_add(dataset=graph["dataset"], keys=["customer-1002"], by=dpo) == 0
    rows = list(SubjectKey.objects.values_list("dataset_id", "key_hash"))
    assert len(rows) == 2 and all(d == graph["dataset"].pk for d, _ in rows)
    stored = " ".join(h for _, h in rows) + " ".join(str(e.payload) for e in AuditEntry.objects.all())
    assert "1001" not in stored and "1002" not in stored
    (entry,) = entries("governance.subject_keys_added")
    assert entry.payload == {"submitted": 3, "added": 2, "source": "portal"}
    assert selectors.subject_key_datasets("  CUSTOMER-1001") == [graph["dataset"]]
    assert selectors.subject_key_datasets("customer-9999") == []


def test_subject_key_resolution_respects_visibility(graph: dict[str, Node], dpo: User, charlie: User,
                                                    alice: User) -> None:
    services.subject_keys_add(dataset=graph["dataset"], keys=["customer-1001"], by=dpo)
    assert selectors.subject_key_datasets("customer-1001", user=charlie) == []
    assert selectors.subject_key_datasets("customer-1001", user=alice) == [graph["dataset"]]


def test_subject_keys_need_keys(graph: dict[str, Node], dpo: User) -> None:
    for keys in ([], [""], ["ok", 3]):
        with pytest.raises(FieldError):
            services.subject_keys_add(dataset=graph["dataset"], keys=keys, by=dpo)  # type: ignore[arg-type]


# -- model inventory and deployment profile -------------------------------------------------------------
def test_the_models_approvers_set_its_inventory(graph: dict[str, Node], bob: User, alice: User) -> None:
    inv = services.model_inventory_set(node=graph["model"], by=bob, owner="Alice@Example.com", tier=1,
                                       intended_use="Probability of default", high_risk_annex="5(b)",
                                       credit_decisioning=True)
    assert inv.owner == alice and inv.tier == 1 and inv.status == ModelInventory.Status.DEVELOPMENT
    (entry,) = entries("governance.inventory_set")
    assert entry.payload["after"]["owner"] == "alice" and entry.target_kind == "modelVersion"
    with pytest.raises(services.NotAllowed):
        services.model_inventory_set(node=graph["model"], by=alice, tier=2)  # a viewer


def test_an_approver_of_another_team_may_not(graph: dict[str, Node]) -> None:
    other = user_ensure(username="olga", role="approver", team="marketing")
    with pytest.raises(services.NotAllowed):
        services.model_inventory_set(node=graph["model"], by=other, tier=2)


def test_retiring_records_when(graph: dict[str, Node], bob: User) -> None:
    inv = services.model_inventory_set(node=graph["model"], by=bob, status="retired")
    assert inv.retired_at is not None
    inv = services.model_inventory_set(node=graph["model"], by=bob, status="production")
    assert inv.retired_at is None
    with pytest.raises(FieldError) as exc:
        services.model_inventory_set(node=graph["model"], by=bob, retired_at=timezone.now())
    assert exc.value.field == "retired_at"


@pytest.mark.parametrize(("fields", "field"), [
    ({"owner": "nobody"}, "owner"), ({"tier": 0}, "tier"), ({"tier": True}, "tier"),
    ({"high_risk_annex": "Annex III"}, "high_risk_annex"), ({"status": "live"}, "status"),
])
def test_bad_inventory_input_names_the_field(graph: dict[str, Node], bob: User, fields: dict, field: str) -> None:
    with pytest.raises(FieldError) as exc:
        services.model_inventory_set(node=graph["model"], by=bob, **fields)
    assert exc.value.field == field
    assert not ModelInventory.objects.exists()


def test_deployment_profile(graph: dict[str, Node], dpo: User) -> None:
    p = services.deployment_profile_set(node=graph["deployment"], by=dpo, sox_in_scope=True,
                                        overseers=["bob", "bob", "alice"], change_record="CHG-1")
    assert p.sox_in_scope and p.overseers == ["bob", "alice"] and p.human_in_loop
    with pytest.raises(FieldError):
        services.deployment_profile_set(node=graph["model"], by=dpo, sox_in_scope=True)
    assert entries("governance.profile_set")[0].payload["after"]["change_record"] == "CHG-1"
    assert DeploymentProfile.objects.count() == 1


# -- parameters ------------------------------------------------------------------------------------------
def test_parameters_are_versioned_and_in_force_by_date(admin_user: User) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert P.parameters_in_force(t0) == (None, P.DEFAULTS)
    v1 = services.parameters_publish(by=admin_user, values={}, effective_from=t0, reason="initial")
    v2 = services.parameters_publish(by=admin_user, values={"approvers_min": 3}, effective_from=t0 + timedelta(days=30),
                                     reason="stricter")
    v3 = services.parameters_publish(by=admin_user, values={"monitoring_max_days": {1: 14}},
                                     effective_from=t0 + timedelta(days=60), reason="tier 1 monthly -> fortnightly")
    assert (v1.version, v2.version, v3.version) == (1, 2, 3)
    assert P.parameters_in_force(t0 - timedelta(seconds=1))[0] is None
    assert P.parameters_in_force(t0 + timedelta(days=1))[0] == v1
    pset, values = P.parameters_in_force(t0 + timedelta(days=45))
    assert (pset, values["approvers_min"], pset.effective_from) == (v2, 3, t0 + timedelta(days=30))
    pset, values = P.parameters_in_force(t0 + timedelta(days=90))
    assert pset == v3 and values["approvers_min"] == 3 and values["monitoring_max_days"] == {"1": 14}
    assert set(v3.values) == set(P.DEFAULTS)  # stored whole
    entry = entries("governance.parameters_published")[1]
    assert entry.payload["changed"] == {"approvers_min": {"before": 2, "after": 3}}


def test_parameters_refuse_unknown_keys_and_are_for_admins(admin_user: User, dpo: User) -> None:
    with pytest.raises(FieldError) as exc:
        services.parameters_publish(by=admin_user, values={"approver_min": 3}, effective_from=timezone.now(),
                                    reason="typo")
    assert exc.value.field == "values.approver_min"
    with pytest.raises(services.NotAllowed):
        services.parameters_publish(by=dpo, values={}, effective_from=timezone.now(), reason="not mine")
    with pytest.raises(FieldError):
        services.parameters_publish(by=admin_user, values={}, effective_from=timezone.now(), reason=" ")
    assert not ParameterSet.objects.exists()


def test_a_version_cannot_take_effect_before_the_latest(admin_user: User) -> None:
    now = timezone.now()
    services.parameters_publish(by=admin_user, values={}, effective_from=now, reason="first")
    with pytest.raises(FieldError) as exc:
        services.parameters_publish(by=admin_user, values={}, effective_from=now - timedelta(days=1), reason="back")
    assert exc.value.field == "effective_from"
