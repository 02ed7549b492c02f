"""The rebuild task on a real Celery worker with the Redis broker."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command

from lineage.models import Edge, Node
from lineage.openlineage import parse_event
from lineage.services import events_ingest
from lineage.tasks import lineage_rebuild_task
from portal.audit.models import AuditEntry
from tests.factories import dataset, model_output, run_event
from tests.workers import worker_thread


@pytest.fixture
def celery_worker() -> Iterator[None]:
    with worker_thread(["lineage", "portal.audit"]):
        yield


@pytest.mark.django_db(transaction=True)
def test_a_worker_rebuilds_the_graph_from_raw_events(celery_worker) -> None:
    events = [run_event(job="etl", inputs=[dataset("db", "raw")], outputs=[dataset("db", "clean")],
                        time="2026-01-01T00:00:00Z"),
              run_event(inputs=[dataset("db", "clean")], outputs=[model_output("credit", "1")],
                        time="2026-01-02T00:00:00Z")]
    events_ingest(events=[parse_event(json.dumps(e).encode()) for e in events], by=None)
    nodes, edges = Node.objects.count(), Edge.objects.count()
    Node.objects.all().delete()
    assert Node.objects.count() == 0
    lineage_rebuild_task.delay()
    deadline = time.monotonic() + 30
    while Node.objects.count() < nodes and time.monotonic() < deadline:
        time.sleep(0.2)  # the effect, not the result backend, is what matters
    assert (Node.objects.count(), Edge.objects.count()) == (nodes, edges)
    assert AuditEntry.objects.filter(action="lineage.rebuilt").exists()


@pytest.mark.django_db
def test_the_command_rebuilds_in_process() -> None:
    events_ingest(events=[parse_event(json.dumps(run_event(inputs=[dataset("db", "a")])).encode())], by=None)
    out = StringIO()
    call_command("rebuild_lineage", stdout=out)
    assert out.getvalue().startswith("replayed 1 events:")
