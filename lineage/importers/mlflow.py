"""MLflow tracking and model registry -> OpenLineage RunEvents and portal records.

``read()`` asks a tracking server (or store URI) through the real ``MlflowClient`` (the ``mlflow`` extra) and
returns plain dataclasses; everything else here is pure and tested without MLflow or a database.

What becomes what (docs/integrations.md has the whole table):

- an experiment is a job ``<namespace>:<experiment name>``; a run is a run node with the MLflow run id as its
  UUID (stable across imports); a START event at its start time and a COMPLETE/FAIL/ABORT at its end time;
- status, user (``portalRun.launchedBy``), params, tags, latest metrics and metric history ride in the
  ``mlflowRun`` run facet; ``mlflow.source.git.commit`` (+ ``repoURL``, ``branch``) becomes a
  ``sourceCodeLocation`` job facet, so the commit is linked to the job and the run like any OpenLineage job;
- a dataset input is an input dataset named after its source URI (``s3://bucket`` + path), its digest as
  the dataset version, its schema as the ``schema`` facet, source and profile in ``mlflowDataset``, the
  input context (training, eval) and tags in the ``mlflowDatasetInput`` input facet;
- a logged model (MLflow 3) is an output ``models/<model id>`` of its source run;
- a registered model version is a portal ``modelVersion`` record linked to its source run, with description,
  stage, status, tags, source and creator in ``attrs.registry``; aliases are resolved per registered model
  (``search_model_versions`` answers empty aliases) and kept as ``modelAlias`` records (services.py).

The namespace is the tracking server: ``mlflow://host:port`` for a server, the store URI otherwise.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import ids
from .common import OL_SCHEMA_URL, PRODUCER_BASE, digest, dumps, facet, iso, location, ms_time, number, std_facet
from .common import without_credentials as clean_uri

PRODUCER = f"{PRODUCER_BASE}/mlflow"
RUN_FACET = "mlflowRun"
DATASET_FACET = "mlflowDataset"
INPUT_FACET = "mlflowDatasetInput"
TERMINAL = {"FINISHED": "COMPLETE", "FAILED": "FAIL", "KILLED": "ABORT"}
GIT_COMMIT, GIT_REPO, GIT_BRANCH = "mlflow.source.git.commit", "mlflow.source.git.repoURL", "mlflow.source.git.branch"
SOURCE_NAME = "mlflow.source.name"
PAGE = 1000


class MlflowUnavailable(RuntimeError):
    """The mlflow package is not installed (``pip install .[mlflow]``)."""


class MlflowSourceError(ValueError):
    """The source cannot be read as asked (an unknown experiment, for one)."""


@dataclass(slots=True)
class DatasetInput:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str = ""
    profile: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def context(self) -> str:
        return self.tags.get("mlflow.data.context", "")


@dataclass(slots=True)
class LoggedModel:
    model_id: str
    name: str
    created_ms: int
    artifact_location: str = ""
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class RunRecord:
    run_id: str  # 32 hex digits, as MLflow writes it
    experiment_id: str
    experiment_name: str
    run_name: str
    status: str
    user: str
    start_ms: int | None
    end_ms: int | None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # key -> [(step, timestamp ms, value)], oldest first
    metrics: dict[str, list[tuple[int, int, Any]]] = field(default_factory=dict)
    inputs: list[DatasetInput] = field(default_factory=list)
    models: list[LoggedModel] = field(default_factory=list)
    # Of what search_runs answers (no metric history): a repeat import skips a run whose summary is unchanged.
    summary_digest: str = ""

    @property
    def uuid(self) -> str:
        return str(uuid.UUID(self.run_id))


@dataclass(slots=True)
class ModelVersionRecord:
    name: str
    version: str
    created_ms: int
    updated_ms: int
    run_id: str = ""
    source: str = ""
    description: str = ""
    stage: str = ""
    status: str = ""
    user: str = ""
    model_id: str = ""
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class RegisteredModelRecord:
    name: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> version
    versions: list[ModelVersionRecord] = field(default_factory=list)


@dataclass(slots=True)
class Snapshot:
    """What one read of a tracking server found."""

    namespace: str
    tracking_uri: str  # without credentials
    runs: list[RunRecord] = field(default_factory=list)
    models: list[RegisteredModelRecord] = field(default_factory=list)
    unchanged_runs: int = 0  # found, but their summary matched what the portal holds: not read further


@dataclass(frozen=True, slots=True)
class Options:
    git_repo: str = ""  # the repository of runs that log a commit but no repoURL
    max_metric_points: int = 1000


# -- naming ------------------------------------------------------------------------------------------------
def namespace_for(tracking_uri: str) -> str:
    """The portal namespace of a tracking server: ``mlflow://host:port[/path]`` for HTTP, else the store URI."""
    uri = clean_uri(tracking_uri.strip())
    scheme, sep, rest = uri.partition("://")
    if sep and scheme in ("http", "https"):
        return f"mlflow://{rest.rstrip('/')}"
    if not sep:
        return f"mlflow:{uri}"
    return f"mlflow+{uri}" if not scheme.startswith("mlflow") else uri


def dataset_location(d: DatasetInput, namespace: str) -> tuple[str, str]:
    """OpenLineage naming from the dataset's source (``s3://bucket`` + key, ``file`` + path), else MLflow's name."""
    try:
        src = json.loads(d.source) if d.source else {}
    except ValueError:
        src = {}
    if isinstance(src, dict):
        for key in ("uri", "url", "path", "delta_table_name", "table_name"):
            value = src.get(key)
            if isinstance(value, str) and value.strip():
                if d.source_type in ("huggingface", "delta_table", "code") or key.endswith("name"):
                    return f"{d.source_type or 'mlflow'}", value.strip()
                loc = location(clean_uri(value))
                if loc:
                    return loc
    return namespace, f"datasets/{d.name}"


def model_output_name(model_id: str) -> str:
    return f"models/{model_id}"


def _schema_fields(schema: str) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(schema) if schema else {}
    except ValueError:
        return []
    cols = parsed.get("mlflow_colspec") if isinstance(parsed, dict) else None
    if not isinstance(cols, list):
        return []
    return [{"name": str(c.get("name") or f"[{i}]"), "type": str(c.get("type") or "")}
            for i, c in enumerate(cols) if isinstance(c, dict)]


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


# -- mapping -----------------------------------------------------------------------------------------------
def _history(points: list[tuple[int, int, Any]], limit: int) -> list[list[Any]]:
    """Every point up to ``limit``; past it, evenly spaced points that keep the first and the last."""
    rows = [[step, ts, number(value)] for step, ts, value in points]
    if len(rows) <= limit or limit < 2:
        return rows
    stride = (len(rows) - 1) / (limit - 1)
    return [rows[round(i * stride)] for i in range(limit)]


def _input(d: DatasetInput, namespace: str) -> dict[str, Any]:
    ns, name = dataset_location(d, namespace)
    facets: dict[str, Any] = {
        DATASET_FACET: facet(PRODUCER, "MlflowDatasetFacet", name=d.name, digest=d.digest, sourceType=d.source_type,
                             source=_json_or_text(d.source), profile=_json_or_text(d.profile)),
    }
    if d.digest:
        facets["version"] = std_facet(PRODUCER, "1-0-1/DatasetVersionDatasetFacet.json", datasetVersion=d.digest)
    fields = _schema_fields(d.schema)
    if fields:
        facets["schema"] = std_facet(PRODUCER, "1-1-1/SchemaDatasetFacet.json", fields=fields)
    return {"namespace": ns, "name": name, "facets": facets,
            "inputFacets": {INPUT_FACET: facet(PRODUCER, "MlflowDatasetInputFacet", context=d.context,
                                               tags=dict(sorted(d.tags.items())))}}


def _output(m: LoggedModel, namespace: str) -> dict[str, Any]:
    return {"namespace": namespace, "name": model_output_name(m.model_id), "facets": {
        "mlflowLoggedModel": facet(PRODUCER, "MlflowLoggedModelFacet", modelId=m.model_id, name=m.name,
                                   artifactLocation=clean_uri(m.artifact_location),
                                   createdAt=iso(ms_time(m.created_ms)),
                                   params=dict(sorted(m.params.items())),
                                   metrics={k: number(v) for k, v in sorted(m.metrics.items())},
                                   tags=dict(sorted(m.tags.items())))}}


def _job_facets(r: RunRecord, opts: Options) -> dict[str, Any]:
    facets: dict[str, Any] = {"jobType": std_facet(PRODUCER, "2-0-3/JobTypeJobFacet.json", processingType="BATCH",
                                                    integration="MLFLOW", jobType="EXPERIMENT")}
    sha = r.tags.get(GIT_COMMIT, "").strip()
    repo = clean_uri(r.tags.get(GIT_REPO, "").strip() or opts.git_repo)
    if sha and repo:
        scl = {"type": "git", "url": repo, "repoUrl": repo, "version": sha}
        if r.tags.get(GIT_BRANCH):
            scl["branch"] = r.tags[GIT_BRANCH]
        if r.tags.get(SOURCE_NAME):
            scl["path"] = r.tags[SOURCE_NAME]
        facets["sourceCodeLocation"] = std_facet(PRODUCER, "1-0-1/SourceCodeLocationJobFacet.json", **scl)
    return facets


def run_content(r: RunRecord, snap: Snapshot, opts: Options) -> dict[str, Any]:
    """Everything an event of the run says except its type and time; its digest tells a changed run."""
    run_facet = facet(
        PRODUCER, "MlflowRunFacet", runId=r.run_id, runName=r.run_name, experimentId=r.experiment_id,
        experimentName=r.experiment_name, status=r.status, user=r.user, trackingUri=snap.tracking_uri,
        params=dict(sorted(r.params.items())), tags=dict(sorted(r.tags.items())),
        metrics={k: number(v[-1][2]) for k, v in sorted(r.metrics.items()) if v},
        metricHistory={k: _history(v, opts.max_metric_points) for k, v in sorted(r.metrics.items())},
        inputs=[{"name": d.name, "digest": d.digest, "context": d.context} for d in r.inputs],
        models=[m.model_id for m in r.models], summaryDigest=r.summary_digest,
    )
    if r.tags.get(GIT_COMMIT) and not (r.tags.get(GIT_REPO) or opts.git_repo):
        run_facet["warnings"] = [f"{GIT_COMMIT} without {GIT_REPO} and no repository configured: commit not linked"]
    run_facets: dict[str, Any] = {RUN_FACET: run_facet}
    if r.user:
        run_facets["portalRun"] = facet(PRODUCER, "PortalRunFacet", launchedBy=r.user)
    content = {
        "run": {"runId": r.uuid, "facets": run_facets},
        "job": {"namespace": snap.namespace, "name": r.experiment_name, "facets": _job_facets(r, opts)},
        "inputs": [_input(d, snap.namespace) for d in r.inputs],
        "outputs": [_output(m, snap.namespace) for m in r.models] if r.status == "FINISHED" else [],
    }
    run_facet["digest"] = digest(content)
    return content


def run_digest(content: dict[str, Any]) -> str:
    return str(content["run"]["facets"][RUN_FACET]["digest"])


def _event(content: dict[str, Any], event_type: str, t: datetime) -> bytes:
    return dumps({"eventType": event_type, "eventTime": iso(t), "producer": PRODUCER, "schemaURL": OL_SCHEMA_URL,
                  **content})


def run_start_time(r: RunRecord) -> datetime | None:
    ms = r.start_ms if r.start_ms is not None else r.end_ms
    return ms_time(ms) if ms is not None else None


def run_end_time(r: RunRecord) -> datetime | None:
    """When the run ended: its end time, else (MLflow leaves it empty on a crash) its last logged metric."""
    if r.status not in TERMINAL:
        return None
    if r.end_ms is not None:
        return ms_time(r.end_ms)
    last = max((ts for pts in r.metrics.values() for _, ts, _ in pts), default=r.start_ms)
    return ms_time(last) if last is not None else None


def run_events(r: RunRecord, content: dict[str, Any]) -> list[bytes]:
    """START at the start time, then COMPLETE/FAIL/ABORT at the end time once the run has ended."""
    out = []
    start = run_start_time(r)
    if start is not None:
        out.append(_event(content, "START", start))
    end = run_end_time(r)
    if end is not None:
        out.append(_event(content, TERMINAL[r.status], max(end, start) if start else end))
    return out


def run_update_event(r: RunRecord, content: dict[str, Any], observed: datetime) -> bytes:
    """A run already imported changed at the source (tags set after it ended, metrics of a live run)."""
    return _event(content, "OTHER" if r.status in TERMINAL else "RUNNING", observed)


def model_version_registry(mv: ModelVersionRecord, rm: RegisteredModelRecord, snap: Snapshot) -> dict[str, Any]:
    """The registry's facts about a version, kept in the model version's ``attrs.registry``."""
    return {
        "system": "mlflow", "trackingUri": snap.tracking_uri, "registeredModel": rm.name,
        "source": clean_uri(mv.source), "modelId": mv.model_id, "stage": mv.stage, "status": mv.status,
        "description": mv.description,
        "createdBy": mv.user, "createdAt": iso(ms_time(mv.created_ms)), "updatedAt": iso(ms_time(mv.updated_ms)),
        "tags": dict(sorted(mv.tags.items())), "modelDescription": rm.description,
        "modelTags": dict(sorted(rm.tags.items())),
    }


def model_version_payload(mv: ModelVersionRecord, rm: RegisteredModelRecord, snap: Snapshot,
                          t: datetime) -> dict[str, Any]:
    """A portal ``modelVersion`` record (as ``POST /api/v1/model-versions`` takes, plus ``registry``)."""
    payload: dict[str, Any] = {"namespace": snap.namespace, "name": mv.name, "version": str(mv.version),
                               "time": iso(t), "registry": model_version_registry(mv, rm, snap)}
    if mv.description:
        payload["description"] = mv.description
    if mv.run_id:
        try:
            payload["run_id"] = str(uuid.UUID(mv.run_id))
        except ValueError:
            payload["registry"]["sourceRun"] = mv.run_id
    if mv.model_id and payload.get("run_id"):
        # The logged model the run wrote (its output ``models/<id>``, versioned by the run as every write is).
        payload["artifact"] = ids.dataset_version_id(snap.namespace, model_output_name(mv.model_id), payload["run_id"])
    return payload


# -- reading (needs the mlflow package) --------------------------------------------------------------------
def _client(tracking_uri: str, registry_uri: str | None) -> Any:
    try:
        from mlflow import MlflowClient
    except ImportError as exc:  # pragma: no cover - exercised where the extra is missing
        raise MlflowUnavailable("the mlflow package is not installed: pip install '.[mlflow]'") from exc
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)


def _pages(call: Any, **kw: Any) -> Iterator[Any]:
    token = None
    while True:
        page = call(max_results=PAGE, page_token=token, **kw)
        yield from page
        token = getattr(page, "token", None)
        if not token:
            return


def _experiments(client: Any, names: list[str]) -> dict[str, str]:
    if names:
        out = {}
        for name in names:
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise MlflowSourceError(f"no experiment named {name!r} on this tracking server")
            out[exp.experiment_id] = exp.name
        return out
    return {e.experiment_id: e.name for e in _pages(client.search_experiments)}


def _run_filters(since: datetime | None) -> list[str]:
    if since is None:
        return [""]
    ms = int(since.timestamp() * 1000)
    # A run counts when it started, ended or is still going since then (MLflow has no OR in filters).
    return [f"attributes.start_time >= {ms}", f"attributes.end_time >= {ms}", "attributes.status = 'RUNNING'"]


def _dataset_inputs(run: Any) -> list[DatasetInput]:
    inputs = getattr(run, "inputs", None)
    out = []
    for di in getattr(inputs, "dataset_inputs", None) or []:
        d = di.dataset
        out.append(DatasetInput(name=d.name, digest=d.digest or "", source_type=d.source_type or "",
                                source=d.source or "", schema=d.schema or "", profile=d.profile or "",
                                tags={t.key: t.value for t in di.tags or []}))
    return out


def _logged_models(client: Any, exp_ids: list[str]) -> dict[str, list[LoggedModel]]:
    by_run: dict[str, list[LoggedModel]] = {}
    if not hasattr(client, "search_logged_models"):  # MLflow 2 has none
        return by_run
    for i in range(0, len(exp_ids), 50):
        for m in _pages(client.search_logged_models, experiment_ids=exp_ids[i:i + 50]):
            if not m.source_run_id:
                continue
            by_run.setdefault(m.source_run_id, []).append(LoggedModel(
                model_id=m.model_id, name=m.name or "", created_ms=m.creation_timestamp or 0,
                artifact_location=m.artifact_location or "", params=dict(m.params or {}),
                metrics={x.key: x.value for x in m.metrics or []}, tags=dict(m.tags or {})))
    for models in by_run.values():
        models.sort(key=lambda m: m.model_id)
    return by_run


def summary_digest(run: Any, models: list[LoggedModel]) -> str:
    """A run as search_runs shows it: status, times, params, tags, latest metrics, inputs, logged models."""
    info, data = run.info, run.data
    return digest({"status": info.status, "start": info.start_time, "end": info.end_time, "name": info.run_name,
                   "user": info.user_id, "params": dict(data.params), "tags": dict(data.tags),
                   "metrics": {k: number(v) for k, v in data.metrics.items()},
                   "inputs": [[d.name, d.digest, d.source, d.context] for d in _dataset_inputs(run)],
                   "models": [m.model_id for m in models]})


def read_runs(client: Any, *, experiments: list[str] | None = None, since: datetime | None = None,
              known: dict[str, str] | None = None) -> tuple[list[RunRecord], int]:
    """The runs, with their metric histories; ``known`` (run UUID -> summary digest, what the portal holds)
    spares reading the histories of runs that did not change. Returns the runs read and how many were spared."""
    known = known or {}
    exps = _experiments(client, experiments or [])
    ids = sorted(exps)
    runs: dict[str, Any] = {}
    for flt in _run_filters(since):
        for i in range(0, len(ids), 50):
            for run in _pages(client.search_runs, experiment_ids=ids[i:i + 50], filter_string=flt,
                              order_by=["attributes.start_time ASC"]):
                runs[run.info.run_id] = run
    models = _logged_models(client, ids)
    out, spared = [], 0
    for run_id, run in sorted(runs.items(), key=lambda kv: (kv[1].info.start_time or 0, kv[0])):
        info, data = run.info, run.data
        summary = summary_digest(run, models.get(run_id, []))
        if known.get(str(uuid.UUID(run_id))) == summary:
            spared += 1
            continue
        history = {key: [(m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)]
                   for key in sorted(data.metrics)}
        out.append(RunRecord(
            run_id=run_id, experiment_id=info.experiment_id, experiment_name=exps[info.experiment_id],
            run_name=info.run_name or "", status=info.status, user=info.user_id or "", start_ms=info.start_time,
            end_ms=info.end_time, params=dict(data.params), tags=dict(data.tags),
            metrics={k: sorted(v, key=lambda p: (p[1], p[0])) for k, v in history.items()},
            inputs=_dataset_inputs(run), models=models.get(run_id, []), summary_digest=summary))
    return out, spared


def _model_id(source: str | None) -> str:
    """The logged model of a version whose source is ``models:/m-<id>`` (MLflow 3 leaves ``model_id`` empty)."""
    if source and source.startswith("models:/m-") and "/" not in source[len("models:/"):]:
        return source[len("models:/"):]
    return ""


def _filter_name(name: str) -> str:
    return f"name = '{name}'" if "'" not in name else f'name = "{name}"'


def read_registry(client: Any) -> list[RegisteredModelRecord]:
    out = []
    for rm in _pages(client.search_registered_models):
        versions = [ModelVersionRecord(
            name=v.name, version=str(v.version), created_ms=v.creation_timestamp or 0,
            updated_ms=v.last_updated_timestamp or v.creation_timestamp or 0, run_id=v.run_id or "",
            source=v.source or "", description=v.description or "", stage=v.current_stage or "",
            status=v.status or "", user=v.user_id or "", model_id=getattr(v, "model_id", None) or _model_id(v.source),
            tags=dict(v.tags or {})) for v in _pages(client.search_model_versions, filter_string=_filter_name(rm.name))]
        # search_model_versions answers empty aliases: the registered model holds them.
        aliases = {a: str(v) for a, v in (client.get_registered_model(rm.name).aliases or {}).items()}
        out.append(RegisteredModelRecord(name=rm.name, description=rm.description or "", tags=dict(rm.tags or {}),
                                         aliases=dict(sorted(aliases.items())),
                                         versions=sorted(versions, key=lambda v: int(v.version)
                                                         if v.version.isdigit() else 0)))
    return out


def read(*, tracking_uri: str, registry_uri: str | None = None, experiments: list[str] | None = None,
         since: datetime | None = None, namespace: str | None = None, known: dict[str, str] | None = None
         ) -> Snapshot:
    """Read runs (of ``experiments``, or all; started, ended or running since ``since``) and the registry.

    ``known`` maps run UUIDs to the summary digest the portal holds; those runs are counted, not read again.
    """
    client = _client(tracking_uri, registry_uri)
    runs, spared = read_runs(client, experiments=experiments, since=since, known=known)
    return Snapshot(namespace=namespace or namespace_for(tracking_uri), tracking_uri=clean_uri(tracking_uri),
                    runs=runs, models=read_registry(client), unchanged_runs=spared)
