"""OpenLineage event builders for tests: realistic shapes, deterministic unless asked otherwise."""

from __future__ import annotations

import uuid
from typing import Any

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def facet(**fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/X.json", **fields}


def dataset(namespace: str, name: str, *, tags: dict[str, list[str]] | None = None, version: str | None = None,
            **extra_facets: Any) -> dict[str, Any]:
    facets: dict[str, Any] = dict(extra_facets)
    if tags:
        facets["schema"] = facet(fields=[
            {"name": col, "type": "VARCHAR", "tags": [{"key": "classification", "value": t, "source": "manual"}
                                                      for t in col_tags]}
            for col, col_tags in tags.items()
        ])
    if version:
        facets["version"] = facet(datasetVersion=version)
    return {"namespace": namespace, "name": name, "facets": facets}


def run_event(
    *,
    job: str = "train_credit_model",
    namespace: str = "ml-pipelines",
    run_id: str | None = None,
    event_type: str = "COMPLETE",
    time: str = "2026-01-10T10:00:00Z",
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    run_facets: dict[str, Any] | None = None,
    job_facets: dict[str, Any] | None = None,
    sha: str | None = None,
) -> dict[str, Any]:
    jf = dict(job_facets or {})
    if sha:
        jf["sourceCodeLocation"] = facet(type="git", url="https://git.example.com/ml/credit",
                                         repoUrl="https://git.example.com/ml/credit.git", version=sha)
    return {
        "eventType": event_type,
        "eventTime": time,
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": run_id or str(uuid.uuid4()), "facets": run_facets or {}},
        "job": {"namespace": namespace, "name": job, "facets": jf},
        "inputs": inputs or [],
        "outputs": outputs or [],
    }


def model_output(name: str, version: str, namespace: str = "ml-pipelines", **metrics: float) -> dict[str, Any]:
    d = dataset("s3://models", f"{name}/{version}/model.pkl")
    d["facets"]["portalModelVersion"] = facet(name=name, version=version, namespace=namespace, framework="xgboost",
                                              metrics=metrics)
    return d


def deploy_facets(name: str, version: str, environment: str, action: str = "deploy",
                  namespace: str = "ml-pipelines") -> dict[str, Any]:
    return {"portalDeployment": facet(environment=environment, action=action, endpoint=f"https://{environment}/m",
                                      model={"namespace": namespace, "name": name, "version": version})}


def monitoring_facets(name: str, version: str, environment: str = "production", *, metrics: list[dict[str, Any]],
                      namespace: str = "ml-pipelines", reference: dict[str, str] | None = None,
                      window: tuple[str, str] | None = None) -> dict[str, Any]:
    """A ``portalMonitoring`` run facet: a monitoring run of deployment ``name`` ``version`` @ ``environment``."""
    fields: dict[str, Any] = {"deployment": {"namespace": namespace, "name": name, "version": version,
                                             "environment": environment}, "metrics": metrics}
    if reference:
        fields["reference"] = reference
    if window:
        fields["window"] = {"start": window[0], "end": window[1]}
    return {"portalMonitoring": facet(**fields)}
