"""End to end, in Chromium: the approver signs from the inbox, the compliance officer finds PHI upstream of a
model in the explorer, an outsider is refused, and hostile names stay text."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from portal.approvals.models import Release
from portal.demo import story as demo
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

MODEL = "modelVersion:clinical-ai:readmission#2"
PATIENTS = "dataset:postgres://ehr-db:5432:clinical.patients"
HOSTILE = "<img src=x onerror=alert(1)>"


def node_page(node_id: str) -> str:
    return "/lineage/node/" + quote(node_id, safe="")


def test_the_compliance_signer_signs_the_pending_release_from_the_inbox(new_page) -> None:
    page = new_page(demo.SAM.username, demo.SAM.password)
    assert page.url.endswith("/dashboard/")  # compliance officers land on the dashboard
    screenshot(page, "dashboard")
    page.get_by_role("link", name="Approvals", exact=True).click()
    waiting = page.locator("section", has=page.get_by_role("heading", name="Waiting for me"))
    model, version, environment, _ = (demo.CREDIT_MODEL, "7", "production", None)
    release = Release.objects.get(model_version__name=model, model_version__version=version, environment=environment)
    waiting.get_by_role("link", name=f"#{release.pk}", exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"Release #{release.pk}")
    screenshot(page, "release")
    page.fill("#reason", "DPIA on file; lawful basis confirmed.")
    page.fill("#password", demo.SAM.password)
    page.get_by_role("button", name="Sign", exact=True).click()
    page.wait_for_load_state()
    assert (f"Signed release #{release.pk} ({model} {version} → {environment}). It is now approved"
            in page.inner_text("main"))
    assert page.locator(".facts .state").first.inner_text() == "approved"
    release.refresh_from_db()
    assert release.state == Release.State.APPROVED
    assert release.signatures.filter(signer__username=demo.SAM.username, voided_at__isnull=True).exists()


def test_a_compliance_officer_finds_the_upstream_phi_dataset_in_the_explorer(new_page) -> None:
    page = new_page(demo.SAM.username, demo.SAM.password)
    page.get_by_role("link", name="Explorer", exact=True).click()
    page.fill("#q", "readmission")
    page.get_by_role("button", name="Find").click()
    page.locator(".results li", has_text="Model version").get_by_role("link", name="readmission #2").click()
    page.wait_for_selector(".gnode.root")
    patients = page.locator(".gnode[aria-label*='clinical.patients']")
    patients.wait_for()
    assert patients.locator(".badge-PHI").count() == 1
    assert "sensitive data: PHI" in patients.get_attribute("aria-label")
    patients.click()
    panel = page.locator("#panel")
    panel.locator("dl").wait_for()
    text = panel.inner_text()
    assert "clinical.patients" in text and PATIENTS in text and "PHI" in text
    patients.hover()
    for _ in range(3):  # wheel zoom keeps the point under the cursor in place
        page.mouse.wheel(0, -120)
        page.wait_for_timeout(60)
    box = patients.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 60)
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + 60, steps=5)  # pan right so the whole PHI node shows
    page.mouse.up()
    page.wait_for_timeout(200)
    screenshot(page, "explorer")
    # the path from the PHI dataset to the model lights up
    panel.get_by_role("button", name="Path from here").click()
    page.locator(".gnode.root").focus()  # the keyboard way: focus brings the node into view, Enter selects it
    page.keyboard.press("Enter")
    panel.get_by_role("button", name="to here").click()
    page.wait_for_selector(".gnode.on-path")
    on_path = page.locator(".gnode.on-path")
    assert on_path.count() >= 4 and page.locator(".gedge.on-path").count() == on_path.count() - 1
    assert "clinical.patients" in " ".join(on_path.nth(i).get_attribute("aria-label") for i in range(on_path.count()))
    page.get_by_role("button", name="Clear path").click()
    # the depth bound is told, and keyboard users reach nodes and open them with Enter
    page.fill("#depth", "1")
    page.dispatch_event("#depth", "change")
    page.wait_for_selector("#graph-notice:not([hidden])")
    assert "cut at depth 1" in page.inner_text("#graph-notice")
    page.locator(".gnode.root").focus()
    page.keyboard.press("Enter")
    panel.get_by_text(MODEL).wait_for()
    # E expands a node in place: its neighbours join the drawing and the URL keeps the expansion
    before = page.locator(".gnode").count()
    page.locator(".gnode.k-run").first.focus()
    page.keyboard.press("e")
    _wait_for_nodes(page, before + 1)
    assert "expand=" in page.url


def test_an_outsider_is_refused(new_page) -> None:
    from portal.accounts.services import user_ensure

    user_ensure(username="mallory", role="viewer", password="outsider-pass-1", team="marketing")
    page = new_page("mallory", "outsider-pass-1")
    assert page.goto(node_page(PATIENTS)).status == 404
    assert page.goto("/lineage/explore/?node=" + quote(PATIENTS, safe="")).status == 404
    assert page.request.get(f"/api/v1/nodes/{quote(PATIENTS, safe='')}/graph").status == 404
    release = Release.objects.filter(model_version__namespace="clinical-ai").first()
    assert page.goto(f"/approvals/releases/{release.pk}").status == 404
    assert page.goto("/audit/").status == 403


def test_hostile_names_are_shown_as_text(new_page) -> None:
    from lineage.openlineage import parse_event
    from lineage.services import events_ingest
    from tests.factories import dataset, run_event

    ev = run_event(job=HOSTILE, namespace="sandbox", inputs=[dataset("s3://sandbox", HOSTILE, tags={"x": ["PII"]})])
    events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)
    page = new_page(demo.SAM.username, demo.SAM.password)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto("/?q=" + quote("onerror"))
    assert page.get_by_text(HOSTILE).first.is_visible()
    page.goto(node_page(f"dataset:s3://sandbox:{HOSTILE}"))
    assert page.get_by_role("heading", level=1).inner_text() == HOSTILE
    page.goto("/lineage/explore/?node=" + quote(f"dataset:s3://sandbox:{HOSTILE}", safe=""))
    page.wait_for_selector(".gnode.root")
    page.locator(".gnode.root").click()
    page.locator("#panel dl").wait_for()
    assert HOSTILE in page.inner_text("#panel")
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.locator("img[src=x]").count() == 0


def test_the_explorer_stays_responsive_at_300_nodes(new_page) -> None:
    import time

    from lineage.openlineage import parse_event
    from lineage.services import events_ingest
    from tests.factories import dataset, run_event

    # One table read by 200 jobs that each write their own: far more than the 300 nodes drawn.
    events = [run_event(job=f"fan_{i:03d}", namespace="wide", time="2026-01-10T10:00:00Z",
                        inputs=[dataset("s3://wide", "source", tags={"email": ["PII"]})],
                        outputs=[dataset("s3://wide", f"out_{i:03d}")]) for i in range(200)]
    events_ingest(events=[parse_event(json.dumps(e).encode()) for e in events], by=None)
    page = new_page(demo.SAM.username, demo.SAM.password)
    t0 = time.perf_counter()
    page.goto("/lineage/explore/?node=" + quote("dataset:s3://wide:source", safe=""))
    _wait_for_nodes(page, 300)
    drawn = time.perf_counter() - t0
    assert page.locator(".gnode").count() == 300
    assert "Only the 300 nodes nearest" in page.inner_text("#graph-notice")
    assert page.locator(".gnode .badge-PII").count() >= 200  # the PII reaches every output
    screenshot(page, "explorer-300")
    before = page.get_attribute("#viewport", "transform")
    t0 = time.perf_counter()
    page.mouse.move(500, 500)
    page.mouse.down()
    for i in range(30):
        page.mouse.move(500 + 5 * i, 500 + 3 * i)
    page.mouse.up()
    for _ in range(10):
        page.mouse.wheel(0, -100)
    page.evaluate("new Promise(r => requestAnimationFrame(() => r()))")
    interaction = time.perf_counter() - t0
    # Timings are printed, not asserted (bench/, not the suite, holds performance figures): the pan and the
    # zoom must have moved the view, and every node must still be drawn.
    print(f"300 nodes drawn in {drawn:.2f}s; 30 pan moves and 10 zoom steps in {interaction:.2f}s")
    after = page.get_attribute("#viewport", "transform")
    assert before and after and after != before, (before, after)
    assert page.locator(".gnode").count() == 300


def _wait_for_nodes(page, at_least: int, timeout: float = 15.0) -> None:  # noqa: ANN001
    """Poll from Python: page.wait_for_function evaluates a string, which the CSP (no 'unsafe-eval') refuses."""
    import time

    deadline = time.monotonic() + timeout
    while page.locator(".gnode").count() < at_least:
        assert time.monotonic() < deadline, f"fewer than {at_least} nodes drawn"
        page.wait_for_timeout(50)


def test_a_model_page_shows_which_sensitive_columns_reach_it_and_how(new_page) -> None:
    """The credit model is trained on features derived from customers.dob (PII, DIRECT); the churn model's
    features are only filtered on the CRM's e-mail column (PII, INDIRECT)."""
    page = new_page(demo.SAM.username, demo.SAM.password)
    page.goto(node_page(f"modelVersion:{demo.CREDIT_NS}:{demo.CREDIT_MODEL}#7"))
    section = page.locator("#column-sensitivity")
    section.scroll_into_view_if_needed()
    row = section.locator("table").first.locator("tr", has=page.locator(".tag-PII"))  # the summary; "By column" follows
    assert "core.customers" in row.locator("td").nth(1).inner_text() and "dob" in row.inner_text()
    screenshot(page, "model_column_sensitivity")
    page.goto(node_page(f"modelVersion:{demo.ANALYTICS_NS}:{demo.CHURN_MODEL}#4"))
    row = page.locator("#column-sensitivity table").first.locator("tr", has=page.locator(".tag-PII"))
    assert row.locator("td").nth(1).inner_text() == "—"
    assert "email" in row.locator("td").nth(2).inner_text()


def test_a_right_to_left_override_in_a_name_is_shown_not_obeyed_in_the_explorer(new_page) -> None:
    from lineage.openlineage import parse_event
    from lineage.services import events_ingest
    from tests.factories import dataset, run_event

    deceptive = "invoice\u202egpj.exe"
    ev = run_event(job="rtl", namespace="sandbox", inputs=[dataset("s3://sandbox", deceptive)])
    events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)
    page = new_page(demo.SAM.username, demo.SAM.password)
    page.goto("/lineage/explore/?node=" + quote(f"dataset:s3://sandbox:{deceptive}", safe=""))
    page.wait_for_selector(".gnode.root")
    page.locator(".gnode.root").click()
    page.locator("#panel dl").wait_for()
    panel = page.inner_text("#panel")
    assert "invoice[U+202E]gpj.exe" in panel and "\u202e" not in panel
    drawn = page.locator("svg").first.evaluate("e => e.textContent")
    assert "\u202e" not in drawn and "[U+202E]" in drawn and "\u202e" not in page.inner_text("h1")
    screenshot(page, "explorer-rtl")
