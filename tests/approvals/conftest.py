"""A trained credit model with a commit by dan and a run launched by erin, and a production policy needing
one approval from model-risk and one from compliance."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lineage.models import Node
from lineage.openlineage import parse_event
from lineage.services import events_ingest, portal_record_ingest
from portal.accounts.models import User
from portal.accounts.services import user_ensure
from portal.approvals import services
from tests.factories import dataset, facet, model_output, run_event

SHA = "d" * 40
PASSWORD = "correct-horse-battery"


def ingest(*events: dict) -> None:
    events_ingest(events=[parse_event(json.dumps(e).encode()) for e in events], by=None)


def train(version: str = "7", auc: float = 0.81, time: str = "2026-01-02T00:00:00Z", sha: str = SHA) -> None:
    ingest(run_event(job="train_credit", inputs=[dataset("postgres://bank-db:5432", "features.credit",
                                                         tags={"ssn": ["PII"]})],
                     outputs=[model_output("credit", version, auc=auc)], time=time, sha=sha,
                     run_facets={"portalRun": facet(launchedBy="erin@example.com")}))


@pytest.fixture
def people(db: Any) -> dict[str, User]:
    p = {
        "admin": user_ensure(username="ada", role="admin", password=PASSWORD, email="ada@example.com"),
        "requester": user_ensure(username="rita", role="viewer", password=PASSWORD, email="rita@example.com",
                                 team="credit-risk"),
        "risk": user_ensure(username="mo", role="approver", password=PASSWORD, email="mo@example.com",
                            team="model-risk"),
        "risk2": user_ensure(username="mia", role="approver", password=PASSWORD, email="mia@example.com",
                             team="model-risk"),
        "compliance": user_ensure(username="cy", role="approver", password=PASSWORD, email="cy@example.com",
                                  team="compliance"),
        "both": user_ensure(username="bo", role="approver", password=PASSWORD, email="bo@example.com",
                            team="model-risk"),
        "author": user_ensure(username="dan", role="approver", password=PASSWORD, email="dan@example.com",
                              team="model-risk"),
        "launcher": user_ensure(username="erin", role="approver", password=PASSWORD, email="erin@example.com",
                                team="compliance"),
    }
    user_ensure(username="bo", team="compliance")
    return p


@pytest.fixture
def model(people: dict[str, User]) -> Node:
    train()
    portal_record_ingest(kind="commit", by=None, payload={
        "repo": "https://git.example.com/ml/credit.git", "sha": SHA, "author_name": "Dan",
        "author_email": "dan@example.com",
        "committer_name": "Dan", "committer_email": "dan@example.com", "time": "2026-01-01T00:00:00+00:00"})
    return Node.objects.get(node_id="modelVersion:ml-pipelines:credit#7")


@pytest.fixture
def policy(people: dict[str, User]):
    return services.policy_create(by=people["admin"], environment="production", reason="SR 11-7 model risk",
                                  groups=[("model-risk", 1), ("compliance", 1)])


@pytest.fixture
def release(model: Node, policy, people: dict[str, User]):
    return services.release_request(by=people["requester"], model="credit", version="7", environment="production",
                                    justification="quarterly refresh")
