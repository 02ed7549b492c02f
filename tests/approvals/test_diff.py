"""What changed since approval: the lineage kept at approval against the lineage now, classified by the policy's
material-change rules, for each reader."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from lineage.models import Node
from lineage.services import node_tag_set
from portal.accounts.services import namespace_assign, user_ensure
from portal.approvals import diff, materiality, services
from portal.approvals.models import Policy, Release
from portal.audit.models import AuditEntry
from tests.approvals.conftest import PASSWORD, ingest, train
from tests.conftest import api_client
from tests.factories import dataset, facet, model_output, run_event

pytestmark = pytest.mark.django_db
BUREAU = "postgres://bureau:5432"


def approve(release, people) -> Release:
    for who in ("risk", "compliance"):
        current = services.release_refresh(release=release).subject_digest
        services.release_sign(release=release, by=people[who], password=PASSWORD, meaning="approval",
                              reason="validated", reviewed_digest=current)
    release.refresh_from_db()
    assert release.state == Release.State.APPROVED
    return release


def retrain(auc: float = 0.70) -> None:
    """The same model version registered again by a new run that also reads a bureau dataset, from new code."""
    ingest(run_event(job="train_credit", time="2026-02-01T00:00:00Z", sha="e" * 40,
                     inputs=[dataset("postgres://bank-db:5432", "features.credit", tags={"ssn": ["PII"]}),
                             dataset(BUREAU, "bureau.scores", tags={"score": ["FINANCIAL"]})],
                     outputs=[model_output("credit", "7", auc=auc)],
                     run_facets={"portalRun": facet(launchedBy="erin@example.com")}))


def by(changes: list[dict], **match: object) -> list[dict]:
    return [c for c in changes if all(c[k] == v for k, v in match.items())]


def test_an_approval_keeps_the_lineage_it_was_approved_on(release, people) -> None:
    release = approve(release, people)
    kept = release.approved_lineage
    assert kept["format"] == diff.SNAPSHOT_FORMAT and kept["subject"] == release.subject
    assert kept["subject_digest"] == release.subject_digest
    nodes = kept["nodes"]
    assert nodes["dataset:postgres://bank-db:5432:features.credit"]["tags"] == ["PII@ssn"]
    assert nodes[f"commit:https://git.example.com/ml/credit.git:{'d' * 40}"]["attrs"]["author_email"] == \
        "dan@example.com"
    run = next(k for k, n in nodes.items() if n["kind"] == "run")
    assert [run, "modelVersion:ml-pipelines:credit#7", "produces"] in kept["edges"]
    assert kept["sensitive"] == {"PII": ["dataset:postgres://bank-db:5432:features.credit"]}
    entry = AuditEntry.objects.get(action="approval.release_approved", target_id=str(release.pk))
    assert len(json.loads(entry.payload)["approved_lineage"]) == 64


def test_nothing_changed_is_an_empty_diff(release, people) -> None:
    release = approve(release, people)
    d = diff.release_diff(release=release, user=people["admin"])
    assert d["baseline"] == "stored" and d["changes"] == [] and d["voids_approval"] is False
    assert d["approved_digest"] == d["current_digest"] == release.subject_digest


def test_a_retrain_upstream_is_shown_node_by_node_and_classified(release, people) -> None:
    release = approve(release, people)
    retrain()
    services.release_refresh(release=release)  # the page or the gate looks: the approval is void, its lineage stays
    release.refresh_from_db()
    assert release.state == Release.State.PENDING and release.approved_lineage["format"] == 1
    d = diff.release_diff(release=release, user=people["admin"])
    c = d["changes"]
    assert d["voids_approval"] is True and d["approved_digest"] != d["current_digest"]
    source = by(c, element="node", change="added", kind="dataset")
    assert [x["node"] for x in source] == [f"dataset:{BUREAU}:bureau.scores"]
    assert source[0]["rules"] == ["new_data_source"] and not source[0]["in_subject"]
    assert source[0]["triggers"] == [materiality.SR_26_2, materiality.EU_AI_ACT, materiality.COLORADO]
    version = by(c, element="node", change="added", kind="datasetVersion")[0]
    assert version["in_subject"] and version["rules"] == ["new_data_source"]
    code = by(c, element="node", change="added", kind="commit")[0]
    assert code["node"].endswith("e" * 40) and code["rules"] == ["new_training_code"] and code["in_subject"]
    assert by(c, element="node", change="added", kind="run")[0]["rules"] == []
    metric = by(c, element="metric")[0]
    assert metric["detail"] == "auc 0.81 → 0.7 (13.6% worse)" and metric["rules"] == ["metric_drop"]
    assert metric["triggers"] == [materiality.SR_26_2]
    tag = by(c, element="sensitive")[0]
    assert tag["node"] == f"dataset:{BUREAU}:bureau.scores" and tag["detail"] == "FINANCIAL (new to the model)"
    assert tag["rules"] == ["new_sensitive_tag"] and not tag["in_subject"]
    reads = by(c, element="edge", kind="reads")
    assert {x["node"] for x in reads} == {"datasetVersion:postgres://bank-db:5432:features.credit#initial",
                                          f"datasetVersion:{BUREAU}:bureau.scores#initial"}
    assert all(not x["in_subject"] and not x["rules"] for x in by(c, element="edge"))
    assert {t["trigger"] for t in d["triggers"]} == set(materiality.TRIGGERS)
    assert d["summary"] == {"changes": len(c), "in_subject": sum(x["in_subject"] for x in c),
                            "outside": sum(not x["in_subject"] for x in c), "material": 5}
    assert [x["element"] for x in diff.release_diff(release=release, user=people["admin"], only="material")[
        "changes"]] == ["node", "node", "node", "sensitive", "metric"]


def test_a_tag_set_upstream_lies_outside_the_subject_and_keeps_the_approval(release, people) -> None:
    release = approve(release, people)
    ds = Node.objects.get(node_id="dataset:postgres://bank-db:5432:features.credit")
    node_tag_set(node=ds, tag="PHI", field="diagnosis", by=people["admin"])
    d = diff.release_diff(release=release, user=people["admin"])
    assert d["voids_approval"] is False
    tag = by(d["changes"], element="tag")[0]
    assert tag == {"element": "tag", "change": "added", "kind": "dataset", "node": ds.node_id, "target": "",
                   "detail": "PHI@diagnosis", "in_subject": False, "rules": ["new_sensitive_tag"],
                   "triggers": [materiality.EU_AI_ACT, materiality.COLORADO], "label": "features.credit",
                   "target_label": ""}
    assert by(d["changes"], element="sensitive")[0]["detail"] == "PHI (new to the model)"
    assert services.release_refresh(release=release).state == Release.State.APPROVED


def test_the_policy_rule_set_decides_what_is_material(model, people) -> None:
    services.policy_create(by=people["admin"], environment="production", reason="tolerant", groups=[
        ("model-risk", 1), ("compliance", 1)], material_change={
        "metric_drop_percent": 20, "rules": {"new_training_code": {"enabled": False}}})
    release = services.release_request(by=people["requester"], model="credit", version="7",
                                       environment="production", justification="refresh")
    release = approve(release, people)
    retrain(auc=0.70)
    c = diff.release_diff(release=release, user=people["admin"])["changes"]
    assert by(c, element="metric")[0]["rules"] == []  # 13.6% worse, under the policy's 20%
    assert by(c, element="node", kind="commit")[0]["rules"] == []
    assert by(c, element="node", kind="dataset")[0]["rules"] == ["new_data_source"]


def test_a_rule_set_is_validated_versioned_and_audited(people) -> None:
    with pytest.raises(services.ApprovalError) as err:
        services.policy_create(by=people["admin"], environment="production", reason="x", groups=[("model-risk", 1)],
                               material_change={"rules": {"new_colour": {"enabled": True}}})
    assert err.value.field == "material_change.rules.new_colour"
    with pytest.raises(services.ApprovalError) as err:
        services.policy_create(by=people["admin"], environment="production", reason="x", groups=[("model-risk", 1)],
                               material_change={"metric_drop_percent": -1})
    assert err.value.field == "material_change.metric_drop_percent"
    p = services.policy_create(by=people["admin"], environment="production", reason="x", groups=[("model-risk", 1)],
                               material_change={"rules": {"metric_drop": {"triggers": [materiality.COLORADO]}}})
    assert p.material_change["rules"]["metric_drop"] == {"enabled": True, "triggers": [materiality.COLORADO]}
    assert p.material_change["rules"]["new_data_source"]["enabled"] is True  # left out: the default, stored
    entry = AuditEntry.objects.filter(action="approval.policy_changed").latest("seq")
    assert json.loads(entry.payload)["material_change"] == p.material_change


def test_a_release_approved_before_lineage_was_kept_says_so(release, people) -> None:
    release = approve(release, people)
    Release.objects.filter(pk=release.pk).update(approved_lineage={"format": 0,
                                                                   "not_stored_before": "2026-12-06T14:00:00Z"})
    release.refresh_from_db()
    d = diff.release_diff(release=release, user=people["admin"])
    assert d["baseline"] == "subject" and d["note"].startswith("Subject not stored; approved before 2026-12-06.")
    assert d["changes"] == []
    retrain()
    d = diff.release_diff(release=release, user=people["admin"])
    c = d["changes"]
    assert {(x["element"], x["kind"]) for x in c} == {("node", "datasetVersion"), ("node", "commit"),
                                                      ("node", "run"), ("metric", "modelVersion"),
                                                      ("artifact", "modelVersion")}


def test_a_release_never_approved_has_nothing_to_compare(release, people) -> None:
    d = diff.release_diff(release=release, user=people["admin"])
    assert d["baseline"] == "none" and d["changes"] == [] and "not been approved" in d["note"]


# -- the API -----------------------------------------------------------------------------------------------
def test_the_api_answers_the_diff(release, people) -> None:
    release = approve(release, people)
    retrain()
    r = api_client(people["admin"]).get(f"/api/v1/releases/{release.pk}/diff")
    assert r.status_code == 200, r.content
    assert r.json()["voids_approval"] is True and r.json()["summary"]["material"] == 5
    r = api_client(people["admin"]).get(f"/api/v1/releases/{release.pk}/diff", {"only": "subject"})
    assert all(c["in_subject"] for c in r.json()["changes"]) and r.json()["changes"]


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "1.5", "99999999999999999999", "١", "9" * 5000])
def test_bad_ids_are_400_naming_the_id(release, people, bad) -> None:
    r = api_client(people["admin"]).get(f"/api/v1/releases/{bad}/diff")
    assert r.status_code == 400, r.content
    assert r.json()["errors"][0]["field"] == "id"


def test_a_bad_filter_is_400_and_an_unknown_release_404(release, people) -> None:
    r = api_client(people["admin"]).get(f"/api/v1/releases/{release.pk}/diff", {"only": "everything"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "only"
    assert api_client(people["admin"]).get("/api/v1/releases/987654/diff").status_code == 404


def test_charlie_gets_404(release, people) -> None:
    namespace_assign(namespace="ml-pipelines", team="credit-risk")
    charlie = user_ensure(username="charlie", role="viewer", password=PASSWORD, team="marketing")
    assert api_client(charlie).get(f"/api/v1/releases/{release.pk}/diff").status_code == 404
    assert APIClient().get(f"/api/v1/releases/{release.pk}/diff").status_code in (401, 403)


def test_upstream_nodes_of_another_team_are_redacted_without_names_or_counts(release, people) -> None:
    namespace_assign(namespace=BUREAU, team="bureau")
    release = approve(release, people)
    retrain()
    rita = people["requester"]  # credit-risk: sees the model and the bank data, not the bureau's
    r = api_client(rita).get(f"/api/v1/releases/{release.pk}/diff")
    assert r.status_code == 200
    text = r.content.decode()
    assert "bureau" not in text and "score" not in text
    c = r.json()["changes"]
    hidden = by(c, element="node", change="added", kind="dataset")
    assert hidden == [{"element": "node", "change": "added", "kind": "dataset", "node": "a dataset of another team",
                       "target": "", "detail": "", "in_subject": False, "rules": ["new_data_source"],
                       "triggers": [materiality.SR_26_2, materiality.EU_AI_ACT, materiality.COLORADO],
                       "label": "a dataset of another team", "target_label": ""}]
    assert by(c, element="sensitive")[0]["detail"] == "FINANCIAL (new to the model)"
    # The admin sees the same change with its names.
    assert "bureau.scores" in api_client(people["admin"]).get(f"/api/v1/releases/{release.pk}/diff").content.decode()


# -- kept between looks -----------------------------------------------------------------------------------
def look(release, user) -> tuple[dict, list[str]]:
    """The diff as a new request reads it (the release loaded again), and the statements it ran."""
    with CaptureQueriesContext(connection) as q:
        d = diff.release_diff(release=Release.objects.get(pk=release.pk), user=user)
    return d, [x["sql"] for x in q.captured_queries]


def walked(statements: list[str]) -> bool:
    return any("RECURSIVE" in s or "lineage_edge" in s for s in statements)


@pytest.mark.django_db(transaction=True)  # committed: a lineage write in flight keeps nothing (lineage.changes)
def test_a_repeated_look_walks_nothing_and_any_change_upstream_shows_at_once(release, people) -> None:
    cache.clear()
    release = approve(release, people)
    first, statements = look(release, people["admin"])
    assert walked(statements)
    again, statements = look(release, people["admin"])
    assert again == first and not walked(statements)
    retrain()  # ingested: the diff shows it at once
    d, statements = look(release, people["admin"])
    assert walked(statements) and [c["node"] for c in by(d["changes"], element="node", kind="dataset")] == [
        f"dataset:{BUREAU}:bureau.scores"]
    ds = Node.objects.get(node_id="dataset:postgres://bank-db:5432:features.credit")
    node_tag_set(node=ds, tag="PHI", field="diagnosis", by=people["admin"])  # no event: a tag set by a person
    d, _ = look(release, people["admin"])
    assert [c["detail"] for c in by(d["changes"], element="tag", node=ds.node_id)] == ["PHI@diagnosis"]
    services.policy_create(by=people["admin"], environment="production", reason="stricter", groups=[
        ("model-risk", 1), ("compliance", 1)], material_change={"metric_drop_percent": 50})
    d, statements = look(release, people["admin"])
    assert walked(statements) and d["current_digest"] != first["current_digest"]  # the policy in force moved


@pytest.mark.django_db(transaction=True)
def test_a_determination_approved_since_shows_at_once_though_no_lineage_changed(policy, people) -> None:
    from tests.evidence.conftest import approve as approve_document
    from tests.evidence.conftest import upload

    cache.clear()
    deid = "run:44444444-4444-4444-8444-444444444444"
    ingest(run_event(job="deidentify", time="2026-01-01T00:00:00Z", run_id=deid.removeprefix("run:"),
                     run_facets={"portalRun": facet(deidentifies=True)},
                     inputs=[dataset("postgres://ehr:5432", "clinical.notes", tags={"mrn": ["PHI"]})],
                     outputs=[dataset("postgres://bank-db:5432", "features.credit")]))
    train()  # reads the version the de-identifying run wrote: PHI reaches the model, no determination stops it
    phi = services.policy_create(by=people["admin"], environment="production", sensitive_tag="PHI", reason="PHI",
                                 groups=[("model-risk", 1), ("compliance", 1)])
    release = services.release_request(by=people["requester"], model="credit", version="7",
                                       environment="production", justification="quarterly refresh")
    assert release.policy == phi
    release = approve(release, people)
    assert look(release, people["admin"])[0]["changes"] == []
    assert not walked(look(release, people["admin"])[1])
    approve_document(upload(people["admin"], doc_type="deid_determination", title="Safe harbor",
                            attributes={"method": "safe_harbor"}, node_ids=[deid]), people["risk"])
    d, statements = look(release, people["admin"])  # PHI stops now: the PHI policy no longer governs
    assert walked(statements) and d["voids_approval"] is True
    assert [c["detail"] for c in by(d["changes"], element="policy")] == [
        f"{phi.key} v1 → {policy.key} v{policy.version}"]


@pytest.mark.django_db(transaction=True)
def test_one_kept_comparison_is_redacted_for_each_reader(release, people) -> None:
    cache.clear()
    namespace_assign(namespace=BUREAU, team="bureau")
    release = approve(release, people)
    retrain()
    rita = people["requester"]  # credit-risk: not the bureau's data
    for reader, sees in ((people["admin"], True), (rita, False), (people["admin"], True), (rita, False)):
        d, statements = look(release, reader)
        text = json.dumps(d)
        assert ("bureau.scores" in text) is sees and ("a dataset of another team" in text) is not sees
        assert d["summary"]["material"] == 5
    assert not walked(statements)  # the last two looks read the comparison kept by the first


# -- the rule set on the policy API and page -------------------------------------------------------------
def test_the_policy_api_takes_a_rule_set_and_refuses_a_bad_one_naming_the_key(people) -> None:
    ada = api_client(people["admin"])
    body = {"environment": "production", "groups": [{"team": "model-risk", "min_approvals": 1}], "reason": "r",
            "material_change": {"metric_drop_percent": "lots"}}
    r = ada.post("/api/v1/policies", body, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["errors"][0]["field"] == "material_change.metric_drop_percent"
    body["material_change"] = {"metric_drop_percent": 5, "rules": {"new_sensitive_tag": {"enabled": False}}}
    r = ada.post("/api/v1/policies", body, format="json")
    assert r.status_code == 201, r.content
    listed = ada.get("/api/v1/policies").json()["results"][0]["material_change"]
    assert listed["metric_drop_percent"] == 5 and listed["rules"]["new_sensitive_tag"]["enabled"] is False
    assert listed["rules"]["new_data_source"]["triggers"] == list(materiality.BY_NAME["new_data_source"].triggers)


def test_the_policy_page_saves_the_ticked_rules_and_shows_them(people, client) -> None:
    client.force_login(people["admin"])
    r = client.post("/approvals/policies", {
        "environment": "staging", "team": ["model-risk"], "min_approvals": ["1"], "reason": "tolerant staging",
        "material_rule": ["new_data_source", "new_training_code"], "metric_drop_percent": "7.5",
        "lower_is_better": "loss, rmse"})
    assert r.status_code == 302
    p = Policy.objects.get(environment="staging")
    assert {n for n, v in p.material_change["rules"].items() if v["enabled"]} == {"new_data_source",
                                                                                    "new_training_code"}
    assert p.material_change["metric_drop_percent"] == 7.5 and p.material_change["lower_is_better"] == ["loss", "rmse"]
    page = client.get("/approvals/policies").content.decode()
    assert "material: new data source, new training code" in page
    r = client.post("/approvals/policies", {"environment": "staging", "team": ["model-risk"], "min_approvals": ["1"],
                                            "reason": "x", "metric_drop_percent": "-3"}, follow=True)
    assert "material_change.metric_drop_percent" in r.content.decode()
    assert Policy.objects.filter(environment="staging").count() == 1


def test_the_release_page_of_a_release_approved_before_lineage_was_kept_says_so(release, people, client) -> None:
    release = approve(release, people)
    Release.objects.filter(pk=release.pk).update(approved_lineage={"format": 0,
                                                                   "not_stored_before": "2026-12-06T14:00:00Z"})
    client.force_login(people["requester"])
    page = client.get(f"/approvals/releases/{release.pk}").content.decode()
    assert "Subject not stored; approved before 2026-12-06." in page
    assert "No change since approval" in page
