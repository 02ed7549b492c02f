"""Incident pages: the list with every clock's deadline, one incident with its actions, notifications and the
closing signature, and opening an incident from a breach alert."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from portal.accounts.permissions import CURATE_ROLES, has_role, request_user
from portal.governance.parameters import parameters_timeline
from portal.lib.errors import DomainError, FieldError, query_datetime
from portal.monitoring.models import Alert
from portal.web.reauth_views import needs_reauth, reauth_begin, reauth_form

from . import services
from .models import Incident, Notification


def _visible(request: HttpRequest, pk: int) -> Incident:
    incident = Incident.objects.visible_to(request.user).select_related("opened_by", "closed_by").filter(
        pk=pk).first()
    if incident is None:
        raise Http404
    return incident


@login_required
@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    incidents = list(Incident.objects.visible_to(request.user).prefetch_related("notifications", "deployments")[:200])
    params_at = parameters_timeline()
    rows = [(i, services.incident_clock_status(i, params_at=params_at)) for i in incidents]
    return render(request, "incidents/list.html", {
        "open_rows": [r for r in rows if r[0].state == Incident.State.OPEN],
        "closed_rows": [r for r in rows if r[0].state == Incident.State.CLOSED]})


@login_required
@require_GET
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _visible(request, pk))


def _detail(request: HttpRequest, incident: Incident, *, status: int = 200) -> HttpResponse:
    return render(request, "incidents/detail.html", status=status, context={
        "incident": incident, "clocks": services.incident_clock_status(incident),
        "actions": incident.actions.select_related("by"), "notifications": incident.notifications.all(),
        "alerts": incident.alerts.select_related("deployment", "result"),
        "may_handle": services.may_handle(request_user(request)), "may_close": has_role(request.user, CURATE_ROLES),
        "clock_choices": Notification.Clock.choices})


@login_required
@require_POST
def incident_update(request: HttpRequest, pk: int) -> HttpResponse:
    """The forms of the incident page: an action, a notification, or the closing signature."""
    incident = _visible(request, pk)
    what = request.POST.get("what", "")
    try:
        if what == "action":
            services.incident_action_add(by=request_user(request), incident=incident, text=request.POST.get("text", ""))
        elif what == "notify":
            when = query_datetime({"notified_at": request.POST.get("notified_at", "").strip()}, "notified_at")
            services.incident_notify(by=request_user(request), incident=incident, clock=request.POST.get("clock", ""),
                                     notified_at=when, authority=request.POST.get("authority", ""),
                                     reference=request.POST.get("reference", ""),
                                     exempt_reason=request.POST.get("exempt_reason", ""))
        elif what == "close" and needs_reauth(request):
            services.incident_close_check(by=request_user(request))
            return reauth_begin(request, back=reverse("incidents:detail", args=[incident.pk]))
        elif what == "close":
            services.incident_close(by=request_user(request), incident=incident, reauth=reauth_form(request),
                                    password=request.POST.get("password", ""), reason=request.POST.get("reason", ""))
        else:
            raise DomainError("Unknown form.", field="what")
    except (DomainError, FieldError) as exc:
        # Bad input is the caller's: 400 naming the field, the page shown again, nothing recorded.
        messages.error(request, f"{exc.field}: {exc.message}" if isinstance(exc, FieldError) else exc.message)
        return _detail(request, incident, status=400)
    messages.success(request, "Recorded.")
    return redirect("incidents:detail", pk=incident.pk)


@login_required
@require_POST
def incident_from_alert(request: HttpRequest, pk: int) -> HttpResponse:
    alert = Alert.objects.visible_to(request.user).select_related("deployment", "result").filter(pk=pk).first()
    if alert is None:
        raise Http404
    try:
        incident = services.incident_open_from_alert(by=request_user(request), alert=alert)
    except (DomainError, FieldError) as exc:
        messages.error(request, exc.message)
        return redirect("web:node-detail", node_id=alert.deployment.node_id)
    messages.success(request, f"Incident #{incident.pk} opened from alert #{alert.pk}.")
    return redirect("incidents:detail", pk=incident.pk)
