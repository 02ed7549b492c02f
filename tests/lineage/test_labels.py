"""One label and one colour per node, wherever it is drawn: the pages, the explorer (through the graph API), the
PDF's facts and the erasure impact all print what ``lineage.labels.node_label`` says."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from lineage import labels
from lineage.models import Node, NodeKind
from lineage.openlineage import parse_event
from lineage.selectors import erasure_impact
from lineage.services import events_ingest
from portal.reports.pdf_draw import KIND_COLOURS
from portal.reports.selectors import _nodes
from portal.web.templatetags.portal_nodes import node_label as page_label
from tests.factories import dataset, deploy_facets, model_output, run_event

RUN = "5f1c0e7a-0000-4000-8000-000000000001"


def test_each_kind_has_its_label() -> None:
    assert labels.node_label(kind="run", name=RUN, job="train") == "train · 5f1c0e7a"
    assert labels.node_label(kind="deployment", name="credit", version="1.2", environment="prod") == \
        "credit v1.2 @ prod"
    assert labels.node_label(kind="modelVersion", name="credit", version="7") == "credit v7"
    assert labels.node_label(kind="commit", name="0123456789abcdef") == "0123456789"
    assert labels.node_label(kind="datasetVersion", name="cust", version="v" * 40) == "cust #" + "v" * 12
    assert labels.node_label(kind="dataset", name="cust") == "cust"


def test_every_kind_has_one_colour_pair_shared_with_the_pdf() -> None:
    assert set(labels.KIND_COLOURS) == set(NodeKind.values)
    for kind in NodeKind.values:
        assert KIND_COLOURS[kind] == labels.kind_colours(kind)


@pytest.mark.django_db
def test_pages_explorer_pdf_and_erasure_print_the_same_label(alice_client) -> None:
    events = [
        run_event(job="train", run_id=RUN, inputs=[dataset("bank", "cust", version="v1")],
                  outputs=[model_output("credit", "7")]),
        run_event(job="deploy", event_type="COMPLETE", time="2026-01-11T10:00:00Z",
                  run_facets=deploy_facets("credit", "7", "prod")),
    ]
    events_ingest(events=[parse_event(json.dumps(e).encode()) for e in events], by=None)
    model = Node.objects.get(kind="modelVersion")
    body = alice_client.get(f"/api/v1/nodes/{quote(model.node_id, safe='')}/graph", {"depth": 10}).json()
    explorer = {n["id"]: n["displayName"] for n in body["nodes"]}
    assert body["kinds"]["deployment"] == {"name": "Deployment", "fill": labels.kind_colours("deployment")[0],
                                           "stroke": labels.kind_colours("deployment")[1]}
    facts = {f.node_id: f.label for f in _nodes(None).values()}
    source = Node.objects.get(kind="dataset", name="cust")
    erasure = {a["node_id"]: a["name"] for a in erasure_impact(sources=[source])["affected"]}
    pages = {n.node_id: page_label(n) for n in Node.objects.select_related("parent")}
    assert {"run", "modelVersion", "deployment", "datasetVersion"} <= {n.kind for n in Node.objects.all()}
    for node_id, label in pages.items():
        for where, seen in (("explorer", explorer), ("pdf", facts), ("erasure", erasure)):
            if node_id in seen:
                assert seen[node_id] == label, (where, node_id)
    assert explorer[f"run:{RUN}"] == "train · 5f1c0e7a" and pages[f"run:{RUN}"] == "train · 5f1c0e7a"
    assert [v for k, v in erasure.items() if k.startswith("deployment:")] == ["credit v7 @ prod"]
