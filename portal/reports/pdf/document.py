"""The PDF document: fonts and styles, progress reporting, the flowables the story is made of beyond
reportlab's own, and the document template that builds it in two passes (see ``__init__``)."""

from __future__ import annotations

import functools
import io
import os
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import PDFArray, PDFName, PDFStream
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageTemplate, Paragraph

from .. import pdf_draw
from ..pdf_text import para, shorten

Progress = Callable[[int, str], None]

MARGIN = 48.0
HEADING_LIMIT = 200  # characters of a title printed in a heading; a longer title follows in full
OUTLINE_LIMIT = 120  # characters of a title in the table of contents and the PDF outline
HEARTBEAT = 0.5  # seconds: progress is reported at least this often while building (callers may throttle)


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str
    mono: str


FONT_FILES = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf", "mono": "DejaVuSansMono.ttf"}
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF")


@functools.cache
def _fonts() -> Fonts:
    """DejaVu (wide Unicode coverage, so names in any Latin, Greek, Cyrillic or Hebrew script print) when
    installed, else the PDF base fonts, which show characters outside Latin-1 as a box but never fail."""
    dirs = [os.environ.get("PORTAL_PDF_FONT_DIR", ""), *FONT_DIRS, *rl_config.TTFSearchPath]
    found: dict[str, str] = {}
    for role, name in FONT_FILES.items():
        for d in dirs:
            path = os.path.join(d, name) if d else ""
            if path and os.path.isfile(path):
                found[role] = path
                break
    if len(found) != len(FONT_FILES):
        return Fonts("Helvetica", "Helvetica-Bold", "Courier")
    try:
        for role, path in found.items():
            pdfmetrics.registerFont(TTFont(f"LP-{role}", path))
    except Exception:  # a broken font file must not stop a report
        return Fonts("Helvetica", "Helvetica-Bold", "Courier")
    pdfmetrics.registerFontFamily("LP-regular", normal="LP-regular", bold="LP-bold", italic="LP-regular",
                                  boldItalic="LP-bold")
    return Fonts("LP-regular", "LP-bold", "LP-mono")


def _styles(f: Fonts) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=f.regular, fontSize=9, leading=12, spaceAfter=4)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5, textColor=colors.HexColor("#374151")),
        "note": ParagraphStyle("note", parent=base, fontSize=8, leading=10, textColor=colors.HexColor("#6b7280")),
        "warn": ParagraphStyle("warn", parent=base, fontName=f.bold, textColor=colors.HexColor("#b91c1c")),
        "mono": ParagraphStyle("mono", parent=base, fontName=f.mono, fontSize=7.5, leading=9.5),
        "label": ParagraphStyle("label", parent=base, fontName=f.bold, fontSize=9, spaceBefore=6, spaceAfter=3,
                                keepWithNext=1),
        "org": ParagraphStyle("org", parent=base, fontName=f.bold, fontSize=12, leading=15, spaceAfter=14,
                              textColor=colors.HexColor("#1f2937")),
        "marking": ParagraphStyle("marking", parent=base, fontName=f.bold, fontSize=9, leading=12, spaceAfter=12,
                                  textColor=colors.HexColor("#991b1b")),
        "title": ParagraphStyle("title", parent=base, fontName=f.bold, fontSize=22, leading=27, spaceAfter=10),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=13, leading=17, spaceAfter=18,
                                   textColor=colors.HexColor("#374151")),
        "h0": ParagraphStyle("h0", parent=base, fontName=f.bold, fontSize=15, leading=19, spaceBefore=6,
                             spaceAfter=8, keepWithNext=1),
        "h1": ParagraphStyle("h1", parent=base, fontName=f.bold, fontSize=11.5, leading=14.5, spaceBefore=10,
                             spaceAfter=5, keepWithNext=1),
        "h2": ParagraphStyle("h2", parent=base, fontName=f.bold, fontSize=10, leading=13, spaceBefore=8,
                             spaceAfter=4, keepWithNext=1),
        "toc0": ParagraphStyle("toc0", parent=base, fontName=f.bold, fontSize=10, leading=13, spaceBefore=4),
        "toc1": ParagraphStyle("toc1", parent=base, fontSize=8.5, leading=10.5, leftIndent=14),
        "toc2": ParagraphStyle("toc2", parent=base, fontSize=8, leading=10, leftIndent=28),
        "center": ParagraphStyle("center", parent=base, alignment=TA_CENTER),
    }


# -- progress ---------------------------------------------------------------------------------------------


class _Ticker:
    """Forwards progress to the caller: never backwards, and again at least every ``HEARTBEAT`` seconds."""

    def __init__(self, callback: Progress | None) -> None:
        self.callback = callback
        self.percent = -1
        self.step = ""
        self.at = time.monotonic()

    def report(self, percent: float, step: str) -> None:
        if self.callback is None:
            return
        pct = max(self.percent, min(int(percent), 100))
        if pct != self.percent or step != self.step or time.monotonic() - self.at >= HEARTBEAT:
            self.percent, self.step, self.at = pct, step, time.monotonic()
            self.callback(pct, step)

    def tick(self) -> None:
        if self.callback is not None and time.monotonic() - self.at >= HEARTBEAT:
            self.report(max(self.percent, 0), self.step)


class _Mark(Flowable):
    """Zero-size marker: "this far through the story", turned into a progress report when laid out."""

    def __init__(self, fraction: float, step: str) -> None:
        super().__init__()
        self.fraction, self.step = fraction, step

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        pass


class _Heading(Paragraph):
    """A section title that becomes a table-of-contents entry and a PDF outline entry."""

    def __init__(self, title: str, style: ParagraphStyle, *, level: int, key: str) -> None:
        super().__init__(para(shorten(title, HEADING_LIMIT)), style)
        self.level, self.key = level, key
        self.outline = shorten(title, OUTLINE_LIMIT)


class _Diagram(Flowable):
    """A lineage diagram that knows its size from its plan and builds its shapes only when drawn, from the
    second pass on. The first pass of ``multiBuild`` is always thrown away (the footer's page count is not
    known yet) and needs only sizes; building the shapes of 500 diagrams once, late, and dropping them once
    drawn saves most of a pass and keeps their hundreds of thousands of shape objects out of memory."""

    def __init__(self, diagram: dict, planned: pdf_draw.Plan, doc: _Doc, **drawing: Any) -> None:
        super().__init__()
        self.diagram, self.planned, self.doc, self.drawing = diagram, planned, doc, drawing
        self.width, self.height = planned.size

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        if self.doc.passes >= 2:
            d = pdf_draw.lineage_drawing(self.diagram, planned=self.planned, **self.drawing)
            if d is not None:
                d.drawOn(self.canv, 0, 0)


class _PageCount(Flowable):
    """Indexing flowable: another pass is needed until the page count used by the footer is the real one."""

    def __init__(self, doc: _Doc) -> None:
        super().__init__()
        self.doc = doc
        self.ok = False

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        pass

    def isIndexing(self) -> int:
        return 1

    def beforeBuild(self) -> None:
        self.doc.pages_seen = 0

    def afterBuild(self) -> None:
        self.ok = self.doc.total_pages == self.doc.pages_seen
        self.doc.total_pages = self.doc.pages_seen
        if self.ok:  # multiBuild saves next: say so, writing a big PDF takes a second or more
            self.doc.ticker.report(96, "writing the PDF")

    def isSatisfied(self) -> bool:
        return self.ok

    def notify(self, kind: str, stuff: Any) -> None:
        pass


class _Canvas(Canvas):
    """Compresses each page's content when the page is finished, in the passes that may be kept, rather than
    all pages at once when the PDF is written: that one step took 1-2 s on an 800-page report, too long a
    silence for the progress reports. reportlab leaves alone a stream that already names its filter."""

    def __init__(self, *args: Any, compress_now: Callable[[], bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compress_now = compress_now

    def showPage(self) -> None:
        super().showPage()
        if not self.compress_now():
            return
        try:
            page = self._doc.Pages.pages[-1]
            if not page.compression or page.Contents or not isinstance(page.stream, str):
                return
        except (AttributeError, IndexError):  # another reportlab: let it compress at save time
            return
        stream = PDFStream(content=zlib.compress(page.stream.encode("utf8")))
        stream.dictionary["Filter"] = PDFArray([PDFName("FlateDecode")])
        page.Contents = stream
        page.stream = None


class _Doc(BaseDocTemplate):
    def __init__(self, buf: io.BytesIO, *, report_id: str, fonts: Fonts, ticker: _Ticker, title: str,
                 created: str | None, organisation: str = "", marking: str = "") -> None:
        super().__init__(
            buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN + 10,
            title=title, author="Lineage Portal", subject=report_id, creator="Lineage Portal",
            keywords=["Lineage Portal", "report", report_id], invariant=1,
        )
        self.report_id, self.fonts, self.ticker, self.created = report_id, fonts, ticker, created
        self.organisation, self.marking = organisation, marking
        self.toc_depth = 2  # the story lowers it when the contents would not fit one page
        self.toc_text: dict[str, str] = {}
        self.total_pages: int | None = None
        self.pages_seen = 0
        self.passes = 0
        frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body",
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
        # Landscape pages for the parts of a lineage diagram (``pdf_layers``): same margins, turned.
        wide_w, wide_h = A4[1] - self.leftMargin - self.rightMargin, A4[0] - self.topMargin - self.bottomMargin
        wide = Frame(self.leftMargin, self.bottomMargin, wide_w, wide_h, id="wide", leftPadding=0, rightPadding=0,
                     topPadding=0, bottomPadding=0)
        self.landscape_size = (wide_w, wide_h)
        self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self._footer),
                               PageTemplate(id="landscape", frames=[wide], onPage=self._footer,
                                            pagesize=(A4[1], A4[0]))])
        self.setProgressCallBack(self._on_progress)

    def canvas(self, *args: Any, **kwargs: Any) -> _Canvas:
        # the first pass is never saved (see _PageCount), so its pages need no compression
        return _Canvas(*args, compress_now=lambda: self.passes >= 2, **kwargs)

    def beforeDocument(self) -> None:
        # The PDF's creation date is the report's, not the clock's (invariant=1 would say 2000-01-01).
        if self.created:
            created = self.created
            self.canv.setDateFormatter(lambda *_: created)

    def _on_progress(self, kind: str, value: int) -> None:
        if kind == "PASS":
            self.passes = value
        self.ticker.tick()

    def _footer(self, canv: Any, doc: Any) -> None:
        page = canv.getPageNumber()
        self.pages_seen = max(self.pages_seen, page)
        total = self.total_pages if self.total_pages is not None else "?"
        canv.saveState()
        canv.setStrokeColor(colors.HexColor("#9ca3af"))
        canv.setLineWidth(0.4)
        page_w, page_h = canv._pagesize
        canv.line(self.leftMargin, 40, page_w - self.rightMargin, 40)
        canv.setFont(self.fonts.regular, 7.5)
        canv.setFillColor(colors.HexColor("#374151"))
        who = shorten(self.organisation, 60) if self.organisation else "Lineage Portal"
        text = f"{who} \u00b7 report {shorten(self.report_id, 90)} \u00b7 page {page} of {total}"
        canv.drawString(self.leftMargin, 30, text)
        if self.marking:  # the confidentiality marking, on every page, top and bottom
            canv.setFont(self.fonts.bold, 7.5)
            canv.setFillColor(colors.HexColor("#991b1b"))
            marking = shorten(self.marking, 80)
            canv.drawRightString(page_w - self.rightMargin, 30, marking)
            canv.drawCentredString(page_w / 2, page_h - 30, marking)
        canv.restoreState()

    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, _Heading):
            canv = self.canv
            canv.bookmarkPage(flowable.key)
            canv.addOutlineEntry(flowable.outline, flowable.key, level=flowable.level, closed=flowable.level > 0)
            if flowable.level <= self.toc_depth:
                text = self.toc_text.get(flowable.key, para(flowable.outline))
                self.notify("TOCEntry", (flowable.level, text, self.page, flowable.key))
        elif isinstance(flowable, _Mark):
            # two passes expected: the first maps to 5-50%, the second to 50-95%
            start = 5 + 45 * min(max(self.passes, 1) - 1, 1)
            self.ticker.report(start + 45 * flowable.fraction, flowable.step)
        self.ticker.tick()
