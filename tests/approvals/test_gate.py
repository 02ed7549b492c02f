"""The gate answers about one exact model version: namespace, name and version, asked by a caller whose teams
own that namespace (or no team does); the attestation names all three."""

from __future__ import annotations

import pytest

from portal.accounts.services import namespace_assign, user_ensure
from portal.approvals import services
from tests.approvals.conftest import PASSWORD, ingest
from tests.conftest import api_client
from tests.factories import dataset, model_output, run_event

pytestmark = pytest.mark.django_db
GATE = "/api/v1/gate"


def approve(release, *who):
    for u in who:
        services.release_sign(release=release, by=u, password=PASSWORD, meaning="approval", reason="ok",
                              reviewed_digest=release.subject_digest)


@pytest.fixture
def staging(people):
    return services.policy_create(by=people["admin"], environment="staging", reason="one review",
                                  groups=[("model-risk", 1)])


@pytest.fixture
def shadow_release(model, staging, people):
    """Another namespace trains a model of the same name and version and gets it approved for staging."""
    namespace_assign(namespace="ml-pipelines", team="credit-risk")
    ingest(run_event(job="train_shadow", namespace="shadow", inputs=[dataset("s3://x", "y")],
                     outputs=[model_output("credit", "7", namespace="shadow")], time="2026-01-03T00:00:00Z"))
    shadow_user = user_ensure(username="sh", role="viewer", password=PASSWORD, email="sh@example.com")
    release = services.release_request(by=shadow_user, model="credit", version="7", environment="staging",
                                       justification="x", namespace="shadow")
    approve(release, people["risk"])
    return release


def test_a_shadow_namespace_cannot_answer_for_a_team_owned_model(shadow_release, people) -> None:
    ci = api_client(user_ensure(username="ci", role="ingestor"))  # in no team: sees only unowned namespaces
    r = ci.get(GATE, {"model": "credit", "version": "7", "environment": "staging"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "namespace", r.content
    r = ci.get(GATE, {"model": "credit", "version": "7", "environment": "staging", "namespace": "ml-pipelines"})
    assert r.status_code == 400 and "is known" in r.json()["detail"]  # not its team's: as if it did not exist
    r = ci.get(GATE, {"model": "credit", "version": "7", "environment": "staging", "namespace": "shadow"})
    body = r.json()
    assert body["allowed"] is True
    signed = body["attestation"]["signed"]
    assert (signed["namespace"], signed["model"], signed["version"]) == ("shadow", "credit", "7")


def test_a_ci_token_of_the_owning_team_asks_about_its_model(shadow_release, people) -> None:
    ci = api_client(user_ensure(username="ci", role="ingestor", team="credit-risk"))
    r = ci.get(GATE, {"model": "credit", "version": "7", "environment": "staging", "namespace": "ml-pipelines"})
    assert r.status_code == 200 and r.json()["allowed"] is False
    assert r.json()["attestation"]["signed"]["namespace"] == "ml-pipelines"
    assert "no approved release of modelVersion:ml-pipelines:credit#7" in r.json()["reasons"][0]


def test_a_unique_name_needs_no_namespace(model, staging, people) -> None:
    namespace_assign(namespace="ml-pipelines", team="credit-risk")
    ci = api_client(user_ensure(username="ci", role="ingestor", team="credit-risk"))
    r = ci.get(GATE, {"model": "credit", "version": "7", "environment": "staging"})
    assert r.status_code == 200 and r.json()["attestation"]["signed"]["namespace"] == "ml-pipelines"


def test_a_release_request_by_name_alone_is_refused_when_the_name_is_not_unique(shadow_release, people) -> None:
    with pytest.raises(services.ApprovalError) as err:
        services.release_request(by=people["admin"], model="credit", version="7", environment="staging",
                                 justification="x")
    assert err.value.field == "namespace"
