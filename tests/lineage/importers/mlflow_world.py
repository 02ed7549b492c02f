"""A small MLflow world written with the real MlflowClient: two runs of experiment ``credit`` that read two
versions of the same training data, each logging a model; a registered model ``credit-scoring`` with a version
from each run and the alias ``champion`` on version 1."""

from __future__ import annotations

from typing import Any

REPO = "https://github.com/acme/credit.git"
SHA1, SHA2 = "a" * 40, "b" * 40


def client(uri: str) -> Any:
    import mlflow
    from mlflow import MlflowClient

    # Registering a version of a logged model (models:/m-...) looks the model up through the process-wide
    # tracking URI, not the client's.
    mlflow.set_tracking_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _dataset(rows: list[float]) -> Any:
    import mlflow.data
    import pandas as pd

    df = pd.DataFrame({"income": rows, "default": [i % 2 for i in range(len(rows))]})
    return mlflow.data.from_pandas(df, source="s3://acme-data/credit/train.parquet", name="credit-train",
                                   targets="default")._to_mlflow_entity()


def _run(c: Any, exp: str, sha: str, rows: list[float], lr: float, status: str) -> tuple[str, str]:
    from mlflow.entities import DatasetInput, InputTag, LoggedModelOutput, LoggedModelStatus

    run = c.create_run(exp, run_name=f"train-{sha[:4]}", tags={
        "mlflow.source.git.commit": sha, "mlflow.source.git.repoURL": REPO, "mlflow.source.git.branch": "main",
        "mlflow.source.name": "train.py", "mlflow.user": "dana", "team": "credit-risk"})
    rid = run.info.run_id
    c.log_inputs(rid, datasets=[DatasetInput(_dataset(rows), tags=[InputTag("mlflow.data.context", "training")])])
    c.log_param(rid, "lr", str(lr))
    for step in range(3):
        c.log_metric(rid, "auc", 0.70 + lr + step / 100, step=step)
    model = c.create_logged_model(exp, name="model", source_run_id=rid, params={"lr": str(lr)})
    c.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    c.log_outputs(rid, [LoggedModelOutput(model.model_id, step=2)])
    c.set_terminated(rid, status=status)
    return rid, model.model_id


def build(uri: str) -> dict[str, Any]:
    c = client(uri)
    exp = c.create_experiment("credit")
    r1, m1 = _run(c, exp, SHA1, [10.0, 20.0, 30.0], 0.1, "FINISHED")
    r2, m2 = _run(c, exp, SHA2, [10.0, 20.0, 31.0, 40.0], 0.05, "FINISHED")
    c.create_registered_model("credit-scoring", description="Retail credit default model")
    v1 = c.create_model_version("credit-scoring", f"models:/{m1}", run_id=r1, model_id=m1,
                                description="first cut", tags={"validated": "yes"})
    v2 = c.create_model_version("credit-scoring", f"models:/{m2}", run_id=r2, model_id=m2)
    c.set_registered_model_alias("credit-scoring", "champion", v1.version)
    return {"runs": [r1, r2], "models": [m1, m2], "versions": [v1.version, v2.version]}


def move_champion(uri: str) -> None:
    """The champion moves to version 2, which is tagged validated."""
    c = client(uri)
    c.set_model_version_tag("credit-scoring", "2", "validated", "yes")
    c.set_registered_model_alias("credit-scoring", "champion", "2")
