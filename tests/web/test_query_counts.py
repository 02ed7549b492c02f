"""Query budgets of the main pages over the demo organisation, and node pages that do not grow with the graph.

A page that queries once per row (N+1) fails here: either its budget on the demo, or the check that adding
runs, readers and versions leaves its number of queries unchanged.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lineage.models import Node
from lineage.openlineage import parse_event
from lineage.services import events_ingest
from portal.accounts.models import User
from portal.approvals.models import Release
from portal.audit.models import AuditEntry
from portal.demo import story as demo
from portal.demo.management.commands.load_demo import _load
from tests.factories import dataset, run_event

pytestmark = pytest.mark.django_db

CUSTOMERS = f"dataset:{demo.BANK_DB}:core.customers"
MODEL = "modelVersion:clinical-ai:readmission#2"

# Budgets: the count measured on the demo, plus a little room. The release page pays for each approver's
# eligibility (three approvers in the demo). Sensitive-tag questions walk upstream one query per level, so
# they cost more on deeper lineage (at most PORTAL_MAX_DEPTH levels), never more per row. Dataset pages also
# show the dataset's governance record (the record, its subject-key count, its tags for warnings). Dataset,
# version and model pages say which sensitive columns reach them: their columns (one query), two column walks
# upstream (a query per level) and the tags and names of what the walks reach (three): six more on the demo.
# Issue 14's evidence-backed de-identification stops add, per column walk level, which versions a
# de-identifying run wrote (dataset and version pages: two more on the demo), and, where a de-identifying run
# is met, one query for the determinations that vouch for it (the deployment page: one more).
# A deployment page names the approvers of its release (one query for the signatures); the inbox lists what I
# signed (one query).
BUDGETS = {
    "home": 6, "search": 6, "dashboard": 14, "inbox": 12, "release": 38, "audit log": 9, "audit entry": 8,
    "explorer": 5, "explorer search": 6, "graph api": 18, "dataset": 27, "datasetVersion": 25, "run": 20,
    "job": 14, "modelVersion": 26, "deployment": 20, "commit": 11,  # deployment: + monitoring results, alerts
    "reports": 8, "erasure tool": 6,
}
NODE_KINDS = ("dataset", "datasetVersion", "run", "job", "modelVersion", "deployment", "commit")


def _q(node_id: str) -> str:
    return quote(node_id, safe="")


def pages() -> dict[str, str]:
    def first(kind: str, **kw: str) -> str:
        return Node.objects.filter(kind=kind, **kw).order_by("pk").values_list("node_id", flat=True).first()

    ids = {"dataset": CUSTOMERS, "modelVersion": MODEL, "run": first("run", name__isnull=False),
           "datasetVersion": first("datasetVersion", name="core.customers"),
           "deployment": first("deployment", environment="production", state="active"),
           "job": first("job", name="credit_scoring_weekly"), "commit": first("commit")}
    out = {"home": "/", "search": "/?q=credit", "dashboard": "/dashboard/", "inbox": "/approvals/",
           "release": f"/approvals/releases/{Release.objects.filter(state='pending').first().pk}",
           "audit log": "/audit/", "audit entry": f"/audit/entries/{AuditEntry.objects.last().seq}",
           "explorer": f"/lineage/explore/?node={_q(MODEL)}", "explorer search": "/lineage/explore/?q=credit",
           "graph api": f"/api/v1/nodes/{_q(MODEL)}/graph?depth=10", "reports": "/reports/",
           "erasure tool": "/reports/erasure"}
    for kind in NODE_KINDS:
        assert ids[kind], kind
        out[kind] = f"/lineage/node/{_q(ids[kind])}"
    return out


def counts(client, urls: dict[str, str]) -> dict[str, int]:  # noqa: ANN001
    out = {}
    for name, url in urls.items():
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(url)
        assert r.status_code == 200, (name, url, r.status_code)
        out[name] = len(ctx.captured_queries)
    return out


@pytest.fixture
def admin_client(client):  # noqa: ANN001, ANN201
    _load()
    client.force_login(User.objects.get(username=demo.ALEX.username))
    return client


def test_the_main_pages_stay_within_their_query_budgets(admin_client) -> None:
    measured = counts(admin_client, pages())
    over = {name: (n, BUDGETS[name]) for name, n in measured.items() if n > BUDGETS[name]}
    assert not over, f"pages over their query budget (measured, budget): {over}"


def test_pages_do_not_query_more_when_the_graph_grows(admin_client) -> None:
    urls = {k: v for k, v in pages().items() if k not in ("release", "inbox", "audit entry")}
    before = counts(admin_client, urls)
    # More of everything a page lists: readers of the customers table, runs of a job, versions, outputs.
    for i in range(12):
        ev = run_event(job="credit_scoring_weekly.extra", namespace=demo.CREDIT_NS, run_id=str(uuid.uuid4()),
                       time=f"2025-10-{i + 1:02d}T10:00:00Z",
                       inputs=[dataset(demo.BANK_DB, "core.customers")],
                       outputs=[dataset(demo.CREDIT_ML, f"extra/out_{i}", tags={"ssn": ["PII"]})])
        events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)
    after = counts(admin_client, urls)
    grew = {name: (before[name], after[name]) for name in urls if after[name] > before[name]}
    assert not grew, f"query count grew with the data (before, after): {grew}"


def test_approval_pages_do_not_query_per_approver_or_vote(admin_client) -> None:
    """The inbox and the release page check every approver's eligibility from prefetched profiles."""
    from portal.accounts.services import user_ensure
    from portal.approvals.models import PolicyGroup

    urls = {k: v for k, v in pages().items() if k in ("release", "inbox")}
    before = counts(admin_client, urls)
    release = Release.objects.filter(state="pending").first()
    team = PolicyGroup.objects.filter(policy=release.policy).select_related("team").first().team.name
    for i in range(4):
        user_ensure(username=f"extra-approver-{i}", role="approver", email=f"x{i}@example.com", team=team)
    after = counts(admin_client, urls)
    assert after == before, f"(before, after): {before} {after}"
