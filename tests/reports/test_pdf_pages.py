"""Every report kind rendered, page by page, as a reader sees it: PNG pages (poppler's pdftoppm) under
``var/pdf-pages/`` to look at, and the structural properties of a workpaper checked on the PDF itself."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from pypdf import PdfReader

from portal.reports import services
from portal.reports.models import Report
from tests.conftest import need_service

from .worlds import World, phi_source, plain

PAGES = Path(settings.BASE_DIR) / "var" / "pdf-pages"
MIN_LINES = 8  # a page other than the last (and the cover) carries at least this many lines of text
MIN_FONT = 6.0  # points, after every scaling: nothing printed smaller, diagrams included


def _world(officer) -> dict[str, str]:  # noqa: ANN001
    """A PHI source, a de-identified extract, a readmission model in three versions (the last one trained on a
    long chain of feature steps, so its diagram needs more than one landscape page) deployed to production."""
    w = World()
    w.officer = officer
    w.run("deidentify", days=200, reads=[phi_source()], writes=[plain("extract")], deidentifies=True)
    w.run("etl", days=199, reads=[phi_source()], writes=[plain("features/step0")])
    for i in range(1, 14):
        w.run(f"step{i}", days=199 - i, reads=[plain(f"features/step{i - 1}")], writes=[plain(f"features/step{i}")])
    mv = w.train("readmission", "3", days=150, reads=[plain("features/step13"), plain("extract")])
    w.deploy("readmission", "3", days=140)
    return {"model": mv.node_id, "dataset": "dataset:postgres://ehr:5432:clinical.admissions"}


def _render(report: Report, name: str) -> list[Path]:
    if shutil.which("pdftoppm") is None:
        need_service("pdftoppm", "poppler-utils is not installed (apt-get install poppler-utils)")
    PAGES.mkdir(parents=True, exist_ok=True)
    for old in PAGES.glob(f"{name}-*.png"):
        old.unlink()
    pdf = PAGES / f"{name}.pdf"
    pdf.write_bytes(bytes(report.pdf))
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(PAGES / name)], check=True, timeout=120)
    return sorted(PAGES.glob(f"{name}-*.png"))


def _fonts_and_lines(data: bytes) -> tuple[list[float], list[int], list[str]]:
    """The smallest effective font size on each page, its number of text lines and its text."""
    sizes, lines, texts = [], [], []
    for page in PdfReader(io.BytesIO(data)).pages:
        seen: list[float] = []

        def visit(text, cm, tm, font, size, seen=seen):  # noqa: ANN001
            if text.strip() and size:
                scale = math.sqrt(abs(cm[0] * cm[3] - cm[1] * cm[2]) * abs(tm[0] * tm[3] - tm[1] * tm[2]))
                seen.append(size * scale)

        text = page.extract_text(visitor_text=visit)
        sizes.append(min(seen) if seen else 99.0)
        lines.append(len([ln for ln in text.splitlines() if ln.strip()]))
        texts.append(text)
    return sizes, lines, texts


KINDS = [("gdpr-report", {"kind": "framework", "framework": "gdpr"}),
         ("hipaa-report", {"kind": "framework", "framework": "hipaa"}),
         ("dossier", {"kind": "dossier"}),
         ("annex-iv-dossier", {"kind": "dossier", "annex_iv": True}),
         ("erasure-impact", {"kind": "erasure"})]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("name", "ask"), KINDS, ids=[k for k, _ in KINDS])
def test_every_report_kind_reads_like_a_workpaper(name, ask, officer):
    nodes = _world(officer)
    if ask["kind"] == "dossier":
        ask = {**ask, "model": nodes["model"]}
    if ask["kind"] == "erasure":
        ask = {**ask, "dataset": nodes["dataset"]}
    report = services.report_request(by=officer, **ask)
    report.refresh_from_db()
    assert report.state == Report.State.DONE, report.error
    pngs = _render(report, name)
    sizes, lines, texts = _fonts_and_lines(bytes(report.pdf))
    assert len(pngs) == len(texts)
    cover = texts[0]
    for field in (settings.PORTAL_ORGANISATION, report.title.split(":")[0], "Scope", "Period", str(report.pk),
                  settings.PORTAL_REPORT_MARKING, "Prepared by", "Generated", "Reviewed by"):
        assert field in cover, field
    thin = [i + 1 for i, n in enumerate(lines[1:-1], start=1) if n < MIN_LINES]
    assert not thin, f"pages with fewer than {MIN_LINES} lines: {thin} ({[lines[i - 1] for i in thin]})"
    small = [(i + 1, round(s, 1)) for i, s in enumerate(sizes) if s < MIN_FONT]
    assert not small, f"text below {MIN_FONT} pt: {small}"
    whole = "\n".join(texts)
    assert "zoom in" not in whole and "(1 rows)" not in whole
    assert "T00:00:00" not in whole  # no raw ISO timestamps in tables
