"""Demo monitoring: a monthly monitor of credit-scoring v6 in production, whose latest run finds the applicants'
income distribution drifted past the tier limit (an open alert on the deployment page and the dashboard).

Days are story days (``story.at``: ``SPREAD`` calendar days each), so a month is ``MONTH`` of them and the last
run falls before the demo's anchor, never in the future."""

from __future__ import annotations

from typing import Any

from lineage.openlineage import parse_event
from lineage.services import events_ingest
from portal.accounts.models import User
from portal.demo import story as demo

MONITOR_PRODUCER = "https://github.com/evidentlyai/evidently/tree/v0.6.7"
# The feature version credit-scoring v6 was trained on (the run id of the features run that wrote it).
TRAINING_VERSION = demo.run_uuid("credit/2025-09-16-manual/features")
MONTH = 30 // demo.SPREAD
# story day, psi, ks, auc: v6 reaches production on day 18; the story ends before day 56 (the anchor)
MONTHS = ((25, 0.043, 0.71, 0.779), (25 + MONTH, 0.071, 0.09, 0.774), (25 + 2 * MONTH, 0.27, 0.16, 0.748))


def events() -> list[dict[str, Any]]:
    model = demo.CREDIT_MODELS["6"]
    out = []
    for day, psi, ks, auc in MONTHS:
        start, end = demo.at(day - MONTH), demo.at(day)
        facets = {"portalMonitoring": demo._portal_facet(
            "PortalMonitoringRunFacet", MONITOR_PRODUCER,
            deployment={"namespace": model.namespace, "name": model.name, "version": model.version,
                        "environment": "production"},
            window={"start": demo.iso(start), "end": demo.iso(end)},
            reference={"namespace": demo.CREDIT_FEATURES.namespace, "name": demo.CREDIT_FEATURES.name,
                       "version": TRAINING_VERSION},
            metrics=[{"name": "auc", "value": auc, "threshold": 0.75, "breachWhen": "below"},
                     {"name": "drift", "feature": "income_to_limit", "psi": psi, "ks": min(ks, 0.08)}])}
        out.append({
            "eventType": "COMPLETE", "eventTime": demo.iso(demo.at(day, 6)), "producer": MONITOR_PRODUCER,
            "schemaURL": demo.RUN_EVENT_SCHEMA,
            "run": {"runId": demo.run_uuid(f"credit/monitor/{day}"), "facets": facets},
            "job": {"namespace": demo.CREDIT_NS, "name": "monitor_credit_scoring", "facets": {}},
            # The reference (the training features) is read through the facet's ``reference``.
            "inputs": [{"namespace": demo.BANK_DB, "name": "core.customers", "facets": {}}],
            "outputs": []})
    return out


def load(users: dict[str, User]) -> int:
    """Ingest the monitoring runs (idempotent: each is stored once). Returns how many were new."""
    ingestor = users[demo.INGESTOR.username]
    outcomes = events_ingest(events=[parse_event(demo.event_bytes(e)) for e in events()], by=ingestor)
    return sum(o.status == "created" for o in outcomes)
