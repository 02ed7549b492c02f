"""The rebuild task on a real Celery worker with the Redis broker."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from io import StringIO

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.core.management import call_command

from lineage.models import Edge, Node
from lineage.openlineage import parse_event
from lineage.services import events_ingest
from lineage.tasks import lineage_rebuild_task
from portal.celery import app
from tests.conftest import need_service
from tests.factories import dataset, model_output, run_event

BROKER = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def celery_worker() -> Iterator[None]:
    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        need_service("Redis", str(exc))
    saved = {k: app.conf[k] for k in ("broker_url", "result_backend", "task_always_eager")}
    app.conf.update(broker_url=BROKER, result_backend=BROKER, task_always_eager=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.update(saved)


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
    assert lineage_rebuild_task.delay().get(timeout=30) == 2
    assert (Node.objects.count(), Edge.objects.count()) == (nodes, edges)


@pytest.mark.django_db
def test_the_command_rebuilds_in_process() -> None:
    events_ingest(events=[parse_event(json.dumps(run_event(inputs=[dataset("db", "a")])).encode())], by=None)
    out = StringIO()
    call_command("rebuild_lineage", stdout=out)
    assert out.getvalue().startswith("replayed 1 events:")
