"""Compact server-rendered SVG for the compliance posture: a stacked status bar and a sparkline of failures."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

BAR_W, BAR_H, SPARK_W, SPARK_H = 160, 12, 120, 24


@register.inclusion_tag("reports/_status_bar.html")
def status_bar(snapshot: Any) -> dict[str, Any]:
    """One bar split into pass / fail / not applicable / not evaluated / evidence, in proportion."""
    parts = [("pass", snapshot.passed), ("fail", snapshot.failed), ("not_applicable", snapshot.not_applicable),
             ("not_evaluated", snapshot.not_evaluated),
             ("evidence", snapshot.evidence)]
    total = sum(n for _, n in parts) or 1
    x, segments = 0.0, []
    for status, n in parts:
        w = round(BAR_W * n / total, 1)
        if n:
            segments.append({"status": status, "x": round(x, 1), "w": w, "n": n})
        x += w
    return {"segments": segments, "width": BAR_W, "height": BAR_H,
            "label": ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in parts)}


@register.inclusion_tag("reports/_sparkline.html")
def failing_sparkline(points: list[Any]) -> dict[str, Any]:
    """Failing controls at each evaluation, oldest on the left."""
    peak = max([p.value for p in points] + [1])
    step = min(SPARK_W / max(len(points), 1), 12)  # the latest on the right, bars at most 10 px wide
    left = SPARK_W - step * len(points)
    bars = [{"x": round(left + i * step + 1, 1), "w": round(max(step - 2, 1), 1),
             "h": round((SPARK_H - 2) * p.value / peak, 1), "value": p.value, "at": p.start}
            for i, p in enumerate(points)]
    for b in bars:
        b["y"] = round(SPARK_H - b["h"], 1)
    return {"bars": bars, "width": SPARK_W, "height": SPARK_H,
            "label": f"failing controls over the last {len(points)} evaluations: "
                     + ", ".join(str(p.value) for p in points)}
