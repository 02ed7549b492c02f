"""Monitoring results carried in lineage: the ``portalMonitoring`` run facet and OpenLineage's
``dataQualityAssertions`` input facet, read into plain records. Pure: no ORM, no Django.

A monitoring run is an ordinary run: it reads dataset versions (the window of production data it scored and
the reference version it compares against) and, when its ``portalMonitoring`` facet names a deployment, the
graph gets the edge ``deployment -monitors-> run`` so the explorer shows it downstream of what it watches.
What a result *means* (thresholds per tier, breaches, alerts) is decided by ``portal/monitoring``, which
registers an observer in ``lineage.services.monitoring_observers``.

``rest_event`` turns the body of ``POST /api/v1/monitoring`` (for monitors that do not speak OpenLineage)
into the RunEvent an OpenLineage monitor would have sent, so both take the same path and a rebuild from the
raw event log replays both.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .openlineage import MAX_NAME_BYTES, MAX_NAMESPACE_BYTES, MAX_VERSION_BYTES, EventError, name_problem, parse_time

MONITORING_FACET = "portalMonitoring"
ASSERTIONS_FACET = "dataQualityAssertions"
BREACH_WHEN = ("above", "below")
MAX_MEASURES = 1000
REST_PRODUCER = "https://lineage-portal.example/monitoring-api"
_FACET_SCHEMA = "https://lineage-portal.example/spec/facets/1-0-0/PortalMonitoringRunFacet.json"
_RUN_NAMESPACE = uuid.UUID("6f1c1d43-7a4e-4c55-9d0e-4b4b9a8e0a20")  # uuid5 namespace of REST monitoring runs


@dataclass(frozen=True, slots=True)
class Measure:
    """One metric (with optional drift statistics) or one data-quality assertion of a monitoring run."""

    name: str
    value: float | None = None
    threshold: float | None = None
    breach_when: str = "above"  # the value breaches when it is above (or below) the threshold
    psi: float | None = None
    ks: float | None = None
    feature: str = ""
    success: bool | None = None  # assertions: passed or not
    column: str = ""
    dataset: str = ""  # assertions: the dataset node id the assertion is about
    dataset_version: str = ""  # ... and the version the run read, filled in when the reads are resolved


@dataclass(frozen=True, slots=True)
class DeploymentKey:
    namespace: str
    name: str
    version: str
    environment: str


@dataclass(frozen=True, slots=True)
class VersionKey:
    namespace: str
    name: str
    version: str


@dataclass(frozen=True, slots=True)
class MonitoringFacet:
    deployment: DeploymentKey | None
    window_start: datetime | None
    window_end: datetime | None
    reference: VersionKey | None
    measures: tuple[Measure, ...]


@dataclass(slots=True)
class MonitoringRecord:
    """What one monitoring run reported, with the node ids it links to (see the module docstring)."""

    run: str
    job: str
    observed_at: datetime
    deployment: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    reference: str | None = None
    datasets: list[str] = field(default_factory=list)  # the dataset node ids the run read (the planner's)
    inputs: list[str] = field(default_factory=list)  # the version node ids it read: filled in when applied
    measures: list[Measure] = field(default_factory=list)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip() or name_problem(value.strip(), limit):
        return None
    return value.strip()


def _deployment(obj: Any, default_ns: str) -> DeploymentKey | None:
    if not isinstance(obj, dict):
        return None
    ns = _text(obj.get("namespace"), MAX_NAMESPACE_BYTES) if obj.get("namespace") else default_ns
    name = _text(obj.get("name"), MAX_NAME_BYTES)
    version = _text(str(obj["version"]) if obj.get("version") is not None else None, MAX_VERSION_BYTES)
    env = _text(obj.get("environment"), 100)
    if not (ns and name and version and env):
        return None
    return DeploymentKey(ns, name, version, env)


def _version(obj: Any) -> VersionKey | None:
    if not isinstance(obj, dict):
        return None
    ns, name = _text(obj.get("namespace"), MAX_NAMESPACE_BYTES), _text(obj.get("name"), MAX_NAME_BYTES)
    version = _text(str(obj["version"]) if obj.get("version") is not None else None, MAX_VERSION_BYTES)
    return VersionKey(ns, name, version) if ns and name and version else None


def _time(value: Any, where: str, warnings: list[str]) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value, [], where)
    except EventError:
        warnings.append(f"{where} is not an ISO 8601 date-time: ignored")
        return None


def _metric(m: Any, where: str, warnings: list[str]) -> Measure | None:
    name = m.get("name") if isinstance(m, dict) else None
    if not isinstance(name, str) or not name.strip():
        warnings.append(f"{where} needs a name: ignored")
        return None
    value, threshold = _number(m.get("value")), _number(m.get("threshold"))
    psi, ks = _number(m.get("psi")), _number(m.get("ks"))
    if value is None and psi is None and ks is None:
        warnings.append(f"{where} ({name[:40]!r}) has no numeric value, psi or ks: ignored")
        return None
    when = m.get("breachWhen", "above")
    if when not in BREACH_WHEN:
        warnings.append(f"{where}.breachWhen must be one of {BREACH_WHEN}: read as 'above'")
        when = "above"
    feature = m.get("feature") if isinstance(m.get("feature"), str) else ""
    return Measure(name=name.strip()[:200], value=value, threshold=threshold, breach_when=when, psi=psi, ks=ks,
                   feature=feature[:200])


def monitoring_facet(run_facets: dict[str, Any], default_ns: str, warnings: list[str]) -> MonitoringFacet | None:
    """The ``portalMonitoring`` run facet, or None. Unusable metrics are dropped with a warning each."""
    obj = run_facets.get(MONITORING_FACET)
    if not isinstance(obj, dict):
        return None
    where = f"run.facets.{MONITORING_FACET}"
    dep = _deployment(obj.get("deployment"), default_ns)
    if obj.get("deployment") is not None and dep is None:
        warnings.append(f"{where}.deployment needs name, version and environment: no deployment linked")
    ref = _version(obj.get("reference"))
    if obj.get("reference") is not None and ref is None:
        warnings.append(f"{where}.reference needs namespace, name and version: ignored")
    raw_window, raw_metrics = obj.get("window"), obj.get("metrics")
    window: dict[str, Any] = raw_window if isinstance(raw_window, dict) else {}
    metrics: list[Any] = raw_metrics if isinstance(raw_metrics, list) else []
    if len(metrics) > MAX_MEASURES:
        warnings.append(f"{where}.metrics: only the first {MAX_MEASURES} are read")
    measures = tuple(m for i, raw in enumerate(metrics[:MAX_MEASURES])
                     if (m := _metric(raw, f"{where}.metrics[{i}]", warnings)) is not None)
    return MonitoringFacet(dep, _time(window.get("start"), f"{where}.window.start", warnings),
                           _time(window.get("end"), f"{where}.window.end", warnings), ref, measures)


def assertions(facets: dict[str, Any], dataset: str) -> list[Measure]:
    """OpenLineage ``dataQualityAssertions`` (as dbt tests send) on an input: one measure per assertion."""
    obj = facets.get(ASSERTIONS_FACET)
    items = obj.get("assertions") if isinstance(obj, dict) else None
    out = []
    for a in (items if isinstance(items, list) else [])[:MAX_MEASURES]:
        if not isinstance(a, dict) or not isinstance(a.get("assertion"), str) or not isinstance(a.get("success"), bool):
            continue
        column = a["column"] if isinstance(a.get("column"), str) else ""
        out.append(Measure(name=a["assertion"][:200], success=a["success"], column=column[:500],
                           dataset=dataset))
    return out


# -- REST -> OpenLineage -----------------------------------------------------------------------------------
def _facet(**fields: Any) -> dict[str, Any]:
    return {"_producer": REST_PRODUCER, "_schemaURL": _FACET_SCHEMA, **fields}


def rest_event(p: dict[str, Any]) -> bytes:
    """The OpenLineage RunEvent for a validated ``POST /api/v1/monitoring`` body.

    The run id is given, or derived from the body (the same body twice is the same run, stored once).
    """
    dep = p["deployment"]
    ns = p.get("namespace") or dep["namespace"]
    rename = {"breach_when": "breachWhen"}
    monitor = {"deployment": {"namespace": dep["namespace"], "name": dep["name"], "version": str(dep["version"]),
                              "environment": dep["environment"]},
               "metrics": [{rename.get(k, k): v for k, v in m.items() if v is not None and v != ""}
                           for m in p.get("metrics", [])]}
    if p.get("window"):
        monitor["window"] = p["window"]
    if p.get("reference"):
        monitor["reference"] = p["reference"]
    inputs: dict[tuple[str, str, str], dict[str, Any]] = {}
    # The reference is named in the facet only: the planner adds its read without touching the version's facets
    # (a version facet on it would change what an approval of a model trained on it signed).
    for ref in p.get("inputs", []):
        key = (ref["namespace"], ref["name"], str(ref["version"]))
        inputs.setdefault(key, {"namespace": key[0], "name": key[1],
                                "facets": {"version": _facet(datasetVersion=key[2])}})
    for a in p.get("assertions", []):
        key = (a["dataset"]["namespace"], a["dataset"]["name"], str(a["dataset"]["version"]))
        d = inputs.setdefault(key, {"namespace": key[0], "name": key[1],
                                    "facets": {"version": _facet(datasetVersion=key[2])}})
        facet = d.setdefault("inputFacets", {}).setdefault(ASSERTIONS_FACET, _facet(assertions=[]))
        facet["assertions"].append({k: v for k, v in (("assertion", a["assertion"]), ("success", a["success"]),
                                                      ("column", a.get("column"))) if v not in (None, "")})
    body_key = json.dumps(p, sort_keys=True, default=str)
    run_id = p.get("run_id") or str(uuid.uuid5(_RUN_NAMESPACE, body_key))
    event = {"eventType": "COMPLETE", "eventTime": p["time"], "producer": REST_PRODUCER,
             "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
             "run": {"runId": str(run_id), "facets": {MONITORING_FACET: _facet(**monitor)}},
             "job": {"namespace": ns, "name": p.get("monitor") or f"monitor.{dep['name']}", "facets": {}},
             "inputs": list(inputs.values()), "outputs": []}
    return json.dumps(event, default=str).encode()
