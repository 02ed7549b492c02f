"""The search page before any search: the datasets and models of the user's teams, grouped by kind, recently
changed first."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from lineage.models import Node
from lineage.openlineage import parse_event
from lineage.services import events_ingest
from tests.factories import dataset, run_event

pytestmark = pytest.mark.django_db


def _ingest(*datasets_: dict) -> None:
    ev = run_event(job="etl", inputs=list(datasets_))
    events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)


@pytest.fixture
def graph(credit_ns_owned) -> None:
    _ingest(dataset(credit_ns_owned, "loans"), dataset(credit_ns_owned, "customers"),
            dataset("s3://shared-lake", "public_rates"))
    # customers changed last: it comes first
    Node.objects.filter(kind="dataset", name="customers").update(updated_at=timezone.now() + timedelta(hours=1))


def _names(page: str, group: str) -> list[str]:
    section = page.split(f'id="group-{group}"')[1].split("</section>")[0]
    return re.findall(r'<a href="/lineage/node/[^"]+">([^<]+)</a>', section)


def test_a_viewer_lands_on_their_teams_datasets_newest_first(client, alice, graph) -> None:
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert _names(page, "dataset") == ["customers", "loans"]  # public_rates is visible but not their team's
    assert "<table" not in page


def test_a_viewer_whose_teams_own_nothing_lands_on_what_they_may_see(client, charlie, graph) -> None:
    client.force_login(charlie)
    page = client.get("/").content.decode()
    assert _names(page, "dataset") == ["public_rates"]


def test_a_search_still_lists_every_match(client, alice, graph) -> None:
    client.force_login(alice)
    page = client.get("/", {"q": "a"}).content.decode()
    assert "<table" in page and "public_rates" in page and "loans" in page


def test_dashboard_cards_link_to_the_lists_they_count(client, admin_user) -> None:
    client.force_login(admin_user)
    page = client.get("/dashboard/").content.decode()
    targets = re.findall(r'<a class="stat[^"]*" href="#([a-z]+)">', page)
    assert targets == ["production", "production", "violations", "waiting", "alerts"]
    for target in set(targets):
        assert f'id="{target}"' in page
