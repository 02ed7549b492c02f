"""DVC pipelines, commit by commit -> OpenLineage RunEvents and portal commit records.

DVC keeps its lineage in git: ``dvc.yaml`` declares stages, ``dvc.lock`` records what each stage last ran on
(deps and outs with md5 and size, params, cmd), and ``<file>.dvc`` records data added by hand. ``read()`` walks
a repository's history with ``git`` (first-parent from HEAD, or the revisions given) and parses those files as
DVC writes them; the mapping below is pure:

- a stage is a job ``<namespace>:<stage>`` (``<dir>/dvc.yaml:<stage>`` outside the root); each commit whose
  lock entry for the stage changed is one run of it (UUID derived from repo, stage and commit, so stable),
  COMPLETE at the commit time, launched by the commit's author, with cmd and params in the ``dvcStage`` facet;
- deps are inputs and outs outputs, named by their path in the repository, versioned by their md5 (a
  directory's ``.dir`` md5), size and file count in the ``dvcOutput`` facet;
- a ``.dvc`` file is a source dataset: each commit that changes it is a run of the job ``<file>.dvc`` that
  writes that version of the data;
- the commit (author, committer, message) is a portal ``commit`` record, and every run links it through the
  ``sourceCodeLocation`` job facet.

The namespace is the repository: ``dvc://github.com/acme/credit`` from its ``origin`` remote, else its path.
"""

from __future__ import annotations

import posixpath
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from .common import OL_SCHEMA_URL, PRODUCER_BASE, digest, dumps, facet, iso, std_facet
from .common import without_credentials as clean_uri

PRODUCER = f"{PRODUCER_BASE}/dvc"


class DvcSourceError(ValueError):
    """The repository or a revision cannot be read."""


@dataclass(frozen=True, slots=True)
class Output:
    path: str  # relative to the repository root
    md5: str
    size: int | None = None
    nfiles: int | None = None


@dataclass(slots=True)
class StageLock:
    stage: str
    cmd: str
    deps: list[Output] = field(default_factory=list)
    outs: list[Output] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        return digest({"cmd": self.cmd, "deps": [(o.path, o.md5) for o in self.deps],
                       "outs": [(o.path, o.md5) for o in self.outs], "params": self.params})


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    author_name: str
    author_email: str
    author_time: datetime
    committer_name: str
    committer_email: str
    commit_time: datetime
    message: str


@dataclass(slots=True)
class CommitState:
    """One commit: the stages and ``.dvc`` files at it, and those at its first parent, to tell what changed."""

    commit: CommitInfo
    stages: dict[str, StageLock]
    tracked: dict[str, list[Output]]  # .dvc file -> its outs
    parent_stages: dict[str, StageLock] = field(default_factory=dict)
    parent_tracked: dict[str, list[Output]] = field(default_factory=dict)


@dataclass(slots=True)
class Snapshot:
    namespace: str
    repo_url: str
    branch: str = ""
    commits: list[CommitState] = field(default_factory=list)


def namespace_for(repo_url: str) -> str:
    """``dvc://host/path`` for a remote (https, ssh or scp-like ``git@host:path``), ``dvc://`` + path locally."""
    url = repo_url.strip()
    if "://" not in url and ":" in url.split("/", 1)[0] and "@" in url.split(":", 1)[0]:
        host, _, path = url.partition(":")
        url = f"ssh://{host}/{path}"
    url = clean_uri(url)
    rest = url.split("://", 1)[1] if "://" in url else url
    rest = rest.removesuffix("/").removesuffix(".git")
    return f"dvc://{rest.lstrip('/')}" if not rest.startswith("/") else f"dvc://{rest}"


# -- mapping -----------------------------------------------------------------------------------------------
def run_uuid(namespace: str, job: str, sha: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}#{job}@{sha}"))


def _dataset(o: Output, namespace: str) -> dict[str, Any]:
    info = {k: v for k, v in (("md5", o.md5), ("size", o.size), ("nfiles", o.nfiles)) if v is not None}
    return {"namespace": namespace, "name": o.path, "facets": {
        "version": std_facet(PRODUCER, "1-0-1/DatasetVersionDatasetFacet.json", datasetVersion=o.md5),
        "dvcOutput": facet(PRODUCER, "DvcOutputFacet", **info)}}


def _job_facets(snap: Snapshot, c: CommitInfo, job_type: str) -> dict[str, Any]:
    # No ``path``: the commit node is shared by every job of the commit, and runs at one time must agree on it.
    scl = {"type": "git", "url": snap.repo_url, "repoUrl": snap.repo_url, "version": c.sha}
    if snap.branch:
        scl["branch"] = snap.branch
    return {"sourceCodeLocation": std_facet(PRODUCER, "1-0-1/SourceCodeLocationJobFacet.json", **scl),
            "jobType": std_facet(PRODUCER, "2-0-3/JobTypeJobFacet.json", processingType="BATCH", integration="DVC",
                                 jobType=job_type)}


def _event(snap: Snapshot, c: CommitInfo, job: str, job_facets: dict[str, Any], run_facets: dict[str, Any],
           inputs: list[Output], outputs: list[Output]) -> bytes:
    run_facets = {**run_facets, "portalRun": facet(PRODUCER, "PortalRunFacet", launchedBy=c.author_email)}
    return dumps({"eventType": "COMPLETE", "eventTime": iso(c.commit_time), "producer": PRODUCER,
                  "schemaURL": OL_SCHEMA_URL,
                  "run": {"runId": run_uuid(snap.namespace, job, c.sha), "facets": run_facets},
                  "job": {"namespace": snap.namespace, "name": job, "facets": job_facets},
                  "inputs": [_dataset(o, snap.namespace) for o in inputs],
                  "outputs": [_dataset(o, snap.namespace) for o in outputs]})


def _stage_file(stage: str) -> str:
    return stage.split(":", 1)[0] if ":" in stage else "dvc.yaml"


def commit_events(state: CommitState, snap: Snapshot) -> list[bytes]:
    """A run per ``.dvc`` file and per stage whose record changed in this commit (or that is new in it)."""
    c, out = state.commit, []
    for path, outs in sorted(state.tracked.items()):
        if state.parent_tracked.get(path) == outs:
            continue
        out.append(_event(snap, c, path, _job_facets(snap, c, "ADD"),
                          {"dvcAdd": facet(PRODUCER, "DvcAddFacet", file=path, commit=c.sha)}, [], outs))
    for name, st in sorted(state.stages.items()):
        before = state.parent_stages.get(name)
        if before is not None and before.key() == st.key():
            continue
        run_facet = facet(PRODUCER, "DvcStageFacet", stage=name, file=_stage_file(name), cmd=st.cmd, params=st.params,
                          commit=c.sha)
        out.append(_event(snap, c, name, _job_facets(snap, c, "STAGE"),
                          {"dvcStage": run_facet}, st.deps, st.outs))
    return out


def commit_payload(state: CommitState, snap: Snapshot) -> dict[str, Any]:
    """The commit as ``POST /api/v1/commits`` takes it."""
    c = state.commit
    payload = {"repo": snap.repo_url, "sha": c.sha, "author_name": c.author_name, "author_email": c.author_email,
               "committer_name": c.committer_name, "committer_email": c.committer_email, "message": c.message,
               "time": iso(c.commit_time)}
    if snap.branch:
        payload["branch"] = snap.branch
    return payload


# -- reading DVC's files from git ----------------------------------------------------------------------------
def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _output(entry: Any, base: str) -> Output | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        return None
    md5 = entry.get("md5") or entry.get("etag") or entry.get("checksum") or ""
    return Output(path=posixpath.normpath(posixpath.join(base, entry["path"])), md5=str(md5),
                  size=_int(entry.get("size")), nfiles=_int(entry.get("nfiles")))


def _cmd(value: Any) -> str:
    """A stage's cmd: one command, or a list run in turn."""
    if isinstance(value, list):
        return " && ".join(str(c) for c in value)
    return str(value or "")


def parse_lock(text: str, base: str = "") -> dict[str, StageLock]:
    """A ``dvc.lock`` (schema 2.0, or 1.x's bare stage map) in directory ``base`` -> stages by DVC's address."""
    doc = yaml.safe_load(text) or {}
    stages = doc.get("stages", doc if "schema" not in doc else {}) if isinstance(doc, dict) else {}
    out = {}
    for name, st in (stages or {}).items():
        if not isinstance(st, dict):
            continue
        address = name if not base else f"{base}/dvc.yaml:{name}"
        out[address] = StageLock(
            stage=address, cmd=_cmd(st.get("cmd")),
            deps=[o for o in (_output(e, base) for e in st.get("deps") or []) if o],
            outs=[o for o in (_output(e, base) for e in st.get("outs") or []) if o],
            params=st.get("params") or {})
    return out


def parse_dvc_file(text: str, base: str = "") -> list[Output]:
    doc = yaml.safe_load(text) or {}
    return [o for o in (_output(e, base) for e in (doc.get("outs") or [] if isinstance(doc, dict) else [])) if o]


def _git(repo: str, *args: str) -> str:
    try:
        return subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True, check=True,
                              timeout=120).stdout
    except subprocess.CalledProcessError as exc:
        raise DvcSourceError(f"git {' '.join(args[:2])}: {exc.stderr.strip()[:300]}") from exc
    except FileNotFoundError as exc:  # pragma: no cover - git is on every machine the portal runs on
        raise DvcSourceError("git is not installed") from exc


def _state_files(repo: str, sha: str) -> tuple[dict[str, StageLock], dict[str, list[Output]]]:
    stages: dict[str, StageLock] = {}
    tracked: dict[str, list[Output]] = {}
    for path in _git(repo, "ls-tree", "-r", "--name-only", sha).splitlines():
        if path.startswith(".dvc/"):
            continue
        base = posixpath.dirname(path)
        if posixpath.basename(path) == "dvc.lock":
            stages.update(parse_lock(_git(repo, "show", f"{sha}:{path}"), base))
        elif path.endswith(".dvc"):
            tracked[path] = parse_dvc_file(_git(repo, "show", f"{sha}:{path}"), base)
    return stages, tracked


def _commit(repo: str, sha: str) -> CommitInfo:
    fields = _git(repo, "show", "-s", "--format=%H%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B", sha)
    h, an, ae, at, cn, ce, ct, msg = fields.split("\x00", 7)
    return CommitInfo(sha=h, author_name=an, author_email=ae, author_time=datetime.fromisoformat(at),
                      committer_name=cn, committer_email=ce, commit_time=datetime.fromisoformat(ct),
                      message=msg.strip())


def revisions(repo: str, revs: list[str] | None = None) -> list[str]:
    if revs:
        return [_git(repo, "rev-parse", "--verify", f"{r}^{{commit}}").strip() for r in revs]
    return _git(repo, "rev-list", "--reverse", "--first-parent", "HEAD").split()


def read(*, repo: str, revs: list[str] | None = None, namespace: str | None = None,
         repo_url: str | None = None) -> Snapshot:
    """Read each revision (default: HEAD's first-parent history) and its first parent's DVC files."""
    try:
        origin = _git(repo, "config", "--get", "remote.origin.url").strip()
    except DvcSourceError:
        origin = ""
    url = repo_url or (clean_uri(origin) if origin else f"file://{posixpath.abspath(repo)}")
    branch = _git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
    snap = Snapshot(namespace=namespace or namespace_for(url), repo_url=url, branch="" if branch == "HEAD" else branch)
    cache: dict[str, tuple[dict[str, StageLock], dict[str, list[Output]]]] = {}

    def files(sha: str) -> tuple[dict[str, StageLock], dict[str, list[Output]]]:
        if sha not in cache:
            cache[sha] = _state_files(repo, sha)
        return cache[sha]

    for sha in revisions(repo, revs):
        stages, tracked = files(sha)
        parents = _git(repo, "rev-list", "--parents", "-n", "1", sha).split()[1:]
        p_stages, p_tracked = files(parents[0]) if parents else ({}, {})
        snap.commits.append(CommitState(_commit(repo, sha), stages, tracked, p_stages, p_tracked))
    return snap
