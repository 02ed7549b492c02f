"""Server-rendered pages. Thin: load through visible_to(user), call a service, render or redirect."""

from __future__ import annotations

import math
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from lineage import selectors
from lineage.models import NodeKind
from portal.accounts import services as account_services
from portal.accounts.models import ApiToken
from portal.audit.context import client_address
from portal.evidence import selectors as evidence_selectors


class PortalLoginView(auth_views.LoginView):
    """Django's sign-in, with every success and failure written to the audit trail, and lockout.

    While a username or client address is locked out the password is not even checked: the right one is
    refused too, so guessing learns nothing.
    """

    template_name = "accounts/login.html"

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

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        account_services.login_record(username=form.get_user().username, user=form.get_user(),
                                      client=client_address(self.request))
        return response

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
    nodes = selectors.node_list(user=request.user, kind=kind or None, q=q or None).prefetch_related("tags")[:100]
    return render(request, "lineage/home.html", {"nodes": nodes, "q": q, "kind": kind, "kinds": NodeKind.choices})


@login_required
def node_detail(request: HttpRequest, node_id: str) -> HttpResponse:
    node = selectors.node_get(user=request.user, node_id=node_id)
    if node is None:
        raise Http404
    up = selectors.lineage_walk(seeds=selectors.walk_seeds(node), direction="upstream", depth=3, max_nodes=200)
    down = selectors.lineage_walk(seeds=selectors.walk_seeds(node), direction="downstream", depth=3, max_nodes=200)
    near = selectors.nodes_by_pk(user=request.user, pks=[*up.distance, *down.distance])
    context = {
        "node": node,
        "tags": selectors.node_tags(node),
        "sensitive": selectors.sensitive_upstream(node=node),
        "upstream": [near[pk] for pk, d in sorted(up.distance.items(), key=lambda kv: kv[1]) if d and pk in near],
        "downstream": [near[pk] for pk, d in sorted(down.distance.items(), key=lambda kv: kv[1])
                       if d and pk in near],
        "node_documents": evidence_selectors.document_list(user=request.user, node=node),
    }
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
