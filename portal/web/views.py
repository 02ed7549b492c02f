"""Server-rendered pages. Thin: load through visible_to(user), call a service, render or redirect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from lineage import selectors
from lineage.models import NodeKind
from portal.accounts import services as account_services
from portal.accounts.models import ApiToken
from portal.evidence import selectors as evidence_selectors


class PortalLoginView(auth_views.LoginView):
    """Django's sign-in, with every success and failure written to the audit trail."""

    template_name = "accounts/login.html"

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        account_services.login_record(username=form.get_user().username, user=form.get_user())
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        account_services.login_record(username=form.data.get("username", ""), user=None)
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


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    tokens = ApiToken.objects.filter(user=request.user)
    return render(request, "accounts/tokens.html", {"tokens": tokens})


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
