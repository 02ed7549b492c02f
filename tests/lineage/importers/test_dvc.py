"""The DVC importer on a real repository built here with git and the real dvc package: raw data added with
``dvc add``, two stages (prepare, train) run by ``dvc repro``, two commits in which the raw data changes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from lineage.importers import dvc as D
from lineage.importers.services import dvc_import
from lineage.models import Edge, Node, RawEvent
from lineage.openlineage import parse_event
from lineage.services import lineage_rebuild
from tests.conftest import need_service

DVC = Path(sys.executable).parent / "dvc"
ORIGIN = "https://github.com/acme/credit-dvc.git"
NS = "dvc://github.com/acme/credit-dvc"


def _sh(repo: Path, *cmd: str, when: str = "2026-02-01T10:00:00+00:00") -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(repo.parent / "dvc-site"),
           "GIT_AUTHOR_NAME": "Dana", "GIT_AUTHOR_EMAIL": "dana@acme.example", "GIT_COMMITTER_NAME": "CI",
           "GIT_COMMITTER_EMAIL": "ci@acme.example", "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    return subprocess.run(list(cmd), cwd=repo, env=env, capture_output=True, text=True, check=True, timeout=120).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if not DVC.exists() and not shutil.which("dvc"):
        need_service("dvc", "the dvc package is not installed: pip install '.[dvc]'")
    dvc = str(DVC) if DVC.exists() else "dvc"
    r = tmp_path / "credit"
    r.mkdir()
    _sh(r, "git", "init", "-q", "-b", "main")
    _sh(r, "git", "remote", "add", "origin", ORIGIN)
    _sh(r, dvc, "init", "-q")
    (r / "data").mkdir()
    (r / "data" / "raw.csv").write_text("b\na\n")
    (r / "params.yaml").write_text("train:\n  lr: 0.1\n")
    _sh(r, dvc, "add", "-q", "data/raw.csv")
    _sh(r, dvc, "stage", "add", "-q", "-n", "prepare", "-d", "data/raw.csv", "-o", "data/prepared.csv",
        "sort data/raw.csv > data/prepared.csv")
    _sh(r, dvc, "stage", "add", "-q", "-n", "train", "-d", "data/prepared.csv", "-p", "train.lr", "-o", "model.txt",
        "wc -l data/prepared.csv > model.txt")
    _sh(r, dvc, "repro", "-q")
    _sh(r, "git", "add", "-A")
    _sh(r, "git", "commit", "-q", "-m", "First model")
    (r / "data" / "raw.csv").write_text("b\na\nc\n")  # the raw data changes
    _sh(r, dvc, "add", "-q", "data/raw.csv")
    _sh(r, dvc, "repro", "-q")
    _sh(r, "git", "add", "-A")
    _sh(r, "git", "commit", "-q", "-m", "More data", when="2026-02-02T10:00:00+00:00")
    (r / "README").write_text("docs only\n")
    _sh(r, "git", "add", "-A")
    _sh(r, "git", "commit", "-q", "-m", "Docs", when="2026-02-03T10:00:00+00:00")
    return r


def _sha(repo: Path, rev: str) -> str:
    return _sh(repo, "git", "rev-parse", rev).strip()


def test_reading_the_history_finds_each_commits_stages_and_dvc_files(repo) -> None:
    snap = D.read(repo=str(repo))
    assert (snap.namespace, snap.repo_url, snap.branch) == (NS, ORIGIN, "main")
    first, second, docs = snap.commits
    assert set(first.stages) == {"prepare", "train"} and set(first.tracked) == {"data/raw.csv.dvc"}
    train = first.stages["train"]
    assert train.params == {"params.yaml": {"train.lr": 0.1}} and train.cmd == "wc -l data/prepared.csv > model.txt"
    assert [o.path for o in train.deps] == ["data/prepared.csv"] and train.outs[0].size == 20
    assert first.tracked["data/raw.csv.dvc"][0].path == "data/raw.csv"
    # The first commit runs everything; the second re-ran both stages on new data; the docs commit nothing.
    assert [len(D.commit_events(c, snap)) for c in (first, second, docs)] == [3, 3, 0]
    for raw in D.commit_events(second, snap):
        assert parse_event(raw).warnings == []


@pytest.mark.django_db
def test_commits_become_runs_of_stages_reading_and_writing_md5_versions_built_from_the_commit(repo) -> None:
    summary = dvc_import(repo=str(repo))
    assert (summary.commits, summary.runs, summary.events_created) == (3, 6, 6)
    c1, c2 = _sha(repo, "HEAD~2"), _sha(repo, "HEAD~1")
    raw = Node.objects.filter(kind="datasetVersion", namespace=NS, name="data/raw.csv")
    assert raw.count() == 2  # one version per md5 of the raw data
    run1 = Node.objects.get(node_id=f"run:{D.run_uuid(NS, 'prepare', c1)}")
    run2 = Node.objects.get(node_id=f"run:{D.run_uuid(NS, 'prepare', c2)}")
    assert run1.state == run2.state == "COMPLETED"
    assert run2.facets["dvcStage"]["cmd"] == "sort data/raw.csv > data/prepared.csv"
    assert run2.attrs["launched_by"] == "dana@acme.example"
    read1 = Edge.objects.get(kind="reads", dst=run1, src__name="data/raw.csv").src
    read2 = Edge.objects.get(kind="reads", dst=run2, src__name="data/raw.csv").src
    assert read1.version != read2.version and {read1.version, read2.version} == set(raw.values_list("version",
                                                                                                   flat=True))
    # The raw data version was written by the commit's `dvc add` run; the train run reads what prepare wrote.
    add2 = Node.objects.get(node_id=f"run:{D.run_uuid(NS, 'data/raw.csv.dvc', c2)}")
    assert Edge.objects.filter(kind="writes", src=add2, dst=read2).exists()
    train2 = Node.objects.get(node_id=f"run:{D.run_uuid(NS, 'train', c2)}")
    prepared = Edge.objects.get(kind="writes", src=run2).dst
    assert Edge.objects.filter(kind="reads", src=prepared, dst=train2).exists()
    assert train2.facets["dvcStage"]["params"] == {"params.yaml": {"train.lr": 0.1}}
    # The commit with its author, linked to the runs it built.
    commit = Node.objects.get(node_id=f"commit:{ORIGIN}:{c2}")
    assert commit.attrs["author_email"] == "dana@acme.example" and commit.attrs["message"] == "More data"
    assert Edge.objects.filter(kind="built_from", src=commit, dst=run2).exists()


@pytest.mark.django_db
def test_importing_again_or_rebuilding_changes_nothing(repo) -> None:
    dvc_import(repo=str(repo))
    graph = sorted(Node.objects.values_list("node_id", "state", "facets", "attrs", "event_time"))
    count = RawEvent.objects.count()
    assert dvc_import(repo=str(repo)).events_created == 0
    assert RawEvent.objects.count() == count
    lineage_rebuild()
    assert sorted(Node.objects.values_list("node_id", "state", "facets", "attrs", "event_time")) == graph


@pytest.mark.django_db
def test_the_command_takes_revisions_and_refuses_an_unknown_one(repo) -> None:
    out = StringIO()
    call_command("import_dvc", "--repo", str(repo), "--rev", "HEAD~1", stdout=out)
    assert "1 commits, 3 runs" in out.getvalue()
    assert Node.objects.filter(kind="run").count() == 3
    with pytest.raises(CommandError, match="git rev-parse"):
        call_command("import_dvc", "--repo", str(repo), "--rev", "no-such-branch")


@pytest.mark.parametrize(("url", "ns"), [
    ("https://github.com/acme/credit.git", "dvc://github.com/acme/credit"),
    ("git@github.com:acme/credit.git", "dvc://github.com/acme/credit"),
    ("https://token@git.acme/ml/credit", "dvc://git.acme/ml/credit"),
    ("file:///srv/repos/credit", "dvc:///srv/repos/credit"),
])
def test_the_namespace_is_the_repository(url, ns) -> None:
    assert D.namespace_for(url) == ns


def test_an_old_lock_without_schema_and_paths_in_a_subdirectory_are_read() -> None:
    stages = D.parse_lock("prepare:\n  cmd: x\n  deps:\n  - path: ../raw.csv\n    md5: aa\n", base="sub")
    assert list(stages) == ["sub/dvc.yaml:prepare"] and stages["sub/dvc.yaml:prepare"].deps[0].path == "raw.csv"
