"""Words for the workpaper PDF: dates a person reads, counts in plain words, scope and period in a sentence.

Pure: bundle values in (ISO 8601 strings, ints, dicts), text out. Unparseable values come back as given, so a
malformed bundle still renders (and shows what it holds).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

SMALL = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
IRREGULAR = {"analysis": "analyses",
             "is": "are", "was": "were", "has": "have"}


def when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def human_date(value: Any, *, time: bool = False) -> str:
    """``2026-12-06T11:20:31.5Z`` -> ``6 December 2026`` (``, 11:20 UTC`` with ``time``)."""
    t = when(value)
    if t is None:
        return str(value) if value not in (None, "") else "\u2014"
    text = f"{t.day} {t:%B %Y}"
    return f"{text}, {t:%H:%M} UTC" if time else text


def plural(n: int, noun: str) -> str:
    if n == 1:
        return noun
    if noun in IRREGULAR:
        return IRREGULAR[noun]
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def number(n: Any) -> str:
    """12 and below in words, larger numbers with separators."""
    if not isinstance(n, int) or isinstance(n, bool):
        return str(n)
    return SMALL[n] if 0 <= n < len(SMALL) else f"{n:,}"


def count(n: Any, noun: str) -> str:
    """``count(1, "row")`` -> ``one row``; 12 and below in words, larger numbers with separators."""
    if not isinstance(n, int) or isinstance(n, bool):
        return f"{n} {noun}"
    number = SMALL[n] if 0 <= n < len(SMALL) else f"{n:,}"
    return f"{number} {plural(n, noun)}"


def period(start: Any, end: Any) -> str:
    """``6 December 2025 to 6 December 2026 (12 months)``."""
    a, b = when(start), when(end)
    if a is None or b is None:
        return f"{human_date(start)} to {human_date(end)}"
    days = (b - a).days
    months = round(days / 30.44)
    length = count(months, "month") if months >= 2 else count(max(days, 0), "day")
    return f"{human_date(a)} to {human_date(b)} ({length})"


def scope(scope: dict[str, Any]) -> str:
    """The scope in a sentence: ``the whole organisation`` or ``namespaces a and b; the model credit``."""
    parts = []
    for key, one, many in (("namespaces", "the namespace", "the namespaces"), ("models", "the model", "the models"),
                           ("tags", "data tagged", "data tagged")):
        items = [str(v) for v in scope.get(key) or [] if v]
        if items:
            listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
            parts.append(f"{one if len(items) == 1 else many} {listed}")
    if not parts:
        return "the whole organisation"
    return "; ".join(parts) + " (and what lies upstream of its models and downstream of its datasets)"
