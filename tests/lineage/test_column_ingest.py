"""Column edges from the real producers' columnLineage facets: exactly, idempotent, rebuilt from the raw log."""

from __future__ import annotations

import pytest

from lineage.models import ColumnEdge
from lineage.services import lineage_rebuild
from tests.conftest import EVENTS_DIR, post_event
from tests.factories import dataset, facet, run_event

pytestmark = pytest.mark.django_db

COMPAT = "OpenLineage__compatibility-tests__consumer__scenarios__"
SPARK_SHAKESPEARE = COMPAT + "spark_dataproc_bigquery_shakespare__events__"
SPARK_HIVE = COMPAT + "spark_dataproc_simple_producer_test_complete__events__"
AIRFLOW = "atlanhq__generic-openlineage-examples__examples__04_column_lineage__events__03_task_complete.json"
# Spark names this input only in the facet: no version of it was read, so the edges start at the dataset.
SHAKESPEARE_IN = "dataset:bigquery:bigquery-public-data.samples.shakespeare"
SHAKESPEARE_OUT = "datasetVersion:file:/tmp/outputs/1729097570970#0192963f-f6f8-71c0-8380-500bc70883ee"
T1 = "datasetVersion:hdfs://dataproc-producer-test-m:/user/hive/warehouse/t1#initial"
T2 = "datasetVersion:hdfs://dataproc-producer-test-m:/user/hive/warehouse/t2#019299c5-73cf-7069-a70f-74eb8070b577"
EVENTS_IN = "datasetVersion:bigquery:analytics_db.raw.customer_events#initial"
METRICS = "datasetVersion:bigquery:analytics_db.reporting.customer_metrics#880e8400-e29b-41d4-a716-446655440001"

EXPECTED = {
    # Spark 1.23 on Dataproc: a GROUP BY with a filter.
    (SHAKESPEARE_IN, "word", SHAKESPEARE_OUT, "word", "DIRECT", "IDENTITY"),
    (SHAKESPEARE_IN, "word", SHAKESPEARE_OUT, "word", "INDIRECT", "GROUP_BY"),
    (SHAKESPEARE_IN, "word", SHAKESPEARE_OUT, "word", "INDIRECT", "FILTER"),
    (SHAKESPEARE_IN, "word_count", SHAKESPEARE_OUT, "word", "INDIRECT", "FILTER"),
    (SHAKESPEARE_IN, "word", SHAKESPEARE_OUT, "sum(word_count)", "INDIRECT", "GROUP_BY"),
    (SHAKESPEARE_IN, "word", SHAKESPEARE_OUT, "sum(word_count)", "INDIRECT", "FILTER"),
    (SHAKESPEARE_IN, "word_count", SHAKESPEARE_OUT, "sum(word_count)", "DIRECT", "AGGREGATION"),
    (SHAKESPEARE_IN, "word_count", SHAKESPEARE_OUT, "sum(word_count)", "INDIRECT", "FILTER"),
    # Spark INSERT INTO a Hive table: identity copies from the version of t1 the run read.
    (T1, "a", T2, "a", "DIRECT", "IDENTITY"),
    (T1, "b", T2, "b", "DIRECT", "IDENTITY"),
    # Airflow: aggregates with the producer's own subtype spelling (AGGREGATE) kept as sent.
    (EVENTS_IN, "customer_id", METRICS, "customer_id", "DIRECT", "IDENTITY"),
    (EVENTS_IN, "order_id", METRICS, "total_orders", "DIRECT", "AGGREGATE"),
    (EVENTS_IN, "order_amount", METRICS, "lifetime_value", "DIRECT", "AGGREGATE"),
    (EVENTS_IN, "event_timestamp", METRICS, "last_order_date", "DIRECT", "AGGREGATE"),
}


def _edges() -> set[tuple[str, str, str, str, str, str]]:
    return set(ColumnEdge.objects.values_list("src__node_id", "src_field", "dst__node_id", "dst_field", "type",
                                              "subtype"))


def _post_real(client) -> None:
    names = sorted(p.name for p in EVENTS_DIR.glob("*.json") if b"columnLineage" in p.read_bytes())
    assert len(names) == 5
    for name in names:
        assert name.startswith((SPARK_SHAKESPEARE, SPARK_HIVE, AIRFLOW))
        assert post_event(client, (EVENTS_DIR / name).read_bytes()).status_code in (200, 201)


def test_the_real_spark_and_airflow_facets_give_exactly_these_column_edges(ingest_client) -> None:
    _post_real(ingest_client)
    assert _edges() == EXPECTED
    desc = ColumnEdge.objects.get(dst_field="total_orders").description
    assert desc == "COUNT(order_id) per customer"


def test_reposting_changes_nothing_and_a_rebuild_gives_the_same_edges(ingest_client) -> None:
    _post_real(ingest_client)
    count = ColumnEdge.objects.count()
    _post_real(ingest_client)
    assert ColumnEdge.objects.count() == count == len(EXPECTED)
    lineage_rebuild()
    assert _edges() == EXPECTED


def test_the_source_is_the_version_the_run_read_and_a_batch_is_one_statement(ingest_client) -> None:
    cl = facet(fields={"email_hash": {"inputFields": [{"namespace": "pg", "name": "crm.customers", "field": "email",
                                                       "transformations": [{"type": "DIRECT",
                                                                            "subtype": "TRANSFORMATION"}]}]}},
               dataset=[{"namespace": "pg", "name": "crm.customers", "field": "country",
                         "transformations": [{"type": "INDIRECT", "subtype": "FILTER"}]}])
    out = dataset("pg", "features.customers")
    out["facets"]["columnLineage"] = cl
    ev = run_event(inputs=[dataset("pg", "crm.customers", version="v7")], outputs=[out],
                   run_id="11111111-1111-4111-8111-111111111111")
    r = ingest_client.post("/api/v1/lineage/batch", data=[ev], format="json")
    assert r.status_code in (200, 201, 207), r.content
    dst = "datasetVersion:pg:features.customers#11111111-1111-4111-8111-111111111111"
    assert _edges() == {("datasetVersion:pg:crm.customers#v7", "email", dst, "email_hash", "DIRECT", "TRANSFORMATION"),
                        ("datasetVersion:pg:crm.customers#v7", "country", dst, "", "INDIRECT", "FILTER")}


def test_a_late_write_moves_the_column_edges_of_the_reads_it_relinks(ingest_client) -> None:
    """A reader first linked to ``initial``; the write it followed arrives afterwards: the reads edge moves to
    the version written, and the column edges move with it, without a rebuild."""
    out = dataset("pg", "features.customers")
    out["facets"]["columnLineage"] = facet(fields={"ssn_hash": {"inputFields": [
        {"namespace": "pg", "name": "crm.customers", "field": "ssn",
         "transformations": [{"type": "DIRECT", "subtype": "TRANSFORMATION"}]}]}})
    reader = run_event(job="features", time="2026-01-10T10:00:00Z", inputs=[dataset("pg", "crm.customers")],
                       outputs=[out], run_id="22222222-2222-4222-8222-222222222222")
    assert post_event(ingest_client, reader).status_code == 201
    dst = "datasetVersion:pg:features.customers#22222222-2222-4222-8222-222222222222"
    assert _edges() == {("datasetVersion:pg:crm.customers#initial", "ssn", dst, "ssn_hash", "DIRECT",
                         "TRANSFORMATION")}
    writer = run_event(job="load_customers", time="2026-01-10T09:00:00Z",
                       outputs=[dataset("pg", "crm.customers", version="w1")])
    assert post_event(ingest_client, writer).status_code == 201
    assert _edges() == {("datasetVersion:pg:crm.customers#w1", "ssn", dst, "ssn_hash", "DIRECT", "TRANSFORMATION")}
    lineage_rebuild()
    assert _edges() == {("datasetVersion:pg:crm.customers#w1", "ssn", dst, "ssn_hash", "DIRECT", "TRANSFORMATION")}
