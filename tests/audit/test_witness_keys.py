"""A witness that rotates its key: its old checkpoints stay countersigned under the retired key.

The witness here is the real ``WitnessStore`` behind the real HTTP server, in a thread of this process, so the
test can rotate its key between checkpoints as its operator would (a new ``--key``, the same store).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import transaction

from portal.audit import keys
from portal.audit.export import audit_export
from portal.audit.services import audit_record, audit_verify
from portal.audit.verifier import VerifyError, checkpoint_message, key_id, verify_export
from portal.audit.witness import WitnessStore, make_server

pytestmark = pytest.mark.django_db(transaction=True)


def _public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _key_id(key: Ed25519PrivateKey) -> str:
    return key_id(key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


@dataclass
class RotatingWitness:
    url: str
    store: WitnessStore
    old: Ed25519PrivateKey
    new: Ed25519PrivateKey
    old_pem: Path
    new_pem: Path

    def rotate(self) -> None:
        """The witness's operator replaces its key; what it kept stays countersigned under the old one."""
        self.store.key, self.store.key_id = self.new, _key_id(self.new)
        self.store.public_pem = _public_pem(self.new)

    def kept(self) -> list[dict[str, Any]]:
        return self.store.kept()


@pytest.fixture
def witness(tmp_path: Path, settings: Any) -> Iterator[RotatingWitness]:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    store = WitnessStore(tmp_path / "witness-store", keys.public_key_pem(), old, _key_id(old))
    server = make_server(("127.0.0.1", 0), store)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    w = RotatingWitness(f"http://127.0.0.1:{server.server_address[1]}", store, old, new,
                        tmp_path / "witness-old.pem", tmp_path / "witness-new.pem")
    w.old_pem.write_bytes(_public_pem(old))
    w.new_pem.write_bytes(_public_pem(new))
    settings.PORTAL_AUDIT_SEQUENCER = "inline"
    settings.PORTAL_AUDIT_WITNESSES = [w.url]
    settings.PORTAL_AUDIT_WITNESS_KEYS = {w.url: str(w.old_pem)}
    yield w
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _write(n: int) -> None:
    for i in range(n):
        with transaction.atomic():
            audit_record(actor=None, action="test.write", target_kind="t", target_id=str(i), payload={"i": i})


def _rotated(witness: RotatingWitness, settings: Any, pin: str) -> None:
    """Three checkpoints under the old key, the rotation, two under the new one; then ``pin`` what is pinned."""
    _write(3)
    assert audit_verify().ok
    witness.rotate()
    settings.PORTAL_AUDIT_WITNESS_KEYS = {witness.url: str(witness.new_pem)}  # the new key pinned at rotation
    _write(2)
    settings.PORTAL_AUDIT_WITNESS_KEYS = {witness.url: pin}
    kept = witness.kept()
    assert [c["witness_key_id"] == _key_id(witness.old) for c in kept] == [True] * 3 + [False] * 2


def test_old_checkpoints_verify_under_the_retired_key_pinned_after_the_current_one(witness, settings,
                                                                                  tmp_path) -> None:
    _rotated(witness, settings, f"{witness.new_pem},{witness.old_pem}")
    verdict = audit_verify()
    assert verdict.ok and not verdict.notes, verdict.message
    out = tmp_path / "export"
    audit_export(out=out)
    assert (out / "witness-1.pem").read_bytes() == witness.new_pem.read_bytes() + witness.old_pem.read_bytes()
    assert verify_export(out)[3] == []


def test_a_checkpoint_under_a_key_no_longer_pinned_is_named_without_failing_those_that_verify(
    witness, settings, tmp_path
) -> None:
    """Only the new key pinned: the three old checkpoints are reported by tree size as not vouched for; the
    verification, the export and verify.py still pass (they failed on the first old checkpoint before)."""
    _rotated(witness, settings, str(witness.new_pem))
    verdict = audit_verify()
    assert verdict.ok, verdict.message
    old = _key_id(witness.old)[:16]
    assert [n.split("): ")[0] + ")" for n in verdict.notes] == [
        f"checkpoint at tree size {n} ({c['time']}, witness {witness.url})" for n, c in zip(
            (1, 2, 3), witness.kept(), strict=False)]
    assert all(f"countersigned under key {old}…, which is not pinned" in n for n in verdict.notes)
    assert "NOTE checkpoint at tree size 1" in verdict.message
    out = tmp_path / "export"
    summary = audit_export(out=out)
    assert len(summary["notes"]) == 3
    notes = verify_export(out)[3]
    assert [n.split(" (")[0] for n in notes] == [f"checkpoint at tree size {n}" for n in (1, 2, 3)]
    run = subprocess.run([sys.executable, str(out / "verify.py"), str(out)], capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0 and run.stdout.startswith("OK ") and run.stdout.count("\nNOTE ") == 3, run.stdout


def test_the_witness_s_newest_checkpoint_under_a_key_not_pinned_fails(witness, settings) -> None:
    """The newest checkpoint is the witness's word on where the log stands (it catches a rollback): pinning
    only the retired key leaves it unchecked, and that fails loudly."""
    _rotated(witness, settings, str(witness.old_pem))
    verdict = audit_verify()
    assert not verdict.ok
    assert "checkpoint at tree size 5" in verdict.message and "newest checkpoint" in verdict.message
    assert witness.url in verdict.message


def _forge(path: Path, index: int, **claims: str) -> None:
    lines = path.read_text().splitlines()
    cp = json.loads(lines[index])
    cp.update(claims, cosignature=base64.b64encode(
        Ed25519PrivateKey.generate().sign(checkpoint_message(cp))).decode())
    lines[index] = json.dumps(cp, sort_keys=True)
    path.write_text("\n".join(lines) + "\n")


def test_a_forged_countersignature_under_a_retired_pinned_key_still_fails(witness, settings, tmp_path) -> None:
    _rotated(witness, settings, f"{witness.new_pem},{witness.old_pem}")
    out = tmp_path / "export"
    audit_export(out=out)
    _forge(witness.store.path, 1)  # claims the retired key's id, signed by another key
    verdict = audit_verify()
    assert not verdict.ok and "checkpoint at tree size 2" in verdict.message
    assert "countersignature does not verify (forged or altered)" in verdict.message
    _forge(out / "witness-1.jsonl", 1)
    with pytest.raises(VerifyError, match="tree size 2.*witness-1.jsonl.*forged or altered"):
        verify_export(out)


def test_a_forged_newest_checkpoint_under_an_unknown_key_id_fails(witness, settings) -> None:
    """Claiming a key nobody pinned does not turn a forged newest countersignature into a note."""
    _rotated(witness, settings, f"{witness.new_pem},{witness.old_pem}")
    _forge(witness.store.path, 4, witness_key_id="ab" * 32)
    verdict = audit_verify()
    assert not verdict.ok and "checkpoint at tree size 5" in verdict.message and "not pinned" in verdict.message


def test_the_pinned_keys_are_read_once_per_verification(witness, settings, monkeypatch) -> None:
    _rotated(witness, settings, f"{witness.new_pem},{witness.old_pem}")
    reads: list[str] = []
    real = Path.read_bytes

    def counting(self: Path) -> bytes:
        if self in (witness.new_pem, witness.old_pem):
            reads.append(self.name)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    assert audit_verify().ok
    assert sorted(reads) == ["witness-new.pem", "witness-old.pem"]
