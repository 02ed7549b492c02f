"""One way to show things on every page (loaded as a template builtin in settings).

- ``{{ value|when }}``: a date-time as absolute UTC to the second, no microseconds, with a relative hint
  (``2026-12-06 13:04:05 UTC`` and "3 hours ago" beside it); ``|when:"day"`` for the date alone;
  ``|when:"plain"`` and ``|when:"plain-day"`` for the same text without markup (inside an SVG ``<title>``).
- ``{{ value|pretty_json }}``: a payload as indented JSON, not Python's dict syntax.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.timesince import timesince, timeuntil

register = template.Library()


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, str):
        value = parse_datetime(value.strip())
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, dt.UTC)
    return None


def relative(moment: dt.datetime, now: dt.datetime | None = None) -> str:
    """"3 hours ago", "in 2 days" or "just now": the coarsest unit only."""
    now = now or timezone.now()
    if abs((now - moment).total_seconds()) < 60:
        return "just now"
    if moment <= now:
        return f"{timesince(moment, now, depth=1)} ago"
    return f"in {timeuntil(moment, now, depth=1)}"


@register.filter
def when(value: Any, style: str = "") -> str:
    """``<time>`` in UTC with the relative hint; empty input gives "" so ``|default:"never"`` still works."""
    moment = _as_datetime(value)
    if moment is None:
        if isinstance(value, dt.date):
            if style.startswith("plain"):
                return value.isoformat()
            return format_html('<time datetime="{}">{}</time>', value.isoformat(), value.isoformat())
        return "" if value in (None, "") else str(value)
    utc = moment.astimezone(dt.UTC).replace(microsecond=0)
    iso = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    hint = relative(utc)
    full = utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    shown = utc.strftime("%Y-%m-%d") if style in ("day", "plain-day") else full
    if style.startswith("plain"):
        return shown
    return format_html('<time datetime="{}" title="{}">{}</time> <span class="ago">({})</span>', iso, full, shown,
                       hint)


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON with sorted keys; values JSON cannot carry (dates, decimals) as their text."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)

