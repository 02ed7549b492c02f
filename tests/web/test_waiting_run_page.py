"""The node page of a run whose newest events still wait to be applied (deferred ingestion): its state history
says which events are not in the graph yet, and the run's start and end read as every other time on the page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from lineage import ids
from lineage.openlineage import parse_event
from lineage.services import events_ingest
from portal.accounts.models import User
from tests.factories import run_event
from tests.lineage.test_defer import no_worker  # noqa: F401 - the fixture, used by name

pytestmark = pytest.mark.django_db

RUN = "0190c6f5-0000-7000-8000-0000000000cc"


def _send(etype: str, time: str, *, defer: bool) -> None:
    event = run_event(job="etl", namespace="team-a", run_id=RUN, event_type=etype, time=time)
    [outcome] = events_ingest(events=[parse_event(json.dumps(event).encode())], by=None, defer=defer)
    assert outcome.status == "created"


def _history(html: str) -> list[str]:
    table = html.split("<h2>State history</h2>")[1].split("</table>")[0]
    return table.split("<tr>")[2:]  # the rows after the head


def test_the_state_history_marks_the_events_still_waiting(no_worker: None, client: Client,  # noqa: F811
                                                          admin_user: User) -> None:
    _send("START", "2026-01-10T10:00:00Z", defer=False)
    _send("COMPLETE", "2026-01-10T11:00:00Z", defer=True)
    client.force_login(admin_user)
    html = client.get(f"/lineage/node/{ids.run_id(RUN)}").content.decode()
    assert 'id="pending"' in html
    start, complete = _history(html)
    assert "START" in start and "waiting" not in start
    assert "COMPLETE" in complete and "waiting to be applied" in complete


def test_the_runs_start_and_end_are_shown_as_times(client: Client, admin_user: Any) -> None:
    _send("START", "2026-01-10T10:00:00.917000Z", defer=False)
    _send("COMPLETE", "2026-01-10T11:00:00Z", defer=False)
    client.force_login(admin_user)
    html = client.get(f"/lineage/node/{ids.run_id(RUN)}").content.decode()
    run = html.split("<h2>Run</h2>")[1].split("</section>")[0]
    assert "2026-01-10 10:00:00 UTC" in run and "2026-01-10 11:00:00 UTC" in run
    assert "+00:00" not in run
