"""Every real OpenLineage event from the shared corpus is accepted and graphed exactly."""

from __future__ import annotations

import json

import pytest

from lineage import ids
from lineage.models import Edge, Node
from tests.conftest import post_event, real_events

pytestmark = pytest.mark.django_db


def test_every_real_event_is_accepted_and_the_graph_holds_exactly_its_inputs_and_outputs(ingest_client) -> None:
    paths = real_events()
    assert len(paths) >= 30
    for path in paths:
        r = post_event(ingest_client, path.read_bytes())
        assert r.status_code in (200, 201), (path.name, r.content)
    for path in paths:
        doc = json.loads(path.read_bytes())
        run = Node.objects.get(node_id=ids.run_id(doc["run"]["runId"]))
        read = {(n.namespace, n.name) for n in Node.objects.filter(out_edges__dst=run, out_edges__kind="reads")}
        written = {(n.namespace, n.name) for n in Node.objects.filter(in_edges__src=run, in_edges__kind="writes")}
        assert {(d["namespace"], d["name"]) for d in doc.get("inputs", [])} <= read, path.name
        assert {(d["namespace"], d["name"]) for d in doc.get("outputs", [])} <= written, path.name
    # and nothing else: every read/write edge comes from some event that names it
    named_in = {(r["runId"], d["namespace"], d["name"]) for p in paths
                for doc in [json.loads(p.read_bytes())] for r in [doc["run"]] for d in doc.get("inputs", [])}
    named_out = {(r["runId"], d["namespace"], d["name"]) for p in paths
                 for doc in [json.loads(p.read_bytes())] for r in [doc["run"]] for d in doc.get("outputs", [])}
    for e in Edge.objects.filter(kind="reads").select_related("src", "dst"):
        assert (e.dst.name, e.src.namespace, e.src.name) in named_in
    for e in Edge.objects.filter(kind="writes").select_related("src", "dst"):
        assert (e.src.name, e.dst.namespace, e.dst.name) in named_out
