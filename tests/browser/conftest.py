"""Browser tests: Debian's Chromium driven by Playwright against a live portal holding the demo organisation.

pytest-django's ``live_server`` serves from a thread of this process; the tests' data is committed
(``transactional_db``) so that thread sees it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need_service

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
# Screenshots of the pages the browser tests visit (not committed): var/screenshots/, or PORTAL_SCREENSHOTS.
SCREENSHOTS = Path(os.environ.get("PORTAL_SCREENSHOTS") or Path(__file__).resolve().parents[2] / "var" / "screenshots")
# Without these Chromium tries to reach Google's hosts at every start, which a closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Playwright's sync API keeps an event loop running in this thread, so Django's guard against ORM calls
    from async code would refuse the tests' own queries: lift it while the browser runs, and only then."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        need_service("playwright", str(exc))
    if not Path(CHROMIUM).exists():
        need_service("chromium", f"{CHROMIUM} is not installed (apt-get install chromium)")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            try:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            except Exception as exc:  # noqa: BLE001 - any launch failure means no browser to test with
                need_service("chromium", f"{CHROMIUM} did not start: {exc}")
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def demo(transactional_db: Any) -> None:
    """The demo organisation, committed, so the live server's thread sees it."""
    from portal.audit.services import audit_verify_and_store, checkpoint_create
    from portal.demo.management.commands.load_demo import _load
    from portal.reports.services import posture_evaluate

    _load()
    checkpoint_create()
    audit_verify_and_store()
    posture_evaluate()  # the dashboard's compliance posture, as load_demo leaves it


@pytest.fixture
def new_page(chromium: Any, live_server: Any, demo: None) -> Iterator[Any]:
    """``new_page(username, password)``: a fresh browser context signed in through the login form."""
    contexts = []

    def make(username: str, password: str) -> Any:
        context = chromium.new_context(viewport={"width": 1400, "height": 900}, base_url=live_server.url)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        page.goto("/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    yield make
    for c in contexts:
        c.close()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
