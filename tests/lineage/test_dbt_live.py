"""A real dbt project run by dbt-ol (openlineage-dbt, default mode) against a live portal, twice: the graph and
the column edges of its ``columnLineage`` facets, exactly.

Default mode sends every START first and every COMPLETE after dbt has finished, each with its real time: the
graph must still hold exactly the dbt DAG, each read linked to the version its upstream model wrote in the same
invocation. Needs PostgreSQL (dbt-postgres writes the tables) and the ``.[dbt]`` extra.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from django.db import connection

from lineage import ids
from lineage.models import ColumnEdge, Edge, Node, RawEvent
from portal.accounts.services import token_issue
from tests.conftest import need_service

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = Path(__file__).resolve().parent / "dbt_project"
SCHEMA = "dbt_portal_test"
NAMESPACE = "shop"
# model -> the models it reads (seeds are not sent by dbt-ol's default mode, nor listed as inputs)
DAG = {
    "stg_customers": set(),
    "stg_orders": set(),
    "order_totals": {"stg_orders"},
    "customer_orders": {"stg_customers", "stg_orders"},
    "customer_summary": {"customer_orders", "order_totals"},
}

# model -> output column -> (input model or seed, its column): the columnLineage dbt-ol sends from the compiled
# SQL (openlineage-sql), inputs without transformations (DIRECT, no subtype). count(*) feeds no column.
COLUMNS = {
    "stg_customers": {"customer_id": ("raw_customers", "id"), "name": ("raw_customers", "name"),
                      "country": ("raw_customers", "country")},
    "stg_orders": {"order_id": ("raw_orders", "id"), "customer_id": ("raw_orders", "customer_id"),
                   "amount": ("raw_orders", "amount")},
    "order_totals": {"customer_id": ("stg_orders", "customer_id"), "total": ("stg_orders", "amount")},
    "customer_orders": {"customer_id": ("stg_customers", "customer_id"), "name": ("stg_customers", "name"),
                        "order_id": ("stg_orders", "order_id"), "amount": ("stg_orders", "amount")},
    "customer_summary": {"customer_id": ("customer_orders", "customer_id"), "name": ("customer_orders", "name"),
                         "total": ("order_totals", "total"), "orders": ("order_totals", "orders")},
}
SEEDS = ("raw_customers", "raw_orders")


@pytest.fixture
def dbt_env(tmp_path: Path, live_server, ingestor) -> dict[str, str]:
    if connection.vendor != "postgresql":
        pytest.skip("dbt-postgres needs PostgreSQL (set DATABASE_URL)")
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "dbt-ol").exists() or not (bin_dir / "dbt").exists():
        need_service("dbt", "dbt-ol is not installed: pip install -e '.[dbt]'")
    with connection.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")  # noqa: S608 - a constant
    db = connection.settings_dict
    _, token = token_issue(user=ingestor)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENLINEAGE", "DBT_"))}
    env.update({
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", "HOME": str(tmp_path),
        "DBT_HOST": db["HOST"] or "127.0.0.1", "DBT_PORT": str(db["PORT"] or 5432), "DBT_USER": db["USER"],
        "DBT_PASSWORD": db["PASSWORD"] or "", "DBT_DBNAME": db["NAME"], "DBT_SCHEMA": SCHEMA,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        # the README's recipe
        "OPENLINEAGE_URL": live_server.url, "OPENLINEAGE_API_KEY": token, "OPENLINEAGE_NAMESPACE": NAMESPACE,
    })
    shutil.copytree(PROJECT, tmp_path / "project")
    env["PROJECT"] = str(tmp_path / "project")
    yield env
    with connection.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")  # noqa: S608 - a constant


def _dbt(env: dict[str, str], *args: str) -> None:
    project = env["PROJECT"]
    done = subprocess.run([*args, "--project-dir", project, "--profiles-dir", project], env=env, cwd=project,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "401" not in done.stdout + done.stderr, "events were refused"


def _dataset(env: dict[str, str], model: str) -> str:
    return f"{env['DBT_DBNAME']}.{SCHEMA}.{model}"


def _model_runs(env: dict[str, str]) -> dict[str, str]:
    """model -> run id of its latest dbt-ol run, from the events stored."""
    out: dict[str, tuple] = {}
    prefix = f"{env['DBT_DBNAME']}.{SCHEMA}.portal_shop."
    for run_id, job, t in RawEvent.objects.filter(job_namespace=NAMESPACE, job_name__startswith=prefix,
                                                  event_type="START").values_list("run_id", "job_name",
                                                                                  "event_time"):
        model = job[len(prefix):]
        if model not in out or t > out[model][1]:
            out[model] = (run_id, t)
    return {m: r for m, (r, _) in out.items()}


def _check_graph(env: dict[str, str]) -> None:
    runs = _model_runs(env)
    assert set(runs) == set(DAG)
    ns = f"postgres://{env['DBT_HOST']}:{env['DBT_PORT']}"
    for model, upstream in DAG.items():
        run = Node.objects.get(node_id=ids.run_id(runs[model]))
        assert run.state == "COMPLETED"
        read = set(Edge.objects.filter(dst=run, kind="reads").values_list("src__node_id", flat=True))
        expected = {ids.dataset_version_id(ns, _dataset(env, up), runs[up]) for up in upstream}
        assert read == expected, f"{model} read {sorted(read)}, expected {sorted(expected)}"
        written = set(Edge.objects.filter(src=run, kind="writes").values_list("dst__node_id", flat=True))
        assert written == {ids.dataset_version_id(ns, _dataset(env, model), runs[model])}
        ds = Node.objects.get(node_id=ids.dataset_id(ns, _dataset(env, model)))
        assert ds.attrs.get("current_version") == runs[model]
    assert not Node.objects.filter(kind="datasetVersion", version="initial").exists()
    # the DAG and nothing else: each model's job reads exactly its upstream models' datasets
    reads = defaultdict(set)
    for src, dst in Edge.objects.filter(kind="reads").values_list("src__name", "dst__parent__name"):
        reads[dst.rsplit(".", 1)[-1]].add(src.rsplit(".", 1)[-1])
    assert {m: up for m, up in reads.items()} == {m: up for m, up in DAG.items() if up}



def _check_columns(env: dict[str, str]) -> None:
    """The column edges into each model's latest version are exactly what its compiled SQL says, each from the
    version of the upstream model it read (a seed, never listed as an input, from the dataset itself)."""
    runs = _model_runs(env)
    ns = f"postgres://{env['DBT_HOST']}:{env['DBT_PORT']}"

    def src(name: str) -> str:
        if name in SEEDS:
            return ids.dataset_id(ns, _dataset(env, name))
        return ids.dataset_version_id(ns, _dataset(env, name), runs[name])

    for model, columns in COLUMNS.items():
        dst = ids.dataset_version_id(ns, _dataset(env, model), runs[model])
        got = set(ColumnEdge.objects.filter(dst__node_id=dst).values_list("src__node_id", "src_field", "dst_field",
                                                                          "type", "subtype"))
        assert got == {(src(up), fld, out, "DIRECT", "") for out, (up, fld) in columns.items()}, model


def test_two_dbt_ol_invocations_give_exactly_the_dbt_dag_at_the_right_versions(dbt_env) -> None:
    _dbt(dbt_env, "dbt", "seed")
    _dbt(dbt_env, "dbt-ol", "run")
    _check_graph(dbt_env)
    _check_columns(dbt_env)
    first = _model_runs(dbt_env)
    _dbt(dbt_env, "dbt-ol", "run")
    second = _model_runs(dbt_env)
    assert not set(first.values()) & set(second.values())
    _check_graph(dbt_env)
    _check_columns(dbt_env)
