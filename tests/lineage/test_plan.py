"""The merge rules and the planner: pure, no database."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lineage.openlineage import parse_event
from lineage.plan import (
    _MISSING,
    GraphDelta,
    NodeDelta,
    NodeRow,
    Planner,
    _as_row,
    _newer,
    _state_rank,
    merge_node,
    run_state_merge,
    stamp,
)
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


# -- the in-place merge against the rule as it was written first (copying, key by key) ------------------------
# ``_reference_merge`` is ``merge_node`` before the planner merged in place (commit 069e4b8), kept here verbatim
# as the specification: random stored rows and deltas must merge to the same node either way.
def _reference_keys(cur, cur_t, new, new_t, untimed):
    out, times = dict(cur), dict(cur_t)
    for key in new_t.keys() | new.keys():
        nt = new_t.get(key, "")
        nv = new.get(key, _MISSING)
        ct = times.get(key, untimed)
        cv = out.get(key, _MISSING)
        if (key in cur_t or key in cur) and not _newer(ct, None if cv is _MISSING else cv, nt,
                                                       None if nv is _MISSING else nv):
            continue
        times[key] = nt
        if nv is _MISSING:
            out.pop(key, None)
        else:
            out[key] = nv
    return out, times


def _reference_merge(cur: NodeRow, delta: NodeDelta) -> NodeRow:
    new = _as_row(delta)
    ct, nt = cur.times or {}, new.times
    untimed = stamp(cur.event_time)
    facets, ftimes = _reference_keys(cur.facets, ct.get("facets", {}), new.facets, nt.get("facets", {}), untimed)
    attrs, atimes = _reference_keys(cur.attrs, ct.get("attrs", {}), new.attrs, nt.get("attrs", {}), untimed)
    times = {"facets": ftimes, "attrs": atimes}
    owners, otime = cur.owners, ct.get("owners", untimed if cur.owners else "")
    if new.owners and (not cur.owners or _newer(otime, cur.owners, nt.get("owners", ""), new.owners)):
        owners, otime = new.owners, nt.get("owners", "")
    if otime:
        times["owners"] = otime
    state, stime = cur.state, ct.get("state", untimed if cur.state else "")
    if new.state and (not cur.state or _state_rank(new.state, nt.get("state", ""), delta.kind)
                      > _state_rank(cur.state, stime, delta.kind)):
        state, stime = new.state, nt.get("state", "")
    if stime:
        times["state"] = stime
    return NodeRow(facets=facets, attrs=attrs, owners=owners, state=state,
                   deidentifies=cur.deidentifies or delta.deidentifies,
                   event_time=max((t for t in (cur.event_time, delta.event_time) if t is not None), default=None),
                   times=times)


def _reference_fold(deltas: list[NodeDelta]) -> NodeDelta:
    """``GraphDelta.add`` as it was: every mention merged into a copy of what the node held."""
    cur = copy.deepcopy(deltas[0])
    for d in deltas[1:]:
        row = _reference_merge(_as_row(cur), d)
        cur.facets, cur.attrs, cur.owners, cur.times = row.facets, row.attrs, row.owners, row.times
        cur.state, cur.deidentifies, cur.event_time = row.state, row.deidentifies, row.event_time
        cur.deleted_facets = {n for n in row.times.get("facets", {}) if n not in row.facets}
        cur.parent_node_id = cur.parent_node_id or d.parent_node_id
    return cur


_TIMES = [datetime(2026, 1, 1, h, tzinfo=UTC) for h in (1, 2, 3)]
_KEYS = st.sampled_from(["a", "b", "c", "d"])
_VALUES = st.one_of(st.none(), st.integers(0, 2), st.sampled_from(["x", "y"]),
                    st.fixed_dictionaries({"v": st.integers(0, 2)}))
_STAMPS = st.sampled_from([stamp(t) for t in _TIMES] + [""])


@st.composite
def _deltas(draw: st.DrawFn, kind: str) -> NodeDelta:
    facets = draw(st.dictionaries(_KEYS, _VALUES, max_size=3))
    state = draw(st.sampled_from(["", "RUNNING", "COMPLETED", "FAILED"] if kind == "run" else ["", "active",
                                                                                                "retired"]))
    t = draw(st.sampled_from([*_TIMES, None]))
    return NodeDelta("n", kind, "ns", "x", parent_node_id=draw(st.sampled_from([None, "p", "q"])), facets=facets,
                     deleted_facets=draw(st.sets(_KEYS, max_size=2)),
                     attrs=draw(st.dictionaries(_KEYS, _VALUES, max_size=3)),
                     owners=draw(st.sampled_from([[], ["o1"], ["o2", "o1"]])), state=state,
                     state_time=draw(st.sampled_from([*_TIMES, None])) if state else None,
                     deidentifies=draw(st.booleans()), event_time=t)


@st.composite
def _rows(draw: st.DrawFn) -> NodeRow:
    facets = draw(st.dictionaries(_KEYS, _VALUES, max_size=3))
    attrs = draw(st.dictionaries(_KEYS, _VALUES, max_size=3))
    times: dict = {}
    if draw(st.booleans()):  # else a row from before times were kept
        times = {"facets": draw(st.dictionaries(_KEYS, _STAMPS, max_size=4)),
                 "attrs": draw(st.dictionaries(_KEYS, _STAMPS, max_size=4))}
        for part in ("owners", "state"):
            if draw(st.booleans()):
                times[part] = draw(_STAMPS)
    return NodeRow(facets, attrs, draw(st.sampled_from([[], ["o1"], ["o3"]])),
                   draw(st.sampled_from(["", "RUNNING", "COMPLETED", "active"])), draw(st.booleans()),
                   draw(st.sampled_from([*_TIMES, None])), times)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(kind=st.sampled_from(["run", "dataset"]), data=st.data())
def test_the_in_place_merge_gives_the_node_the_copying_rule_gave(kind: str, data: st.DataObject) -> None:
    deltas = data.draw(st.lists(_deltas(kind), min_size=1, max_size=6))
    graph = GraphDelta()
    for d in copy.deepcopy(deltas):
        graph.add(d)
    folded, expected = graph.nodes["n"], _reference_fold(deltas)
    assert _as_row(folded) == _as_row(expected)
    assert folded.deleted_facets == expected.deleted_facets
    assert folded.parent_node_id == expected.parent_node_id
    # against a stored row, with one event's delta and with the batch's merged one; the row is left as it was
    row = data.draw(_rows())
    before = copy.deepcopy(row)
    for d in (deltas[-1], folded):
        assert merge_node(row, d) == _reference_merge(copy.deepcopy(row), d)
        assert row == before
