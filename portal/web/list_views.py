"""The lists the dashboard's cards count: each card links to the list of exactly the rows it counts, a page of
``PORTAL_DASHBOARD_LIST_ROWS`` at a time ("500 of 1234", with the next page linked)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.accounts.permissions import request_user
from portal.monitoring import selectors as monitoring_selectors

from . import selectors as web_selectors

APPROVED = {"": "", "yes": "with an approved release", "no": "without an approved release"}


class BadFilter(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1").strip() or "1"
    if not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
        raise BadFilter("page", "expected a whole number from 1")
    return int(raw)


def _page(request: HttpRequest, rows_of: Callable[[int, int], list[Any]], count: Callable[[], int],
          keep: dict[str, str] | None = None) -> dict[str, Any]:
    """One page of a list: its rows, the whole count (counted only when there is more than one page) and the
    links to the pages around it, keeping the list's filters."""
    per_page, number = settings.PORTAL_DASHBOARD_LIST_ROWS, _page_number(request)
    rows = rows_of((number - 1) * per_page, per_page)
    total = len(rows) if number == 1 and len(rows) < per_page else count()
    pages = max(1, -(-total // per_page))
    if number > pages:
        raise BadFilter("page", f"past the last page ({pages})")

    def link(n: int) -> str:
        return "?" + urlencode({**(keep or {}), "page": n})

    return {"rows": rows, "total": total, "paged": pages > 1, "page": number, "pages": pages,
            "prev_url": link(number - 1) if number > 1 else "", "next_url": link(number + 1) if number < pages else ""}


def _refused(request: HttpRequest, what: str, exc: BadFilter) -> HttpResponse:
    return render(request, "web/list.html", status=400, context={"what": what, "error": str(exc)})


@login_required
@require_GET
def deployment_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    environments = web_selectors.deployment_environments(user=user)
    environment = request.GET.get("environment", "").strip() or web_selectors.DEFAULT_ENVIRONMENT
    approved = request.GET.get("approved", "")
    try:
        if environment not in environments:
            raise BadFilter("environment", f"unknown environment; expected one of {', '.join(environments)}")
        if approved not in APPROVED:
            raise BadFilter("approved", "expected yes or no")
        page = _page(request, lambda offset, limit: web_selectors.production_deployments(
            user=user, environment=environment, approved=approved, offset=offset, limit=limit),
            lambda: web_selectors.deployments_count(user=user, environment=environment, approved=approved),
            keep={"environment": environment, **({"approved": approved} if approved else {})})
    except BadFilter as exc:
        return _refused(request, "deployments", exc)
    return render(request, "web/list.html", {"what": "deployments", **page, "environment": environment,
                                             "environments": environments, "approved": approved,
                                             "approved_words": APPROVED[approved]})


def _simple_list(request: HttpRequest, what: str, rows_of: Callable[..., list[Any]],
                 count: Callable[..., int]) -> HttpResponse:
    user = request_user(request)
    try:
        page = _page(request, lambda offset, limit: rows_of(user=user, offset=offset, limit=limit),
                     lambda: count(user=user))
    except BadFilter as exc:
        return _refused(request, what, exc)
    return render(request, "web/list.html", {"what": what, **page})


@login_required
@require_GET
def violation_list(request: HttpRequest) -> HttpResponse:
    return _simple_list(request, "violations", web_selectors.violations_open, web_selectors.violations_count)


@login_required
@require_GET
def alert_list(request: HttpRequest) -> HttpResponse:
    return _simple_list(request, "alerts", monitoring_selectors.alerts_open, monitoring_selectors.alerts_open_count)


@login_required
@require_GET
def release_waiting_list(request: HttpRequest) -> HttpResponse:
    return _simple_list(request, "releases", web_selectors.releases_waiting, web_selectors.releases_waiting_count)
