"""In Chromium: the explorer loads a dataset's columns on demand, with their tags, the sensitive columns that
reach them and their column edges."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from portal.demo import story as demo
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

FEATURES = f"dataset:{demo.CREDIT_ML}:features/credit_applicant_features"


def test_the_explorer_shows_the_columns_of_a_dataset_with_tags_and_edges(new_page) -> None:
    page = new_page(demo.PRIYA.username, demo.PRIYA.password)
    page.goto("/lineage/explore/?node=" + quote(FEATURES, safe=""))
    page.wait_for_selector(".gnode.root")
    page.locator(".gnode.root").click()
    panel = page.locator("#panel")
    columns = panel.locator("#columns-section")
    columns.locator("summary").first.click()
    age = columns.locator("details.column", has=page.locator("summary code", has_text="age_band"))
    age.wait_for()
    assert "reached by" in age.locator("summary").inner_text() and age.locator(".tag-PII").count() == 1
    age.locator("summary").click()
    edge = age.locator(".column-edges li").first
    assert "core.customers" in edge.inner_text() and "dob" in edge.inner_text()
    assert "DIRECT/TRANSFORMATION" in edge.inner_text()
    assert "Filtered or joined by" in columns.inner_text() and "posted_at" in columns.inner_text()
    columns.scroll_into_view_if_needed()
    screenshot(page, "explorer-columns")


def test_the_model_page_shows_which_sensitive_column_reaches_which_trained_on_column(new_page) -> None:
    page = new_page(demo.PRIYA.username, demo.PRIYA.password)
    page.goto("/lineage/node/" + quote(f"modelVersion:{demo.CREDIT_NS}:{demo.CREDIT_MODEL}#7", safe=""))
    table = page.locator("#column-paths")
    row = table.locator("tr", has=page.locator("td", has_text="age_band"))
    assert "core.customers" in row.inner_text() and "dob" in row.inner_text()
    assert "carries (DIRECT)" in row.inner_text()
    table.scroll_into_view_if_needed()
    screenshot(page, "model-column-paths")


def test_a_withdrawn_determination_lets_phi_through_and_the_model_page_says_why(new_page) -> None:
    from django.utils import timezone

    from portal.evidence.models import Document

    readmission = f"modelVersion:clinical-ai:{demo.READMISSION_MODEL}#2"
    page = new_page(demo.SAM.username, demo.SAM.password)
    page.goto("/lineage/node/" + quote(readmission, safe=""))
    assert page.locator("#deid-not-stopped").count() == 0  # the demo's Safe Harbor determination stops PHI
    ended = Document.objects.filter(doc_type="deid_determination").update(effective_until=timezone.now())
    assert ended == 1
    page.reload()
    why = page.locator("#deid-not-stopped")
    assert "deidentify" in why.inner_text() and "no approved de-identification determination" in why.inner_text()
    assert "PHI" in page.locator(".facts", has=why).inner_text()
    why.scroll_into_view_if_needed()
    screenshot(page, "model-deid-not-stopped")
