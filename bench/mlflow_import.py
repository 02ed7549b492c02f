"""MLflow import rate (runs/s) beside MLflow's own search_runs read rate, measured in the same run.

    .venv/bin/python bench/mlflow_import.py               # 500 runs (~2 min, most of it building the store)
    .venv/bin/python bench/mlflow_import.py --runs 2000 --server

Builds an MLflow tracking store on SQLite with the real MlflowClient (each run: 10 params, 5 metrics x 20 steps,
tags with a git commit, one dataset input; one run in ten logs a model registered as a version, one alias), then:

1. baseline: ``MlflowClient.search_runs`` over every run, pages of 1,000 (MLflow reading its own store);
2. the importer's read (``lineage.importers.mlflow.read``: search_runs, the metric history of every metric of
   every run, logged models, the registry with its aliases);
3. the portal's ingest of that snapshot (``mlflow_snapshot_ingest``) into a fresh PostgreSQL database;
4. the whole first import (read + ingest) and a repeat import where nothing changed.

With ``--server`` the same is measured against a real ``mlflow server`` (REST) on 127.0.0.1 over that store.
Needs the mlflow extra (``pip install -e '.[mlflow]'``) and PostgreSQL on 127.0.0.1 (bench/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench._common import (  # noqa: E402
    database_url,
    drop_database,
    free_port,
    git_state,
    log,
    machine_line,
    migrate,
    recreate_database,
)

DB = "lineage_bench_mlflow"
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def build_store(uri: str, runs: int) -> None:
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities import DatasetInput, InputTag, LoggedModelStatus, Metric, Param, RunTag

    warnings.filterwarnings("ignore", category=UserWarning)  # MLflow's schema-inference hints, once per run
    mlflow.set_tracking_uri(uri)  # registering a logged model looks it up through the process-wide URI
    c = MlflowClient(uri, uri)
    rnd = random.Random(7)
    exps = [c.create_experiment(f"team-{i}") for i in range(5)]
    c.create_registered_model("bench-model")
    version = None
    for i in range(runs):
        exp = exps[i % len(exps)]
        run = c.create_run(exp, run_name=f"run-{i}", tags={"mlflow.source.git.commit": f"{i // 20:040x}",
                                                          "mlflow.source.git.repoURL": "https://git.acme/ml/bench"})
        rid = run.info.run_id
        now = int(time.time() * 1000)
        metrics = [Metric(f"m{k}", rnd.random(), now + s, s) for k in range(5) for s in range(20)]
        c.log_batch(rid, metrics=metrics, params=[Param(f"p{k}", str(rnd.random())) for k in range(10)],
                    tags=[RunTag("team", f"team-{i % 5}")])
        df = pd.DataFrame({"x": [float(i), 1.0], "y": [0, 1]})
        ds = mlflow.data.from_pandas(df, source=f"s3://bench/data/{i % 50}.parquet", name=f"d{i % 50}")
        c.log_inputs(rid, datasets=[DatasetInput(ds._to_mlflow_entity(), tags=[InputTag("mlflow.data.context",
                                                                                        "training")])])
        if i % 10 == 0:
            model = c.create_logged_model(exp, name="model", source_run_id=rid)
            c.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
            version = c.create_model_version("bench-model", f"models:/{model.model_id}", run_id=rid,
                                             model_id=model.model_id)
        c.set_terminated(rid)
    if version is not None:
        c.set_registered_model_alias("bench-model", "champion", version.version)


def search_runs_rate(uri: str) -> tuple[int, float]:
    from mlflow import MlflowClient

    c = MlflowClient(uri, uri)
    ids = [e.experiment_id for e in c.search_experiments()]
    t0 = time.perf_counter()
    n, token = 0, None
    while True:
        page = c.search_runs(ids, max_results=1000, page_token=token)
        n += len(page)
        token = page.token
        if not token:
            break
    return n, time.perf_counter() - t0


def measure(uri: str, label: str) -> None:
    from django.db import connection

    from lineage.importers import mlflow as M
    from lineage.importers.services import mlflow_import, mlflow_known_runs, mlflow_snapshot_ingest

    n, base_s = search_runs_rate(uri)
    t0 = time.perf_counter()
    snap = M.read(tracking_uri=uri)
    read_s = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("TRUNCATE lineage_node, lineage_edge, lineage_nodetag, lineage_rawevent CASCADE")
    t0 = time.perf_counter()
    first = mlflow_snapshot_ingest(snapshot=snap, by=None)
    ingest_s = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("TRUNCATE lineage_node, lineage_edge, lineage_nodetag, lineage_rawevent CASCADE")
    t0 = time.perf_counter()
    mlflow_import(tracking_uri=uri)
    whole_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    snap = M.read(tracking_uri=uri, known=mlflow_known_runs(namespace=M.namespace_for(uri)))
    reread_s = time.perf_counter() - t0
    again = mlflow_snapshot_ingest(snapshot=snap, by=None)
    repeat_s = time.perf_counter() - t0
    assert again.events_created == 0 and first.events_created == 2 * n and snap.unchanged_runs == n, (first, again)
    log(f"== {label}: {n} runs")
    log(f"baseline  MLflow search_runs (pages of 1,000)        : {n / base_s:8.0f} runs/s  ({base_s:.2f} s)")
    log(f"importer  read (runs + metric histories + registry)  : {n / read_s:8.0f} runs/s  ({read_s:.2f} s)")
    log(f"portal    ingest of the snapshot (PostgreSQL)         : {n / ingest_s:8.0f} runs/s  ({ingest_s:.2f} s, "
        f"{first.events_created} events)")
    log(f"portal    first import, read + ingest                 : {n / whole_s:8.0f} runs/s  ({whole_s:.2f} s)")
    log(f"portal    repeat import, nothing changed              : {n / repeat_s:8.0f} runs/s  ({repeat_s:.2f} s, "
        f"of which the read {reread_s:.2f} s)")


def server(store: str, workdir: Path, started: list[subprocess.Popen[bytes]]) -> str:
    """Start ``mlflow server`` in its own process group (appended to ``started`` at once, so it is always stopped)."""
    port = free_port()
    started.append(subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store, "--host",
                                     "127.0.0.1", "--port", str(port), "--workers", "1", "--default-artifact-root",
                                     str(workdir / "artifacts")], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True))
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):  # noqa: S310 - our own server
                return url
        except OSError:
            time.sleep(0.5)
    raise SystemExit("mlflow server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server and its workers: only the process group it leads."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--server", action="store_true", help="also measure through a real mlflow server (REST)")
    args = ap.parse_args()
    log(machine_line())
    log(git_state())
    import mlflow

    log(f"mlflow {mlflow.__version__}")
    recreate_database(DB)
    os.environ.update({"DATABASE_URL": database_url(DB), "DJANGO_SETTINGS_MODULE": "portal.settings",
                       "PORTAL_AUDIT_KEY": f"/tmp/{DB}-key.pem", "PORTAL_AUDIT_CHECKPOINT_DIR": f"/tmp/{DB}-cp"})
    started: list[subprocess.Popen[bytes]] = []
    try:
        migrate(DB)
        import django

        django.setup()
        with tempfile.TemporaryDirectory() as tmp:
            store = f"sqlite:///{tmp}/mlflow.db"
            t0 = time.perf_counter()
            build_store(store, args.runs)
            log(f"built the MLflow store: {args.runs} runs in {time.perf_counter() - t0:.0f} s")
            measure(store, "SQLite store, in process")
            if args.server:
                measure(server(store, Path(tmp), started), "mlflow server over REST")
    finally:
        for proc in started:
            stop(proc)
        drop_database(DB)


if __name__ == "__main__":
    main()
