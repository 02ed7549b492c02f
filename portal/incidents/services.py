"""Open, act on, notify and close incidents. Each write runs in one transaction with its audit entry."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from lineage.models import Node
from lineage.selectors import erasure_impact, sensitive_holders_upstream
from portal.accounts.models import Role, User
from portal.accounts.permissions import CURATE_ROLES, has_role
from portal.accounts.reauth import Confirmation, signer_confirm
from portal.audit.services import audit_record, time_text
from portal.audit.verifier import canonical
from portal.governance.models import SubjectKey
from portal.governance.parameters import parameters_in_force
from portal.lib.errors import DomainError, FieldError
from portal.monitoring.models import Alert

from .clocks import Clock, ClockStatus, clock_status, clocks
from .models import Action, Incident, Kind, Notification

INCIDENT_ROLES = {Role.APPROVER, *CURATE_ROLES}  # who opens incidents and records what is done
SCOPE_MAX_NODES = 5000


class IncidentError(DomainError):
    pass


class IncidentForbidden(DomainError):
    status_code = 403


def may_handle(user: object) -> bool:
    return has_role(user, INCIDENT_ROLES)


def _guard(by: User, *, close: bool = False) -> None:
    if close and not has_role(by, CURATE_ROLES):
        raise IncidentForbidden("Only compliance officers and admins close incidents.")
    if not may_handle(by):
        raise IncidentForbidden("Only approvers, compliance officers and admins handle incidents.")


def _nodes(user: User, ids: list[str], kinds: tuple[str, ...], field: str) -> list[Node]:
    found = {n.node_id: n for n in Node.objects.visible_to(user).filter(node_id__in=ids)}
    for i, node_id in enumerate(ids):
        node = found.get(node_id)
        if node is None:
            raise FieldError(f"{field}.{i}", f"no visible node {node_id!r}")
        if node.kind not in kinds:
            raise FieldError(f"{field}.{i}", f"{node_id!r} is a {node.kind}, not a {' or '.join(kinds)}")
    return list(found.values())


def incident_scope(incident: Incident) -> dict[str, Any]:
    """Whose data the incident may touch: the datasets named and the personal data upstream of the models and
    deployments named, the data subjects their subject indexes hold (a count of hashed keys), and what derives
    from those datasets downstream (the erasure-impact walk)."""
    named = [n.parent_id if n.kind == "datasetVersion" and n.parent_id else n.pk for n in incident.datasets.all()]
    seeds = [n.pk for n in incident.model_versions.all()] + [n.pk for n in incident.deployments.all()]
    personal, cut = sensitive_holders_upstream(seeds=seeds, max_nodes=SCOPE_MAX_NODES) if seeds else (set(), False)
    sources = list(Node.objects.filter(pk__in=set(named) | personal).order_by("node_id"))
    impact = erasure_impact(sources=sources)
    subjects = SubjectKey.objects.filter(dataset__in=sources).values("key_hash").distinct().count()
    return {"datasets": [s.node_id for s in sources], "subjects": subjects, "counts": impact["counts"],
            "affected": [a["node_id"] for a in impact["affected"]][:500],
            "truncated": impact["truncated"] or cut}


def _snapshot(i: Incident) -> dict[str, Any]:
    return {"title": i.title, "kinds": i.kinds, "severity": i.severity, "ai_act_category": i.ai_act_category,
            "occurred_at": i.occurred_at.isoformat() if i.occurred_at else None,
            "detected_at": i.detected_at.isoformat(), "state": i.state,
            "deployments": sorted(n.node_id for n in i.deployments.all()),
            "model_versions": sorted(n.node_id for n in i.model_versions.all()),
            "datasets": sorted(n.node_id for n in i.datasets.all()),
            "alerts": sorted(a.pk for a in i.alerts.all()), "subjects": i.scope.get("subjects")}


@transaction.atomic
def incident_open(*, by: User, title: str, kinds: list[str], severity: str, detected_at: datetime,
                  occurred_at: datetime | None = None, description: str = "", ai_act_category: str = "",
                  deployments: Sequence[str] = (), model_versions: Sequence[str] = (), datasets: Sequence[str] = (),
                  alerts: Sequence[Alert] = ()) -> Incident:
    """Record an incident against the nodes it touches; its clocks start at ``detected_at``."""
    _guard(by)
    if not title.strip():
        raise FieldError("title", "an incident needs a title")
    if not kinds or any(k not in Kind.values for k in kinds):
        raise FieldError("kinds", f"one or more of {', '.join(Kind.values)}")
    if severity not in Incident.Severity.values:
        raise FieldError("severity", f"one of {', '.join(Incident.Severity.values)}")
    if ai_act_category and ai_act_category not in Incident.AiActCategory.values:
        raise FieldError("ai_act_category", f"one of {', '.join(Incident.AiActCategory.values)}")
    now = timezone.now()
    if detected_at > now:
        raise FieldError("detected_at", "cannot be in the future")
    if occurred_at and occurred_at > detected_at:
        raise FieldError("occurred_at", "cannot be after detected_at")
    deps = _nodes(by, list(deployments), ("deployment",), "deployments")
    mvs = _nodes(by, list(model_versions), ("modelVersion",), "model_versions")
    dss = _nodes(by, list(datasets), ("dataset", "datasetVersion"), "datasets")
    # A deployment's model version is part of the incident too (and, through lineage, its upstream data).
    implied = [d.attrs.get("model_version") for d in deps if d.attrs.get("model_version")]
    mvs += [n for n in Node.objects.filter(node_id__in=implied) if n.pk not in {m.pk for m in mvs}]
    incident = Incident.objects.create(
        title=title.strip(), description=description, kinds=sorted(set(kinds)), severity=severity,
        ai_act_category=ai_act_category or ("standard" if Kind.AI_ACT_SERIOUS in kinds else ""),
        occurred_at=occurred_at, detected_at=detected_at, opened_by=by, opened_at=now)
    incident.deployments.set(deps)
    incident.model_versions.set(mvs)
    incident.datasets.set(dss)
    incident.alerts.set(alerts)
    incident.scope = incident_scope(incident)
    incident.save(update_fields=["scope"])
    Alert.objects.filter(pk__in=[a.pk for a in alerts], state=Alert.State.OPEN).update(state=Alert.State.INCIDENT)
    audit_record(actor=by, action="incident.opened", target_kind="incident", target_id=str(incident.pk),
                 payload={"before": None, "after": _snapshot(incident)})
    return incident


@transaction.atomic
def incident_update(*, by: User, incident: Incident, **changes: Any) -> Incident:
    """Change what is known as the investigation goes: title, description, kinds, severity, AI Act category,
    occurred_at, and the nodes it touches (lists replace). Awareness (``detected_at``) is not changed here: the
    clocks run from it. Audited with before and after."""
    _guard(by)
    incident = _open_locked(incident)
    unknown = set(changes) - {"title", "description", "kinds", "severity", "ai_act_category", "occurred_at",
                              "deployments", "model_versions", "datasets"}
    if unknown:
        raise FieldError(sorted(unknown)[0], "cannot be changed")
    before = _snapshot(incident)
    if "title" in changes and not str(changes["title"]).strip():
        raise FieldError("title", "an incident needs a title")
    if "kinds" in changes and (not changes["kinds"] or any(k not in Kind.values for k in changes["kinds"])):
        raise FieldError("kinds", f"one or more of {', '.join(Kind.values)}")
    if changes.get("severity", incident.severity) not in Incident.Severity.values:
        raise FieldError("severity", f"one of {', '.join(Incident.Severity.values)}")
    if changes.get("ai_act_category") and changes["ai_act_category"] not in Incident.AiActCategory.values:
        raise FieldError("ai_act_category", f"one of {', '.join(Incident.AiActCategory.values)}")
    if changes.get("occurred_at") and changes["occurred_at"] > incident.detected_at:
        raise FieldError("occurred_at", "cannot be after detected_at")
    for name in ("title", "description", "severity", "ai_act_category", "occurred_at"):
        if name in changes:
            setattr(incident, name, changes[name].strip() if isinstance(changes[name], str) else changes[name])
    if "kinds" in changes:
        incident.kinds = sorted(set(changes["kinds"]))
        if Kind.AI_ACT_SERIOUS in incident.kinds and not incident.ai_act_category:
            incident.ai_act_category = Incident.AiActCategory.STANDARD
    incident.save()
    for name, kinds in (("deployments", ("deployment",)), ("model_versions", ("modelVersion",)),
                        ("datasets", ("dataset", "datasetVersion"))):
        if name in changes:
            getattr(incident, name).set(_nodes(by, list(changes[name]), kinds, name))
    if {"deployments", "model_versions", "datasets"} & set(changes):
        incident.scope = incident_scope(incident)
        incident.save(update_fields=["scope"])
    after = _snapshot(incident)
    if after != before:
        audit_record(actor=by, action="incident.updated", target_kind="incident", target_id=str(incident.pk),
                     payload={"before": before, "after": after})
    return incident


def incident_open_from_alert(*, by: User, alert: Alert) -> Incident:
    """One step from a breach alert to an incident: a model failure of the deployment, aware since the alert."""
    if alert.state != Alert.State.OPEN:
        raise IncidentError(f"Alert {alert.pk} is {alert.state}; only an open alert opens an incident.",
                            field="alert")
    dep = alert.deployment
    return incident_open(by=by, title=f"Threshold breach on {dep.name} {dep.version} @ {dep.environment}",
                         kinds=[Kind.MODEL_FAILURE], severity=Incident.Severity.MEDIUM,
                         detected_at=alert.opened_at, occurred_at=alert.result.window_end or alert.result.observed_at,
                         description=alert.reason, deployments=[dep.node_id], alerts=[alert])


def _open_locked(incident: Incident) -> Incident:
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    if locked.state != Incident.State.OPEN:
        raise IncidentError(f"Incident {incident.pk} is closed.", field="state")
    return locked


@transaction.atomic
def incident_action_add(*, by: User, incident: Incident, text: str) -> Action:
    _guard(by)
    if not text.strip():
        raise FieldError("text", "describe what was done")
    incident = _open_locked(incident)
    action = Action.objects.create(incident=incident, text=text.strip(), by=by, at=timezone.now())
    audit_record(actor=by, action="incident.action_added", target_kind="incident", target_id=str(incident.pk),
                 payload={"action": action.pk, "text": action.text})
    return action


@transaction.atomic
def incident_notify(*, by: User, incident: Incident, clock: str, notified_at: datetime | None = None,
                    authority: str = "", reference: str = "", exempt_reason: str = "") -> Notification:
    """Record the notification a clock asks for (when, to whom, its reference), or why none is due."""
    _guard(by)
    incident = _open_locked(incident)
    applicable = {c.name for c in incident_clocks(incident)}
    if clock not in applicable:
        raise FieldError("clock", f"no {clock!r} clock runs for this incident; it has "
                                  f"{', '.join(sorted(applicable)) or 'none'}")
    if bool(notified_at) == bool(exempt_reason.strip()):
        raise FieldError("notified_at", "give either notified_at (with the authority) or exempt_reason")
    if notified_at and (notified_at > timezone.now() or notified_at < incident.detected_at):
        raise FieldError("notified_at", "must be between detection and now")
    if notified_at and not authority.strip():
        raise FieldError("authority", "name the authority notified")
    if Notification.objects.filter(incident=incident, clock=clock).exists():
        raise IncidentError(f"The {clock} notification is already recorded.", field="clock")
    n = Notification.objects.create(incident=incident, clock=clock, notified_at=notified_at,
                                    authority=authority.strip(), reference=reference.strip(),
                                    exempt_reason=exempt_reason.strip(), recorded_by=by, recorded_at=timezone.now())
    audit_record(actor=by, action="incident.notified", target_kind="incident", target_id=str(incident.pk),
                 payload={"clock": clock, "notified_at": notified_at.isoformat() if notified_at else None,
                          "authority": n.authority, "reference": n.reference, "exempt_reason": n.exempt_reason})
    return n


def _binding(incident: Incident, signer: User, reason: str, stamp: str) -> str:
    return hashlib.sha256(canonical({"incident": incident.pk, "signer": signer.pk, "printed_name": signer.printed_name,
                                     "meaning": "closure", "reason": reason, "time": stamp})).hexdigest()


def incident_close_check(*, by: User) -> None:
    """Refuse (403) who may not close incidents, before the password is read."""
    _guard(by, close=True)


def incident_close(*, by: User, incident: Incident, password: str, reason: str, reauth: str = "") -> Incident:
    """Close an incident with an electronic signature: the closer's password now, a reason, every clock answered
    (notified, or recorded as not due)."""
    incident_close_check(by=by)
    if not reason.strip():
        raise FieldError("reason", "a closure needs a reason")
    unanswered = [s.clock.label for s in incident_clock_status(incident) if s.state in ("running", "overdue")]
    if unanswered:
        raise IncidentError("Record the notification (or why none is due) first: " + "; ".join(unanswered) + ".",
                            field="notifications")
    confirmed = signer_confirm(user=by, password=password, reauth=reauth, second_factor=False,
                               refused_action="incident.close_refused", target_kind="incident",
                               target_id=str(incident.pk),
                               wrong_password=IncidentError("The password is wrong; nothing was signed.",
                                                            field="password"))
    return _close(by=by, incident=incident, reason=reason.strip(), confirmed=confirmed)


@transaction.atomic
def _close(*, by: User, incident: Incident, reason: str, confirmed: Confirmation) -> Incident:
    incident = _open_locked(incident)
    now = timezone.now()
    stamp = time_text(now)
    before = _snapshot(incident)
    incident.state, incident.closed_at, incident.closed_by = Incident.State.CLOSED, now, by
    incident.closure_printed_name, incident.closure_reason = by.printed_name, reason
    incident.closure_binding = _binding(incident, by, reason, stamp)
    incident.save()
    Alert.objects.filter(incidents=incident, state=Alert.State.INCIDENT).update(
        state=Alert.State.CLOSED, closed_at=now, closed_by=by, close_note=f"incident {incident.pk} closed")
    audit_record(actor=by, action="incident.closed", target_kind="incident", target_id=str(incident.pk),
                 payload={"before": before, "after": _snapshot(incident), "printed_name": by.printed_name,
                          "meaning": "closure", "reason": reason, "time": stamp, "binding": incident.closure_binding,
                          **confirmed.audit()})
    return incident


# -- clocks ------------------------------------------------------------------------------------------------
def incident_clocks(incident: Incident, params_at: Callable[[datetime], tuple[Any, dict[str, Any]]] | None = None,
                    ) -> list[Clock]:
    """The clocks of ``incident`` under the parameters in force when it was detected (``params_at``, from
    ``parameters_timeline()``, saves a query per incident when there are many)."""
    _, params = (params_at or parameters_in_force)(incident.detected_at)
    return clocks(kinds=incident.kinds, ai_act_category=incident.ai_act_category, detected_at=incident.detected_at,
                  params=params)


def incident_clock_status(incident: Incident, *, now: datetime | None = None,
                          params_at: Callable[[datetime], tuple[Any, dict[str, Any]]] | None = None,
                          ) -> list[ClockStatus]:
    """Each clock with its state: running, overdue (raised), met, late (raised) or exempt."""
    now = now or timezone.now()
    recorded = {n.clock: n for n in incident.notifications.all()}
    return [clock_status(c, notified_at=recorded[c.name].notified_at if c.name in recorded else None,
                         exempt=bool(c.name in recorded and recorded[c.name].exempt_reason), now=now)
            for c in incident_clocks(incident, params_at)]
