"""Request metrics of the ingest endpoints, counted in the process that serves them.

Under gunicorn with several workers set ``PROMETHEUS_MULTIPROC_DIR`` (an empty directory per start): each
worker then writes its samples there and ``/metrics`` adds them up (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Histogram

# The views whose requests are ingestion: OpenLineage events, REST records and monitoring results.
INGEST_VIEWS = frozenset({"lineage:lineage", "lineage:lineage-batch", "lineage:commit-create",
                          "lineage:model-version-create", "lineage:deployment-create", "monitoring:ingest"})

INGEST_REQUESTS = Counter("portal_ingest_requests", "Ingest requests by endpoint and outcome.",
                          ["endpoint", "outcome"])
INGEST_SECONDS = Histogram("portal_ingest_request_seconds", "Time to answer an ingest request.",
                           ["endpoint", "outcome"],
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))


def outcome(status: int) -> str:
    """created (201), accepted (other 2xx: a duplicate, a batch), refused (4xx: bad input, auth) or error (5xx)."""
    if status == 201:
        return "created"
    if status < 400:
        return "accepted"
    return "refused" if status < 500 else "error"


class IngestMetricsMiddleware:
    """Counts and times requests to the ingest endpoints (reads and pages are not measured here)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.view_name in INGEST_VIEWS and request.method == "POST":
            labels = (match.view_name, outcome(response.status_code))
            INGEST_REQUESTS.labels(*labels).inc()
            INGEST_SECONDS.labels(*labels).observe(time.perf_counter() - start)
        return response
