"""The release page says what changed since approval: on the demo, credit-scoring 7 is retrained on new code and
another team's data after its staging approval, and a loan-book column is classified as special category."""

from __future__ import annotations

import pytest

from portal.accounts.models import User
from portal.accounts.services import user_ensure
from portal.approvals.models import Release
from portal.demo import story as demo
from portal.demo.upstream_change import change_upstream
from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def credit_staging() -> Release:
    return Release.objects.get(model_version__name=demo.CREDIT_MODEL, model_version__version="7",
                               environment="staging")


def open_release(page, release: Release) -> str:
    page.goto(f"/approvals/releases/{release.pk}")
    section = page.locator("#since-approval")
    section.locator("#approved-lineage summary").click()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return section.inner_text()


def test_the_release_page_shows_the_change_since_approval_and_what_it_may_trigger(new_page) -> None:
    release = credit_staging()
    page = new_page(demo.MARCUS.username, demo.MARCUS.password)
    page.goto(f"/approvals/releases/{release.pk}")
    assert "No change since approval" in page.locator("#since-approval").inner_text()
    change_upstream(by=User.objects.get(username=demo.INGESTOR.username))
    text = open_release(page, release)
    page.locator("#since-approval").screenshot(path=str(SCREENSHOTS / "release-since-approval.png"))
    assert "changed: the approval is void" in page.locator("#since-verdict").inner_text()
    triggers = page.locator("#since-triggers").inner_text()
    for t in ("SR 26-2 revalidation", "EU AI Act substantial modification",
              "Colorado AI Act impact-assessment update"):
        assert t in triggers
    rows = page.locator("#since-changes tbody tr")
    churn = rows.filter(has_text="curated/churn_features").first.inner_text()
    assert "New data source" in churn and "outside" in churn
    assert "auc 0.803 → 0.781" in text and "Metric drop beyond the threshold" in text
    assert "SPECIAL_CAT@hardship_reason" in text and "New sensitive tag upstream" in text
    assert "New training code" in text
    # The lineage as approved lists what the approvers saw, with the tags it had then.
    approved = page.locator("#approved-lineage").inner_text()
    assert "core.loans" in approved and "churn_features" not in approved
    assert credit_staging().state == Release.State.PENDING  # the page's refresh voided the approval


def test_a_reader_who_may_not_see_the_new_source_gets_no_name_of_it(new_page) -> None:
    release = credit_staging()
    change_upstream(by=User.objects.get(username=demo.INGESTOR.username))
    user_ensure(username="cara", role="viewer", password="cara-credit-only-pw", email="cara@northwind.example",
                team="credit-risk")
    page = new_page("cara", "cara-credit-only-pw")
    text = open_release(page, release)
    page.locator("#since-approval").screenshot(path=str(SCREENSHOTS / "release-since-approval-redacted.png"))
    assert "analytics-lake" not in text and "churn" not in text and "crm" not in text
    assert "a dataset of another team" in text and "New data source" in text
    assert "EU AI Act substantial modification" in page.locator("#since-triggers").inner_text()


def test_the_policy_page_lists_each_version_s_rules_and_its_form_sets_them(new_page) -> None:
    page = new_page(demo.ALEX.username, demo.ALEX.password)
    page.goto("/approvals/policies")
    assert "material: new sensitive tag upstream, new data source" in page.locator(".material-rules").first.inner_text()
    page.fill("#p-env", "sandbox")
    page.select_option("#p-team1", "model-risk")
    page.locator("input[name=material_rule][value=new_training_code]").uncheck()
    page.fill("#p-drop", "5")
    page.fill("#p-reason", "sandbox: code changes are routine")
    page.locator("#p-material").screenshot(path=str(SCREENSHOTS / "policy-material-change.png"))
    page.get_by_role("button", name="Save new version").click()
    page.wait_for_load_state()
    row = page.locator("tr", has_text="sandbox").first.inner_text()
    assert "metrics worse by more than 5%" in row and "new training code" not in row


def test_editing_a_policy_version_on_the_page_keeps_what_was_not_changed(new_page) -> None:
    from portal.approvals.models import Policy

    first = Policy.objects.order_by("environment", "key", "-version").first()  # the table's first row
    page = new_page(demo.ALEX.username, demo.ALEX.password)
    page.goto("/approvals/policies")
    page.locator("tbody tr").first.get_by_role("link", name="edit").click()
    page.wait_for_load_state()
    assert page.locator("#p-env").input_value() == first.environment
    assert page.locator("#p-exp").input_value() == str(first.approval_expiry_days)
    page.fill("#p-wait", str(first.min_wait_hours + 12))
    page.fill("#p-reason", "a longer wait before approval")
    page.locator("#policy-form").screenshot(path=str(SCREENSHOTS / "policy-edit.png"))
    page.get_by_role("button", name="Save new version").click()
    page.wait_for_load_state()
    after = Policy.objects.filter(key=first.key).order_by("-version").first()
    assert after.version == first.version + 1 and after.min_wait_hours == first.min_wait_hours + 12
    assert after.material_change == first.material_change or not first.material_change
    assert after.retrospective_days == first.retrospective_days
    assert after.required_evidence == first.required_evidence and after.governed == first.governed
    assert sorted((g.team.name, g.min_approvals) for g in after.groups.all()) == sorted(
        (g.team.name, g.min_approvals) for g in first.groups.all())
