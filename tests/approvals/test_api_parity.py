"""What the pages know, the API answers: violations with filters, and who may sign a release."""

from __future__ import annotations

import pytest

from lineage.models import Node
from portal.approvals import services
from tests.approvals.conftest import PASSWORD, ingest
from tests.conftest import api_client
from tests.factories import deploy_facets, run_event

pytestmark = pytest.mark.django_db


def deploy(version: str, environment: str, time: str) -> None:
    ingest(run_event(job="deploy", run_facets=deploy_facets("credit", version, environment), time=time))


@pytest.fixture
def violations(model, policy, people):
    services.policy_create(by=people["admin"], environment="staging", reason="x", groups=[("model-risk", 1)])
    deploy("7", "production", "2026-02-01T00:00:00Z")
    deploy("7", "staging", "2026-02-02T00:00:00Z")
    return api_client(people["risk"])


def test_violations_are_listed_with_filters(violations, people) -> None:
    r = violations.get("/api/v1/violations")
    assert r.status_code == 200 and r.json()["count"] == 2
    first = r.json()["results"][0]
    assert {"id", "deployment", "model_version", "namespace", "environment", "reason", "detected_at", "open"} <= set(
        first)
    assert [v["environment"] for v in violations.get("/api/v1/violations", {"environment": "staging"}).json()[
        "results"]] == ["staging"]
    assert violations.get("/api/v1/violations", {"namespace": "elsewhere"}).json()["count"] == 0
    assert violations.get("/api/v1/violations", {"namespace": "ml-pipelines"}).json()["count"] == 2
    assert violations.get("/api/v1/violations", {"status": "open"}).json()["count"] == 2
    assert violations.get("/api/v1/violations", {"status": "closed"}).json()["count"] == 0
    assert violations.get("/api/v1/violations", {"detected_after": "2999-01-01T00:00:00Z"}).json()["count"] == 0
    assert violations.get("/api/v1/violations", {"detected_before": "2999-01-01T00:00:00Z"}).json()["count"] == 2
    assert violations.get("/api/v1/violations", {"detected_after": "2000-01-01T00:00:00"}).json()["count"] == 2
    r = violations.get("/api/v1/violations", {"status": "maybe"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "status"
    r = violations.get("/api/v1/violations", {"detected_after": "yesterday"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "detected_after"


def test_a_violation_closes_when_its_deployment_stops_serving(violations, people) -> None:
    ingest(run_event(job="deploy", run_facets=deploy_facets("credit", "7", "staging", action="retire"),
                     time="2026-02-03T00:00:00Z"))
    closed = violations.get("/api/v1/violations", {"status": "closed"}).json()["results"]
    assert [v["environment"] for v in closed] == ["staging"] and closed[0]["open"] is False


def test_charlie_sees_no_violations_of_another_team(violations, people, charlie_client, credit_ns_owned) -> None:
    Node.objects.filter(kind="modelVersion").update(namespace=credit_ns_owned)
    assert charlie_client.get("/api/v1/violations").json()["count"] == 0


def test_eligibility_names_every_member_of_every_group(release, people, charlie_client, credit_ns_owned) -> None:
    services.release_sign(release=release, by=people["risk"], password=PASSWORD, meaning="approval", reason="ok",
                          reviewed_digest=release.subject_digest)
    r = api_client(people["requester"]).get(f"/api/v1/releases/{release.pk}/eligibility")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["feasible"] is True and body["release"] == release.pk
    groups = {g["team"]: g for g in body["groups"]}
    assert set(groups) == {"model-risk", "compliance"} and groups["compliance"]["min_approvals"] == 1
    risk = {m["username"]: m for m in groups["model-risk"]["members"]}
    assert risk["mo"]["eligible"] is True and risk["mo"]["signed"] == "approval"
    assert risk["dan"]["eligible"] is False and "authored commit:" in risk["dan"]["reasons"][0]
    compliance = {m["username"]: m for m in groups["compliance"]["members"]}
    assert compliance["erin"]["eligible"] is False and compliance["cy"]["signed"] is None
    Node.objects.filter(pk=release.model_version_id).update(namespace=credit_ns_owned)
    assert charlie_client.get(f"/api/v1/releases/{release.pk}/eligibility").status_code == 404


def test_the_openapi_schema_documents_what_the_answers_carry() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]

    def response_props(path: str, method: str = "get", code: str = "200") -> set[str]:
        ref = schema["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"]["$ref"]
        return set(components[ref.rsplit("/", 1)[1]]["properties"])

    assert {"my_ineligibility", "quorum", "missing_evidence", "lineage_complete", "subject"} <= response_props(
        "/api/v1/releases/{id}")
    assert "sensitiveUpstream" in response_props("/api/v1/nodes/{node_id}")
    assert {"feasible", "groups"} <= response_props("/api/v1/releases/{id}/eligibility")
    assert "409" in schema["paths"]["/api/v1/releases/{id}/approve"]["post"]["responses"]
    assert "409" in schema["paths"]["/api/v1/releases"]["post"]["responses"]


@pytest.mark.parametrize("name, value", [
    ("detected_after", "0116-08-22T00:58:47+16:04"),  # schemathesis on PostgreSQL: a 500 (offset out of range)
    ("detected_before", "1203-04-08T02:46:17.9-01:39"),
    ("detected_after", "0001-01-01T00:00:00+00:30"),  # before year 1 once in UTC
])
def test_violation_times_the_database_cannot_compare_are_a_400(violations, name, value) -> None:
    r = violations.get("/api/v1/violations", {name: value})
    assert r.status_code == 400, r.content
    assert r.json()["errors"][0]["field"] == name


def test_violation_times_with_any_offset_are_compared_in_utc(violations) -> None:
    assert violations.get("/api/v1/violations", {"detected_after": "2000-01-01T00:00:00+15:30"}).json()["count"] == 2
