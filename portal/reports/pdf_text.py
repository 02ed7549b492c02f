"""Text helpers for the PDF renderer: make user strings safe to print literally. Pure: no ORM, no drawing.

Every string in an evidence bundle is user data. reportlab reads ``Paragraph`` text as markup, so it is
escaped there; table cells take plain strings (never parsed) that we wrap ourselves, so a 300-character id
or a sha256 digest breaks across lines instead of running out of its column.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape

from reportlab.pdfbase.pdfmetrics import stringWidth

from portal.lib.text import neutralise

# C0 controls (tab, newline and carriage return become spaces), DEL, and lone surrogates that a JSON
# document may carry but no PDF string can encode.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|[\ud800-\udfff]")
_SPACES = re.compile(r"[\t\n\r]")
# Places where a long token may break without a hyphen: after these characters.
_BREAK_AFTER = frozenset("/:.-_@,;=&?#")

MISSING = "\u2014"  # an em dash for absent values


def clean(value: Any, *, keep_newlines: bool = False) -> str:
    """The display form of ``value``: ``None`` is an em dash, controls and NUL are dropped, invisible format
    characters shown as their code point (``portal.lib.text.neutralise``, as on every page), the rest kept."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = value if isinstance(value, str) else str(value)
    text = neutralise(_CONTROLS.sub("", text))
    if not keep_newlines:
        text = _SPACES.sub(" ", text)
    else:
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return text


def para(value: Any) -> str:
    """``value`` as Paragraph markup that prints literally (``<b>``, ``&amp;`` and ``<para>`` included)."""
    return escape(clean(value))


def shorten(value: Any, limit: int) -> str:
    """The clean text cut to ``limit`` characters with an ellipsis, for titles, outline entries and labels."""
    text = clean(value)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "\u2026"


def wrap(value: Any, width: float, font: str, size: float, *, max_lines: int = 60) -> str:
    """Plain text broken into lines no wider than ``width`` points, for a table cell.

    Breaks at spaces where it can, after ``/:.-_@`` inside long tokens, and anywhere in a token with none
    of those (hex digests). More than ``max_lines`` lines are cut with a note, so no row is taller than
    a page; the full value is in the JSON bundle.
    """
    text = clean(value, keep_newlines=True)
    if width <= 0:
        return text
    if "\n" not in text and stringWidth(text, font, size) <= width:
        return text
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap_line(paragraph, width, font, size))
        if len(lines) > max_lines:
            break
    if len(lines) > max_lines:
        room = max_lines - len(_wrap_line(_note(len(text)), width, font, size))
        shown = lines[: max(room, 1)]
        rest = len(text) - sum(len(x) for x in shown)
        lines = shown + _wrap_line(_note(rest), width, font, size)
    return "\n".join(lines)


def _note(count: int) -> str:
    return f"\u2026 {count:,} more characters in the JSON bundle"


def _wrap_line(text: str, width: float, font: str, size: float) -> list[str]:
    if stringWidth(text, font, size) <= width:
        return [text]
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if stringWidth(candidate, font, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
            current = ""
        if stringWidth(word, font, size) <= width:
            current = word
            continue
        pieces = _split_token(word, width, font, size)
        lines.extend(pieces[:-1])
        current = pieces[-1]
    lines.append(current)
    return lines


def _split_token(token: str, width: float, font: str, size: float) -> list[str]:
    """Cut one word wider than ``width``: prefer the last break character that fits, else cut hard."""
    pieces: list[str] = []
    start = 0
    n = len(token)
    while start < n:
        # Grow a piece character by character; widths are additive for our fonts (no kerning).
        used = 0.0
        end = start
        last_break = -1
        while end < n:
            w = stringWidth(token[end], font, size)
            if used + w > width and end > start:
                break
            used += w
            if token[end] in _BREAK_AFTER:
                last_break = end + 1
            end += 1
        if end < n and last_break > start + (end - start) // 2:
            end = last_break
        pieces.append(token[start:end])
        start = end
    return pieces
