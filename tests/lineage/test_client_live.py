"""The real openlineage-python client, over HTTP, against a live portal server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.transport.http import HttpConfig, HttpTransport

from lineage.models import Node, RawEvent
from portal.accounts.services import token_issue

pytestmark = pytest.mark.django_db(transaction=True)


def _client(url: str, token: str, compression: str | None = None) -> OpenLineageClient:
    config = HttpConfig.from_dict({"type": "http", "url": url, "auth": {"type": "api_key", "apiKey": token},
                                   **({"compression": compression} if compression else {})})
    return OpenLineageClient(transport=HttpTransport(config))


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_the_openlineage_python_client_ingests_into_the_live_server(live_server, ingestor, compression) -> None:
    _, token = token_issue(user=ingestor)
    client = _client(live_server.url, token, compression)
    run = Run(runId=str(uuid.uuid4()))
    job = Job(namespace="airflow", name="credit.train")
    for state in (RunState.START, RunState.COMPLETE):
        client.emit(RunEvent(eventType=state, eventTime=datetime.now(UTC).isoformat(), run=run, job=job,
                             producer="https://example.com/test",
                             inputs=[InputDataset(namespace="postgres://bank-db:5432", name="core.customers")],
                             outputs=[OutputDataset(namespace="s3://features", name="credit/v1")]))
    node = Node.objects.get(node_id=f"run:{run.runId}")
    assert node.state == "COMPLETED"
    assert RawEvent.objects.filter(run_id=run.runId).count() == 2
    assert Node.objects.filter(kind="datasetVersion", name="credit/v1").exists()


def test_the_client_sees_a_wrong_token_as_an_error(live_server, ingestor) -> None:
    client = _client(live_server.url, "lp_wrong")
    event = RunEvent(eventType=RunState.START, eventTime=datetime.now(UTC).isoformat(),
                     run=Run(runId=str(uuid.uuid4())), job=Job(namespace="airflow", name="x"), producer="https://example.com/test")
    with pytest.raises(Exception):  # noqa: B017 - the client raises its own HTTP error type
        client.emit(event)
    assert RawEvent.objects.count() == 0
