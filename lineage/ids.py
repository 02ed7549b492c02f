"""Stable node id strings. Pure functions, no Django."""

from __future__ import annotations


def dataset_id(namespace: str, name: str) -> str:
    return f"dataset:{namespace}:{name}"


def dataset_version_id(namespace: str, name: str, version: str) -> str:
    return f"datasetVersion:{namespace}:{name}#{version}"


def job_id(namespace: str, name: str) -> str:
    return f"job:{namespace}:{name}"


def run_id(run_uuid: str) -> str:
    return f"run:{run_uuid}"


def commit_id(repo: str, sha: str) -> str:
    return f"commit:{repo}:{sha}"


def model_version_id(namespace: str, name: str, version: str) -> str:
    return f"modelVersion:{namespace}:{name}#{version}"


def deployment_id(namespace: str, name: str, version: str, environment: str) -> str:
    return f"deployment:{namespace}:{name}#{version}@{environment}"


def split_marquez_id(node_id: str) -> tuple[str, str, str]:
    """Split a Marquez node id ``type:namespace:name`` into its parts.

    As in Marquez, a colon followed by ``//`` or a digit is part of the namespace
    (``dataset:postgres://db:5432:public.t`` has namespace ``postgres://db:5432``).
    Runs are ``run:<uuid>``: the namespace part is empty.
    """
    kind, sep, rest = node_id.partition(":")
    if not sep or not rest:
        raise ValueError(f"not a node id: {node_id!r}")
    if kind == "run":
        return kind, "", rest
    i = 0
    while True:
        j = rest.find(":", i)
        if j < 0:
            raise ValueError(f"node id {node_id!r} has no name part")
        after = rest[j + 1 : j + 3]
        if after.startswith("//") or after[:1].isdigit():
            i = j + 1
            continue
        return kind, rest[:j], rest[j + 1 :]
