"""Evidence-backed de-identification stops: a run marked de-identifying stops PHI only with an approved
de-identification determination attached; other sensitive tags stop at the mark alone (``lineage/stops.py``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone

from lineage import selectors
from lineage.models import Node
from portal.accounts.services import namespace_assign
from portal.governance.parameters import DEFAULTS
from portal.reports.selectors import facts_load
from tests.conftest import post_event
from tests.evidence.conftest import approve, upload
from tests.factories import dataset, facet, model_output, run_event

pytestmark = pytest.mark.django_db

EHR = "postgres://ehr:5432"
ADMISSIONS = f"dataset:{EHR}:clinical.admissions"
DEID_RUN = "run:33333333-3333-4333-8333-333333333333"
MODEL = "modelVersion:ml-pipelines:readmit#1"
DETERMINATION = {"doc_type": "deid_determination", "title": "Safe harbor determination",
                 "attributes": {"method": "safe_harbor"}, "node_ids": [DEID_RUN]}


@pytest.fixture
def world(ingest_client) -> None:
    """clinical.admissions (mrn PHI, zip PII) -> a run marked de-identifying -> deidentified.admissions ->
    the readmit model. The de-identifying job runs in a namespace only the clinical team sees."""
    out = dataset("s3://deid", "deidentified.admissions")
    link = lambda f: {"namespace": EHR, "name": "clinical.admissions", "field": f,  # noqa: E731
                      "transformations": [{"type": "DIRECT", "subtype": "TRANSFORMATION"}]}
    out["facets"]["columnLineage"] = facet(fields={"mrn_hash": {"inputFields": [link("mrn")]},
                                                   "zip3": {"inputFields": [link("zip")]},
                                                   "los": {"inputFields": [link("los")]}})
    events = [
        run_event(job="deidentify", namespace="ehr-pipelines", time="2026-01-10T10:00:00Z",
                  run_id=DEID_RUN.removeprefix("run:"), run_facets={"portalRun": facet(deidentifies=True)},
                  inputs=[dataset(EHR, "clinical.admissions", tags={"mrn": ["PHI"], "zip": ["PII"], "los": []},
                                  version="v1")], outputs=[out]),
        run_event(job="train_readmit", time="2026-01-10T11:00:00Z",
                  inputs=[dataset("s3://deid", "deidentified.admissions")], outputs=[model_output("readmit", "1")]),
    ]
    for ev in events:
        assert post_event(ingest_client, ev).status_code == 201
    namespace_assign(namespace="ehr-pipelines", team="clinical")
    namespace_assign(namespace=EHR, team="clinical")


def _detail(client: Any, node_id: str = MODEL) -> dict[str, Any]:
    r = client.get(f"/api/v1/nodes/{quote(node_id, safe='')}")
    assert r.status_code == 200, r.content
    return r.json()


def _model() -> Node:
    return Node.objects.get(node_id=MODEL)


def _everywhere() -> dict[str, Any]:
    """What each propagation of tags says reaches the model: the dataset walk, the whole-lineage walk of
    approvals, the explorer's per-node walk, the reports' facts and an incident's scope."""
    mv = _model()
    whole = selectors.upstream_all(seeds=[mv.pk], max_nodes=10_000)
    now = timezone.now()
    facts = facts_load(scope={}, period=(now - timedelta(days=3650), now), now=now, params=DEFAULTS)
    holders, _ = selectors.sensitive_holders_upstream(seeds=[mv.pk], max_nodes=10_000)
    return {"upstream": set(selectors.sensitive_upstream(node=mv)),
            "whole": set(selectors.sensitive_upstream_all(node=mv, max_nodes=10_000, whole=whole)[0]),
            "explorer": set(selectors.sensitive_reaching([mv.pk])[0][mv.pk]),
            "facts": facts.sensitive[facts.by_node_id[MODEL].pk],
            "incident": {n for n in Node.objects.filter(pk__in=holders).values_list("node_id", flat=True)}}


def test_without_a_determination_phi_goes_through_the_run_and_pii_stops(world, admin_client) -> None:
    assert _everywhere() == {"upstream": {"PHI"}, "whole": {"PHI"}, "explorer": {"PHI"}, "facts": {"PHI"},
                             "incident": {ADMISSIONS}}
    body = _detail(admin_client)
    assert body["sensitiveUpstream"] == {"PHI": [ADMISSIONS]}
    assert body["columnSensitivity"]["carries"] == {"PHI": [{"dataset": ADMISSIONS, "field": "mrn"}]}
    assert body["columnSensitivity"]["columns"] == {
        "mrn_hash": {"carries": {"PHI": [{"dataset": ADMISSIONS, "field": "mrn"}]}, "influencedBy": {}}}
    notes = body["deidentificationNotStopping"]
    assert [n["run"] for n in notes["runs"]] == [DEID_RUN] and notes["hidden"] is False
    assert "no approved de-identification determination" in notes["runs"][0]["reason"]


def test_an_approved_determination_on_the_run_stops_phi_too(world, admin_client, people) -> None:
    approve(upload(people["admin"], **DETERMINATION), people["risk"])
    assert _everywhere() == {"upstream": set(), "whole": set(), "explorer": set(), "facts": set(),
                             "incident": set()}
    body = _detail(admin_client)
    assert body["sensitiveUpstream"] == {} and body["columnSensitivity"]["carries"] == {}
    assert body["deidentificationNotStopping"] == {"runs": [], "hidden": False}


def test_a_determination_on_the_dataset_it_wrote_counts_as_for_control_h9(world, people) -> None:
    approve(upload(people["admin"], **{**DETERMINATION, "node_ids": ["dataset:s3://deid:deidentified.admissions"]}),
            people["risk"])
    assert selectors.sensitive_upstream(node=_model()) == {}


def test_the_determinations_in_effect_now_name_what_the_stops_count(world, people) -> None:
    from portal.evidence.selectors import deid_determinations_now  # a key of the release diff's cache

    doc = upload(people["admin"], **DETERMINATION)
    approve(upload(people["admin"], **DETERMINATION, effective_from=timezone.now() - timedelta(days=30),
                   effective_until=timezone.now() - timedelta(days=1)), people["risk"])
    assert deid_determinations_now() == []  # one not approved, one expired
    approve(doc, people["risk"])
    assert deid_determinations_now() == [(str(doc.pk), [Node.objects.get(node_id=DEID_RUN).pk])]


@pytest.mark.parametrize("case", ["unapproved", "expired", "other type"])
def test_evidence_that_is_not_an_approved_determination_in_effect_stops_nothing(world, people, case) -> None:
    if case == "unapproved":
        upload(people["admin"], **DETERMINATION)
    elif case == "expired":
        approve(upload(people["admin"], **DETERMINATION, effective_from=timezone.now() - timedelta(days=30),
                       effective_until=timezone.now() - timedelta(days=1)), people["risk"])
    else:
        approve(upload(people["admin"], **{**DETERMINATION, "doc_type": "dpia", "attributes": {}}), people["risk"])
    assert selectors.sensitive_upstream(node=_model()) == {"PHI": [ADMISSIONS]}


def test_with_no_tag_configured_the_mark_alone_stops_phi(world, settings) -> None:
    settings.LINEAGE_DEID_EVIDENCE_TAGS = []
    assert _everywhere() == {"upstream": set(), "whole": set(), "explorer": set(), "facts": set(), "incident": set()}


def test_every_tag_can_require_a_determination(world, settings) -> None:
    settings.LINEAGE_DEID_EVIDENCE_TAGS = ["*"]
    assert selectors.sensitive_upstream(node=_model()) == {"PHI": [ADMISSIONS], "PII": [ADMISSIONS]}


def test_the_model_page_says_why_phi_was_not_stopped(world, admin_user, client) -> None:
    client.force_login(admin_user)
    page = client.get(reverse("web:node-detail", args=[MODEL])).content.decode()
    why = page.split('id="deid-not-stopped"')[1].split("</dd>")[0]
    assert "deidentify" in why and "no approved de-identification determination" in why
    run_page = client.get(reverse("web:node-detail", args=[DEID_RUN])).content.decode()
    assert "PHI still flows past it" in run_page.split('id="deid-stop"')[1].split("</dd>")[0]


def test_an_outsider_learns_that_a_run_let_phi_through_but_not_which(world, alice_client, alice, client) -> None:
    body = _detail(alice_client)
    assert body["deidentificationNotStopping"] == {"runs": [], "hidden": True}
    assert "ehr-pipelines" not in str(body) and "33333333" not in str(body)
    client.force_login(alice)
    page = client.get(reverse("web:node-detail", args=[MODEL])).content.decode()
    why = page.split('id="deid-not-stopped"')[1].split("</dd>")[0]
    assert "a de-identifying run you may not see" in why and "deidentify" not in why
    assert "run:3333" not in page and "run%3A3333" not in page



def test_the_phi_policy_applies_until_a_determination_is_approved(world, people) -> None:
    from portal.approvals.services import policy_create, policy_in_force

    admin = people["admin"]
    policy_create(by=admin, environment="production", groups=[("model-risk", 1)], reason="default")
    phi = policy_create(by=admin, environment="production", groups=[("model-risk", 1), ("compliance", 1)],
                        reason="PHI needs compliance", sensitive_tag="PHI")
    assert policy_in_force(model_version=_model(), environment="production") == phi
    approve(upload(people["admin"], **DETERMINATION), people["risk"])
    assert policy_in_force(model_version=_model(), environment="production").sensitive_tag == ""


def test_lineage_as_of_a_time_stops_phi_with_the_determinations_of_then(world, admin_client, people) -> None:
    approve(upload(people["admin"], **DETERMINATION), people["risk"])
    url = f"/api/v1/nodes/{quote(MODEL, safe='')}"

    def reaching(at: str) -> dict[str, Any]:
        r = admin_client.get(url, {"asOf": at, "asOfKind": "event"})
        assert r.status_code == 200, r.content
        return r.json()["sensitiveUpstream"]

    assert reaching("2026-06-01T00:00:00Z") == {"PHI": [ADMISSIONS]}  # trained then, determined only now
    now = timezone.now().isoformat().replace("+00:00", "Z")
    assert reaching(now) == {}
    graph = admin_client.get(f"{url}/graph", {"asOf": "2026-06-01T00:00:00Z", "asOfKind": "event", "depth": 5})
    assert {n["id"]: n["sensitive"] for n in graph.json()["nodes"]}[MODEL] == ["PHI"]


def test_the_node_detail_as_of_a_time_says_why_phi_was_not_stopped_then(world, admin_client, alice_client,
                                                                        people) -> None:
    """The as-of answer carries ``deidentificationNotStopping`` as the live one does, with the determinations of
    then: before the determination was approved the run let PHI through, after it nothing did."""
    before = timezone.now()
    q = f"/api/v1/nodes/{quote(MODEL, safe='')}?asOf={quote(before.isoformat())}"
    live = _detail(admin_client)["deidentificationNotStopping"]
    then = admin_client.get(q).json()
    assert then["sensitiveUpstream"] == {"PHI": [ADMISSIONS]}
    assert then["deidentificationNotStopping"] == live and [n["run"] for n in live["runs"]] == [DEID_RUN]
    assert alice_client.get(q).json()["deidentificationNotStopping"] == {"runs": [], "hidden": True}
    approve(upload(people["admin"], **DETERMINATION), people["risk"])
    assert admin_client.get(q).json()["deidentificationNotStopping"] == live  # as of then: not yet approved
    now = admin_client.get(f"/api/v1/nodes/{quote(MODEL, safe='')}?asOf={quote(timezone.now().isoformat())}").json()
    assert now["sensitiveUpstream"] == {} and now["deidentificationNotStopping"] == {"runs": [], "hidden": False}
