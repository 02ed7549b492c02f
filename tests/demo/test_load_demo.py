"""The load_demo command: idempotent, and the demo tells the governance story it claims to."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from lineage.models import Edge, Node, NodeTag, RawEvent
from lineage.selectors import sensitive_upstream
from portal.accounts.models import ApiToken, NamespaceOwner, Role, User
from portal.demo import story as demo


def load() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out, stderr=StringIO())
    return out.getvalue()


def counts() -> tuple[int, ...]:
    return (Node.objects.count(), Edge.objects.count(), RawEvent.objects.count(), NodeTag.objects.count(),
            User.objects.count(), NamespaceOwner.objects.count(), ApiToken.objects.count())


def test_the_demo_events_are_deterministic() -> None:
    assert demo.events() == demo.events()
    assert demo.commits() == demo.commits()


@pytest.mark.django_db
def test_loading_it_twice_changes_nothing() -> None:
    first = load()
    loaded = counts()
    passwords = dict(User.objects.values_list("username", "password"))
    second = load()
    assert counts() == loaded
    assert dict(User.objects.values_list("username", "password")) == passwords
    assert loaded[0] > 0 and loaded[1] > 0
    assert "API token for svc-lineage" in first
    assert "API token for" not in second and "none issued" in second
    assert f"0/{len(demo.events())} events and 0/{len(demo.COMMITS)} commits new" in second


@pytest.mark.django_db
def test_it_leaves_the_expected_deployments_active() -> None:
    load()
    active = set(Node.objects.filter(kind="deployment", state="active").values_list("name", "version", "environment"))
    assert active == set(demo.EXPECTED_ACTIVE_DEPLOYMENTS)


@pytest.mark.django_db
def test_the_credit_scoring_production_deployment_inherits_pii() -> None:
    load()
    dep = Node.objects.get(kind="deployment", name=demo.CREDIT_MODEL, environment="production", state="active")
    assert dep.version == "6"
    found = sensitive_upstream(node=dep)
    assert "PII" in found
    assert f"dataset:{demo.BANK_DB}:core.customers" in found["PII"]


@pytest.mark.django_db
def test_de_identification_stops_phi_reaching_the_readmission_model() -> None:
    load()
    model = Node.objects.get(kind="modelVersion", namespace=demo.CLINICAL_NS, name=demo.READMISSION_MODEL,
                             version="2")
    assert "PHI" not in sensitive_upstream(node=model)
    source = Node.objects.get(node_id=f"dataset:{demo.EHR_DB}:clinical.admissions")
    assert "PHI" in sensitive_upstream(node=source)
    deid = Node.objects.get(node_id=f"dataset:{demo.CLINICAL_ML}:{demo.ADMISSIONS_DEID.name}")
    assert deid.tags.filter(tag="DEIDENTIFIED").exists()


@pytest.mark.django_db
def test_some_runs_fail() -> None:
    load()
    assert Node.objects.filter(kind="run", state="FAILED").exists()


@pytest.mark.django_db
def test_commits_carry_their_author_and_link_to_jobs() -> None:
    load()
    c = demo.COMMITS["c3"]
    node = Node.objects.get(kind="commit", namespace=c.repo, name=c.sha)
    assert node.attrs["author_email"] == demo.PRIYA.email
    assert node.out_edges.filter(kind="built_from", dst__kind="job").exists()


@pytest.mark.django_db
def test_each_role_has_a_user_who_can_sign_in_with_the_printed_password() -> None:
    load()
    assert set(User.objects.values_list("role", flat=True)) >= set(Role.values)
    for u in demo.USERS:
        user = User.objects.get(username=u.username)
        assert user.role == u.role
        assert user.check_password(u.password)
        assert set(user.teams.values_list("name", flat=True)) == set(u.teams)
