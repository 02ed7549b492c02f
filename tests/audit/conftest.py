"""Live audit processes for the tests: the sequencer and a witness, each a real manage.py process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from portal.audit import keys
from tests.audit.helpers import manage_env

ROOT = Path(__file__).resolve().parents[2]


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


@pytest.fixture
def sequencer(settings: Any, transactional_db: Any) -> Iterator[subprocess.Popen[str]]:
    """``manage.py audit_sequencer`` on the test database, 0.2 s latency."""
    keys.public_key_pem()  # the key exists before either process signs or checks
    proc = subprocess.Popen([sys.executable, "manage.py", "audit_sequencer", "--latency", "0.2"], cwd=ROOT,
                            env=manage_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(0.5)
    assert proc.poll() is None, _stop(proc)
    yield proc
    _stop(proc)


@dataclass
class Witness:
    url: str
    store: Path
    proc: subprocess.Popen[str]

    def kept(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/checkpoints", timeout=5) as r:  # noqa: S310 - loopback
            return [json.loads(x) for x in r.read().decode().splitlines() if x.strip()]


@pytest.fixture
def witness_server(tmp_path: Path, settings: Any, db: Any) -> Iterator[Witness]:
    """``manage.py audit_witness`` on 127.0.0.1, trusting this test's log key."""
    log_key = tmp_path / "log-public.pem"
    log_key.write_bytes(keys.public_key_pem())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tmp_path / "witness-store"
    proc = subprocess.Popen([sys.executable, "manage.py", "audit_witness", "--listen", f"127.0.0.1:{port}",
                             "--store", str(store), "--log-key", str(log_key)],
                            cwd=ROOT, env=manage_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    w = Witness(f"http://127.0.0.1:{port}", store, proc)
    deadline = time.monotonic() + 120  # manage.py starts slowly on a loaded machine
    while True:
        try:
            w.kept()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the witness did not start: " + _stop(proc))
            time.sleep(0.1)
    yield w
    _stop(proc)
