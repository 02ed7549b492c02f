"""The dashboard's lists: the environment is a choice of the environments that exist, and a list longer than a page
says how many of how many it shows and links to the next page."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.utils import timezone

from lineage.models import Node
from portal.approvals.models import Violation

pytestmark = pytest.mark.django_db


def _node(kind: str, name: str, version: str, environment: str = "", namespace: str = "ml-pipelines") -> Node:
    now = timezone.now()
    at = f"@{environment}" if environment else ""
    return Node.objects.create(node_id=f"{kind}:{namespace}:{name}#{version}{at}", kind=kind, namespace=namespace,
                               name=name, version=version, environment=environment,
                               state="active" if kind == "deployment" else "", event_time=now, created_at=now,
                               updated_at=now)


@pytest.fixture
def deployments(db: object) -> list[Node]:
    out = []
    for i, env in enumerate(["production", "production", "production", "staging"]):
        mv = _node("model_version", f"m{i}", "1")
        dep = _node("deployment", f"m{i}", "1", env)
        dep.attrs = {"model_version": mv.node_id}
        dep.save(update_fields=["attrs"])
        Violation.objects.create(deployment=dep, model_version=mv, environment=env, reason="no release",
                                 detected_at=timezone.now())
        out.append(dep)
    return out


@pytest.fixture
def admin_page(client, admin_user, deployments) -> Callable[..., str]:
    """The admin, signed in over the four deployments: ``admin_page(path, params)`` is that page's HTML."""
    client.force_login(admin_user)
    return lambda path, params=None: client.get(path, params).content.decode()


def test_the_deployment_list_offers_the_environments_that_exist(admin_page) -> None:
    html = admin_page("/dashboard/deployments", {"environment": "staging"})
    select = html.split('<select id="environment" name="environment"')[1].split("</select>")[0]
    assert re.findall(r"<option[^>]*>([^<]+)</option>", select) == ["production", "staging"]
    assert "<option selected>staging</option>" in select
    assert '<strong id="count">1</strong>' in html


@pytest.mark.parametrize("environment", ["prod", "staging<script>", "x" * 101])
def test_an_environment_that_does_not_exist_is_a_400_naming_it(client, admin_user, deployments,
                                                                environment) -> None:
    client.force_login(admin_user)
    r = client.get("/dashboard/deployments", {"environment": environment})
    assert r.status_code == 400
    assert "environment: unknown environment; expected one of production, staging" in r.content.decode()


def test_the_default_environment_is_offered_before_anything_is_deployed(client, admin_user) -> None:
    client.force_login(admin_user)
    r = client.get("/dashboard/deployments", {"environment": "production"})
    assert r.status_code == 200 and '<strong id="count">0</strong>' in r.content.decode()


def test_a_list_longer_than_a_page_says_how_many_of_how_many_and_links_the_next(admin_page, settings) -> None:
    settings.PORTAL_DASHBOARD_LIST_ROWS = 3
    html = admin_page("/dashboard/violations")
    assert '<strong id="count">3</strong> of <strong id="total">4</strong>' in html
    assert '<a href="?page=2" rel="next">' in html
    html = admin_page("/dashboard/violations", {"page": "2"})
    assert '<strong id="count">1</strong> of <strong id="total">4</strong>' in html
    assert '<a href="?page=1" rel="prev">' in html and 'rel="next"' not in html
    html = admin_page("/dashboard/deployments", {"environment": "production"})
    assert '<strong id="count">3</strong>' in html and 'id="total"' not in html  # exactly one page: no "of"
    settings.PORTAL_DASHBOARD_LIST_ROWS = 2
    html = admin_page("/dashboard/deployments", {"environment": "production", "approved": "no"})
    assert '<strong id="count">2</strong> of <strong id="total">3</strong>' in html
    assert '<a href="?environment=production&amp;approved=no&amp;page=2" rel="next">' in html
    assert admin_page("/dashboard/").count("<strong>3</strong> models in production")


@pytest.mark.parametrize("page", ["0", "-1", "two", "9"])
def test_a_bad_page_is_a_400_naming_it(client, admin_user, deployments, page) -> None:
    client.force_login(admin_user)
    r = client.get("/dashboard/violations", {"page": page})
    assert r.status_code == 400 and "page: " in r.content.decode()


def test_the_dashboard_counts_production_deployments_past_its_panel(admin_page, settings) -> None:
    settings.PORTAL_DASHBOARD_PANEL_ROWS = 2
    html = admin_page("/dashboard/")
    assert "<strong>3</strong> models in production" in html
    assert "<strong>3</strong> in production without an approved release" in html
    assert "2 of 3 shown" in html


def test_the_open_violations_card_counts_only_open_ones_and_its_list_shows_exactly_those(admin_page,
                                                                                        deployments) -> None:
    # A violation stays on record; it is closed once its deployment is no longer active (the approvals
    # selector's rule). Before the fix the card counted all four, and the list it links to showed all four.
    retired = deployments[0]
    retired.state = "retired"
    retired.save(update_fields=["state"])
    html = admin_page("/dashboard/")
    card = re.search(r'<a class="stat [^"]*" href="([^"]+)"><strong>(\d+)</strong> open violation', html)
    assert card is not None and card.group(2) == "3"
    listed = admin_page(card.group(1))
    assert '<strong id="count">3</strong>' in listed and 'id="total"' not in listed
    assert f">{retired.name} {retired.version}</a>" not in listed
