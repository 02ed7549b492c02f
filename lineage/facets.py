"""Reading meaning out of facets: the standard ones the portal uses and the portal's own.

The portal defines five facets (JSON Schemas in ``lineage/facets/schemas/``, documented in
``docs/facets.md``):

- ``portalModelVersion`` (dataset facet on an output): the output is a model version.
- ``portalDeployment`` (run facet): the run deployed, rolled back or retired a model version.
- ``portalRun`` (run facet): who launched the run, and whether it de-identifies its inputs.
- ``portalClassification`` (dataset facet): classification tags on the dataset and its columns.
- ``portalGovernance`` (dataset facet): GDPR/HIPAA attributes (lawful basis, purposes, retention, legal hold,
  hashed subject keys). ``portalModelVersion`` and ``portalDeployment`` also carry optional inventory and
  profile fields.
- ``portalMonitoring`` (run facet): a monitoring run's results against a deployment (read in ``monitoring.py``).

Pure functions: each returns plain values and appends to ``warnings`` when a facet is unusable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import governance_fields as G
from .openlineage import MAX_NAME_BYTES, MAX_NAMESPACE_BYTES, MAX_VERSION_BYTES, name_problem

TAGS = ("PII", "PHI", "SPECIAL_CAT", "PCI", "FINANCIAL", "DEIDENTIFIED")
_FALSY = {"false", "no", "0", "none", ""}

MODEL_FACET = "portalModelVersion"
DEPLOYMENT_FACET = "portalDeployment"
RUN_FACET = "portalRun"
CLASSIFICATION_FACET = "portalClassification"
DEPLOY_ACTIONS = ("deploy", "rollback", "retire")
MAX_COLUMN_BYTES = 500  # NodeTag.field
MAX_ENVIRONMENT_BYTES = 100  # Node.environment


def _usable(value: str, limit: int, where: str, warnings: list[str] | None) -> bool:
    """A name read from a facet becomes part of a node id: one that cannot be stored makes the facet unusable."""
    problem = name_problem(value, limit)
    if problem and warnings is not None:
        warnings.append(f"{where} {problem}: ignored")
    return problem is None


def _obj(facets: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = facets.get(name)
    return value if isinstance(value, dict) else None


def _tag_of(key: Any, value: Any) -> str | None:
    k = str(key or "").strip().upper()
    v = str(value or "").strip()
    if v.upper() in TAGS:
        return v.upper()
    if k in TAGS and v.lower() not in _FALSY - {""}:
        return k
    return None


def _column(name: str, warnings: list[str] | None) -> str:
    # A column name that cannot be stored keeps its tag on the whole dataset: classification is never dropped.
    return name if _usable(name, MAX_COLUMN_BYTES, f"column {name[:40]!r}", warnings) else ""


def _schema_field_tags(fields: Any, prefix: str, out: set[tuple[str, str]]) -> None:
    if not isinstance(fields, list):
        return
    for f in fields:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            continue
        name = prefix + f["name"]
        for t in f.get("tags") or []:
            if isinstance(t, dict):
                tag = _tag_of(t.get("key"), t.get("value"))
                if tag:
                    out.add((name, tag))
        _schema_field_tags(f.get("fields"), name + ".", out)


def dataset_tags(facets: dict[str, Any], warnings: list[str] | None = None) -> set[tuple[str, str]]:
    """Classification tags as (column or "", tag) from the schema, tags and portalClassification facets."""
    found: set[tuple[str, str]] = set()
    out = found
    schema = _obj(facets, "schema")
    if schema:
        _schema_field_tags(schema.get("fields"), "", out)
    tags = _obj(facets, "tags")
    if tags:
        for t in tags.get("tags") or []:
            if isinstance(t, dict):
                tag = _tag_of(t.get("key"), t.get("value"))
                if tag:
                    column = t.get("field")
                    out.add((column if isinstance(column, str) else "", tag))
    cls = _obj(facets, CLASSIFICATION_FACET)
    if cls:
        for t in cls.get("tags") or []:
            if isinstance(t, str) and t.upper() in TAGS:
                out.add(("", t.upper()))
        columns = cls.get("columns") or {}
        if isinstance(columns, dict):
            for col, col_tags in columns.items():
                for t in col_tags if isinstance(col_tags, list) else []:
                    if isinstance(t, str) and t.upper() in TAGS:
                        out.add((str(col), t.upper()))
    return {(_column(col, warnings) if col else "", tag) for col, tag in found}


def owners(facets: dict[str, Any]) -> list[str]:
    own = _obj(facets, "ownership")
    if not own:
        return []
    return [o["name"] for o in own.get("owners") or [] if isinstance(o, dict) and isinstance(o.get("name"), str)]


@dataclass(frozen=True, slots=True)
class CommitRef:
    repo: str
    sha: str
    branch: str
    path: str
    url: str


def source_commit(job_facets: dict[str, Any], warnings: list[str]) -> CommitRef | None:
    scl = _obj(job_facets, "sourceCodeLocation")
    if not scl:
        return None
    sha = scl.get("version")
    repo = scl.get("repoUrl") or scl.get("url")
    if not isinstance(sha, str) or not sha.strip() or not isinstance(repo, str) or not repo.strip():
        warnings.append("job.facets.sourceCodeLocation has no repoUrl/url and version: no commit linked")
        return None
    if not (_usable(repo.strip(), MAX_NAMESPACE_BYTES, "job.facets.sourceCodeLocation.repoUrl", warnings)
            and _usable(sha.strip(), MAX_VERSION_BYTES, "job.facets.sourceCodeLocation.version", warnings)):
        return None
    return CommitRef(repo=repo.strip(), sha=sha.strip().lower(), branch=str(scl.get("branch") or ""),
                     path=str(scl.get("path") or ""), url=str(scl.get("url") or ""))


@dataclass(frozen=True, slots=True)
class ModelRef:
    namespace: str
    name: str
    version: str
    framework: str
    metrics: dict[str, Any]
    parameters: dict[str, Any]


def _model(obj: dict[str, Any], default_ns: str, where: str, warnings: list[str]) -> ModelRef | None:
    name, version = obj.get("name"), obj.get("version")
    if not isinstance(name, str) or not name.strip() or version is None or str(version).strip() == "":
        warnings.append(f"{where} needs a model name and version: ignored")
        return None
    metrics, params, namespace = obj.get("metrics"), obj.get("parameters"), obj.get("namespace")
    metrics = metrics if isinstance(metrics, dict) else {}
    params = params if isinstance(params, dict) else {}
    ns = namespace if isinstance(namespace, str) and namespace else default_ns
    version = str(version).strip()
    if not (_usable(ns, MAX_NAMESPACE_BYTES, f"{where}.namespace", warnings)
            and _usable(name.strip(), MAX_NAME_BYTES, f"{where}.name", warnings)
            and _usable(version, MAX_VERSION_BYTES, f"{where}.version", warnings)):
        return None
    return ModelRef(ns, name.strip(), version, str(obj.get("framework") or ""), metrics, params)


def model_version(facets: dict[str, Any], default_ns: str, where: str, warnings: list[str]) -> ModelRef | None:
    obj = _obj(facets, MODEL_FACET)
    return _model(obj, default_ns, f"{where}.{MODEL_FACET}", warnings) if obj else None


@dataclass(frozen=True, slots=True)
class DeploymentRef:
    model: ModelRef
    environment: str
    action: str
    endpoint: str


def deployment(run_facets: dict[str, Any], default_ns: str, warnings: list[str]) -> DeploymentRef | None:
    obj = _obj(run_facets, DEPLOYMENT_FACET)
    if not obj:
        return None
    where = f"run.facets.{DEPLOYMENT_FACET}"
    env, action = obj.get("environment"), obj.get("action") or "deploy"
    model_obj = obj.get("model")
    if not isinstance(env, str) or not env.strip() or action not in DEPLOY_ACTIONS or not isinstance(model_obj, dict):
        warnings.append(f"{where} needs environment, model and an action in {DEPLOY_ACTIONS}: ignored")
        return None
    if not _usable(env.strip(), MAX_ENVIRONMENT_BYTES, f"{where}.environment", warnings):
        return None
    model = _model(model_obj, default_ns, f"{where}.model", warnings)
    if model is None:
        return None
    return DeploymentRef(model, env.strip(), action, str(obj.get("endpoint") or ""))


def launcher(run_facets: dict[str, Any]) -> str | None:
    """Who launched the run: ``portalRun.launchedBy``, else the first owner in a run ``ownership`` facet."""
    run = _obj(run_facets, RUN_FACET)
    if run and isinstance(run.get("launchedBy"), str) and run["launchedBy"].strip():
        return str(run["launchedBy"]).strip()
    names = owners(run_facets)
    return names[0] if names else None


def deidentifies(run_facets: dict[str, Any], job_facets: dict[str, Any]) -> bool:
    run = _obj(run_facets, RUN_FACET)
    if run and run.get("deidentifies") is True:
        return True
    tags = _obj(job_facets, "tags")
    if tags:
        return any(isinstance(t, dict) and _tag_of(t.get("key"), t.get("value")) == "DEIDENTIFIED"
                   for t in tags.get("tags") or [])
    return False


def dataset_version(facets: dict[str, Any], warnings: list[str] | None = None) -> str | None:
    v = _obj(facets, "version")
    if v and isinstance(v.get("datasetVersion"), str) and v["datasetVersion"].strip():
        version = v["datasetVersion"].strip()
        return version if _usable(version, MAX_VERSION_BYTES, "facets.version.datasetVersion", warnings) else None
    return None


def parent_run(run_facets: dict[str, Any]) -> tuple[str, str, str] | None:
    """(run uuid, job namespace, job name) of the parent run, if the ``parent`` facet names one."""
    p = _obj(run_facets, "parent")
    if not p:
        return None
    run, job = p.get("run"), p.get("job")
    if not isinstance(run, dict) or not isinstance(job, dict):
        return None
    rid, ns, name = run.get("runId"), job.get("namespace"), job.get("name")
    if not (isinstance(rid, str) and isinstance(ns, str) and isinstance(name, str)):
        return None
    if not all(x.strip() for x in (rid, ns, name)):
        return None
    if name_problem(ns, MAX_NAMESPACE_BYTES) is None and name_problem(name, MAX_NAME_BYTES) is None:
        return rid, ns, name
    return None


# -- governance attributes (lineage/governance_fields.py holds the rules) ---------------------------------
GOVERNANCE_FACET = "portalGovernance"


def _warn(warnings: list[str], message: str) -> None:
    if message not in warnings:  # a batch with duplicates is planned twice
        warnings.append(message)


def _governance(table: dict[str, Any], obj: dict[str, Any], where: str, warnings: list[str],
                allowed: tuple[str, ...] | None = None) -> dict[str, Any] | None:
    """The model fields ``obj`` sets, or None (and a warning) when a value is unusable."""
    try:
        return G.from_facet(table, obj, allowed)
    except G.Invalid as exc:
        _warn(warnings, f"{where}.{table[exc.field][0]} {exc.message}: governance attributes ignored")
        return None


def dataset_governance(facets: dict[str, Any], where: str, warnings: list[str]) -> dict[str, Any] | None:
    """Governance attributes from ``portalGovernance`` as model field names, or None.

    Values may not be blank (a pipeline sets attributes; clearing one is done in the portal), ``legalHold:
    false`` is ignored (a hold is released in the portal), and the facet is ignored as a whole, with a
    warning, when any value is unusable.
    """
    obj = _obj(facets, GOVERNANCE_FACET)
    if not obj:
        return None
    where = f"{where}.{GOVERNANCE_FACET}"
    fields = _governance(G.DATASET, obj, where, warnings)
    if fields is None:
        return None
    if "subjectKeyHashes" in obj:
        try:
            fields["subject_key_hashes"] = G.key_hashes("subject_key_hashes", obj["subjectKeyHashes"], False)
        except G.Invalid as exc:
            _warn(warnings, f"{where}.subjectKeyHashes {exc.message}: governance attributes ignored")
            return None
    problems = G.dataset_problems(fields)
    if problems:
        _warn(warnings, f"{where}.{G.DATASET[problems[0].field][0]}: {problems[0].message}; "
                        "governance attributes ignored")
        return None
    if fields.get("legal_hold") is False:
        del fields["legal_hold"]
    return fields or None


def model_inventory(facets: dict[str, Any], where: str, warnings: list[str]) -> dict[str, Any] | None:
    """Inventory fields carried by ``portalModelVersion`` (owner, intendedUse, tier, ...), or None."""
    obj = _obj(facets, MODEL_FACET)
    if not obj:
        return None
    return _governance(G.INVENTORY, obj, f"{where}.{MODEL_FACET}", warnings, G.FACET_INVENTORY) or None


def deployment_profile(run_facets: dict[str, Any], warnings: list[str]) -> dict[str, Any] | None:
    """Profile fields carried by ``portalDeployment`` (soxInScope, overseers, ...), or None."""
    obj = _obj(run_facets, DEPLOYMENT_FACET)
    if not obj:
        return None
    return _governance(G.PROFILE, obj, f"run.facets.{DEPLOYMENT_FACET}", warnings) or None
