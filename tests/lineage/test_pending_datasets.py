"""Dataset-only events waiting to be applied count in ``GET /api/v1/lineage/pending`` for the readers who may see
the dataset's namespace (the raw log has no namespace column for them: it is read from the payload)."""

from __future__ import annotations

from typing import Any

import pytest

from lineage.models import RawEvent
from lineage.services import lineage_apply_pending
from portal.accounts.services import user_ensure
from tests.conftest import api_client, post_event
from tests.lineage.test_defer import _world, no_worker  # noqa: F401 - the fixture, used by name

pytestmark = pytest.mark.django_db


def _dataset_event(namespace: str, name: str) -> dict[str, Any]:
    return {"eventTime": "2026-01-10T10:00:00Z", "producer": "https://example.org/producer",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
            "dataset": {"namespace": namespace, "name": name, "facets": {}}}


def test_waiting_dataset_events_count_for_readers_of_their_namespace_only(no_worker: None,  # noqa: F811
                                                                         charlie: Any) -> None:
    clients = _world()
    assert post_event(clients["a"], _dataset_event("s3://a", "customers")).status_code == 201
    assert post_event(clients["b"], _dataset_event("s3://b", "raw")).status_code == 201
    assert post_event(clients["a"], _dataset_event("s3://shared", "lookup")).status_code == 201  # owned by none
    waiting = RawEvent.objects.filter(applied_at__isnull=True)
    assert waiting.count() == 3 and set(waiting.values_list("kind", "job_namespace")) == {("dataset", "")}
    reader_a = api_client(user_ensure(username="reader-a", role="viewer", team="team-a"))
    reader_b = api_client(user_ensure(username="reader-b", role="viewer", team="team-b"))
    mine = reader_a.get("/api/v1/lineage/pending").json()
    assert mine["events"] == 2 and mine["since"]  # s3://a and the unowned namespace, not team B's
    assert reader_b.get("/api/v1/lineage/pending").json()["events"] == 2
    assert api_client(charlie).get("/api/v1/lineage/pending").json()["events"] == 1  # only the unowned one
    assert api_client(user_ensure(username="root", role="admin")).get("/api/v1/lineage/pending").json()["events"] == 3
    lineage_apply_pending()
    assert reader_a.get("/api/v1/lineage/pending").json()["events"] == 0
