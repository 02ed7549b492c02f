"""Parsing only: no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lineage.openlineage import EventError, parse_event, split_batch
from tests.conftest import real_events
from tests.factories import run_event


def _b(ev: dict) -> bytes:
    return json.dumps(ev).encode()


@pytest.mark.parametrize("path", real_events(), ids=lambda p: p.name[-60:])
def test_it_parses_every_real_event(path) -> None:
    raw = path.read_bytes()
    ev = parse_event(raw)
    doc = json.loads(raw)
    assert ev.raw == raw
    assert [(d.namespace, d.name) for d in ev.inputs] == [(d["namespace"], d["name"]) for d in doc.get("inputs", [])]
    assert [(d.namespace, d.name) for d in ev.outputs] == [(d["namespace"], d["name"]) for d in doc.get("outputs", [])]


def test_it_names_the_missing_job_name() -> None:
    ev = run_event()
    del ev["job"]["name"]
    with pytest.raises(EventError) as err:
        parse_event(_b(ev))
    assert err.value.field == "job.name"


def test_it_refuses_a_run_event_without_a_usable_run_id() -> None:
    with pytest.raises(EventError) as err:
        parse_event(_b(run_event(run_id="not-a-uuid")))
    assert err.value.field == "run.runId"


def test_it_refuses_an_unparseable_time() -> None:
    with pytest.raises(EventError) as err:
        parse_event(_b(run_event(time="yesterday at noon")))
    assert err.value.field == "eventTime"


def test_it_refuses_an_unknown_event_type() -> None:
    with pytest.raises(EventError) as err:
        parse_event(_b(run_event(event_type="FINISHED")))
    assert err.value.field == "eventType"


def test_it_names_a_wrong_type_deep_in_the_event() -> None:
    ev = run_event(inputs=[{"namespace": "db", "name": 42}])
    with pytest.raises(EventError) as err:
        parse_event(_b(ev))
    assert err.value.field == "inputs[0].name"
    assert "str" in err.value.message


def test_it_refuses_malformed_json() -> None:
    with pytest.raises(EventError) as err:
        parse_event(b'{"eventTime": ')
    assert "malformed JSON" in err.value.message


def test_it_accepts_and_flags_a_missing_schema_url_and_a_naive_time() -> None:
    ev = run_event(time="2026-01-10T10:00:00")
    del ev["schemaURL"]
    parsed = parse_event(_b(ev))
    assert parsed.event_time == datetime(2026, 1, 10, 10, tzinfo=UTC)
    assert any("schemaURL" in w for w in parsed.warnings)
    assert any("timezone" in w for w in parsed.warnings)


def test_it_keeps_nanosecond_times_to_the_microsecond() -> None:
    parsed = parse_event(_b(run_event(time="2026-01-10T10:00:00.123456789+02:00")))
    assert parsed.event_time == datetime(2026, 1, 10, 8, 0, 0, 123456, tzinfo=UTC)


def test_it_flags_a_facet_that_fails_its_own_schema_but_keeps_it() -> None:
    ev = run_event(run_facets={"weird": "not an object"})
    parsed = parse_event(_b(ev))
    assert parsed.run_facets["weird"] == "not an object"
    assert any("run.facets.weird" in w for w in parsed.warnings)


def test_duplicates_share_a_key_and_different_types_do_not() -> None:
    rid = "3f5e83fa-3480-44ff-99c5-ff943904e5e8"
    a = parse_event(_b(run_event(run_id=rid, event_type="START")))
    b = parse_event(_b(run_event(run_id=rid, event_type="START", time="2026-01-10T11:00:00+01:00")))
    c = parse_event(_b(run_event(run_id=rid, event_type="COMPLETE")))
    assert a.dedupe_key == b.dedupe_key  # same instant, another offset
    assert a.dedupe_key != c.dedupe_key


def test_it_splits_arrays_and_ndjson_keeping_each_events_bytes() -> None:
    one, two = _b(run_event()), _b(run_event(event_type="START"))
    assert split_batch(b"[" + one + b",\n " + two + b"]") == [one, two]
    assert split_batch(one + b"\n\n" + two + b"\n") == [one, two]


def test_dataset_and_job_events_are_understood() -> None:
    ds = {"eventTime": "2026-01-01T00:00:00Z", "producer": "p", "schemaURL": "s",
          "dataset": {"namespace": "db", "name": "t"}}
    job = {"eventTime": "2026-01-01T00:00:00Z", "producer": "p", "schemaURL": "s",
           "job": {"namespace": "n", "name": "j"}, "inputs": [{"namespace": "db", "name": "t"}]}
    assert parse_event(_b(ds)).kind == "dataset"
    assert parse_event(_b(job)).kind == "job"


def test_it_names_a_missing_top_level_field() -> None:
    ev = run_event()
    del ev["eventTime"]
    with pytest.raises(EventError) as err:
        parse_event(_b(ev))
    assert (err.value.field, err.value.message) == ("eventTime", "this field is required")
