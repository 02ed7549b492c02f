"""What every section of the story uses: limits, status colours, the bundle readers and the building blocks
(headings, paragraphs, label/value tables, capped tables)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import CondPageBreak, Flowable, Paragraph, Spacer, Table, TableStyle

from ..pdf_text import MISSING, clean, para, wrap
from .document import HEADING_LIMIT, Fonts, _Doc, _Heading, _Mark, _styles, _Ticker

ROW_CAP = 500  # rows of one evidence/failing/deployment table printed; the rest stay in the JSON bundle
ERASURE_ROW_CAP = 2000  # the erasure report is the list itself: print more of it
LIST_CAP = 50  # items of a list printed inline (scope models, sensitive nodes)
WORD_MAX = 96.0  # points: a column is widened to fit its longest word up to this

STATUS = {
    "pass": ("PASS", "#15803d", "#dcfce7"),
    "fail": ("FAIL", "#b91c1c", "#fee2e2"),
    "not_applicable": ("N/A", "#44403c", "#f5f5f4"),  # nothing in scope: never a pass
    "not_evaluated": ("NOT EVALUATED", "#92400e", "#fef3c7"),
    "evidence": ("EVIDENCE", "#1e40af", "#dbeafe"),
}
UNKNOWN_STATUS = ("#374151", "#f3f4f6")
KIND_TITLES = {
    "framework": "Framework compliance report",
    "dossier": "Model dossier",
    "erasure": "Erasure impact report (GDPR Art. 17)",
}


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


class StoryBase:
    """The story being built: the bundle, the flowables so far, and the building blocks the sections use."""

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
        elif len(self.out) > 0:  # a sub-heading never ends a page: it starts the next if little room is left
            self.out.append(CondPageBreak(self.doc.height * 0.12))
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
