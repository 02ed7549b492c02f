"""An auditor generates a report in the browser, watches its progress bar to the end and downloads the PDF.

Generation runs on a real Celery worker consuming from Redis (a worker thread in this process), so the page
shows a report that is queued and running, not one finished inline.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from pypdf import PdfReader

from portal.demo import story as demo
from portal.reports.models import Report
from tests.browser.conftest import screenshot
from tests.workers import worker_thread


@pytest.fixture
def report_worker() -> Iterator[None]:
    with worker_thread(["portal.reports"], shutdown_timeout=15):
        yield


def test_an_auditor_generates_watches_and_downloads_a_report(new_page, report_worker) -> None:
    page = new_page(demo.INGRID.username, demo.INGRID.password)
    page.click("nav >> text=Reports")
    page.select_option("#id_framework", "model-risk")
    page.click("text=Generate report")
    page.wait_for_url("**/reports/*/")
    report = Report.objects.get()
    seen: list[int] = []
    deadline = time.monotonic() + 90
    while not _present(page, "#download-pdf"):
        assert time.monotonic() < deadline, f"report still {Report.objects.get().state}; bar showed {seen}"
        bar = page.locator("#report-progress-bar")
        if _present(page, "#report-progress-bar"):
            try:  # the page reloads itself when the report is done: the bar may be gone by now
                value = bar.get_attribute("value", timeout=500)
            except PlaywrightError:
                continue
            if value is not None and (not seen or int(value) != seen[-1]):
                seen.append(int(value))
                if len(seen) == 1:
                    screenshot(page, "report-progress")
        page.wait_for_timeout(100)
    assert seen, "the page never showed a progress bar"
    assert seen == sorted(seen), seen
    screenshot(page, "report-done")
    assert "F1 Complete model inventory" in page.content()
    with page.expect_download() as info:
        page.click("#download-pdf")
    data = Path(info.value.path()).read_bytes()
    report.refresh_from_db()
    assert report.state == Report.State.DONE and data == bytes(report.pdf)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert str(report.pk) in text and "Ingrid Larsen" in text


def _present(page, selector: str) -> bool:  # noqa: ANN001
    """Whether ``selector`` is on the page now; False while the page is reloading itself."""
    try:
        return page.locator(selector).count() > 0
    except PlaywrightError:
        return False


def test_the_dossier_form_picks_a_model_version_by_typing_its_name(new_page) -> None:
    """Search as you type over the nodes the auditor may see: the option's value is the node id the form needs."""
    page = new_page(demo.INGRID.username, demo.INGRID.password)
    page.goto("/reports/")
    page.fill("#id_model", "credit")
    page.wait_for_function("() => document.getElementById('id_model').list !== null"
                           " && document.getElementById('id_model').list.options.length > 0")
    options = page.eval_on_selector_all(f"#{page.get_attribute('#id_model', 'list')} option",
                                        "els => els.map(e => [e.value, e.label])")
    assert any(value.startswith("modelVersion:") and demo.CREDIT_MODEL in value for value, _ in options), options
    assert all(label for _, label in options)
    screenshot(page, "report-picker")
