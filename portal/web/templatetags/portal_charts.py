"""Small server-rendered SVG charts: no JavaScript, readable with CSS off (each bar has a title)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

WIDTH, HEIGHT, TOP, BOTTOM = 360, 110, 14, 18


@register.inclusion_tag("web/_bars.html")
def weekly_bars(weeks: list[Any], label: str, tone: str = "") -> dict[str, Any]:
    """Bars for ``weeks`` (objects with ``start`` and ``value``), the latest on the right."""
    peak = max([w.value for w in weeks] + [1])
    step = WIDTH / max(len(weeks), 1)
    plot = HEIGHT - TOP - BOTTOM
    bars = []
    for i, w in enumerate(weeks):
        h = round(plot * w.value / peak, 1)
        bars.append({"x": round(i * step + 2, 1), "y": round(TOP + plot - h, 1), "w": round(step - 4, 1),
                     "h": h, "value": w.value, "start": w.start, "label_x": round(i * step + step / 2, 1)})
    return {"bars": bars, "label": label, "tone": tone, "width": WIDTH, "height": HEIGHT, "peak": peak,
            "base": HEIGHT - BOTTOM, "total": sum(w.value for w in weeks), "latest": weeks[-1].value if weeks else 0,
            "first": weeks[0].start if weeks else None}
