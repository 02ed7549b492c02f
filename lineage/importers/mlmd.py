"""ML Metadata (MLMD: Kubeflow Pipelines, TFX, Vertex) -> OpenLineage RunEvents and portal records.

``read()`` opens a store with the real ``ml-metadata`` package (the ``mlmd`` extra; wheels for Python 3.11) and
returns plain dataclasses; the mapping is pure:

- an execution is a run of a job named after its execution type (``tfx.components.trainer.Trainer``,
  ``system.ContainerExecution``), START at its create time and COMPLETE/FAIL/ABORT at its last update once
  finished (CACHED counts as COMPLETE), with type, state and properties in the ``mlmdExecution`` facet;
- INPUT events are reads and OUTPUT events writes of artifacts, each a dataset named after its URI
  (``gs://bucket`` + path) and versioned by the artifact id, properties in the ``mlmdArtifact`` facet;
- a model artifact (``Model``, ``system.Model``) written by a run is a model version the run produces (name from
  the ``model_name``/``name`` property, the artifact's name or the pipeline; version from ``version`` or the id);
- a ``ModelBlessing`` records the verdict on the model version it judged (``attrs.registry.blessed``);
- a ``PushedModel`` with ``pushed`` set makes its run a deployment of the model it read, to the
  ``environment`` property (else the importer's default) at ``pushed_destination``;
- a pipeline-run context (``pipeline_run``, ``system.PipelineRun``) is the parent run of its executions, its
  job the pipeline (``pipeline``/``system.Pipeline`` context);
- properties carrying a git commit (``git_commit``, ``commit_sha``...) and repository, or a launcher
  (``launcher``, ``user``...), on the execution or its contexts, link the commit and name who launched it.
"""

from __future__ import annotations

import importlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from .common import OL_SCHEMA_URL, PRODUCER_BASE, dumps, facet, iso, location, ms_time, number, std_facet
from .common import without_credentials as clean_uri

PRODUCER = f"{PRODUCER_BASE}/mlmd"
MODEL_TYPES = frozenset({"Model", "system.Model"})
BLESSING_TYPES = frozenset({"ModelBlessing"})
PUSHED_TYPES = frozenset({"PushedModel"})
PIPELINE_CONTEXTS = frozenset({"pipeline", "system.Pipeline"})
RUN_CONTEXTS = frozenset({"pipeline_run", "system.PipelineRun"})
TERMINAL = {"COMPLETE": "COMPLETE", "CACHED": "COMPLETE", "FAILED": "FAIL", "CANCELED": "ABORT"}
COMMIT_KEYS = ("git_commit", "commit_sha", "git_sha", "source_commit", "commit")
REPO_KEYS = ("git_repo", "git_url", "repo_url", "repository", "source_repo")
LAUNCHER_KEYS = ("launcher", "launched_by", "triggered_by", "user", "owner")
INPUT_EVENTS = frozenset({"INPUT", "DECLARED_INPUT", "INTERNAL_INPUT"})
OUTPUT_EVENTS = frozenset({"OUTPUT", "DECLARED_OUTPUT", "INTERNAL_OUTPUT"})


class MlmdUnavailable(RuntimeError):
    """The ml-metadata package is not installed (``pip install .[mlmd]``, Python 3.11)."""


@dataclass(slots=True)
class Artifact:
    id: int
    type: str
    uri: str
    name: str = ""
    state: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    create_ms: int = 0
    update_ms: int = 0


@dataclass(slots=True)
class Execution:
    id: int
    type: str
    state: str
    create_ms: int
    update_ms: int
    name: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    contexts: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Context:
    id: int
    type: str
    name: str
    properties: dict[str, Any] = field(default_factory=dict)
    parents: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Snapshot:
    namespace: str
    source: str
    artifacts: dict[int, Artifact] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    contexts: dict[int, Context] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Options:
    git_repo: str = ""  # the repository of executions that carry a commit but no repository
    environment: str = "production"  # where a PushedModel without an ``environment`` property went


def namespace_for(source: str) -> str:
    return f"mlmd+{clean_uri(source)}" if "://" in source else f"mlmd:{source}"


def run_uuid(namespace: str, kind: str, ident: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}#{kind}/{ident}"))


# -- mapping -----------------------------------------------------------------------------------------------
def _first(props: list[dict[str, Any]], keys: tuple[str, ...]) -> str:
    for p in props:
        for k in keys:
            v = p.get(k)
            if isinstance(v, str) and v.strip():
                return v.strip()
    return ""


class Mapper:
    """Maps one snapshot; knows each execution's contexts and each model artifact's name."""

    def __init__(self, snap: Snapshot, opts: Options) -> None:
        self.snap, self.opts = snap, opts
        self.producer: dict[int, Execution] = {a: e for e in snap.executions for a in e.outputs}

    def _contexts(self, e: Execution) -> list[Context]:
        seen: dict[int, Context] = {}
        todo = list(e.contexts)
        while todo:
            cid = todo.pop(0)
            if cid in seen or cid not in self.snap.contexts:
                continue
            seen[cid] = self.snap.contexts[cid]
            todo += seen[cid].parents
        return list(seen.values())

    def _pipeline(self, e: Execution) -> Context | None:
        return next((c for c in self._contexts(e) if c.type in PIPELINE_CONTEXTS), None)

    def _pipeline_run(self, e: Execution) -> Context | None:
        return next((c for c in self._contexts(e) if c.type in RUN_CONTEXTS), None)

    def model_ref(self, a: Artifact) -> dict[str, str]:
        name = _first([a.properties], ("model_name", "name")) or a.name
        if not name:
            producer = self.producer.get(a.id)
            pipeline = self._pipeline(producer) if producer else None
            name = pipeline.name if pipeline else "model"
        version = a.properties.get("version")
        return {"namespace": self.snap.namespace, "name": name,
                "version": str(version) if version not in (None, "") else str(a.id)}

    def _dataset(self, a: Artifact, output: bool = False) -> dict[str, Any]:
        loc = location(clean_uri(a.uri)) if a.uri else None
        ns, name = loc or (self.snap.namespace, f"artifacts/{a.id}")
        facets: dict[str, Any] = {
            "version": std_facet(PRODUCER, "1-0-1/DatasetVersionDatasetFacet.json", datasetVersion=str(a.id)),
            "mlmdArtifact": facet(PRODUCER, "MlmdArtifactFacet", id=a.id, type=a.type, name=a.name, state=a.state,
                                  properties=a.properties)}
        if output and a.type in MODEL_TYPES:
            facets["portalModelVersion"] = facet(PRODUCER, "PortalModelVersionDatasetFacet", **self.model_ref(a))
        return {"namespace": ns, "name": name, "facets": facets}

    def _deployment(self, e: Execution) -> dict[str, Any] | None:
        outs = [self.snap.artifacts[i] for i in e.outputs if i in self.snap.artifacts]
        pushed = next((a for a in outs if a.type in PUSHED_TYPES and a.properties.get("pushed") in (1, True, "1")),
                      None)
        model = next((self.snap.artifacts[i] for i in e.inputs
                      if i in self.snap.artifacts and self.snap.artifacts[i].type in MODEL_TYPES), None)
        if pushed is None or model is None:
            return None
        env = _first([pushed.properties, e.properties], ("environment",)) or self.opts.environment
        return facet(PRODUCER, "PortalDeploymentRunFacet", model=self.model_ref(model), environment=env,
                     action="deploy", endpoint=str(pushed.properties.get("pushed_destination") or ""))

    def execution_events(self, e: Execution) -> list[bytes]:
        contexts = self._contexts(e)
        props = [e.properties, *(c.properties for c in contexts)]
        run_facets: dict[str, Any] = {"mlmdExecution": facet(
            PRODUCER, "MlmdExecutionFacet", id=e.id, type=e.type, name=e.name, state=e.state,
            properties=e.properties, contexts=[{"type": c.type, "name": c.name} for c in contexts])}
        launcher = _first(props, LAUNCHER_KEYS)
        if launcher:
            run_facets["portalRun"] = facet(PRODUCER, "PortalRunFacet", launchedBy=launcher)
        run_ctx, pipeline = self._pipeline_run(e), self._pipeline(e)
        if run_ctx is not None:
            run_facets["parent"] = std_facet(
                PRODUCER, "1-1-0/ParentRunFacet.json",
                run={"runId": run_uuid(self.snap.namespace, "context", run_ctx.id)},
                job={"namespace": self.snap.namespace, "name": pipeline.name if pipeline else run_ctx.type})
        job_facets: dict[str, Any] = {"jobType": std_facet(PRODUCER, "2-0-3/JobTypeJobFacet.json",
                                                            processingType="BATCH", integration="MLMD",
                                                            jobType="EXECUTION")}
        sha, repo = _first(props, COMMIT_KEYS), clean_uri(_first(props, REPO_KEYS) or self.opts.git_repo)
        if sha and repo:
            job_facets["sourceCodeLocation"] = std_facet(PRODUCER, "1-0-1/SourceCodeLocationJobFacet.json",
                                                         type="git", url=repo, repoUrl=repo, version=sha)
        base = {"producer": PRODUCER, "schemaURL": OL_SCHEMA_URL,
                "job": {"namespace": self.snap.namespace, "name": e.type, "facets": job_facets}}
        rid = run_uuid(self.snap.namespace, "execution", e.id)
        inputs = [self._dataset(self.snap.artifacts[i]) for i in e.inputs if i in self.snap.artifacts]
        out = [dumps({**base, "eventType": "START", "eventTime": iso(ms_time(e.create_ms)),
                      "run": {"runId": rid, "facets": run_facets}, "inputs": inputs, "outputs": []})]
        if e.state in TERMINAL:
            end_facets = dict(run_facets)
            dep = self._deployment(e)
            if dep is not None:
                end_facets["portalDeployment"] = dep
            outputs = [self._dataset(self.snap.artifacts[i], output=True) for i in e.outputs
                       if i in self.snap.artifacts]
            out.append(dumps({**base, "eventType": TERMINAL[e.state],
                              "eventTime": iso(ms_time(max(e.update_ms, e.create_ms))),
                              "run": {"runId": rid, "facets": end_facets}, "inputs": inputs, "outputs": outputs}))
        return out

    def events(self) -> list[bytes]:
        return [raw for e in sorted(self.snap.executions, key=lambda x: (x.create_ms, x.id))
                for raw in self.execution_events(e)]

    def blessings(self) -> list[dict[str, Any]]:
        """A ``modelVersion`` record per blessing: the verdict of the run that judged the model it read."""
        out = []
        for e in self.snap.executions:
            models = [self.snap.artifacts[i] for i in e.inputs
                      if i in self.snap.artifacts and self.snap.artifacts[i].type in MODEL_TYPES]
            for i in e.outputs:
                b = self.snap.artifacts.get(i)
                if b is None or b.type not in BLESSING_TYPES or not models:
                    continue
                wanted = b.properties.get("current_model_id")
                model = next((m for m in models if m.id == wanted), models[0])
                ref = self.model_ref(model)
                out.append({**ref, "time": iso(ms_time(b.create_ms or e.update_ms)), "registry": {
                    "system": "mlmd", "source": self.snap.source,
                    "blessed": b.properties.get("blessed") in (1, True, "1"),
                    "blessing": {"artifact": b.id, "uri": clean_uri(b.uri), "execution": e.id, "type": e.type}}})
        return out


# -- reading (needs the ml-metadata package) ---------------------------------------------------------------
def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "struct_value":
        from google.protobuf.json_format import MessageToDict

        return MessageToDict(v.struct_value)
    if kind == "proto_value":
        return {"@type": v.proto_value.type_url}
    return number(getattr(v, kind))


def _props(msg: Any) -> dict[str, Any]:
    out = {k: _value(v) for k, v in msg.properties.items()}
    out.update({k: _value(v) for k, v in msg.custom_properties.items()})
    return dict(sorted(out.items()))


def connect(*, sqlite: str | None = None, mysql: dict[str, Any] | None = None) -> Any:
    try:
        # Generated protobuf modules have no type stubs: looked up as Any.
        metadata_store: Any = importlib.import_module("ml_metadata.metadata_store.metadata_store")
        metadata_store_pb2: Any = importlib.import_module("ml_metadata.proto.metadata_store_pb2")
    except ImportError as exc:  # pragma: no cover - exercised where the extra is missing
        raise MlmdUnavailable("the ml-metadata package is not installed: pip install '.[mlmd]' (Python 3.11)") \
            from exc
    config = metadata_store_pb2.ConnectionConfig()
    if sqlite:
        config.sqlite.filename_uri = sqlite
        config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    else:
        m = mysql or {}
        config.mysql.host, config.mysql.port = m.get("host", "127.0.0.1"), int(m.get("port", 3306))
        config.mysql.database, config.mysql.user = m["database"], m.get("user", "")
        config.mysql.password = m.get("password", "")
    return metadata_store.MetadataStore(config)


def read_store(store: Any, namespace: str, source: str) -> Snapshot:
    pb: Any = importlib.import_module("ml_metadata.proto.metadata_store_pb2")
    snap = Snapshot(namespace=namespace, source=source)
    for a in store.get_artifacts():
        snap.artifacts[a.id] = Artifact(id=a.id, type=a.type, uri=a.uri, name=a.name,
                                        state=pb.Artifact.State.Name(a.state), properties=_props(a),
                                        create_ms=a.create_time_since_epoch, update_ms=a.last_update_time_since_epoch)
    executions = {e.id: Execution(id=e.id, type=e.type, name=e.name, state=pb.Execution.State.Name(e.last_known_state),
                                  create_ms=e.create_time_since_epoch, update_ms=e.last_update_time_since_epoch,
                                  properties=_props(e)) for e in store.get_executions()}
    for ev in store.get_events_by_execution_ids(list(executions)) if executions else []:
        kind = pb.Event.Type.Name(ev.type)
        e = executions[ev.execution_id]
        if kind in INPUT_EVENTS and ev.artifact_id not in e.inputs:
            e.inputs.append(ev.artifact_id)
        elif kind in OUTPUT_EVENTS and ev.artifact_id not in e.outputs:
            e.outputs.append(ev.artifact_id)
    for c in store.get_contexts():
        snap.contexts[c.id] = Context(id=c.id, type=c.type, name=c.name, properties=_props(c),
                                      parents=[p.id for p in store.get_parent_contexts_by_context(c.id)])
        for e in store.get_executions_by_context(c.id):
            executions[e.id].contexts.append(c.id)
    snap.executions = [executions[i] for i in sorted(executions)]
    return snap


def read(*, sqlite: str | None = None, mysql: dict[str, Any] | None = None, namespace: str | None = None) -> Snapshot:
    """Read a whole MLMD store (SQLite file, or MySQL: host, port, database, user, password)."""
    if mysql:
        source = f"mysql://{mysql.get('host', '127.0.0.1')}:{mysql.get('port', 3306)}/{mysql['database']}"
    else:
        source = f"sqlite://{sqlite}"
    return read_store(connect(sqlite=sqlite, mysql=mysql), namespace or namespace_for(source), source)
