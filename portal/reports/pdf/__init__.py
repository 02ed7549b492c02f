"""Render a report's evidence bundle (docs/evidence-bundle.md) as a PDF with reportlab's platypus.

Pure: takes the bundle dict and returns bytes; no ORM, no clock (times come from the bundle), so the same
bundle gives the same PDF. Every string from the bundle is user data: Paragraph text goes through
``pdf_text.para`` (escaped), table cells are plain strings wrapped by ``pdf_text.wrap`` (never parsed as
markup). Very long tables are cut at ``ROW_CAP`` rows with a note pointing at the JSON bundle, which keeps
a report over tens of thousands of lineage nodes within a minute.

The document is built twice (``multiBuild``): the first pass finds the page of every heading for the table
of contents and the page count for the "page N of M" footer, the second draws them. The table of contents
is seeded with its entries before the first pass so that it already takes its final number of pages, which
is what keeps it to two passes.

The package: ``document`` (fonts, styles, progress, the document template), ``base`` (the building blocks),
one module per family of sections (``summary``, ``controls``, ``lineage``, ``release``, ``erasure``,
``appendix``) and ``story``, which puts a report's sections in order.
"""

from __future__ import annotations

import io
import time

from ..pdf_text import clean
from .base import ROW_CAP, _dict, _pdf_date, _title
from .document import HEARTBEAT, Progress, _Doc, _fonts, _Ticker
from .story import Story

__all__ = ["HEARTBEAT", "ROW_CAP", "Progress", "_Ticker", "_fonts", "render", "time"]


def render(bundle: dict, *, progress: Progress | None = None) -> bytes:
    """The PDF for ``bundle``; calls ``progress(percent, step)`` as it goes, non-decreasing, ending at 100."""
    ticker = _Ticker(progress)
    ticker.report(0, "preparing")
    bundle = bundle if isinstance(bundle, dict) else {}
    fonts = _fonts()
    report = _dict(bundle.get("report"))
    report_id = clean(report.get("id") or "unknown")
    buf = io.BytesIO()
    doc = _Doc(buf, report_id=report_id, fonts=fonts, ticker=ticker, title=_title(report),
               created=_pdf_date(report.get("generated_at")), organisation=clean(report.get("organisation") or ""),
               marking=clean(report.get("marking") or ""))
    story = Story(bundle, doc=doc, fonts=fonts, ticker=ticker).build()
    ticker.report(5, "layout")
    doc.multiBuild(story, canvasmaker=doc.canvas)
    ticker.report(100, "done")
    return buf.getvalue()
