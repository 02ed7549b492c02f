"""Record monitoring results from lineage and open alerts on breaches. Writes run in the caller's transaction
(the ingest's) or their own."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import transaction
from django.utils import timezone

from lineage.models import Node
from lineage.monitoring import Measure, MonitoringRecord
from portal.accounts.models import User
from portal.audit.services import Change, audit_record, audit_record_many
from portal.governance.models import ModelInventory
from portal.governance.parameters import parameters_timeline
from portal.lib.errors import DomainError

from .models import Alert, MonitoringResult
from .rules import breaches, tier_limit


class AlertError(DomainError):
    pass


def _key(record: MonitoringRecord, m: Measure) -> str:
    parts = (record.run, record.deployment or "", m.dataset_version, m.name, m.feature, m.column)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _tiers(deployments: dict[str, Node]) -> dict[str, int | None]:
    mv_ids = {d.attrs.get("model_version") for d in deployments.values()} - {None}
    tiers = dict(ModelInventory.objects.filter(node__node_id__in=mv_ids).values_list("node__node_id", "tier"))
    return {nid: tiers.get(d.attrs.get("model_version")) for nid, d in deployments.items()}


def monitoring_results_record(records: list[MonitoringRecord], by: User | None) -> list[MonitoringResult]:
    """Store each result of ``records`` once, judge it against its threshold and the policy's drift limits for
    the model's tier (parameters in force when it was observed), and open an alert for each new breach on a
    deployment. Registered in ``lineage.services.monitoring_observers``: runs inside the ingest transaction."""
    wanted = {n for r in records for n in (r.run, r.deployment, r.reference) if n}
    wanted |= {m.dataset_version for r in records for m in r.measures if m.dataset_version}
    nodes = {n.node_id: n for n in Node.objects.filter(node_id__in=wanted)}
    deployments = {nid: n for nid, n in nodes.items() if n.kind == "deployment"}
    tiers = _tiers(deployments)
    keys = {_key(r, m) for r in records for m in r.measures}
    stored = set(MonitoringResult.objects.filter(key__in=keys).values_list("key", flat=True))
    now = timezone.now()
    params_at = parameters_timeline()
    new: list[MonitoringResult] = []
    for r in records:
        run = nodes.get(r.run)
        if run is None:
            continue
        dep = deployments.get(r.deployment or "")
        tier = tiers.get(r.deployment or "")
        pset, params = params_at(r.observed_at)
        psi_max = tier_limit(params["monitoring_psi_max"], tier)
        ks_max = tier_limit(params["monitoring_ks_max"], tier)
        for m in r.measures:
            key = _key(r, m)
            if key in stored:
                continue
            stored.add(key)
            new.append(MonitoringResult(
                key=key, run=run, job=r.job, deployment=dep, deployment_ref=r.deployment or "",
                dataset_version=nodes.get(m.dataset_version), reference=nodes.get(r.reference or ""),
                metric=m.name, feature=m.feature, column=m.column, value=m.value, threshold=m.threshold,
                breach_when=m.breach_when, psi=m.psi, ks=m.ks, success=m.success, window_start=r.window_start,
                window_end=r.window_end, observed_at=r.observed_at, tier=tier,
                parameter_version=pset.version if pset else None,
                breaches=breaches(m, psi_max=psi_max, ks_max=ks_max), recorded_at=now))
    MonitoringResult.objects.bulk_create(new)
    alerts = [Alert(deployment=x.deployment, result=x, opened_at=now, reason="; ".join(x.breaches))
              for x in new if x.breaches and x.deployment is not None]
    Alert.objects.bulk_create(alerts)
    per_run: dict[str, list[int]] = {}
    for x in new:
        counts = per_run.setdefault(x.run.node_id, [0, 0])
        counts[0] += 1
        counts[1] += bool(x.breaches)
    changes = [Change("monitoring.results_recorded", "run", run_id, {"results": n, "breaches": b})
               for run_id, (n, b) in per_run.items()]
    changes += [Change("monitoring.alert_opened", "deployment", a.deployment.node_id,
                       {"alert": a.pk, "metric": a.result.metric, "reason": a.reason, "run": a.result.run.node_id})
                for a in alerts]
    if changes:
        audit_record_many(actor=by, changes=changes)
    return new


@transaction.atomic
def alert_dismiss(*, alert: Alert, by: User, note: str) -> Alert:
    """Close an alert without an incident (a false alarm, a known seasonal shift), with the reason."""
    if not note.strip():
        raise AlertError("Dismissing an alert needs a note saying why.", field="note")
    claimed = Alert.objects.filter(pk=alert.pk, state=Alert.State.OPEN).update(
        state=Alert.State.CLOSED, closed_at=timezone.now(), closed_by=by, close_note=note.strip())
    if claimed != 1:
        raise AlertError(f"Alert {alert.pk} is not open.", field="state")
    alert.refresh_from_db()
    audit_record(actor=by, action="monitoring.alert_dismissed", target_kind="deployment",
                 target_id=alert.deployment.node_id, payload={"alert": alert.pk, "note": alert.close_note})
    return alert


def alert_payload(alert: Alert) -> dict[str, Any]:
    return {"id": alert.pk, "deployment": alert.deployment.node_id, "state": alert.state, "reason": alert.reason,
            "opened_at": alert.opened_at.isoformat(), "metric": alert.result.metric}
