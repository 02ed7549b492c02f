"""portal-gate, the CI client, run as a separate stdlib-only process against a live portal; and the CI snippets
in docs/ci/ run as their CI systems would run them."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lineage.models import Node
from lineage.services import portal_record_ingest
from portal.accounts.services import token_issue
from portal.approvals import services
from portal.audit import keys
from portal_gate.cli import attestation_problem, canonical, ed25519_verify, public_key_from_pem

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "docs" / "ci"
GATE = ["--namespace", "ml-pipelines", "--model", "credit", "--version", "7", "--environment", "production"]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A CI checkout: the client and the portal's public key committed under ci/, and a deploy script."""
    (tmp_path / "ci").mkdir()
    shutil.copy(CI / "portal-gate.py", tmp_path / "ci" / "portal-gate.py")
    (tmp_path / "ci" / "portal-audit.pem").write_bytes(keys.public_key_pem())
    deploy = tmp_path / "deploy.sh"
    deploy.write_text('#!/bin/sh\necho "$@" > deployed.txt\n')
    deploy.chmod(0o755)
    return tmp_path


@pytest.fixture
def token(ingestor: Any) -> str:
    return token_issue(user=ingestor, name="ci")[1]


def _gate(workdir: Path, url: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    # -S: no site-packages at all, so the client proves it needs nothing but the standard library.
    return subprocess.run([sys.executable, "-S", "ci/portal-gate.py", "--url", url, "--token", token, *args],
                          cwd=workdir, capture_output=True, text=True, timeout=60, check=False)


def _approve(release: Any, people: dict[str, Any]) -> None:
    for who in ("risk", "compliance"):
        services.release_sign(release=release, by=people[who], password=PASSWORD, meaning="approval", reason="ok")


def test_a_refused_deploy_prints_the_reasons_and_exits_1(live_server, model, policy, token, workdir) -> None:
    r = _gate(workdir, live_server.url, token, *GATE, "--public-key", "ci/portal-audit.pem")
    assert r.returncode == 1, r.stderr
    assert "REFUSED" in r.stdout and "attestation verified" in r.stdout
    assert "no approved release of modelVersion:ml-pipelines:credit#7 for production" in r.stdout


def test_an_approved_deploy_exits_0_and_keeps_an_attestation_that_verifies(live_server, release, people, token,
                                                                          workdir) -> None:
    _approve(release, people)
    r = _gate(workdir, live_server.url, token, *GATE, "--public-key", "ci/portal-audit.pem",
              "--attestation-out", "att.json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ALLOWED" in r.stdout and f"release {release.pk} approved" in r.stdout
    att = json.loads((workdir / "att.json").read_text())
    # The same answer verifies with the cryptography package too: the pure-Python check is not lenient.
    key = serialization.load_pem_public_key(keys.public_key_pem())
    key.verify(base64.b64decode(att["signature"]), canonical(att["signed"]))
    assert att["signed"]["allowed"] is True


def test_a_required_alias_refuses_until_the_version_holds_it(live_server, release, people, token, workdir) -> None:
    _approve(release, people)
    args = [*GATE, "--public-key", "ci/portal-audit.pem", "--require-alias", "champion"]
    r = _gate(workdir, live_server.url, token, *args)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "does not hold the alias 'champion' (it holds none)" in r.stdout
    portal_record_ingest(kind="modelAlias", by=None, payload={
        "namespace": "ml-pipelines", "name": "credit", "aliases": {"champion": "7"}, "previous": {},
        "moves": [{"alias": "champion", "from": "", "to": "7", "at": "2026-03-01T00:00:00.000Z"}],
        "history": [{"alias": "champion", "from": "", "to": "7", "at": "2026-03-01T00:00:00.000Z"}],
        "time": "2026-03-01T00:00:00.000Z"})
    r = _gate(workdir, live_server.url, token, *args, "--attestation-out", "att.json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "holds the alias 'champion' since 2026-03-01T00:00:00.000Z" in r.stdout
    assert json.loads((workdir / "att.json").read_text())["signed"]["alias"] == "champion"


def test_without_a_pinned_key_it_fetches_the_portals_and_says_so(live_server, model, policy, token, workdir) -> None:
    r = _gate(workdir, live_server.url, token, *GATE)
    assert r.returncode == 1 and "fetched from the portal itself" in r.stdout


def test_an_answer_signed_by_another_key_exits_3(live_server, model, policy, token, workdir) -> None:
    other = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (workdir / "other.pem").write_bytes(other)
    r = _gate(workdir, live_server.url, token, *GATE, "--public-key", "other.pem")
    assert r.returncode == 3 and "key_id differs" in r.stderr


def test_a_wrong_token_or_an_unknown_model_exits_2(live_server, model, policy, token, workdir) -> None:
    r = _gate(workdir, live_server.url, "lp_wrong", *GATE, "--public-key", "ci/portal-audit.pem")
    assert r.returncode == 2 and "401" in r.stderr
    r = _gate(workdir, live_server.url, token, "--model", "nope", "--version", "1", "--environment", "production",
              "--public-key", "ci/portal-audit.pem")
    assert r.returncode == 2 and "400" in r.stderr and "No model version nope 1" in r.stderr


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "portal-gate"
    r = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30, check=False)
    assert r.returncode == 0 and "--public-key" in r.stdout


# -- pure: the signature check itself -------------------------------------------------------------------------
def test_rfc_8032_test_vector_1_verifies_and_a_changed_byte_does_not() -> None:
    pub = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = bytes.fromhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    assert ed25519_verify(pub, b"", sig)
    assert not ed25519_verify(pub, b"\x00", sig)
    assert not ed25519_verify(pub, b"", sig[:63] + bytes([sig[63] ^ 1]))


def test_an_attestation_whose_signed_answer_was_edited_is_refused() -> None:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signed = {"allowed": False, "model_version": "modelVersion:ns:m#1", "environment": "prod", "reasons": []}
    att = {"algorithm": "Ed25519", "key_id": __import__("hashlib").sha256(raw).hexdigest(), "signed": signed,
           "signature": base64.b64encode(private.sign(canonical(signed))).decode()}
    assert attestation_problem(att, raw) is None
    att["signed"] = {**signed, "allowed": True}
    assert attestation_problem(att, raw) == "the signature does not match the signed answer"
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert public_key_from_pem(pem) == raw


# -- the snippets, run as their CI would -----------------------------------------------------------------------
def _github() -> tuple[list[str], dict[str, str]]:
    wf = yaml.safe_load((CI / "github-actions.yml").read_text())
    job = wf["jobs"]["deploy"]
    return [s["run"] for s in job["steps"] if "run" in s], job["env"]


def _gitlab() -> tuple[list[str], dict[str, str]]:
    job = yaml.safe_load((CI / "gitlab-ci.yml").read_text())["deploy"]
    return job["script"], job["variables"]


def _groovy_single_quoted(text: str) -> str:
    # In a Groovy '''string''' a backslash escapes the next character and a backslash-newline joins lines.
    return re.sub(r"\\(.)", lambda m: "" if m.group(1) == "\n" else m.group(1), text, flags=re.DOTALL)


def _jenkins() -> tuple[list[str], dict[str, str]]:
    text = (CI / "Jenkinsfile").read_text()
    env = dict(re.findall(r"^\s+([A-Z_]+)\s+= '([^']*)'$", text, flags=re.MULTILINE))
    steps = [_groovy_single_quoted(m.group(1) or m.group(2))
             for m in re.finditer(r"sh '''(.*?)'''|sh '([^']*)'", text, flags=re.DOTALL)]
    return steps, env


@pytest.mark.parametrize("snippet", [_github, _gitlab, _jenkins], ids=["github", "gitlab", "jenkins"])
def test_each_ci_snippet_stops_a_refused_deploy_and_reports_an_allowed_one(snippet, live_server, release, people,
                                                                          token, workdir) -> None:
    steps, env = snippet()
    assert len(steps) == 3  # gate, deploy, report
    env = {**os.environ, **env, "PORTAL_URL": live_server.url, "PORTAL_TOKEN": token, "BUILD_URL": "https://ci/1",
           "CI_PIPELINE_URL": "https://ci/1", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "a/b",
           "GITHUB_RUN_ID": "1"}

    def sh(script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=workdir, env=env, capture_output=True,
                              text=True, timeout=60, check=False)

    refused = sh(steps[0])
    assert refused.returncode == 1 and "REFUSED" in refused.stdout
    _approve(release, people)
    for step in steps:
        r = sh(step)
        assert r.returncode == 0, (step, r.stdout, r.stderr)
    assert (workdir / "deployed.txt").read_text().split() == ["credit", "7", "production"]
    assert json.loads((workdir / "gate-attestation.json").read_text())["signed"]["allowed"] is True
    dep = Node.objects.get(node_id="deployment:ml-pipelines:credit#7@production")
    assert dep.state == "active"
