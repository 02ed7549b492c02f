"""The approver's day in Chromium: the inbox, signing (a wrong password keeps what was typed), the signature in
place of the form, "signed by me", a confirmed rejection, a release that changed under the reviewer, and the
deployment page naming who approved it."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from lineage.models import Node
from portal.approvals.models import Release
from portal.demo import story as demo
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def churn_release() -> Release:
    return Release.objects.get(model_version__name=demo.CHURN_MODEL, model_version__version="4",
                               environment="production")


def open_from_inbox(page, release: Release) -> None:
    waiting = page.locator("#waiting")
    waiting.get_by_role("link", name=f"#{release.pk}", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"Release #{release.pk}")


def test_an_approver_signs_after_a_wrong_password_and_finds_the_release_under_signed_by_me(new_page) -> None:
    release = churn_release()
    page = new_page(demo.MARCUS.username, demo.MARCUS.password)
    assert page.url.endswith("/approvals/")  # approvers land on their inbox
    screenshot(page, "approver-inbox")
    open_from_inbox(page, release)
    commits = page.locator("#commits").inner_text()
    assert "author " in commits and "committer " in commits
    page.fill("#reason", "Back-test within limits; drift report reviewed.")
    page.fill("#password", "not my password")
    page.get_by_role("button", name="Sign", exact=True).click()
    page.wait_for_load_state()
    assert "The password is wrong; nothing was signed." in page.locator("#form-error").inner_text()
    assert page.input_value("#reason") == "Back-test within limits; drift report reviewed."
    screenshot(page, "approver-wrong-password")
    page.fill("#password", demo.MARCUS.password)
    page.get_by_role("button", name="Sign", exact=True).click()
    page.wait_for_load_state()
    flash = page.locator(".flash").first.inner_text()
    assert flash.startswith(f"Signed release #{release.pk} ({demo.CHURN_MODEL} 4 → production). It is now pending")
    assert page.locator("#sign-form").count() == 0
    assert "You signed this release" in page.locator("#my-signature").inner_text()
    assert "counts for model-risk" in page.inner_text("main")
    screenshot(page, "approver-signed")
    page.get_by_role("link", name="← approvals").click()
    page.wait_for_load_state()
    assert page.locator("#waiting").get_by_role("link", name=f"#{release.pk}", exact=True).count() == 0
    assert page.locator("#signed-by-me").get_by_role("link", name=f"#{release.pk}", exact=True).count() == 1
    screenshot(page, "approver-inbox-after")


def test_a_rejection_is_its_own_confirmed_step(new_page) -> None:
    release = churn_release()
    page = new_page(demo.ELENA.username, demo.ELENA.password)
    open_from_inbox(page, release)
    page.fill("#reject-reason", "The churn label leaks the cancellation date.")
    page.fill("#reject-password", demo.ELENA.password)
    page.get_by_role("button", name="Reject release").click()  # unticked: the browser keeps the form
    assert Release.objects.get(pk=release.pk).state == Release.State.PENDING
    page.check("#reject-confirm")
    screenshot(page, "approver-reject")
    page.get_by_role("button", name="Reject release").click()
    page.wait_for_load_state()
    assert (f"Rejected release #{release.pk} ({demo.CHURN_MODEL} 4 → production). It is now rejected"
            in page.locator(".flash").first.inner_text())
    assert Release.objects.get(pk=release.pk).state == Release.State.REJECTED


def test_a_release_that_changed_while_it_was_reviewed_is_not_signed_and_the_page_says_what_changed(
        new_page) -> None:
    release = churn_release()
    page = new_page(demo.ELENA.username, demo.ELENA.password)
    open_from_inbox(page, release)
    page.fill("#reason", "Metrics as shown.")
    page.fill("#password", demo.ELENA.password)
    mv = Node.objects.get(pk=release.model_version_id)  # the pipeline rewrites the metrics meanwhile
    mv.attrs = {**mv.attrs, "metrics": {**mv.attrs.get("metrics", {}), "auc": 0.99}}
    mv.save(update_fields=["attrs"])
    page.get_by_role("button", name="Sign", exact=True).click()
    page.wait_for_load_state()
    error = page.locator("#form-error").inner_text()
    assert "changed since you loaded it" in error and "metrics: auc" in error and "→ 0.99" in error
    assert page.input_value("#reason") == "Metrics as shown."
    screenshot(page, "approver-subject-changed")
    assert not release.signatures.exists()


def test_the_deployment_page_names_the_approvers(new_page) -> None:
    page = new_page(demo.ALEX.username, demo.ALEX.password)
    dep = Node.objects.get(kind="deployment", name=demo.CREDIT_MODEL, version="6", environment="production")
    page.goto("/lineage/node/" + quote(dep.node_id, safe=""))
    page.locator("#approved-by").scroll_into_view_if_needed()
    approved = page.locator("#approved-by").inner_text()
    assert "Elena Garcia (for model-risk)" in approved and "Sam Okafor (for compliance)" in approved
    screenshot(page, "deployment-approvers")
