"""Vector drawings for the PDF renderer: the executive-summary chart and the lineage diagrams.

Pure: takes plain dicts from the evidence bundle, returns reportlab.graphics ``Drawing`` objects.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, Group, Path, Rect, String
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from lineage import labels

from .pdf_text import clean

BOX_W = 170.0
BOX_H = 38.0
PAD = 14.0
# Above this many nodes the boxes are drawn without their labels (they would be unreadable and slow);
# above DIAGRAM_MAX_NODES the diagram is not drawn at all and the section says so.
LABEL_LIMIT = 1500
# Font sizes inside a box: at MIN_SCALE (the smallest a diagram is drawn at) the kind and badge print at 6 pt.
SMALL_FONT = 8.6
NAME_FONT = 9.5
MIN_SCALE = 0.7
DIAGRAM_MAX_NODES = 5000

# fill, stroke: the lineage kinds' colours (as the explorer draws them), plus the report-only kinds.
KIND_COLOURS: dict[str, tuple[str, str]] = {
    **labels.KIND_COLOURS,
    "model": labels.KIND_COLOURS["modelVersion"],
    "continuation": ("#ffffff", "#9ca3af"),  # a marker where a diagram split across pages goes on
    "document": ("#fce7f3", "#be185d"),
}
OTHER_COLOURS = labels.OTHER_COLOURS
BADGE = colors.HexColor("#b91c1c")
EDGE = colors.HexColor("#6b7280")

# Tags drawn as a red badge on the node. A diagram may name its own with ``sensitive_tags``.
SENSITIVE_TAGS = frozenset({"PHI", "PII", "PCI", "SPI", "SENSITIVE", "SPECIAL_CATEGORY", "BIOMETRIC", "CHILDREN"})


def fit(text: str, width: float, font: str, size: float) -> str:
    """``text`` cut with an ellipsis so that it is at most ``width`` points wide at ``size``."""
    if stringWidth(text, font, size) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if stringWidth(text[:mid] + "\u2026", font, size) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "\u2026"


def summary_chart(bars: Sequence[tuple[str, int, Any]], *, font: str, width: float = 420.0) -> Drawing:
    """A vertical bar chart of ``(label, count, colour)``; the count is printed above each bar."""
    height = 190.0
    d = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y = 40, 35
    chart.width, chart.height = width - 60, height - 55
    values = [max(int(c or 0), 0) for _, c, _ in bars]
    chart.data = [values]
    top = max(values + [1])
    step = max(1, math.ceil(top / 5))
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = step * (math.ceil(top / step) + 1)
    chart.valueAxis.valueStep = step
    chart.valueAxis.labelTextFormat = "%d"
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 8
    chart.categoryAxis.categoryNames = [label for label, _, _ in bars]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 8
    chart.bars.strokeColor = None
    for i, (_, _, colour) in enumerate(bars):
        chart.bars[(0, i)].fillColor = colour
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName = font
    chart.barLabels.fontSize = 8
    chart.barLabels.nudge = 7
    d.add(chart)
    return d


def positions_of(diagram: dict) -> dict[str, tuple[float, float]]:
    """Node id -> (x, y) from the bundle; recomputed with ``lineage.layout`` if any node lacks them."""
    nodes = [n for n in diagram.get("nodes") or [] if isinstance(n, dict)]
    out: dict[str, tuple[float, float]] = {}
    for n in nodes:
        x, y = n.get("x"), n.get("y")
        if not isinstance(x, int | float) or not isinstance(y, int | float) or isinstance(x, bool):
            break
        if not (math.isfinite(x) and math.isfinite(y)):
            break
        out[str(n.get("id"))] = (float(x), float(y))
    else:
        return out
    from lineage.layout import layout  # networkx only; imported lazily because most bundles carry positions

    ids = [str(n.get("id")) for n in nodes]
    edges = [(str(e.get("src")), str(e.get("dst"))) for e in diagram.get("edges") or [] if isinstance(e, dict)]
    placed = layout(ids, edges)
    return {str(k): (p.x, p.y) for k, p in placed.positions.items()}


@dataclass(frozen=True)
class Plan:
    """Where a diagram's nodes go and how much it is scaled: enough to know its size without drawing it."""

    pos: dict[str, tuple[float, float]]
    min_x: float
    min_y: float
    total_w: float
    total_h: float
    scale: float

    @property
    def size(self) -> tuple[float, float]:
        return self.total_w * self.scale, self.total_h * self.scale


def plan(diagram: dict, *, width: float, max_height: float) -> Plan | None:
    """The diagram's plan scaled to fit ``width`` x ``max_height``; ``None`` when it has no nodes or more
    than ``DIAGRAM_MAX_NODES`` (it is not drawn then)."""
    nodes = [n for n in diagram.get("nodes") or [] if isinstance(n, dict)]
    if not nodes or len(nodes) > DIAGRAM_MAX_NODES:
        return None
    pos = positions_of(diagram)
    if not pos:
        return None
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    min_x, min_y = min(xs), min(ys)
    total_w = max(xs) - min_x + BOX_W + 2 * PAD
    total_h = max(ys) - min_y + BOX_H + 2 * PAD
    return Plan(pos, min_x, min_y, total_w, total_h, min(1.0, width / total_w, max_height / total_h))


def lineage_drawing(
    diagram: dict,
    *,
    width: float,
    max_height: float,
    font: str,
    bold: str,
    sensitive: Iterable[str] = SENSITIVE_TAGS,
    planned: Plan | None = None,
) -> Drawing | None:
    """The diagram as vectors scaled to fit ``width`` x ``max_height``; ``None`` when ``plan`` says so.

    Nodes are rounded boxes coloured by kind (kind above, name below); edges are curves from the right
    side of the source to the left side of the target with an arrow head; nodes carrying a sensitive tag
    get a red badge naming it. Edges are one path and arrow heads another, so a 300-node diagram is a
    few hundred shapes, not thousands.
    """
    pl = planned or plan(diagram, width=width, max_height=max_height)
    if pl is None:
        return None
    nodes = [n for n in diagram.get("nodes") or [] if isinstance(n, dict)]
    sensitive_set = {clean(t).upper() for t in sensitive}
    pos, min_x, min_y, total_w, total_h, scale = pl.pos, pl.min_x, pl.min_y, pl.total_w, pl.total_h, pl.scale

    drawing = Drawing(total_w * scale, total_h * scale)
    group = Group()
    group.transform = (scale, 0, 0, scale, 0, 0)
    drawing.add(group)

    def left(x: float) -> float:
        return PAD + (x - min_x)

    def top(y: float) -> float:  # layout y grows downwards, PDF y upwards
        return total_h - PAD - (y - min_y)

    curves = Path(strokeColor=EDGE, strokeWidth=0.9, fillColor=None)
    heads = Path(strokeColor=None, fillColor=EDGE)
    for e in diagram.get("edges") or []:
        if not isinstance(e, dict):
            continue
        src, dst = pos.get(str(e.get("src"))), pos.get(str(e.get("dst")))
        if src is None or dst is None:
            continue
        x1, y1 = left(src[0]) + BOX_W, top(src[1]) - BOX_H / 2
        x2, y2 = left(dst[0]), top(dst[1]) - BOX_H / 2
        bend = max(abs(x2 - x1) / 2, 30.0)
        curves.moveTo(x1, y1)
        curves.curveTo(x1 + bend, y1, x2 - bend, y2, x2 - 6, y2)
        heads.moveTo(x2, y2)
        heads.lineTo(x2 - 7, y2 + 3.5)
        heads.lineTo(x2 - 7, y2 - 3.5)
        heads.closePath()
    group.add(curves)
    group.add(heads)

    labels = len(nodes) <= LABEL_LIMIT
    for n in nodes:
        p = pos.get(str(n.get("id")))
        if p is None:
            continue
        kind = clean(n.get("kind"))
        fill, stroke = KIND_COLOURS.get(kind, OTHER_COLOURS)
        x, y = left(p[0]), top(p[1]) - BOX_H
        group.add(Rect(x, y, BOX_W, BOX_H, rx=5, ry=5, fillColor=colors.HexColor(fill),
                       strokeColor=colors.HexColor(stroke), strokeWidth=0.8))
        tags = [clean(t) for t in n.get("tags") or [] if clean(t).upper() in sensitive_set]
        badge_w = 0.0
        if tags:
            badge = fit(" ".join(dict.fromkeys(tags)), 80, bold, SMALL_FONT)
            badge_w = stringWidth(badge, bold, SMALL_FONT) + 6
            group.add(Rect(x + BOX_W - badge_w - 3, y + BOX_H - 14, badge_w, 11.5, rx=2, ry=2,
                           fillColor=BADGE, strokeColor=None))
            group.add(String(x + BOX_W - badge_w, y + BOX_H - 11.2, badge, fontName=bold, fontSize=SMALL_FONT,
                             fillColor=colors.white))
        if labels:
            group.add(String(x + 6, y + BOX_H - 12, fit(kind, BOX_W - badge_w - 14, font, SMALL_FONT),
                             fontName=font, fontSize=SMALL_FONT, fillColor=colors.HexColor(stroke)))
            group.add(String(x + 6, y + 8, fit(clean(n.get("name") or n.get("id")), BOX_W - 12, font, NAME_FONT),
                             fontName=font, fontSize=NAME_FONT, fillColor=colors.black))
    return drawing


def legend_drawing(kinds: Iterable[str], *, font: str, bold: str, width: float) -> Drawing:
    """One small box per node kind present, plus the sensitive-tag badge, on one or two lines."""
    items = list(dict.fromkeys(kinds))
    d = Drawing(width, 16 * (1 + (len(items) + 1) // 6))
    x, y = 0.0, d.height - 13
    for kind in items:
        fill, stroke = KIND_COLOURS.get(kind, OTHER_COLOURS)
        label = fit(kind, 62, font, 7)
        d.add(Rect(x, y, 12, 9, rx=2, ry=2, fillColor=colors.HexColor(fill), strokeColor=colors.HexColor(stroke)))
        d.add(String(x + 15, y + 1.5, label, fontName=font, fontSize=7))
        x += 82
        if x + 82 > width:
            x, y = 0.0, y - 16
    d.add(Rect(x, y, 24, 9, rx=2, ry=2, fillColor=BADGE, strokeColor=None))
    d.add(String(x + 3, y + 2, "TAG", fontName=bold, fontSize=6.5, fillColor=colors.white))
    d.add(String(x + 28, y + 1.5, "sensitive tag", fontName=font, fontSize=7))
    return d
