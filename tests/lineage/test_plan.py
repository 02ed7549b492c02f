"""The merge rules and the planner: pure, no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lineage.openlineage import parse_event
from lineage.plan import NodeDelta, NodeRow, Planner, merge_node, run_state_merge
from tests.factories import dataset, model_output, run_event

T1 = datetime(2026, 1, 1, 10, tzinfo=UTC)
T2 = datetime(2026, 1, 1, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cur", "cur_t", "new", "new_t", "expected"),
    [
        ("", None, "RUNNING", T1, "RUNNING"),
        ("RUNNING", T1, "COMPLETED", T2, "COMPLETED"),
        ("COMPLETED", T2, "RUNNING", T1, "COMPLETED"),  # START arriving after COMPLETE
        ("COMPLETED", T1, "RUNNING", T2, "COMPLETED"),  # a late retried START does not reopen
        ("RUNNING", T2, "COMPLETED", T1, "COMPLETED"),  # COMPLETE before START is fine
        ("FAILED", T1, "COMPLETED", T2, "COMPLETED"),   # two terminal states: the later wins
        ("COMPLETED", T2, "FAILED", T1, "COMPLETED"),
        ("RUNNING", T1, "", T2, "RUNNING"),             # OTHER carries no state
    ],
)
def test_run_state_is_latest_by_time_and_never_reopened(cur, cur_t, new, new_t, expected) -> None:
    assert run_state_merge(cur, cur_t, new, new_t) == expected


def test_newer_facets_win_and_older_ones_only_fill_gaps() -> None:
    row = NodeRow({"schema": 1, "doc": "a"}, {}, [], "", False, T2)
    older = NodeDelta("dataset:n:x", "dataset", "n", "x", facets={"schema": 0, "stats": 5}, event_time=T1)
    merged = merge_node(row, older)
    assert merged.facets == {"schema": 1, "doc": "a", "stats": 5}
    newer = NodeDelta("dataset:n:x", "dataset", "n", "x", facets={"schema": 2}, deleted_facets={"doc"},
                      event_time=datetime(2026, 1, 2, tzinfo=UTC))
    assert merge_node(row, newer).facets == {"schema": 2}


def _plan(*events: dict) -> Planner:
    p = Planner()
    p.add_events([parse_event(json.dumps(e).encode()) for e in events])
    return p


def test_a_training_run_links_exact_input_versions_to_the_model_version() -> None:
    rid = "11111111-1111-4111-8111-111111111111"
    p = _plan(run_event(run_id=rid, inputs=[dataset("db", "features", version="v9")],
                        outputs=[model_output("credit", "7")], sha="a" * 40))
    edges = p.delta.edges
    run = f"run:{rid}"
    assert p.delta.reads[(run, "dataset:db:features")][1] == "v9"  # linked when applied (versions.py)
    assert (run, "modelVersion:ml-pipelines:credit#7", "produces") in edges
    assert ("job:ml-pipelines:train_credit_model", run, "executes") in edges
    assert (f"commit:https://git.example.com/ml/credit.git:{'a' * 40}", run, "built_from") in edges


def test_the_planner_records_reads_and_finished_writes_with_their_times() -> None:
    writer = "22222222-2222-4222-8222-222222222222"
    p = _plan(
        run_event(job="reader", time="2026-01-10T12:00:00Z", inputs=[dataset("db", "t")]),
        run_event(job="writer", run_id=writer, time="2026-01-10T11:00:00Z", outputs=[dataset("db", "t")]),
        run_event(job="writer", run_id=writer, event_type="START", time="2026-01-10T10:00:00Z"),
    )
    assert not [e for e in p.delta.edges if e[2] == "reads"]  # linked when applied, against every write stored
    ((run, ds), (t, named)), = p.delta.reads.items()
    assert ds == "dataset:db:t" and t.hour == 12 and named is None
    assert p.delta.writes[("dataset:db:t", writer)] == (f"run:{writer}", datetime(2026, 1, 10, 11, tzinfo=UTC))
    assert p.delta.run_starts[f"run:{writer}"].hour == 10
