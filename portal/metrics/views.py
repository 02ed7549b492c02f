"""``GET /metrics``: the Prometheus exposition, for a scraper holding the token or on an allowed network."""

from __future__ import annotations

import hmac
import ipaddress
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from portal.audit.context import client_address

from .collectors import PortalCollector

# The classic text format every Prometheus reads (our names need no escaping); newer clients default to 1.0.0.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DATABASE = CollectorRegistry(auto_describe=False)
DATABASE.register(PortalCollector())


def _allowed(request: HttpRequest) -> bool:
    token = settings.PORTAL_METRICS_TOKEN
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    if token and sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].strip().encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    return any(address in net for net in settings.PORTAL_METRICS_ALLOWED_NETWORKS)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponse("Forbidden: /metrics needs the metrics token or an allowed network.\n", status=403,
                            content_type="text/plain; charset=utf-8")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        requests = CollectorRegistry()
        MultiProcessCollector(requests)
    else:
        requests = REGISTRY
    body = generate_latest(requests) + generate_latest(DATABASE)
    return HttpResponse(body, content_type=CONTENT_TYPE)
