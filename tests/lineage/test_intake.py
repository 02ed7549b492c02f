"""Group commit of single events (lineage/intake.py): concurrent requests share a transaction, each its answer."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from lineage.intake import ingest_arriving, intake_stats, intake_waiting
from lineage.models import RawEvent
from portal.accounts.services import namespace_assign, token_issue, user_ensure
from portal.audit.models import AuditEntry
from tests.factories import dataset, run_event
from tests.lineage.conftest import Poison

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(db: Any, settings: Any) -> str:
    settings.LINEAGE_INGEST_DEFER = False  # group commit is the inline path
    settings.LINEAGE_INGEST_GROUP_WAIT_MS = 30_000  # bounds the wait for a request held "arriving" below
    for ns, team in (("team-a", "team-a"), ("s3://a", "team-a"), ("team-b", "team-b")):
        namespace_assign(namespace=ns, team=team)
    _, raw = token_issue(user=user_ensure(username="svc-a", role="ingestor", team="team-a"))
    return raw


def _post_together(token: str, bodies: list[bytes]) -> list[Any]:
    """Post every body from its own thread at the same moment, as concurrent pipelines do.

    This thread holds one more request "arriving" until every body is queued, as a request still being read
    would: the first request's group waits for it, so all of them form one group, however slow the machine.
    """
    barrier = threading.Barrier(len(bodies))
    answers: list[Any] = [None] * len(bodies)
    grouping = settings.LINEAGE_INGEST_GROUP

    def post(i: int) -> None:
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            barrier.wait()
            answers[i] = client.post("/api/v1/lineage", data=bodies[i], content_type="application/json",
                                     HTTP_X_REQUEST_ID=f"req-{i}")
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    with ingest_arriving():
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while grouping and intake_waiting() < len(bodies) and time.monotonic() < deadline:
            time.sleep(0.01)
    for t in threads:
        t.join()
    return answers


def _ingested_request_ids() -> dict[str, str]:
    """sha256 of each ingested event -> the request id on its audit entry."""
    return {json.loads(e.payload)["sha256"]: e.request_id
            for e in AuditEntry.objects.filter(action="lineage.event_ingested")}


def test_concurrent_events_are_applied_together_and_each_request_gets_its_own_answer(token: str) -> None:
    groups = intake_stats().sizes.get(4, 0)
    first = json.dumps(run_event(job="etl", namespace="team-a", outputs=[dataset("s3://a", "one")])).encode()
    second = json.dumps(run_event(job="etl2", namespace="team-a", outputs=[dataset("s3://a", "two")])).encode()
    refused = json.dumps(run_event(job="train", namespace="team-b")).encode()
    answers = _post_together(token, [first, second, first, refused])
    codes = [a.status_code for a in answers]
    # The same event twice in one group: one 201, one 200, as when they come one after the other.
    assert sorted(codes[i] for i in (0, 2)) == [200, 201], [a.content for a in answers]
    assert codes[1] == 201 and codes[3] == 403
    assert answers[3].json()["errors"][0]["field"] == "job.namespace"
    assert intake_stats().sizes.get(4, 0) == groups + 1  # the four requests were one group
    assert RawEvent.objects.count() == 2
    # Each event's audit entry names the request that brought it, not the request that led the group.
    created = next(i for i in (0, 2) if codes[i] == 201)
    ids = _ingested_request_ids()
    assert ids == {hashlib.sha256(first).hexdigest(): f"req-{created}",
                   hashlib.sha256(second).hexdigest(): "req-1"}
    refusal = AuditEntry.objects.get(action="lineage.event_refused")
    assert refusal.request_id == "req-3"


def test_one_event_that_breaks_its_group_costs_no_other_request_its_answer(token: str, poison: Poison) -> None:
    with poison(table="lineage_rawevent", column="job_name"):
        retried = intake_stats().retried
        bodies = [json.dumps(run_event(job=job, namespace="team-a")).encode() for job in ("ok1", "poison", "ok2")]
        answers = _post_together(token, bodies)
        assert [a.status_code for a in answers] == [201, 500, 201], [a.content for a in answers]
        assert intake_stats().retried >= retried + 3
        assert sorted(RawEvent.objects.values_list("job_name", flat=True)) == ["ok1", "ok2"]


@pytest.mark.parametrize(("defer", "sequencer"), [(False, "inline"), (True, "inline"), (True, "service")])
def test_events_retried_alone_after_their_group_failed_keep_the_warnings_of_their_time(token: str, settings: Any,
                                                                                      poison: Poison, defer: bool,
                                                                                      sequencer: str) -> None:
    """A retried event is parsed again from its bytes: the warning its time check added when it was received
    (older than the horizon) was lost, so its answer and its raw row lacked it. (Deferred with the sequencer as a
    service: the group's one statement fails, services.events_append.)"""
    settings.LINEAGE_INGEST_DEFER = defer
    settings.PORTAL_AUDIT_SEQUENCER = sequencer
    settings.LINEAGE_EVENT_HORIZON_DAYS = 30  # the factory's events are older
    with poison(table="lineage_rawevent", column="job_name"):
        bodies = [json.dumps(run_event(job=job, namespace="team-a")).encode() for job in ("ok1", "poison", "ok2")]
        answers = _post_together(token, bodies)
        assert [a.status_code for a in answers] == [201, 500, 201], [a.content for a in answers]
        horizon = "eventTime is older than the portal's horizon of 30 days; accepted as sent"
        assert [answers[i].json()["warnings"] for i in (0, 2)] == [[horizon], [horizon]]
        assert list(RawEvent.objects.values_list("warnings", flat=True)) == [[horizon], [horizon]]


def test_with_grouping_off_each_event_is_applied_alone(token: str, settings: Any) -> None:
    settings.LINEAGE_INGEST_GROUP = False
    groups = intake_stats().groups
    body = json.dumps(run_event(job="etl", namespace="team-a")).encode()
    assert [a.status_code for a in _post_together(token, [body, body])] in ([201, 200], [200, 201])
    assert intake_stats().groups == groups
