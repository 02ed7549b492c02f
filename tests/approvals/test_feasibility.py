"""A release request that could never reach its quorum is refused at once, naming the group and who is
excluded; an identical pending request is refused with 409 pointing to the one that waits."""

from __future__ import annotations

import pytest

from portal.approvals import services
from portal.approvals.models import Release
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


def request(people, environment="production"):
    return services.release_request(by=people["requester"], model="credit", version="7", environment=environment,
                                    justification="x")


def test_a_quorum_no_eligible_set_of_approvers_can_meet_is_refused_naming_who_is_missing(model, people) -> None:
    # compliance: cy, bo and erin; erin launched the training run, so only two may sign
    services.policy_create(by=people["admin"], environment="production", reason="x", groups=[("compliance", 3)])
    with pytest.raises(services.ApprovalError) as err:
        request(people)
    msg = err.value.message
    assert err.value.field == "policy"
    assert "compliance needs 3" in msg and "2 eligible" in msg
    assert "erin: launched run:" in msg
    assert not Release.objects.exists()


def test_one_person_in_two_groups_counts_once_when_checking_feasibility(model, people) -> None:
    # model-risk 4: mo, mia, bo, dan (author: excluded) -> 3; compliance 1: cy, bo (erin excluded).
    # bo can fill one slot only: 4 from model-risk is impossible, whatever compliance needs.
    services.policy_create(by=people["admin"], environment="production", reason="x",
                           groups=[("model-risk", 3), ("compliance", 2)])
    with pytest.raises(services.ApprovalError, match="model-risk|compliance"):
        request(people)


def test_a_feasible_quorum_is_accepted(model, policy, people) -> None:
    assert request(people).state == Release.State.PENDING


def test_an_identical_pending_request_is_a_409_pointing_to_the_one_that_waits(model, policy, people) -> None:
    first = request(people)
    rita = api_client(people["requester"])
    r = rita.post("/api/v1/releases", {"model": "credit", "version": "7", "environment": "production",
                                       "justification": "again"}, format="json")
    assert r.status_code == 409, r.content
    assert f"release {first.pk}" in r.json()["detail"] and f"/api/v1/releases/{first.pk}" in r.json()["detail"]
    assert Release.objects.count() == 1
    services.release_withdraw(release=first, by=people["requester"], reason="wrong data")
    assert request(people).state == Release.State.PENDING
