"""Governance pages: the node page's attributes, the edit forms, the parameters page."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse

from lineage.models import Node
from portal.accounts.models import User
from portal.governance import services
from portal.governance.models import DatasetGovernance, DeploymentProfile, ModelInventory, ParameterSet, SubjectKey

pytestmark = pytest.mark.django_db


def page(node: Node) -> str:
    return "/lineage/node/" + quote(node.node_id, safe="")


def edit(node: Node) -> str:
    return "/governance/node/" + quote(node.node_id, safe="")


def test_the_node_page_shows_the_attributes_escaped(client: Client, graph: dict[str, Node], dpo: User,
                                                    alice: User) -> None:
    services.dataset_governance_set(node=graph["dataset"], by=dpo, lawful_basis="b",
                                    purposes=["<script>alert(1)</script>"])
    client.force_login(alice)
    r = client.get(page(graph["version"]))
    assert r.status_code == 200
    assert b"6(1)(b) contract" in r.content and b"&lt;script&gt;alert(1)" in r.content
    assert b"<script>" not in r.content and b"style=" not in r.content
    link = reverse("governance:node", args=[graph["dataset"].node_id]).encode()
    assert link not in r.content  # a viewer gets no edit link
    client.force_login(dpo)
    assert link in client.get(page(graph["dataset"])).content


def test_a_model_without_inventory_says_so(client: Client, graph: dict[str, Node], bob: User) -> None:
    client.force_login(bob)
    r = client.get(page(graph["model"]))
    assert b"No inventory record" in r.content
    assert reverse("governance:node", args=[graph["model"].node_id]).encode() in r.content


def test_charlie_gets_404(client: Client, graph: dict[str, Node], charlie: User) -> None:
    client.force_login(charlie)
    assert client.get(edit(graph["dataset"])).status_code == 404
    assert client.post(edit(graph["model"]), {"status": "production"}).status_code == 404


def test_a_viewer_gets_403(client: Client, graph: dict[str, Node], alice: User) -> None:
    client.force_login(alice)
    assert client.get(edit(graph["dataset"])).status_code == 403
    assert client.post(edit(graph["deployment"]), {"sox_in_scope": "on"}).status_code == 403
    assert not DeploymentProfile.objects.exists()


def test_the_dataset_form_saves_and_refuses(client: Client, graph: dict[str, Node], dpo: User) -> None:
    client.force_login(dpo)
    assert client.get(edit(graph["version"])).status_code == 200
    r = client.post(edit(graph["dataset"]), {"lawful_basis": "a", "purposes": "billing"})
    assert r.status_code == 400 and b"consent reference" in r.content
    assert not DatasetGovernance.objects.exists()
    r = client.post(edit(graph["dataset"]), {"lawful_basis": "b", "purposes": "billing\nmarketing",
                                             "retention_until": "2030-01-31"})
    assert r.status_code == 302
    assert DatasetGovernance.objects.get().purposes == ["billing", "marketing"]
    r = client.post(edit(graph["dataset"]) + "/subject-keys", {"keys": "customer-1001\ncustomer-1002"})
    assert r.status_code == 302 and SubjectKey.objects.count() == 2


def test_the_inventory_and_profile_forms(client: Client, graph: dict[str, Node], bob: User) -> None:
    client.force_login(bob)
    r = client.post(edit(graph["model"]), {"owner": "bob", "tier": "1", "status": "production",
                                           "high_risk_annex": "5(b)", "credit_decisioning": "on"})
    assert r.status_code == 302, r.content
    assert ModelInventory.objects.get().credit_decisioning
    r = client.post(edit(graph["model"]), {"owner": "ghost", "status": "production"})
    assert r.status_code == 400 and b"no portal user" in r.content
    r = client.post(edit(graph["deployment"]), {"sox_in_scope": "on", "overseers": "bob, alice",
                                                "human_in_loop": "on"})
    assert r.status_code == 302 and DeploymentProfile.objects.get().overseers == ["bob", "alice"]


def test_the_parameters_page(client: Client, admin_user: User, alice: User) -> None:
    client.force_login(alice)
    r = client.get("/governance/parameters")
    assert r.status_code == 200 and b"approvers_min" in r.content and b"Publish a new version" not in r.content
    assert client.post("/governance/parameters", {"reason": "x"}).status_code == 403
    client.force_login(admin_user)
    form = client.get("/governance/parameters").context["form"]
    data = {name: field.initial for name, field in form.fields.items() if field.initial is not None}
    data.update({"p_approvers_min": "3", "reason": "two is not enough"})
    r = client.post("/governance/parameters", data)
    assert r.status_code == 302, r.content
    ps = ParameterSet.objects.get()
    assert ps.values["approvers_min"] == 3 and ps.values["monitoring_max_days"] == {"1": 30, "2": 90, "3": 365}
    data["p_approvers_min"] = "0"
    assert client.post("/governance/parameters", data).status_code == 400
