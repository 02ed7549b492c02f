"""A node's members as of a time are ordered and cut as the live answer's: the newest 50 by event time (not by id),
so a late-arriving old run does not push a newer one out of the answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from lineage import ids
from lineage.api.asof import MEMBERS_SHOWN
from lineage.models import Node
from lineage.openlineage import parse_event
from lineage.services import events_ingest
from tests.factories import run_event

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, tzinfo=UTC)
JOB = ids.job_id("pipelines", "nightly")


def _run(i: int, minutes: int) -> bytes:
    when = (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    return json.dumps(run_event(job="nightly", namespace="pipelines", time=when,
                                run_id=f"00000000-0000-4000-8000-{i:012d}")).encode()


def test_members_as_of_a_time_are_the_newest_by_event_time_as_the_live_answer(admin_client: APIClient) -> None:
    count = MEMBERS_SHOWN + 5
    # Runs arrive newest first: the later a run's id, the older its event time (a backfill of old runs).
    for i in range(count):
        events_ingest(events=[parse_event(_run(i, count - i))], by=None)
    runs = list(Node.objects.filter(parent__node_id=JOB).order_by("pk").values_list("node_id", flat=True))
    assert len(runs) == count
    by_time = runs[:MEMBERS_SHOWN]  # newest event time first is lowest pk first
    assert by_time != runs[::-1][:MEMBERS_SHOWN]  # id order and event-time order differ

    q = quote(JOB, safe="")
    live = admin_client.get(f"/api/v1/nodes/{q}").json()["members"]
    assert [m["id"] for m in live] == by_time
    now = quote(timezone.now().isoformat())
    for kind in ("received", "event"):
        then = admin_client.get(f"/api/v1/nodes/{q}?asOf={now}&asOfKind={kind}")
        assert then.status_code == 200, then.content
        assert [m["id"] for m in then.json()["members"]] == by_time, kind
