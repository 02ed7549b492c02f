"""The explorer is legible before any interaction, in Chromium: node names at the body's font size at the
default zoom, no two boxes on top of each other, the start node in view however the user zooms, a fit control
and a minimap for graphs bigger than the canvas, full names on hover and in the panel, edges in words, and a
keyboard path that starts at the start node. Geometry is read from the page (bounding rects, screen matrices);
nothing here is timed."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from lineage import ids
from portal.demo import story as demo
from portal.reports.pdf_draw import KIND_COLOURS as PDF_COLOURS
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

MODEL = "modelVersion:clinical-ai:readmission#2"
WIDE = "dataset:s3://wide:source"

# Effective on-screen size of every node name, the body's font size, the canvas and each box, in CSS pixels.
GEOMETRY = """() => {
  const canvas = document.querySelector('#graph').getBoundingClientRect();
  const body = parseFloat(getComputedStyle(document.body).fontSize);
  const names = [...document.querySelectorAll('.gnode text.name')].map(
    t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
  const boxes = [...document.querySelectorAll('.gnode > rect')].map(r => {
    const b = r.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; });
  const root = document.querySelector('.gnode.root > rect').getBoundingClientRect();
  return {canvas: [canvas.left, canvas.top, canvas.right, canvas.bottom], body, names, boxes,
          root: [root.left, root.top, root.right, root.bottom]};
}"""


def explore(page: Any, node_id: str) -> dict[str, Any]:
    page.goto("/lineage/explore/?node=" + quote(node_id, safe=""))
    page.wait_for_selector(".gnode.root")
    return settled(page)


def settled(page: Any) -> dict[str, Any]:
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return page.evaluate(GEOMETRY)


def inside(box: list[float], frame: list[float]) -> bool:
    return box[0] >= frame[0] - 0.5 and box[1] >= frame[1] - 0.5 and box[2] <= frame[2] + 0.5 and \
        box[3] <= frame[3] + 0.5


def overlapping(boxes: list[list[float]]) -> list[tuple[int, int]]:
    found = []
    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            if a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5:
                found.append((i, j))
    return found


def wide_graph() -> None:
    """One table read by 200 jobs that each write their own: the explorer draws the 300 nearest nodes."""
    from lineage.openlineage import parse_event
    from lineage.services import events_ingest
    from tests.factories import dataset, run_event

    events = [run_event(job=f"fan_{i:03d}", namespace="wide", time="2026-01-10T10:00:00Z",
                        inputs=[dataset("s3://wide", "source", tags={"email": ["PII"]})],
                        outputs=[dataset("s3://wide", f"out_{i:03d}")]) for i in range(200)]
    events_ingest(events=[parse_event(json.dumps(e).encode()) for e in events], by=None)


def test_names_are_drawn_at_least_at_the_body_font_size_with_no_box_on_another(new_page) -> None:
    page = new_page(demo.SAM.username, demo.SAM.password)
    g = explore(page, MODEL)
    screenshot(page, "explorer-default")
    assert g["body"] >= 14 and len(g["names"]) >= 10
    assert min(g["names"]) >= g["body"] - 0.01, (min(g["names"]), g["body"])
    assert overlapping(g["boxes"]) == []
    assert inside(g["root"], g["canvas"])
    # Each kind is painted with the colours the PDF reports use (one table, lineage/labels.py).
    painted = page.evaluate("() => [...document.querySelectorAll('.gnode')].map(n => [n.getAttribute('class')"
                            ".split(' ')[1].slice(2), n.querySelector('rect').getAttribute('fill'), "
                            "n.querySelector('rect').getAttribute('stroke')])")
    assert {kind for kind, _, _ in painted} >= {"job", "run", "modelVersion", "deployment", "commit"}
    for kind, fill, stroke in painted:
        assert (fill, stroke) == PDF_COLOURS[kind], kind
    # The canvas is not a thin strip: the graph fills it on at least one axis, and it is as tall as the graph needs.
    drawn = [min(b[0] for b in g["boxes"]), min(b[1] for b in g["boxes"]), max(b[2] for b in g["boxes"]),
             max(b[3] for b in g["boxes"])]
    cw, ch = g["canvas"][2] - g["canvas"][0], g["canvas"][3] - g["canvas"][1]
    assert (drawn[2] - drawn[0]) / cw > 0.6 or (drawn[3] - drawn[1]) / ch > 0.6, (drawn, g["canvas"])


def test_a_300_node_graph_stays_legible_and_offers_a_minimap_and_a_fit_control(new_page) -> None:
    wide_graph()
    page = new_page(demo.SAM.username, demo.SAM.password)
    g = explore(page, WIDE)
    assert len(g["names"]) == 300
    assert min(g["names"]) >= g["body"] - 0.01
    assert overlapping(g["boxes"]) == []
    assert inside(g["root"], g["canvas"])
    minimap = page.locator("#minimap")
    screenshot(page, "explorer-300-default")
    assert minimap.is_visible() and minimap.locator("rect.mini-view").count() == 1
    screenshot(page, "explorer-300-default")
    page.get_by_role("button", name="Fit the whole graph in the canvas").click()
    g = settled(page)
    assert all(inside(b, g["canvas"]) for b in g["boxes"])
    assert not minimap.is_visible()
    screenshot(page, "explorer-300-fit")
    page.get_by_role("button", name="Back to the start node at reading size").click()
    g = settled(page)
    assert min(g["names"]) >= g["body"] - 0.01 and inside(g["root"], g["canvas"])
    # The minimap moves the view: a click on its far end brings other nodes into the canvas.
    before = page.get_attribute("#viewport", "transform")
    box = minimap.bounding_box()
    page.mouse.click(box["x"] + box["width"] - 3, box["y"] + box["height"] - 3)
    settled(page)
    assert page.get_attribute("#viewport", "transform") != before


def test_zooming_in_and_out_keeps_the_start_node_in_view(new_page) -> None:
    page = new_page(demo.SAM.username, demo.SAM.password)
    g = explore(page, MODEL)
    for _ in range(6):
        page.get_by_role("button", name="Zoom in").click()
        g = settled(page)
        assert inside(g["root"], g["canvas"])
    for _ in range(12):
        page.get_by_role("button", name="Zoom out").click()
        g = settled(page)
        assert inside(g["root"], g["canvas"])
    # The wheel zooms about the pointer, even far from the start node: the start node is kept in view.
    page.get_by_role("button", name="Back to the start node at reading size").click()
    corner = settled(page)["canvas"]
    for x, y in ((corner[0] + 5, corner[1] + 5), (corner[2] - 5, corner[3] - 5)):
        page.mouse.move(x, y)
        for _ in range(8):
            page.mouse.wheel(0, -200)
            g = settled(page)
            assert inside(g["root"], g["canvas"]), (x, y, g["root"], g["canvas"])
        for _ in range(8):
            page.mouse.wheel(0, 200)
        assert inside(settled(page)["root"], g["canvas"])


def test_the_keyboard_starts_at_the_start_node_and_moves_along_the_edges(new_page) -> None:
    page = new_page(demo.SAM.username, demo.SAM.password)
    explore(page, MODEL)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "skip-to-start"
    page.keyboard.press("Enter")
    focused = page.evaluate("() => document.activeElement.getAttribute('class')")
    assert "gnode" in focused and "root" in focused
    start = page.evaluate("() => document.activeElement.dataset.id")
    assert start == MODEL
    edges = page.evaluate("() => [...document.querySelectorAll('.gedge')].map(e => [e.dataset.source, "
                          "e.dataset.target])")
    horizontal = "tb" not in (page.get_attribute("#graph", "class") or "")
    page.keyboard.press("ArrowLeft" if horizontal else "ArrowUp")  # upstream: the run that produced the model
    upstream = page.evaluate("() => document.activeElement.dataset.id")
    assert [upstream, start] in edges
    assert page.locator("#graph-tip").is_visible()  # the focused node's full name is shown
    page.keyboard.press("ArrowRight" if horizontal else "ArrowDown")
    assert page.evaluate("() => document.activeElement.dataset.id") in {t for s, t in edges if s == upstream}
    page.keyboard.press("Home")
    assert page.evaluate("() => document.activeElement.dataset.id") == start
    page.keyboard.press("Enter")
    page.locator("#panel dl").wait_for()
    # One tab stop for the whole graph: Tab leaves it for the panel, not for the next of its nodes.
    page.keyboard.press("Tab")
    assert "gnode" not in (page.evaluate("() => document.activeElement.getAttribute('class')") or "")
    assert page.locator(".gnode[tabindex='0']").count() == 1


def test_long_names_lose_their_middle_and_show_whole_on_hover_and_in_the_panel(new_page) -> None:
    from lineage.openlineage import parse_event
    from lineage.services import events_ingest
    from tests.factories import dataset, run_event

    name = "warehouse.customer_interactions_enriched_with_marketing_consent_2026_q1_final"
    ev = run_event(job="enrich", namespace="sandbox", inputs=[dataset("s3://sandbox", "raw")],
                   outputs=[dataset("s3://sandbox", name)])
    events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)
    page = new_page(demo.SAM.username, demo.SAM.password)
    explore(page, f"dataset:s3://sandbox:{name}")
    drawn = page.locator(".gnode.root text.name").text_content()
    assert "…" in drawn and drawn.startswith(name[:8]) and drawn.endswith(name[-6:]), drawn
    page.locator(".gnode.root").hover()
    assert name in page.locator("#graph-tip").inner_text()
    page.locator(".gnode.root").click()
    page.locator("#panel dl").wait_for()
    assert name in page.inner_text("#panel-title") and name in page.inner_text("#panel dl")


def test_edges_are_named_in_words(new_page) -> None:
    page = new_page(demo.SAM.username, demo.SAM.password)
    explore(page, MODEL)
    titles = page.evaluate("() => [...document.querySelectorAll('.gedge > title')].map(t => t.textContent)")
    assert titles and not any("_" in t.split(": ", 1)[1] for t in titles)
    assert any(": built from" in t for t in titles) and any(": produces" in t for t in titles)
    page.locator(".gnode.root").hover()
    assert "produces" in page.locator(".edge-label text").all_text_contents()
    page.locator(".gnode.root").click()
    assert "produces" in page.locator("#panel .edges-list").inner_text()
    screenshot(page, "explorer-hover")


def test_kinds_and_names_are_shown_as_written_not_upper_cased(new_page) -> None:
    """Issue 21 found job names and kinds upper-cased in the explorer (a CSS text-transform): what the reader
    sees (innerText applies text-transform) must be the words as written, in the drawing and in the panel."""
    page = new_page(demo.SAM.username, demo.SAM.password)
    explore(page, MODEL)
    kinds = page.evaluate("() => [...document.querySelectorAll('.gnode text.k')].map(t => t.textContent)")
    assert "Job" in " ".join(kinds), kinds
    shown = page.evaluate("""() => [...document.querySelectorAll('.gnode text')].map(t =>
        getComputedStyle(t).textTransform)""")
    assert shown and set(shown) == {"none"}, set(shown)
    page.locator(".gnode.root").click()
    page.locator("#panel dl").wait_for()
    panel = page.locator("#panel").inner_text()
    assert "Model version" in panel, panel[:300]
    assert "MODEL VERSION" not in panel


def test_the_turn_button_redraws_the_graph_the_other_way_round_still_legible(new_page) -> None:
    page = new_page(demo.SAM.username, demo.SAM.password)
    explore(page, MODEL)
    before = "tb" in (page.get_attribute("#graph", "class") or "")
    page.get_by_role("button", name="Turn the graph").click()
    g = settled(page)
    assert ("tb" in (page.get_attribute("#graph", "class") or "")) != before
    assert min(g["names"]) >= g["body"] - 0.01 and overlapping(g["boxes"]) == [] and inside(g["root"], g["canvas"])
    screenshot(page, "explorer-turned")


# The zoom column's box and every node's, after the view settles.
CONTROLS = """() => {
  const z = document.querySelector('.canvas .zoom').getBoundingClientRect();
  const boxes = [...document.querySelectorAll('.gnode')].map(g => {
    const b = g.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; });
  return {controls: [z.left, z.top, z.right, z.bottom], boxes};
}"""


def chain_graph() -> None:
    """A table read by one run that writes another: downstream of the table's version, three layers (version, run,
    version) that left to right fill the canvas's width at the default view (the fit is bound by the width)."""
    from lineage.openlineage import parse_event
    from lineage.services import events_ingest
    from tests.factories import dataset, run_event

    event = run_event(job="chain_step", namespace="chain", inputs=[dataset("s3://chain", "first")],
                      outputs=[dataset("s3://chain", "second")])
    events_ingest(events=[parse_event(json.dumps(event).encode())], by=None)


def test_no_node_is_drawn_under_the_zoom_buttons_at_the_default_view_or_after_fit(new_page) -> None:
    chain_graph()
    page = new_page(demo.SAM.username, demo.SAM.password)
    page.goto("/lineage/explore/?direction=downstream&node=" + quote(ids.dataset_version_id("s3://chain", "first",
                                                                                            "initial"), safe=""))
    page.wait_for_selector(".gnode.root")
    g = settled(page)
    screenshot(page, "explorer-controls-clear")
    assert len(g["boxes"]) >= 3
    # the graph fills the canvas's width: its right end reaches the controls' column without the padding
    assert max(b[2] for b in g["boxes"]) - min(b[0] for b in g["boxes"]) > 0.7 * (g["canvas"][2] - g["canvas"][0])
    for view in ("default", "fit"):
        if view == "fit":
            page.get_by_role("button", name="Fit the whole graph in the canvas").click()
            settled(page)
            screenshot(page, "explorer-controls-clear-fit")
        c = page.evaluate(CONTROLS)
        under = [b for b in c["boxes"] if overlapping([b, c["controls"]])]
        assert under == [], (view, c["controls"], under)
