"""Server-rendered pages. Thin: load through visible_to(user), call a service, render or redirect."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from lineage import asof, selectors
from lineage.api import GRAPH_DEFAULT_DEPTH, GRAPH_MAX_EXPAND
from lineage.api.asof import asof_from
from lineage.models import Node, NodeKind
from portal.accounts import mfa
from portal.accounts import services as account_services
from portal.accounts.models import ApiToken, Role, User
from portal.accounts.permissions import AUDIT_ROLES, REPORT_ROLES, has_role
from portal.audit.context import client_address
from portal.evidence import selectors as evidence_selectors
from portal.incidents import selectors as incident_selectors
from portal.incidents import services as incident_services
from portal.lib.errors import FieldError
from portal.monitoring import selectors as monitoring_selectors
from portal.reports.selectors import posture_overview

from . import selectors as web_selectors
from .account_views import second_step_begin, session_sign_in, sso_context

# Where each role starts after signing in: the page of their daily work.
LANDING = {Role.APPROVER: "approvals:inbox", Role.AUDITOR: "audit:log", Role.COMPLIANCE_OFFICER: "web:dashboard",
           Role.ADMIN: "web:dashboard", Role.VIEWER: "web:home", Role.INGESTOR: "web:tokens"}


def landing_url(user: User) -> str:
    return reverse("web:dashboard" if user.is_superuser else LANDING.get(user.role, "web:home"))


class PortalLoginView(auth_views.LoginView):
    """Django's sign-in, with every success and failure written to the audit trail, and lockout.

    While a username or client address is locked out the password is not even checked: the right one is
    refused too, so guessing learns nothing.
    """

    template_name = "accounts/login.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), **sso_context()}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        client = client_address(request)
        if account_services.login_lockout(username=username, client=client):
            wait = account_services.login_record(username=username, user=None, client=client, refused=True)
            return self._locked(wait)
        return super().post(request, *args, **kwargs)

    def _locked(self, wait: int) -> HttpResponse:
        form = self.get_form_class()(self.request)  # unbound: nothing is authenticated
        context = self.get_context_data(form=form, locked_minutes=max(1, math.ceil(wait / 60)))
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(wait)
        return response

    def get_default_redirect_url(self) -> str:
        # Called after the user is signed in, when no safe ``next`` was given.
        return landing_url(self.request.user)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if mfa.device_of(user) is not None:  # the password alone does not sign in: a code is asked next
            return second_step_begin(self.request, user, self.get_redirect_url())
        session_sign_in(self.request, user, [mfa.AMR_PASSWORD])
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        wait = account_services.login_record(username=form.data.get("username", ""), user=None,
                                             client=client_address(self.request))
        if wait:
            return self._locked(wait)
        return super().form_invalid(form)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and compose healthchecks. No data disclosed."""
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "database": False}, status=503)
    return JsonResponse({"status": "ok", "database": True})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "")
    kind = kind if kind in NodeKind.values else ""
    if not q and not kind:  # before any search: what the user's teams own, by kind, recently changed first
        return render(request, "lineage/home.html", {"groups": web_selectors.team_landing(user=request.user),
                                                     "q": q, "kind": kind, "kinds": NodeKind.choices})
    nodes = (selectors.node_list(user=request.user, kind=kind or None, q=q or None)
             .select_related("parent").prefetch_related("tags")[:100])
    return render(request, "lineage/home.html", {"nodes": nodes, "q": q, "kind": kind, "kinds": NodeKind.choices})


def _count(rows: list[Any], count: Callable[[], int]) -> int:
    return len(rows) if len(rows) < settings.PORTAL_DASHBOARD_PANEL_ROWS else count()


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    deployments = web_selectors.production_deployments(user=user, limit=settings.PORTAL_DASHBOARD_PANEL_ROWS)
    violations = web_selectors.violations_open(user=user, limit=settings.PORTAL_DASHBOARD_PANEL_ROWS)
    alerts = monitoring_selectors.alerts_open(user=user, limit=settings.PORTAL_DASHBOARD_PANEL_ROWS)
    waiting = web_selectors.releases_waiting(user=user, limit=settings.PORTAL_DASHBOARD_PANEL_ROWS)
    return render(request, "web/dashboard.html", {
        "deployments": deployments,
        "deployment_count": _count(deployments, lambda: web_selectors.deployments_count(user=user)),
        "unapproved": (sum(1 for d in deployments if not d.release_pk)
                       if len(deployments) < settings.PORTAL_DASHBOARD_PANEL_ROWS
                       else web_selectors.deployments_count(user=user, approved="no")),
        # A card shows the whole count (the number its list holds), the panel its first rows: counted only when
        # the panel is full.
        "violations": violations,
        "violation_count": _count(violations, lambda: web_selectors.violations_count(user=user)),
        "alerts": alerts,
        "alert_count": _count(alerts, lambda: monitoring_selectors.alerts_open_count(user=user)),
        "waiting_count": _count(waiting, lambda: web_selectors.releases_waiting_count(user=user)),
        "incidents": incident_selectors.incidents_open_by_deadline(user=user),
        "waiting": waiting,
        "violation_weeks": web_selectors.violations_per_week(user=user),
        "pending_weeks": web_selectors.releases_pending_per_week(user=user),
        "is_auditor": has_role(user, AUDIT_ROLES),
        "posture": posture_overview() if has_role(user, REPORT_ROLES) else None,
        **web_selectors.recent_activity(user=user),
        **web_selectors.chain_summary(),
    })


def _page_asof(request: HttpRequest) -> asof.AsOf | None:
    """The page's ``asOf``/``asOfKind`` as the API reads them; a value it cannot read is a ``FieldError`` naming it
    (answered by ``_asof_refused``), not a page drawn as of now under a moment the reader asked for."""
    return asof_from(request.GET)


def _asof_refused(request: HttpRequest, exc: FieldError) -> HttpResponse:
    return render(request, "400.html", {"error": str(exc)}, status=400)


def _node_dropped(request: HttpRequest, node_id: str, at: asof.AsOf | None) -> Node | None:
    """A node dropped since (an ``initial`` version replaced) that existed at the page's ``asOf``, as the API
    answers it (``asof.nodes_get``: the reader's visibility, else None as for a node that never was)."""
    if at is None:
        return None
    found = asof.nodes_get(user=request.user, node_ids=[node_id], at=at)
    return found[0] if found else None


def _as_of_input(at: asof.AsOf | None) -> str:
    """The moment as the "As of (UTC)" control holds it: UTC without a zone, to the millisecond at most (a
    ``datetime-local`` input empties any other value, and the graph would be drawn as of now)."""
    if at is None:
        return ""
    moment = at.at.astimezone(UTC).replace(tzinfo=None)
    if moment.microsecond:
        return moment.isoformat(timespec="milliseconds")
    return moment.isoformat(timespec="seconds")


@login_required
def explore(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    node_id = request.GET.get("node", "")
    node = selectors.node_get(user=request.user, node_id=node_id) if node_id else None
    try:
        at = _page_asof(request)
    except FieldError as exc:
        return _asof_refused(request, exc)
    dropped = False
    if node_id and node is None:
        node = _node_dropped(request, node_id, at)
        dropped = node is not None
    if node_id and node is None:
        raise Http404
    results = selectors.node_list(user=request.user, q=q).prefetch_related("tags")[:50] if q else []
    config = None
    if node is not None:
        try:
            depth = min(max(int(request.GET.get("depth", GRAPH_DEFAULT_DEPTH)), 1), settings.LINEAGE_MAX_DEPTH)
        except ValueError:
            depth = GRAPH_DEFAULT_DEPTH
        direction = request.GET.get("direction", "both")
        config = {
            "node": node.node_id, "depth": depth,
            "direction": direction if direction in ("both", "upstream", "downstream") else "both",
            "expand": request.GET.getlist("expand")[:GRAPH_MAX_EXPAND], "maxExpand": GRAPH_MAX_EXPAND,
            # Prefixes reversed from the URLconf, so the portal also works under a sub-path.
            "nodeApi": reverse("lineage:node-detail", kwargs={"node_id": "_"})[:-1],
            "pathApi": reverse("lineage:path"),
            "nodePage": reverse("web:node-detail", kwargs={"node_id": "_"})[:-1],
            "explorePage": reverse("web:explore"), "kinds": dict(NodeKind.choices),
        }
    return render(request, "lineage/explore.html", {"q": q, "results": results, "node": node, "config": config,
                                                    "max_depth": min(settings.LINEAGE_MAX_DEPTH, 12),
                                                    "as_of": _as_of_input(at), "as_of_kind": at.kind if at else "",
                                                    "dropped": dropped})


@login_required
def node_detail(request: HttpRequest, node_id: str) -> HttpResponse:
    node = selectors.node_get(user=request.user, node_id=node_id)
    # asked as of a time (the explorer's link as of then): the explorer as of that moment, one link away
    try:
        at = _page_asof(request)
    except FieldError as exc:
        return _asof_refused(request, exc)
    explore_as_of = urlencode({"node": node_id, "asOf": at.at.isoformat(), "asOfKind": at.kind}) if at else ""
    if node is None:
        # a node dropped since, as of a moment it existed: what is known of it, with the explorer's and the API's
        # visibility (asof.nodes_get); anything else is the 404 of a node that never was
        dropped = _node_dropped(request, node_id, at)
        if dropped is None:
            raise Http404
        context = web_selectors.dropped_node_page(user=request.user, node=dropped)
        context["explore_query"] = explore_as_of
        return render(request, "lineage/node_dropped.html", context)
    context = web_selectors.node_page(user=request.user, node=node)
    context["as_of_query"] = explore_as_of  # a node that still is: its page is as of now, and says so
    context["node_documents"] = evidence_selectors.document_list(user=request.user, node=node)
    context["pending"] = selectors.node_pending(node=node)
    if node.kind == "deployment":
        context.update(monitoring_selectors.deployment_monitoring(user=request.user, deployment=node))
        context["may_open_incident"] = incident_services.may_handle(request.user)
    return render(request, "lineage/node_detail.html", context)


@never_cache
@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    tokens = ApiToken.objects.filter(user=request.user)
    return render(request, "accounts/tokens.html", {"tokens": tokens})


@never_cache
@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip()[:100]
    token, raw = account_services.token_issue(user=request.user, name=name, by=request.user)
    tokens = ApiToken.objects.filter(user=request.user)
    # The raw token is rendered once, in this response, and never stored.
    return render(request, "accounts/tokens.html", {"tokens": tokens, "new_token": raw, "new_name": token.name})


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    account_services.token_revoke(token=token, by=request.user)
    messages.success(request, f"Token {token.prefix}… revoked.")
    return redirect("web:tokens")
