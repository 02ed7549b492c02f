"""portal/lib/sql.py: the set-based writes, on both paths (COPY on PostgreSQL, VALUES elsewhere)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection, transaction
from django.test import override_settings

from lineage.models import Node, RawEvent
from portal.lib.sql import copy_fast, insert_ignore, update_rows

pytestmark = pytest.mark.django_db
T = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
COLS = ("node_id", "kind", "namespace", "name", "version", "environment", "state", "owners", "facets", "attrs",
        "deidentifies", "times", "created_at", "updated_at")


def _row(nid: str, facets: str = "{}") -> tuple[object, ...]:
    t = connection.ops.adapt_datetimefield_value(T)
    return (nid, "dataset", "db", nid, "", "", "", "[]", facets, "{}", False, "{}", t, t)


@pytest.fixture(params=[1, 10**9], ids=["copy", "values"])
def path(request: pytest.FixtureRequest) -> object:
    with override_settings(PORTAL_SQL_COPY_MIN_ROWS=request.param):
        yield request.param


def test_it_inserts_new_rows_skips_taken_keys_and_returns_only_the_inserted(path: int) -> None:
    first = insert_ignore("lineage_node", COLS, [_row("a"), _row("b")], conflict=("node_id",), returning=("node_id",))
    assert sorted(first) == [("a",), ("b",)]
    again = insert_ignore("lineage_node", COLS, [_row("c"), _row("a", '{"x": 1}'), _row("c")],
                          conflict=("node_id",), returning=("node_id",))
    assert again == [("c",)]
    assert Node.objects.get(node_id="a").facets == {}  # a taken key is left as it was


def test_the_staging_table_is_empty_for_the_next_write_in_the_same_transaction(path: int) -> None:
    with transaction.atomic():
        insert_ignore("lineage_node", COLS, [_row("a"), _row("b")], conflict=("node_id",))
        second = insert_ignore("lineage_node", COLS, [_row("c")], conflict=("node_id",), returning=("node_id",))
    assert second == [("c",)]
    assert Node.objects.count() == 3


def test_json_bytes_nulls_and_times_survive_the_copy(path: int) -> None:
    body = b'{"a": "\\u00e9\\\\ \\t tab"}\n\x00\xff'
    row = ("k1", "run", "START", connection.ops.adapt_datetimefield_value(T), "", "", "", "p",
           '{"t": "tab\\there", "q": "\\\\"}', body, "sha", "[]", connection.ops.adapt_datetimefield_value(T),
           None, "[]")
    cols = ("dedupe_key", "kind", "event_type", "event_time", "run_id", "job_namespace", "job_name", "producer",
            "payload", "body", "body_sha256", "warnings", "received_at", "received_by_id", "ignored_inputs")
    insert_ignore("lineage_rawevent", cols, [row], conflict=("dedupe_key",))
    ev = RawEvent.objects.get(dedupe_key="k1")
    assert bytes(ev.body) == body
    assert ev.payload == {"t": "tab\there", "q": "\\"}
    assert ev.event_time == T and ev.received_by_id is None


def test_update_rows_sets_each_row_by_its_key(path: int) -> None:
    insert_ignore("lineage_node", COLS, [_row("a"), _row("b"), _row("c")], conflict=("node_id",))
    pks = dict(Node.objects.values_list("node_id", "pk"))
    assert update_rows("lineage_node", "id", ("state", "facets"), [("ok", '{"n": 1}', pks["a"]),
                                                                   ("gone", "{}", pks["c"])]) == 2
    assert dict(Node.objects.values_list("node_id", "state")) == {"a": "ok", "b": "", "c": "gone"}
    assert Node.objects.get(node_id="a").facets == {"n": 1}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's")
def test_a_staging_table_created_in_a_rolled_back_transaction_is_created_again() -> None:
    with override_settings(PORTAL_SQL_COPY_MIN_ROWS=1):
        assert copy_fast([1])
        with transaction.atomic():
            insert_ignore("lineage_node", COLS, [_row("a")], conflict=("node_id",))
            transaction.set_rollback(True)
        # The table went with the rollback; the next write must not assume it exists.
        with transaction.atomic():
            assert insert_ignore("lineage_node", COLS, [_row("b")], conflict=("node_id",),
                                 returning=("node_id",)) == [("b",)]
        with transaction.atomic():
            assert insert_ignore("lineage_node", COLS, [_row("c")], conflict=("node_id",),
                                 returning=("node_id",)) == [("c",)]
    assert sorted(Node.objects.values_list("node_id", flat=True)) == ["b", "c"]
