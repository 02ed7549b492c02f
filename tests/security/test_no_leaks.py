"""An answer carries nothing its reader may not see: for each team-bound role, crawl the answer of every page
and API endpoint (GET) and assert that no id of a node the reader cannot see appears anywhere in it."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from django.test import Client
from rest_framework.test import APIClient

from lineage.models import Node
from lineage.openlineage import parse_event
from lineage.redaction import redact_for
from lineage.services import events_ingest
from portal.demo import story as demo
from tests.factories import dataset, run_event
from tests.security.test_authz_matrix import endpoints, url_for
from tests.security.world import build_world

RUN = "6c1f7a52-7c38-4a77-9a5e-0d4f3e1b2a90"


def cross_team_run(world) -> list[str]:
    """A credit-risk job that reads a clinical dataset (PHI) into the credit dataset the probes use: the clinical
    dataset is upstream of what the credit team sees, and must not be named to them. Returns URLs to crawl."""
    ehr = Node.objects.filter(namespace=demo.EHR_DB, kind="dataset").order_by("pk").first()
    target = Node.objects.get(node_id=world.values["dataset"])
    ev = run_event(job="enrich_with_ehr", namespace=demo.CREDIT_ML, run_id=RUN, time="2026-03-01T10:00:00Z",
                   inputs=[dataset(ehr.namespace, ehr.name, tags={"diagnosis": ["PHI"]})],
                   outputs=[dataset(target.namespace, target.name)])
    events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)
    job = f"job:{demo.CREDIT_ML}:enrich_with_ehr"
    return [f"/api/v1/runs/{RUN}", f"/lineage/node/{quote('run:' + RUN, safe='')}",
            f"/api/v1/nodes/{quote('run:' + RUN, safe='')}", f"/api/v1/nodes/{quote(job, safe='')}",
            f"/lineage/node/{quote(job, safe='')}", f"/api/v1/nodes/{quote(target.node_id, safe='')}",
            f"/api/v1/nodes/{quote(target.node_id, safe='')}/upstream?depth=5",
            f"/api/v1/nodes/{quote(target.node_id, safe='')}/graph?depth=5",
            f"/api/v1/paths?from={quote(ehr.node_id, safe='')}&to={quote(target.node_id, safe='')}"]

pytestmark = pytest.mark.django_db


def _forms(node_id: str) -> set[str]:
    """The ways an id can be written in a page or a JSON body."""
    return {node_id, quote(node_id, safe=""), quote(node_id, safe=":/@"), json.dumps(node_id)[1:-1]}


def _extra_urls(world) -> list[str]:
    v = world.values
    return ["/api/v1/nodes?limit=500", f"/api/v1/nodes/{quote(v['modelVersion'], safe='')}/graph?depth=10",
            f"/api/v1/nodes/{quote(v['modelVersion'], safe='')}/upstream?depth=20",
            f"/api/v1/nodes/{quote(v['dataset'], safe='')}/downstream?depth=20",
            f"/lineage/explore/?node={quote(v['modelVersion'], safe='')}", "/?q=a"]



@pytest.mark.parametrize("role", ["viewer", "outsider"])
def test_no_answer_names_a_node_the_reader_cannot_see(role) -> None:
    world = build_world()
    extra = cross_team_run(world)
    user = world.users[role]
    hidden = list(Node.objects.exclude(pk__in=Node.objects.visible_to(user).values("pk"))
                  .values_list("node_id", flat=True))
    assert hidden, "the demo gives this role nothing to hide: the test would prove nothing"
    patterns = [(n, re.compile("(?:" + "|".join(re.escape(f) for f in _forms(n)) + r")(?![\w.#-])"))
                for n in hidden]
    api, page = APIClient(), Client()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens[role]}")
    page.force_login(user)
    urls = [url_for(ep.route, world) for ep in endpoints() if ep.method == "GET" and not ep.route.startswith("admin")]
    leaks = []
    for url in dict.fromkeys(urls + _extra_urls(world) + extra):
        client = api if url.startswith("/api/") else page
        resp = client.get(url)
        if resp.status_code != 200 or resp.get("Content-Type", "").startswith(("application/pdf", "application/zip")):
            continue
        body = resp.content.decode("utf-8", errors="replace")
        leaks += [f"{url}: {n}" for n, p in patterns if p.search(body)]
    assert leaks == [], "\n".join(leaks[:40]) + (f"\n… {len(leaks) - 40} more" if len(leaks) > 40 else "")


def _ingest(ev: dict) -> None:
    events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)


def test_another_teams_dataset_is_shown_redacted_with_its_tags_and_without_a_count() -> None:
    world = build_world()
    ehr = list(Node.objects.filter(namespace=demo.EHR_DB, kind="dataset").order_by("pk")[:2])
    target = Node.objects.get(node_id=world.values["dataset"])
    _ingest(run_event(job="enrich_with_ehr", namespace=demo.CREDIT_ML, run_id=RUN, time="2026-03-01T10:00:00Z",
                      inputs=[dataset(d.namespace, d.name, tags={"diagnosis": ["PHI"]}) for d in ehr],
                      outputs=[dataset(target.namespace, target.name)]))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens['viewer']}")
    run = api.get(f"/api/v1/runs/{RUN}").json()
    assert "a dataset of another team" in run["inputs"] and len(run["inputs"]) == 1  # two hidden, one entry
    detail = api.get(f"/api/v1/nodes/{quote(target.node_id, safe='')}").json()
    assert detail["sensitiveUpstream"]["PHI"] == ["a dataset of another team"]
    admin = APIClient()
    admin.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens['auditor']}")
    inputs = admin.get(f"/api/v1/runs/{RUN}").json()["inputs"]  # org-wide roles see the names
    assert len(inputs) == 2 and all(i.startswith(f"datasetVersion:{demo.EHR_DB}:") for i in inputs)
    page = Client()
    page.force_login(world.users["viewer"])
    body = page.get(f"/lineage/node/{quote(target.node_id, safe='')}").content.decode()
    assert "a dataset of another team" in body and "PHI" in body


def test_a_path_through_another_teams_node_looks_like_no_path() -> None:
    world = build_world()
    ehr = Node.objects.filter(namespace=demo.EHR_DB, kind="dataset").order_by("pk").first()
    target = Node.objects.get(node_id=world.values["dataset"])
    _ingest(run_event(job="export_to_ehr", namespace=demo.CREDIT_ML, time="2026-03-01T10:00:00Z",
                      inputs=[dataset(target.namespace, target.name)], outputs=[dataset(ehr.namespace, ehr.name)]))
    _ingest(run_event(job="import_from_ehr", namespace=demo.CREDIT_ML, time="2026-03-01T11:00:00Z",
                      inputs=[dataset(ehr.namespace, ehr.name)], outputs=[dataset(demo.BANK_DB, "core.imported")]))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens['viewer']}")
    src, dst = f"job:{demo.CREDIT_ML}:export_to_ehr", f"dataset:{demo.BANK_DB}:core.imported"
    through_hidden = api.get("/api/v1/paths", {"from": src, "to": dst})
    unrelated = api.get("/api/v1/paths", {"from": dst, "to": src})
    assert through_hidden.status_code == unrelated.status_code == 200
    assert through_hidden.json()["found"] is False and unrelated.json()["found"] is False
    assert set(through_hidden.json()) == set(unrelated.json())
    auditor = APIClient()
    auditor.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens['auditor']}")
    assert auditor.get("/api/v1/paths", {"from": src, "to": dst}).json()["found"] is True


def test_a_job_does_not_name_the_datasets_of_another_team_it_reads() -> None:
    """A job's attributes list its inputs and outputs as (namespace, name) pairs, not node ids: the credit viewer,
    who sees the credit job but not the clinical dataset it reads, gets "a dataset of another team" there too."""
    world = build_world()
    cross_team_run(world)
    ehr = Node.objects.filter(namespace=demo.EHR_DB, kind="dataset").order_by("pk").first()
    user = world.users["viewer"]
    assert not Node.objects.visible_to(user).filter(pk=ehr.pk).exists()
    job = quote(f"job:{demo.CREDIT_ML}:enrich_with_ehr", safe="")
    api, page = APIClient(), Client()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens['viewer']}")
    page.force_login(user)
    for client, url in ((api, f"/api/v1/nodes/{job}"), (page, f"/lineage/node/{job}")):
        resp = client.get(url)
        assert resp.status_code == 200, url
        body = resp.content.decode()
        assert ehr.name not in body and demo.EHR_DB not in body, url


def test_a_pair_outside_a_jobs_inputs_and_outputs_is_data_left_as_it_is_without_a_query(
        credit_ns_owned: str, charlie, django_assert_num_queries) -> None:
    """Only a job's ``inputs``/``outputs`` (and Marquez's identities) name datasets by (namespace, name): a facet's
    ``["a", "b"]`` or an OpenLineage parent facet's job is neither looked up nor replaced, even when a dataset of
    another team happens to have that namespace and name."""
    _ingest(run_event(job="load", namespace="pipelines", time="2026-03-01T10:00:00Z",
                      outputs=[dataset(credit_ns_owned, "core.loans")]))
    hidden = [credit_ns_owned, "core.loans"]
    facets = {"shape": ["a", "b"], "sample": hidden, "parent": {"job": {"namespace": credit_ns_owned,
                                                                        "name": "core.loans"}}}
    with django_assert_num_queries(0):
        assert redact_for(charlie, {"facets": facets}) == {"facets": facets}
    # in the same answer, the pair in a job's inputs is still another team's dataset
    answer = redact_for(charlie, {"facets": facets, "attrs": {"inputs": [hidden, hidden], "outputs": [["a", "b"]]}})
    assert answer == {"facets": facets, "attrs": {"inputs": ["a dataset of another team"], "outputs": [["a", "b"]]}}
    marquez = {"id": {"namespace": credit_ns_owned, "name": "core.loans"}, "type": "DB_TABLE",
               "inputs": [{"namespace": credit_ns_owned, "name": "core.loans"}]}
    assert redact_for(charlie, marquez) == {"id": "a dataset of another team", "type": "DB_TABLE",
                                            "inputs": ["a dataset of another team"]}
    job = {"id": {"namespace": credit_ns_owned, "name": "core.loans"}, "type": "BATCH"}  # a job's own identity
    assert redact_for(charlie, job) == job


def test_redaction_asks_the_other_teams_namespaces_once_and_each_table_once(
        credit_ns_owned: str, alice, charlie, django_assert_num_queries) -> None:
    """One query for the namespaces of teams the reader is not in, one for the ids among current nodes, and one
    among dropped nodes for the ids no current node has; a reader with no other team's namespace stops at the first."""
    from django.utils import timezone

    from lineage.models import NodeRetired

    _ingest(run_event(job="load", namespace="pipelines", time="2026-03-01T10:00:00Z",
                      inputs=[dataset(credit_ns_owned, "core.raw")], outputs=[dataset(credit_ns_owned, "core.loans")]))
    dropped = f"datasetVersion:{credit_ns_owned}:core.raw#initial"
    now = timezone.now()
    NodeRetired.objects.create(id=10**9, node_id=dropped, kind="datasetVersion", namespace=credit_ns_owned,
                               name="core.raw", version="initial", created_at=now, updated_at=now, retired_at=now)
    live = sorted(Node.objects.values_list("node_id", flat=True))
    hidden = {n for n in live if credit_ns_owned in n}
    assert hidden and set(live) - hidden
    shown = sorted([*(set(live) - hidden), "a dataset of another team"])
    with django_assert_num_queries(2):
        assert sorted(redact_for(charlie, {"nodes": live})["nodes"]) == shown
    # a dropped node, and an id that names no node (a typo in a facet), are looked for among the dropped ones
    answer = {"nodes": [*live, dropped], "typo": "dataset:nowhere:at-all"}
    with django_assert_num_queries(3):
        out = redact_for(charlie, answer)
    assert sorted(out["nodes"]) == shown and out["typo"] == "dataset:nowhere:at-all"  # one entry for all hidden
    with django_assert_num_queries(1):
        assert redact_for(alice, answer) == answer
