"""The lists the dashboard's cards count: each card links to the list of exactly the rows it counts."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.accounts.permissions import request_user
from portal.monitoring import selectors as monitoring_selectors

from . import selectors as web_selectors

APPROVED = {"": "", "yes": "with an approved release", "no": "without an approved release"}


@login_required
@require_GET
def deployment_list(request: HttpRequest) -> HttpResponse:
    environment = request.GET.get("environment", "production").strip() or "production"
    approved = request.GET.get("approved", "")
    if approved not in APPROVED:
        return render(request, "web/list.html", status=400, context={
            "what": "deployments", "error": "approved: expected yes or no"})
    rows = web_selectors.production_deployments(user=request_user(request), environment=environment)
    if approved:
        rows = [d for d in rows if bool(getattr(d, "release_pk", None)) == (approved == "yes")]
    return render(request, "web/list.html", {"what": "deployments", "rows": rows, "environment": environment,
                                             "approved": approved, "approved_words": APPROVED[approved]})


@login_required
@require_GET
def violation_list(request: HttpRequest) -> HttpResponse:
    rows = web_selectors.violations_open(user=request_user(request), limit=web_selectors.LIST_CAP)
    return render(request, "web/list.html", {"what": "violations", "rows": rows, "cap": web_selectors.LIST_CAP})


@login_required
@require_GET
def alert_list(request: HttpRequest) -> HttpResponse:
    rows = monitoring_selectors.alerts_open(user=request_user(request), limit=web_selectors.LIST_CAP)
    return render(request, "web/list.html", {"what": "alerts", "rows": rows, "cap": web_selectors.LIST_CAP})


@login_required
@require_GET
def release_waiting_list(request: HttpRequest) -> HttpResponse:
    rows = web_selectors.releases_waiting(user=request_user(request), limit=web_selectors.LIST_CAP)
    return render(request, "web/list.html", {"what": "releases", "rows": rows, "cap": web_selectors.LIST_CAP})
