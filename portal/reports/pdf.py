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
"""

from __future__ import annotations

import functools
import io
import os
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import PDFArray, PDFName, PDFStream
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.tableofcontents import TableOfContents

from . import pdf_draw
from .pdf_text import MISSING, clean, para, shorten, wrap

Progress = Callable[[int, str], None]

ROW_CAP = 500  # rows of one evidence/failing/deployment table printed; the rest stay in the JSON bundle
ERASURE_ROW_CAP = 2000  # the erasure report is the list itself: print more of it
LIST_CAP = 50  # items of a list printed inline (scope models, sensitive nodes)
MARGIN = 48.0
HEADING_LIMIT = 200  # characters of a title printed in a heading; a longer title follows in full
OUTLINE_LIMIT = 120  # characters of a title in the table of contents and the PDF outline
WORD_MAX = 96.0  # points: a column is widened to fit its longest word up to this
HEARTBEAT = 0.5  # seconds: progress is reported at least this often while building (callers may throttle)

STATUS = {
    "pass": ("PASS", "#15803d", "#dcfce7"),
    "fail": ("FAIL", "#b91c1c", "#fee2e2"),
    "not_evaluated": ("NOT EVALUATED", "#92400e", "#fef3c7"),
    "evidence": ("EVIDENCE", "#1e40af", "#dbeafe"),
}
UNKNOWN_STATUS = ("#374151", "#f3f4f6")
KIND_TITLES = {
    "framework": "Framework compliance report",
    "dossier": "Model dossier",
    "erasure": "Erasure impact report (GDPR Art. 17)",
}
ANNEX_IV_POINTS = {
    1: "General description of the AI system",
    2: "Detailed description of the elements of the AI system and of the process for its development",
    3: "Monitoring, functioning and control of the AI system",
    4: "Appropriateness of the performance metrics",
    5: "Risk management system (Article 9)",
    6: "Relevant changes made to the system through its lifecycle",
    7: "Harmonised standards and other specifications applied",
    8: "EU declaration of conformity (Article 47)",
    9: "System to evaluate performance in the post-market phase (Article 72)",
}
# Where an evidence document goes in an Annex IV dossier when it does not say (``documents[].annex_iv``).
ANNEX_IV_BY_TYPE = {
    "model_card": 1, "intended_purpose": 1, "instructions_for_use": 1, "system_description": 1,
    "datasheet": 2, "data_sheet": 2, "data_governance": 2, "design": 2, "architecture": 2, "training": 2,
    "human_oversight": 3, "logging": 3,
    "evaluation": 4, "metrics": 4, "validation": 4, "test_report": 4, "performance": 4,
    "risk_assessment": 5, "risk_management": 5, "dpia": 5, "fria": 5,
    "change_log": 6, "changelog": 6, "release_notes": 6,
    "standards": 7, "harmonised_standards": 7,
    "declaration_of_conformity": 8, "eu_declaration": 8,
    "post_market_monitoring": 9, "monitoring_plan": 9, "incident_report": 9,
}


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
               created=_pdf_date(report.get("generated_at")))
    story = _Story(bundle, doc=doc, fonts=fonts, ticker=ticker).build()
    ticker.report(5, "layout")
    doc.multiBuild(story, canvasmaker=doc.canvas)
    ticker.report(100, "done")
    return buf.getvalue()


# -- fonts, styles ----------------------------------------------------------------------------------------


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
        "label": ParagraphStyle("label", parent=base, fontName=f.bold, fontSize=9, spaceBefore=6, spaceAfter=3),
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
                 created: str | None) -> None:
        super().__init__(
            buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN + 10,
            title=title, author="Lineage Portal", subject=report_id, creator="Lineage Portal",
            keywords=["Lineage Portal", "report", report_id], invariant=1,
        )
        self.report_id, self.fonts, self.ticker, self.created = report_id, fonts, ticker, created
        self.total_pages: int | None = None
        self.pages_seen = 0
        self.passes = 0
        frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body",
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
        self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self._footer)])
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
        canv.line(self.leftMargin, 40, self.pagesize[0] - self.rightMargin, 40)
        canv.setFont(self.fonts.regular, 7.5)
        canv.setFillColor(colors.HexColor("#374151"))
        text = f"Lineage Portal \u00b7 report {shorten(self.report_id, 90)} \u00b7 page {page} of {total}"
        canv.drawString(self.leftMargin, 30, text)
        canv.restoreState()

    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, _Heading):
            canv = self.canv
            canv.bookmarkPage(flowable.key)
            canv.addOutlineEntry(flowable.outline, flowable.key, level=flowable.level, closed=flowable.level > 0)
            self.notify("TOCEntry", (flowable.level, para(flowable.outline), self.page, flowable.key))
        elif isinstance(flowable, _Mark):
            # two passes expected: the first maps to 5-50%, the second to 50-95%
            start = 5 + 45 * min(max(self.passes, 1) - 1, 1)
            self.ticker.report(start + 45 * flowable.fraction, flowable.step)
        self.ticker.tick()


# -- the story --------------------------------------------------------------------------------------------


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _pdf_date(value: Any) -> str | None:
    """An ISO 8601 time as a PDF date string in UTC, or None when it does not parse."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if when.tzinfo is not None:
            when = when.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return f"D:{when.year:04d}{when:%m%d%H%M%S}+00'00'"


def _title(report: dict) -> str:
    return clean(report.get("title") or KIND_TITLES.get(clean(report.get("kind")), "Compliance report"))


def _status(value: Any) -> tuple[str, colors.Color, colors.Color]:
    """Word, text colour and background for a control status; an unknown status prints as given."""
    key = clean(value).strip().lower()
    if key in STATUS:
        word, fg, bg = STATUS[key]
        return word, colors.HexColor(fg), colors.HexColor(bg)
    return clean(value).upper() or MISSING, colors.HexColor(UNKNOWN_STATUS[0]), colors.HexColor(UNKNOWN_STATUS[1])


def _model_label(model: dict) -> str:
    name, version = clean(model.get("name")), model.get("version")
    label = f"{name} v{clean(version)}" if version not in (None, "") else name
    return f"{label} ({clean(model.get('node_id'))})" if model.get("node_id") else label


def _flatten(values: dict, prefix: str = "", depth: int = 0) -> list[list[str]]:
    """Nested metrics or parameters as (dotted key, value) rows, in the bundle's order."""
    rows: list[list[str]] = []
    for k, v in values.items():
        key = f"{prefix}{clean(k)}"
        if isinstance(v, dict) and v and depth < 4:
            rows += _flatten(v, f"{key}.", depth + 1)
        elif isinstance(v, list):
            rows.append([key, ", ".join(clean(x) for x in v[:LIST_CAP]) + (" \u2026" if len(v) > LIST_CAP else "")])
        else:
            rows.append([key, clean(v)])
    return rows


def _join(items: Iterable[Any], cap: int = LIST_CAP) -> str:
    items = list(items)
    shown = ", ".join(clean(i) for i in items[:cap])
    if len(items) > cap:
        shown += f", \u2026 {len(items) - cap:,} more in the JSON bundle"
    return shown or MISSING


class _Story:
    """Turns the bundle into a list of flowables; one method per section."""

    def __init__(self, bundle: dict, *, doc: _Doc, fonts: Fonts, ticker: _Ticker) -> None:
        self.b = bundle if isinstance(bundle, dict) else {}
        self.report = _dict(self.b.get("report"))
        self.kind = clean(self.report.get("kind")).lower()
        self.doc, self.f, self.ticker = doc, fonts, ticker
        self.s = _styles(fonts)
        self.width = doc.width
        self.out: list[Flowable] = []
        self.toc_entries: list[tuple[int, str, int, str]] = []
        self.keys = 0
        self.marks: list[_Mark] = []

    # building blocks ------------------------------------------------------------------------------------

    def heading(self, title: str, level: int) -> None:
        self.keys += 1
        h = _Heading(title, self.s[f"h{min(level, 2)}"], level=level, key=f"k{self.keys}")
        if level == 0 and len(self.out) > 0:
            self.out.append(CondPageBreak(self.doc.height * 0.3))
        self.out.append(h)
        if len(clean(title)) > HEADING_LIMIT:
            self.out.append(Paragraph(para(title), self.s["small"]))
        self.toc_entries.append((level, para(h.outline), 0, h.key))

    def mark(self, step: str) -> None:
        m = _Mark(0.0, step)
        self.marks.append(m)
        self.out.append(m)
        self.ticker.tick()

    def p(self, text: Any, style: str = "body") -> None:
        self.out.append(Paragraph(para(text), self.s[style]))

    def label(self, text: str) -> None:
        self.out.append(Paragraph(para(text), self.s["label"]))

    def kv(self, pairs: Sequence[tuple[str, Any]], *, mono: Iterable[str] = (), status: str | None = None) -> None:
        """A two-column label/value table; values in ``mono`` use the monospace font (digests)."""
        mono = set(mono)
        label_w = 118.0
        value_w = self.width - label_w
        rows: list[list[str]] = []
        style: list[tuple] = [
            ("FONT", (0, 0), (0, -1), self.f.bold, 8, 10),
            ("FONT", (1, 0), (1, -1), self.f.regular, 8, 10),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#e5e7eb")),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
        for i, (name, value) in enumerate(pairs):
            font, size = (self.f.mono, 7.5) if name in mono else (self.f.regular, 8)
            if name in mono:
                style.append(("FONT", (1, i), (1, i), self.f.mono, 7.5, 9.5))
            if name == status:
                word, fg, bg = _status(value)
                value = word
                style += [("TEXTCOLOR", (1, i), (1, i), fg), ("BACKGROUND", (1, i), (1, i), bg),
                          ("FONT", (1, i), (1, i), self.f.bold, 8, 10)]
            rows.append([wrap(name, label_w - 6, self.f.bold, 8), wrap(value, value_w - 6, font, size)])
        if rows:
            self.out.append(Table(rows, colWidths=[label_w, value_w], style=TableStyle(style), hAlign="LEFT"))
            self.out.append(Spacer(1, 6))

    def table(
        self,
        columns: Sequence[Any],
        rows: Sequence[Any],
        *,
        weights: Sequence[float] | None = None,
        mono: Iterable[int] = (),
        status_col: int | None = None,
        flag_col: int | None = None,
        cap: int = ROW_CAP,
        where: str = "",
        empty: str = "None.",
    ) -> None:
        """A table with a repeated header row that splits across pages; at most ``cap`` rows are printed
        and a note says where the rest are. Cells are wrapped plain text, so nothing in them is markup."""
        rows = [r if isinstance(r, list | tuple) else [r] for r in rows]
        ncols = max([len(columns)] + [len(r) for r in rows[:cap]]) if (columns or rows) else 0
        if not rows or ncols == 0:
            self.p(empty, "note")
            return
        header = [clean(c) for c in columns] + [""] * (ncols - len(columns))
        shown = rows[:cap]
        if len(rows) > cap:
            self.p(f"Showing the first {cap:,} of {len(rows):,} rows; all {len(rows):,} are in the JSON bundle"
                   + (f" ({where})." if where else "."), "note")
        widths = self._widths(header, shown, ncols, weights)
        mono = set(mono)
        size, lead = 7.2, 8.8
        data = [[wrap(h, widths[c] - 6, self.f.bold, size, max_lines=4) for c, h in enumerate(header)]]
        style: list[tuple] = [
            ("FONT", (0, 0), (-1, -1), self.f.regular, size, lead),
            ("FONT", (0, 0), (-1, 0), self.f.bold, size, lead),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e5e7eb")),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f9fafb")]),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#d1d5db")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
        for c in mono:
            if c < ncols:
                style.append(("FONT", (c, 1), (c, -1), self.f.mono, size - 0.4, lead))
        for r, row in enumerate(shown, start=1):
            cells = list(row[:ncols]) + [""] * (ncols - len(row))
            line = []
            for c, value in enumerate(cells):
                if c == status_col:
                    word, fg, bg = _status(value)
                    style += [("TEXTCOLOR", (c, r), (c, r), fg), ("BACKGROUND", (c, r), (c, r), bg),
                              ("FONT", (c, r), (c, r), self.f.bold, size, lead)]
                    value = word
                elif c == flag_col and value in (True, False):
                    if value is False:
                        style += [("TEXTCOLOR", (c, r), (c, r), colors.HexColor("#b91c1c")),
                                  ("FONT", (c, r), (c, r), self.f.bold, size, lead)]
                    value = "yes" if value else "NO"
                font = self.f.mono if c in mono else self.f.regular
                line.append(wrap(value, widths[c] - 6, font, size - (0.4 if c in mono else 0)))
            data.append(line)
            if r % 200 == 0:
                self.ticker.tick()
        self.out.append(Table(data, colWidths=widths, repeatRows=1, splitByRow=1, style=TableStyle(style),
                              hAlign="LEFT"))
        self.out.append(Spacer(1, 6))

    def _widths(self, header: list[str], rows: Sequence[Sequence[Any]], ncols: int,
                weights: Sequence[float] | None) -> list[float]:
        """Column widths filling the frame: in proportion to ``weights`` (default: the mean length of the
        first 100 values), but each column at least as wide as its longest word (up to ``WORD_MAX``) so
        that dates, kinds and short ids are not cut mid-word while a wider column has room to give."""
        sample = rows[:100]
        cells = [[clean(r[c]) if c < len(r) else "" for r in sample] for c in range(ncols)]
        if weights is None or len(weights) != ncols:
            weights = [min(max(sum(map(len, col)) / max(len(col), 1), len(header[c]) * 0.8, 4.0), 40.0)
                       for c, col in enumerate(cells)]
        total = float(sum(weights)) or 1.0
        widths = [self.width * w / total for w in weights]
        need = []
        for c, col in enumerate(cells):
            words = [w for v in [header[c], *col] for w in v.split()]
            longest = max(words, key=len, default="")
            font = self.f.bold if longest in header[c].split() else self.f.regular
            need.append(min(stringWidth(longest, font, 7.2) + 7, WORD_MAX))
        if sum(need) <= self.width:  # raise the narrow columns, taking the room from those above their need
            short = sum(max(n - w, 0) for n, w in zip(need, widths, strict=True))
            spare = sum(max(w - n, 0) for n, w in zip(need, widths, strict=True))
            if short > 0 and spare > 0:
                widths = [n if w < n else w - (w - n) * short / spare for n, w in zip(need, widths, strict=True)]
        widths = [max(w, 24.0) for w in widths]
        squeeze = self.width / sum(widths)
        return [w * squeeze for w in widths]

    # sections -------------------------------------------------------------------------------------------

    def build(self) -> list[Flowable]:
        self.cover()
        self.contents()
        if self.kind == "erasure":
            self.erasure_summary()
            self.erasure_affected()
            if _list(self.b.get("lineage")):
                self.lineage(0)
            if _list(self.b.get("deployments")):
                self.deployments(0)
        elif self.kind == "dossier" and self.report.get("annex_iv") is True:
            self.dossier_summary()
            self.annex_iv()
        elif self.kind == "dossier":
            self.dossier_summary()
            self.model(0)
            self.lineage(0)
            self.data(0)
            self.approvals(0)
            self.deployments(0)
            self.violations(0)
            self.documents(0, _list(self.b.get("documents")))
            if _list(self.b.get("controls")):
                self.controls(0)
        else:
            self.framework_summary()
            self.controls(0)
            self.lineage(0)
            self.approvals(0)
            self.deployments(0)
            self.violations(0)
            if _list(self.b.get("documents")):
                self.documents(0, _list(self.b.get("documents")))
        self.appendix()
        self.mark("finishing")
        for i, m in enumerate(self.marks):
            m.fraction = (i + 1) / len(self.marks)
        toc = self._toc
        toc._entries = list(self.toc_entries)  # seeded: pass 1 already lays out the final contents pages
        return [_PageCount(self.doc), *self.out]

    def cover(self) -> None:
        r = self.report
        self.out.append(Spacer(1, 60))
        self.out.append(Paragraph(para(_title(r)), self.s["title"]))
        subtitle = KIND_TITLES.get(self.kind, clean(r.get("kind")) or "Report")
        if self.kind == "dossier" and r.get("annex_iv") is True:
            subtitle += " \u00b7 EU AI Act Annex IV structure"
        self.out.append(Paragraph(para(subtitle), self.s["subtitle"]))
        fw = _dict(r.get("framework"))
        scope = _dict(r.get("scope"))
        period = _dict(r.get("period"))
        by = _dict(r.get("generated_by"))
        params = _dict(r.get("parameters"))
        pairs: list[tuple[str, Any]] = [("Report id", r.get("id")), ("Kind", r.get("kind"))]
        if fw:
            pairs.append(("Framework", f"{clean(fw.get('name'))} ({clean(fw.get('id'))})"))
        scope_lines = [clean(scope.get("description"))] if scope.get("description") else []
        for key in ("namespaces", "models", "tags"):
            items = _list(scope.get(key))
            if items:
                scope_lines.append(f"{key} ({len(items):,}): {_join(items)}")
        pairs.append(("Scope", "\n".join(scope_lines) or MISSING))
        if self.kind == "erasure":
            q = _dict(_dict(self.b.get("erasure")).get("query"))
            pairs.append(("Erasure query", f"dataset: {clean(q.get('dataset'))}\nsubject key: "
                                           f"{clean(q.get('subject_key'))}"))
        if period:
            pairs.append(("Period", f"{clean(period.get('start'))} to {clean(period.get('end'))}"))
        name, username = by.get("name"), by.get("username")
        pairs.append(("Generated by", f"{clean(name)} ({clean(username)})" if name else clean(username)))
        pairs.append(("Generated at", r.get("generated_at")))
        if params:
            values = _dict(params.get("values"))
            text = f"version {clean(params.get('version'))}, effective from {clean(params.get('effective_from'))}"
            if values:
                text += "\n" + "; ".join(f"{clean(k)} = {clean(v)}" for k, v in list(values.items())[:LIST_CAP])
            pairs.append(("Policy version", text))
        model = _dict(self.report.get("model"))
        if model:
            pairs.insert(2, ("Model version", _model_label(model)))
        pairs.append(("Bundle schema", self.b.get("schema")))
        portal = _dict(self.b.get("portal"))
        if portal.get("version") is not None:
            pairs.append(("Portal version", portal.get("version")))
        self.kv(pairs, mono=("Report id",))
        self.p("Drawn from the report's evidence bundle (JSON), which holds every row; long tables in this "
               "document are cut where they say so.", "note")
        self.out.append(PageBreak())

    def contents(self) -> None:
        self.out.append(Paragraph("Contents", self.s["h0"]))
        toc = TableOfContents(dotsMinLevel=0)
        toc.levelStyles = [self.s["toc0"], self.s["toc1"], self.s["toc2"]]
        self._toc = toc
        self.out.append(toc)
        self.out.append(PageBreak())

    def _counts(self) -> dict[str, int]:
        summary = _dict(self.b.get("summary"))
        controls = [c for c in _list(self.b.get("controls")) if isinstance(c, dict)]
        counts = {}
        for key in ("pass", "fail", "not_evaluated", "evidence"):
            value = summary.get(key)
            if not isinstance(value, int) or isinstance(value, bool):
                value = sum(1 for c in controls if clean(c.get("status")).lower() == key)
            counts[key] = value
        total = summary.get("total")
        counts["total"] = total if isinstance(total, int) and not isinstance(total, bool) else len(controls)
        return counts

    def _chart(self) -> None:
        counts = self._counts()
        bars = [(STATUS[k][0].title(), counts[k], colors.HexColor(STATUS[k][1]))
                for k in ("pass", "fail", "not_evaluated", "evidence")]
        self.p(f"{counts['total']:,} controls: {counts['pass']:,} pass, {counts['fail']:,} fail, "
               f"{counts['not_evaluated']:,} not evaluated, {counts['evidence']:,} evidence only.")
        rows = [[k, counts[k]] for k in ("pass", "fail", "not_evaluated", "evidence")]
        self.table(["Status", "Controls"], rows, weights=[2, 1], status_col=0)
        self.out.append(pdf_draw.summary_chart(bars, font=self.f.regular))

    def _chain_line(self) -> None:
        chain = _dict(_dict(self.b.get("audit")).get("chain"))
        if chain:
            ok = chain.get("ok") is True
            if chain.get("ok") is None:
                self.p("Audit chain: no verification on record.", "warn")
                return
            self.p(f"Audit chain: {'VERIFIED' if ok else 'NOT VERIFIED'}, {clean(chain.get('entries'))} entries, "
                   f"verified at {clean(chain.get('verified_at'))}.", "body" if ok else "warn")

    def framework_summary(self) -> None:
        self.mark("executive summary")
        self.heading("Executive summary", 0)
        fw = _dict(self.report.get("framework"))
        if fw:
            self.p(f"Framework: {clean(fw.get('name'))}. Scope: "
                   f"{clean(_dict(self.report.get('scope')).get('description'))}.")
        self._chart()
        self._chain_line()
        controls = [c for c in _list(self.b.get("controls")) if isinstance(c, dict)]
        self.label("Controls at a glance")
        self.table(["Control", "Title", "Status", "Failing"],
                   [[c.get("id"), c.get("title"), c.get("status"), len(_list(c.get("failing")))] for c in controls],
                   weights=[1.2, 5, 1.6, 0.9], status_col=2, cap=len(controls) or 1, empty="No controls.")

    def dossier_summary(self) -> None:
        self.mark("summary")
        self.heading("Summary", 0)
        lineage = [d for d in _list(self.b.get("lineage")) if isinstance(d, dict)]
        approvals = [a for a in _list(self.b.get("approvals")) if isinstance(a, dict)]
        deployments = [d for d in _list(self.b.get("deployments")) if isinstance(d, dict)]
        models = _list(_dict(self.report.get("scope")).get("models"))
        model = models[0] if models else (lineage[0].get("title") if lineage else None)
        if _dict(self.report.get("model")):
            model = _model_label(_dict(self.report.get("model")))
        self.kv([
            ("Model version", model),
            ("Lineage diagrams", len(lineage)),
            ("Releases", len(approvals)),
            ("Signatures", sum(len(_list(a.get("signatures"))) for a in approvals)),
            ("Deployments", f"{len(deployments)} ({sum(1 for d in deployments if d.get('state') == 'active')} active)"),
            ("Violations", len(_list(self.b.get("violations")))),
            ("Evidence documents", len(_list(self.b.get("documents")))),
        ])
        if _list(self.b.get("controls")):
            self._chart()
        self._chain_line()

    def model(self, level: int, *, parts: Sequence[str] = ("identity", "metrics", "parameters"),
              title: str = "Model version") -> None:
        """The model version itself (``report.model``, dossiers): identity and inventory, metrics, parameters."""
        model = _dict(self.report.get("model"))
        if not model:
            return
        self.mark("model")
        self.heading(title, level)
        if "identity" in parts:
            inv = _dict(model.get("inventory"))
            pairs: list[tuple[str, Any]] = [("Name", model.get("name")), ("Version", model.get("version")),
                                            ("Node id", model.get("node_id"))]
            if inv:
                pairs += [("Owner", inv.get("owner")), ("Intended use", inv.get("intended_use")),
                          ("Risk tier", inv.get("tier")), ("High-risk (Annex III)", inv.get("high_risk_annex")),
                          ("Limitations", inv.get("limitations")), ("Inventory status", inv.get("status"))]
            else:
                pairs.append(("Inventory", "no model-inventory entry for this model version"))
            self.kv(pairs)
        for part, title in (("metrics", "Metrics"), ("parameters", "Parameters")):
            values = model.get(part)
            if part in parts and isinstance(values, dict):
                self.label(f"{title} ({len(values):,})")
                self.table([title[:-1], "Value"], _flatten(values), weights=[2, 3],
                           where=f"report.model.{part}", empty=f"No {title.lower()} recorded.")

    def controls(self, level: int) -> None:
        controls = [c for c in _list(self.b.get("controls")) if isinstance(c, dict)]
        self.heading("Controls", level)
        if not controls:
            self.p("No controls in this report.", "note")
        for i, c in enumerate(controls):
            self.mark(f"control {clean(c.get('id'))}")
            self.heading(f"{clean(c.get('id'))} \u00b7 {clean(c.get('title'))}", level + 1)
            self.kv([
                ("Status", c.get("status")),
                ("Citation", c.get("citation")),
                ("Type", {"P": "P (platform-checked)", "E": "E (evidence document)",
                          "P+E": "P+E (checked and documented)"}.get(clean(c.get("type")), c.get("type"))),
                ("Evidence shown", c.get("evidence_shown")),
                ("Result", c.get("reason")),
            ], status="Status")
            missing = _list(c.get("missing"))
            if missing:
                self.label("Data needed to evaluate it")
                for m in missing[:LIST_CAP]:
                    self.p(f"\u2022 {clean(m)}")
            failing = [x for x in _list(c.get("failing")) if isinstance(x, dict)]
            if failing:
                self.label(f"Failing entities ({len(failing):,})")
                self.table(["Kind", "Name", "Node id", "Why"],
                           [[x.get("kind"), x.get("name"), x.get("node_id"), x.get("why")] for x in failing],
                           weights=[1.2, 3, 3, 3.2], where=f"controls[{i}].failing")
            ev = _dict(c.get("evidence"))
            rows = _list(ev.get("rows"))
            if rows or _list(ev.get("columns")):
                self.label(f"Evidence ({len(rows):,} rows)")
                self.table(_list(ev.get("columns")), rows, where=f"controls[{i}].evidence.rows",
                           empty="No evidence rows.")

    def lineage(self, level: int) -> None:
        diagrams = [d for d in _list(self.b.get("lineage")) if isinstance(d, dict)]
        self.heading("Lineage", level)
        if not diagrams:
            self.p("No lineage diagrams in this report.", "note")
            return
        self.p("Each diagram is the bounded lineage subgraph around one model version, laid out in layers from "
               "sources (left) to consumers (right). Boxes are coloured by kind; a red badge names a sensitive "
               "tag.", "note")
        kinds = sorted({clean(n.get("kind")) for d in diagrams for n in _list(d.get("nodes")) if isinstance(n, dict)})
        self.out.append(pdf_draw.legend_drawing(kinds, font=self.f.regular, bold=self.f.bold, width=self.width))
        for d in diagrams:
            self.mark("lineage diagrams")
            self.diagram(d, level + 1)

    def diagram(self, d: dict, level: int) -> None:
        nodes = [n for n in _list(d.get("nodes")) if isinstance(n, dict)]
        edges = _list(d.get("edges"))
        self.heading(f"Lineage: {clean(d.get('title') or d.get('root'))}", level)
        self.p(f"Root {clean(d.get('root'))} \u00b7 {len(nodes):,} nodes, {len(edges):,} edges.", "small")
        if d.get("truncated") is True:
            self.p("Graph cut by the depth bound: nodes beyond the bound are not shown.", "warn")
        sensitive = [clean(t) for t in _list(d.get("sensitive_tags"))] or pdf_draw.SENSITIVE_TAGS
        try:
            planned = pdf_draw.plan(d, width=self.width, max_height=self.doc.height - 90)
        except (TypeError, ValueError) as e:  # malformed positions: say so rather than fail the report
            planned = None
            self.p(f"The diagram could not be drawn: {e}", "warn")
        if planned is None and nodes:
            self.p(f"Not drawn: {len(nodes):,} nodes exceed the {pdf_draw.DIAGRAM_MAX_NODES:,} a page can show; "
                   "the nodes and edges are in the JSON bundle.", "note")
        elif planned is None:
            self.p("Empty graph.", "note")
        else:
            if len(nodes) > pdf_draw.LABEL_LIMIT:
                self.p("Labels omitted at this size; zoom in or read the nodes in the JSON bundle.", "note")
            elif planned.scale < 0.5:
                self.p(f"Drawn at {planned.scale:.0%} of its size: zoom in to read the labels.", "note")
            self.out.append(_Diagram(d, planned, self.doc, width=self.width, max_height=self.doc.height - 90,
                                     font=self.f.regular, bold=self.f.bold, sensitive=sensitive))
        upper = {t.upper() for t in sensitive}
        tagged = [n for n in nodes if any(clean(t).upper() in upper for t in _list(n.get("tags")))]
        if tagged:
            self.p("Sensitive: " + _join(f"{clean(n.get('name') or n.get('id'))} "
                                         f"({', '.join(clean(t) for t in _list(n.get('tags')))})" for n in tagged),
                   "small")

    def data(self, level: int) -> None:
        self.mark("data")
        self.heading("Data", level)
        datasets = [d for d in _list(self.b.get("datasets")) if isinstance(d, dict)]
        if datasets:
            self.table(
                ["Dataset", "Tags", "Versions used", "Lawful basis and purposes", "Special category condition",
                 "Retention"],
                [[f"{clean(d.get('name'))}\n{clean(d.get('node_id'))}\n{clean(d.get('namespace'))}",
                  ", ".join(clean(t) for t in _list(d.get("tags"))),
                  _join(_list(d.get("versions")), 20),
                  f"{clean(d.get('lawful_basis') or None)}\n{_join(_list(d.get('purposes')), 20)}",
                  d.get("special_category_condition") or None,
                  f"until {clean(d.get('retention_until'))}"
                  + ("\nLEGAL HOLD" if d.get("legal_hold") is True else "")] for d in datasets],
                weights=[3, 1.4, 1.6, 2.4, 1.8, 1.6], where="datasets")
            return
        seen: dict[str, list] = {}
        for d in _list(self.b.get("lineage")):
            for n in _list(_dict(d).get("nodes")):
                if isinstance(n, dict) and n.get("kind") in ("dataset", "datasetVersion"):
                    seen.setdefault(clean(n.get("id")), [n.get("name"), n.get("kind"),
                                                         ", ".join(clean(t) for t in _list(n.get("tags"))),
                                                         n.get("id")])
        self.table(["Dataset", "Kind", "Tags", "Node id"], list(seen.values()), weights=[3, 1.3, 1.5, 3.5],
                   where="lineage[].nodes", empty="No datasets in the lineage of this model version.")

    def approvals(self, level: int) -> None:
        approvals = [a for a in _list(self.b.get("approvals")) if isinstance(a, dict)]
        self.heading("Approval signature manifests", level)
        if not approvals:
            self.p("No approvals in this report.", "note")
        for a in approvals:
            self.mark("approvals")
            self.heading(f"Release {clean(a.get('release'))} \u00b7 {clean(a.get('model'))} \u2192 "
                         f"{clean(a.get('environment'))}", level + 1)
            pairs = [("Model", a.get("model")), ("Environment", a.get("environment")), ("State", a.get("state")),
                     ("Policy", a.get("policy")), ("Subject digest", a.get("subject_digest")),
                     ("Decided at", a.get("decided_at"))]
            if "break_glass" in a:
                pairs.append(("Break glass", "YES" if a.get("break_glass") is True else "no"))
            self.kv(pairs, mono=("Subject digest",))
            if a.get("break_glass") is True:
                self.p("Break-glass release: deployed under the emergency procedure, outside the normal approval "
                       "quorum.", "warn")
            sigs = [s for s in _list(a.get("signatures")) if isinstance(s, dict)]
            self.table(["Printed name", "Username", "Signed at", "Meaning", "Reason", "Authenticated by", "Voided",
                        "Audit seq"],
                       [[s.get("printed_name"), s.get("username"), s.get("signed_at"), s.get("meaning"),
                         s.get("reason"), " + ".join(clean(m) for m in _list(s.get("auth_methods"))) or None,
                         "VOIDED" if s.get("voided") is True else "no", s.get("audit_seq")]
                        for s in sigs],
                       weights=[2.2, 1.4, 2.2, 1.3, 3, 1.3, 1.1, 1], empty="No signatures.")

    def deployments(self, level: int) -> None:
        self.mark("deployments")
        deps = [d for d in _list(self.b.get("deployments")) if isinstance(d, dict)]
        self.heading("Deployments", level)
        self.table(["Model", "Environment", "State", "Deployed at", "Release", "Approved", "Node id"],
                   [[d.get("model"), d.get("environment"), d.get("state"), d.get("deployed_at"), d.get("release"),
                     d.get("approved"), d.get("node_id")] for d in deps],
                   weights=[2.5, 1.5, 1, 2.2, 1.1, 1.4, 3], flag_col=5, where="deployments",
                   empty="No deployments in this report.")

    def violations(self, level: int) -> None:
        self.mark("violations")
        vs = [v for v in _list(self.b.get("violations")) if isinstance(v, dict)]
        self.heading("Violations", level)
        self.table(["Id", "Model", "Deployment", "Environment", "Found at", "Reason"],
                   [[v.get("id"), v.get("model"), v.get("deployment"), v.get("environment"), v.get("found_at"),
                     v.get("reason")] for v in vs],
                   weights=[0.7, 2, 2.5, 1.4, 2, 3], where="violations", empty="No violations in this report.")

    def documents(self, level: int, docs: list, *, title: str = "Evidence documents") -> None:
        self.mark("documents")
        docs = [d for d in docs if isinstance(d, dict)]
        self.heading(title, level)
        self.table(
            ["Document", "Author and approval", "Effective / retention", "SHA-256", "Covers"],
            [[f"{clean(d.get('title'))}\n{clean(d.get('type'))} v{clean(d.get('version'))}\n{clean(d.get('id'))}",
              f"by {clean(d.get('author'))}\napproved by {clean(d.get('approved_by'))}\n{clean(d.get('approved_at'))}",
              f"from {clean(d.get('effective_from'))}\nuntil {clean(d.get('retention_until'))}",
              d.get("sha256"), "\n".join(clean(c) for c in _list(d.get("covers"))[:20])] for d in docs],
            weights=[3, 2.6, 2.4, 2.6, 2.4], mono=(3,), where="documents", empty="No evidence documents.")

    def annex_iv(self) -> None:
        by_point: dict[int, list] = {i: [] for i in ANNEX_IV_POINTS}
        for d in _list(self.b.get("documents")):
            if not isinstance(d, dict):
                continue
            wanted = d.get("annex_iv")
            points = wanted if isinstance(wanted, list) else [wanted]
            points = [p for p in points if isinstance(p, int) and p in ANNEX_IV_POINTS]
            if not points:
                points = [ANNEX_IV_BY_TYPE.get(clean(d.get("type")).lower(), 2)]
            for p in points:
                by_point[p].append(d)
        for point, name in ANNEX_IV_POINTS.items():
            self.mark(f"Annex IV point {point}")
            self.heading(f"Annex IV point {point}: {name}", 0)
            before = len(self.out)
            if point == 1:
                self.p("The model version, its scope and the report parameters are on the cover and in the "
                       "summary above.", "note")
                self.model(1, parts=("identity",), title="Model version and intended use")
            elif point == 2:
                self.model(1, parts=("parameters",), title="Design: parameters")
                self.lineage(1)
                self.data(1)
            elif point == 3:
                self.approvals(1)
            elif point == 4:
                self.model(1, parts=("metrics",), title="Performance metrics")
            elif point == 5 and _list(self.b.get("controls")):
                self.controls(1)
            elif point == 6:
                self.deployments(1)
            elif point == 9:
                self.violations(1)
            if by_point[point]:
                self.documents(1, by_point[point], title=f"Documents for point {point}")
            elif len(self.out) == before or point == 1:
                self.p("No evidence document for this point in the bundle.", "note")

    def erasure_summary(self) -> None:
        self.mark("erasure request")
        e = _dict(self.b.get("erasure"))
        q = _dict(e.get("query"))
        self.heading("Erasure request", 0)
        self.kv([("Dataset", q.get("dataset")), ("Data-subject key", q.get("subject_key"))])
        if e.get("truncated") is True:
            self.p("The downstream walk was cut by its bound: the list below may be incomplete.", "warn")
        self.label("Sources resolved from the request")
        self.table(["Name", "Node id"], [[s.get("name"), s.get("node_id")] for s in _list(e.get("sources"))
                                         if isinstance(s, dict)], weights=[1, 1.4], where="erasure.sources",
                   empty="No dataset matched the request.")
        self.label("Downstream, by kind")
        counts = _dict(e.get("counts"))
        self.table(["Kind", "Count"], [[k, v] for k, v in counts.items()], weights=[2, 1], empty="Nothing.")

    def erasure_affected(self) -> None:
        e = _dict(self.b.get("erasure"))
        affected = [a for a in _list(e.get("affected")) if isinstance(a, dict)]
        self.mark("affected")
        self.heading("Affected entities", 0)
        active = [a for a in affected if _list(a.get("active_deployments"))]
        self.p(f"{len(affected):,} entities downstream, {len(active):,} with active deployments. Each row gives "
               "the lineage path from the source to the entity.")
        self.table(["Kind", "Name / node id", "Namespace", "Active deployments", "Path"],
                   [[a.get("kind"), f"{clean(a.get('name'))}\n{clean(a.get('node_id'))}", a.get("namespace"),
                     "\n".join(clean(x) for x in _list(a.get("active_deployments"))) or "none",
                     " \u2192 ".join(clean(x) for x in _list(a.get("path")))] for a in affected],
                   weights=[1.2, 2.6, 1.4, 2.2, 4], cap=ERASURE_ROW_CAP, where="erasure.affected",
                   empty="Nothing downstream.")

    def appendix(self) -> None:
        self.mark("appendix")
        audit = _dict(self.b.get("audit"))
        self.heading("Appendix: audit evidence", 0)
        self.heading("Audit chain", 1)
        chain = _dict(audit.get("chain"))
        ok = chain.get("ok") is True
        if not chain:
            state = "not in the bundle"
        elif chain.get("ok") is None:
            state = "NOT VERIFIED (no verification on record)"
        else:
            state = "VERIFIED" if ok else "NOT VERIFIED"
        self.kv([("Status", state),
                 ("Entries", chain.get("entries")), ("Head", chain.get("head")),
                 ("Verified at", chain.get("verified_at"))], mono=("Head",))
        for problem in _list(chain.get("problems"))[:LIST_CAP]:
            self.p(f"Problem: {clean(problem)}", "warn")
        self.heading("Checkpoint", 1)
        cp = _dict(audit.get("checkpoint"))
        self.p("The signed checkpoint of the audit log this report was made against.", "note")
        self.kv([("Tree size", cp.get("size")), ("Root", cp.get("root")), ("Key id", cp.get("key_id")),
                 ("Signature", cp.get("signature")), ("Created at", cp.get("created_at"))]
                + ([("Signed time", cp.get("signed_time"))] if "signed_time" in cp else []),
                mono=("Root", "Key id", "Signature"))
        self.heading("Inclusion proofs", 1)
        proofs = [x for x in _list(audit.get("proofs")) if isinstance(x, dict)]
        if not proofs:
            self.p("No inclusion proofs in this report.", "note")
        else:
            self.p("Each proof shows that an approval's audit entry is in the checkpointed tree: hash the leaf "
                   "with the path hashes in order to obtain the checkpoint root.", "note")
        for i, x in enumerate(proofs):
            if i % 50 == 0:
                self.mark("inclusion proofs")
            path = _list(x.get("path"))
            self.kv([("Proof", x.get("label")), ("Sequence", x.get("seq")), ("Tree size", x.get("tree_size")),
                     ("Leaf hash", x.get("leaf_hash")),
                     ("Path", "\n".join(f"{j}: {clean(h)}" for j, h in enumerate(path)) or MISSING)],
                    mono=("Leaf hash", "Path"))
