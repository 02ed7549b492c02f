"""A hostile database owner against the trail: what the outside checkpoints, the export and witnesses catch.

The attacker here may switch the append-only triggers off (``maintenance``: what a superuser or the owner who
can drop the triggers does), rewrite any row, recompute every hash so the chain links again, and delete the
checkpoint rows and the Merkle block cache. What they cannot reach is the checkpoint file outside the database
and the witnesses.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from portal.accounts.services import user_ensure
from portal.audit.db import maintenance
from portal.audit.export import export_write
from portal.audit.models import AuditEntry
from portal.audit.outside import outside_checkpoints
from portal.audit.services import audit_record, audit_verify, entry_dict
from portal.audit.verifier import GENESIS, canonical, entry_hash
from tests.audit.helpers import manage_env, wait_for_checkpoint

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _write(n: int, action: str = "test.write") -> None:
    for i in range(n):
        with transaction.atomic():
            audit_record(actor=None, action=action, target_kind="t", target_id=str(i), payload={"i": i})


def rewrite_and_rechain(seq: int, change: Any) -> None:
    """Rewrite entry ``seq`` with ``change(dict)``, re-chain everything after it, drop the database checkpoints."""
    rows = list(AuditEntry.objects.order_by("seq"))
    prev = rows[seq - 2].entry_hash if seq > 1 else GENESIS
    with maintenance(connection), connection.cursor() as cur:
        for e in rows[seq - 1:]:
            d = entry_dict(e)
            if e.seq == seq:
                change(d)
            h = entry_hash(prev, d)
            cur.execute("UPDATE audit_auditentry SET actor_name = %s, payload = %s, prev_hash = %s, entry_hash = %s "
                        "WHERE seq = %s", [d["actor"]["name"], canonical(d["payload"]).decode(), prev, h, e.seq])
            prev = h
        cur.execute("DELETE FROM audit_auditcheckpoint")
        cur.execute("DELETE FROM audit_auditblock")


def delete_newest(n: int) -> None:
    last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    with maintenance(connection), connection.cursor() as cur:
        cur.execute("DELETE FROM audit_auditentry WHERE seq > %s", [last - n])
        cur.execute("DELETE FROM audit_auditcheckpoint")
        cur.execute("DELETE FROM audit_auditblock")


def _rename_signer(d: dict[str, Any]) -> None:
    d["actor"]["name"] = "someone-else"


def run_verifier(directory: Path, *extra: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", str(directory / "verify.py"), str(directory), *map(str, extra)],
                          capture_output=True, text=True, timeout=120, check=False)


# -- the export cannot seal a forgery --------------------------------------------------------------------
def test_export_audit_refuses_a_chain_rewritten_below_a_checkpoint_and_says_where(tmp_path: Path) -> None:
    _write(6)
    assert outside_checkpoints()[-1]["tree_size"] == 6
    rewrite_and_rechain(2, _rename_signer)
    out = tmp_path / "export"
    with pytest.raises(CommandError) as refused:
        call_command("export_audit", "--out", str(out), stdout=io.StringIO())
    assert "refused" in str(refused.value) and "checkpoint at tree size" in str(refused.value)
    assert not (out / "entries.jsonl").exists()
    # the command line as an operator runs it: non-zero exit, the reason on stderr
    r = subprocess.run([sys.executable, "manage.py", "export_audit", "--out", str(tmp_path / "cli")], cwd=ROOT,
                       env=manage_env(), capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode != 0 and "checkpoint at tree size" in r.stderr, r.stdout + r.stderr


def test_any_export_of_the_forged_chain_fails_its_own_verify_py(tmp_path: Path) -> None:
    _write(6)
    rewrite_and_rechain(2, _rename_signer)
    # Even written without the check first (as a forger who runs the export code by hand would), the export
    # carries the outside checkpoint file, which the forged entries do not match.
    out = tmp_path / "forged"
    export_write(out=out)
    r = run_verifier(out)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "checkpoint at tree size" in r.stdout and "Merkle root" in r.stdout


def test_the_ui_download_refuses_the_forged_chain_the_same_way(client: Any) -> None:
    auditor = user_ensure(username="ingrid", role="auditor", password="auditor-pass-1")
    client.force_login(auditor)
    _write(4)
    rewrite_and_rechain(2, _rename_signer)
    r = client.post("/audit/export", follow=True)
    assert r.headers["Content-Type"].startswith("text/html")
    assert b"Export refused" in r.content and b"checkpoint at tree size" in r.content


def test_a_clean_export_carries_the_outside_checkpoints_and_checks_the_auditors_own_copy(tmp_path: Path) -> None:
    _write(3)
    mine = tmp_path / "my-copy.jsonl"  # what an auditor kept from an earlier look
    shutil.copyfile(_outside_file(), mine)
    _write(2)
    out = tmp_path / "export"
    call_command("export_audit", "--out", str(out), stdout=io.StringIO())
    exported = [json.loads(x) for x in (out / "checkpoints.jsonl").read_text().splitlines()]
    outside = outside_checkpoints()
    assert exported == [c for c in outside if c["tree_size"] <= exported[-1]["tree_size"]] and len(exported) >= 5
    r = run_verifier(out, mine)
    assert r.returncode == 0 and r.stdout.startswith("OK "), r.stdout + r.stderr
    assert "1 extra checkpoint file" in r.stdout
    readme = (out / "README.md").read_text()
    assert "Compare" in readme and "your own copy" in readme
    # an auditor whose copy saw a bigger tree catches an export that was rolled back behind it
    later = [json.loads(x) for x in mine.read_text().splitlines()]
    ahead = dict(outside[-1], tree_size=outside[-1]["tree_size"] + 5)
    mine.write_text("\n".join(json.dumps(c) for c in [*later, ahead]) + "\n")
    r = run_verifier(out, mine)
    assert r.returncode == 1 and "my-copy.jsonl" in r.stdout, r.stdout


def _outside_file() -> Path:
    from django.conf import settings

    return Path(settings.PORTAL_AUDIT_CHECKPOINT_DIR) / "checkpoints.jsonl"


# -- no window after the last checkpoint -----------------------------------------------------------------
@pytest.mark.parametrize("attack", ["rewrite", "delete"])
def test_the_newest_entries_are_protected_once_the_sequencer_latency_has_passed(
    attack: str, settings: Any, sequencer: Any
) -> None:
    """Writers only append to the pending table; the sequencer (its own process) chains and checkpoints."""
    settings.PORTAL_AUDIT_SEQUENCER = "service"
    _write(5, action="approval.signed")
    wait_for_checkpoint(5)
    assert audit_verify().ok
    if attack == "rewrite":
        rewrite_and_rechain(5, _rename_signer)  # the newest entry: the signer renamed
    else:
        delete_newest(2)
    verdict = audit_verify()
    assert not verdict.ok
    assert ("Merkle root" if attack == "rewrite" else "missing") in verdict.message


def test_inline_mode_checkpoints_every_committed_transaction(settings: Any) -> None:
    """Eager mode (the demo, live test servers): the writer sequences in-process and the checkpoint follows."""
    settings.PORTAL_AUDIT_SEQUENCER = "inline"
    _write(3)
    assert [c["tree_size"] for c in outside_checkpoints()] == [1, 2, 3]
    rewrite_and_rechain(3, _rename_signer)
    assert not audit_verify().ok


# -- witnesses -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["directory", "http"])
def test_a_witness_that_saw_a_checkpoint_catches_a_database_rolled_back_behind_it(
    kind: str, settings: Any, tmp_path: Path, witness_server: Any
) -> None:
    settings.PORTAL_AUDIT_SEQUENCER = "inline"
    mirror = tmp_path / "mirror"
    settings.PORTAL_AUDIT_WITNESSES = [str(mirror) if kind == "directory" else witness_server.url]
    _write(6)
    seen = witness_server.kept() if kind == "http" else [json.loads(x) for x in
                                                          (mirror / "checkpoints.jsonl").read_text().splitlines()]
    assert seen[-1]["tree_size"] == 6
    # Roll everything the portal host controls back to tree size 3: the database and the checkpoint file.
    delete_newest(3)
    kept = [c for c in outside_checkpoints() if c["tree_size"] <= 3]
    _outside_file().write_text("".join(json.dumps(c, sort_keys=True) + "\n" for c in kept))
    verdict = audit_verify()
    assert not verdict.ok
    assert "checkpoint at tree size 4" in verdict.message and "witness" in verdict.message
    if kind == "http":
        assert witness_server.kept()[-1]["cosignature"]
        with transaction.atomic():  # the next checkpoint does not extend what the witness saw: it refuses
            audit_record(actor=None, action="test.after_rollback")
        assert witness_server.kept()[-1]["tree_size"] == 6


def _forge_last_cosignature(lines: list[str]) -> list[str]:
    """The newest kept checkpoint with a countersignature made by another key (under the witness's key id)."""
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from portal.audit.verifier import checkpoint_message

    last = json.loads(lines[-1])
    last["cosignature"] = base64.b64encode(Ed25519PrivateKey.generate().sign(checkpoint_message(last))).decode()
    return [*lines[:-1], json.dumps(last, sort_keys=True)]


def test_a_forged_witness_countersignature_fails_verification_and_the_export(
    settings: Any, tmp_path: Path, witness_server: Any
) -> None:
    """The witness's copy counts only with the witness's own countersignature, checked under its pinned key:
    by ``verify_audit`` (reading the witness) and by ``verify.py`` (reading an export)."""
    from cryptography.hazmat.primitives import serialization

    from portal.audit.export import audit_export
    from portal.audit.verifier import VerifyError, verify_export

    private = serialization.load_pem_private_key((witness_server.store / "witness_ed25519.pem").read_bytes(), None)
    pinned = tmp_path / "witness-public.pem"
    pinned.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    settings.PORTAL_AUDIT_SEQUENCER = "inline"
    settings.PORTAL_AUDIT_WITNESSES = [witness_server.url]
    settings.PORTAL_AUDIT_WITNESS_KEYS = {witness_server.url: str(pinned)}
    _write(4)
    assert audit_verify().ok
    out = tmp_path / "export"
    audit_export(out=out)
    assert (out / "witness-1.pem").read_bytes() == pinned.read_bytes()
    verify_export(out)  # the genuine countersignatures verify

    kept = witness_server.store / "checkpoints.jsonl"
    kept.write_text("\n".join(_forge_last_cosignature(kept.read_text().splitlines())) + "\n")
    verdict = audit_verify()
    assert not verdict.ok and "countersignature does not verify" in verdict.message
    assert witness_server.url in verdict.message

    copy = out / "witness-1.jsonl"
    copy.write_text("\n".join(_forge_last_cosignature(copy.read_text().splitlines())) + "\n")
    with pytest.raises(VerifyError, match="witness-1.jsonl.*countersignature does not verify"):
        verify_export(out)


# -- the parallel walk finds what the single one does -----------------------------------------------------
@pytest.mark.parametrize("where", [3, 12])
def test_verify_in_parallel_ranges_names_the_same_first_bad_entry(where: int) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the parallel walk forks workers with their own PostgreSQL connections")
    _write(20)
    assert audit_verify(workers=3).ok
    with maintenance(connection), connection.cursor() as cur:
        cur.execute("UPDATE audit_auditentry SET target_id = 'forged' WHERE seq = %s", [where])
    single, parallel = audit_verify(), audit_verify(workers=3)
    assert not parallel.ok and parallel.first_bad_seq == single.first_bad_seq == where
    assert parallel.message == single.message


def test_verify_in_parallel_ranges_checks_the_links_between_them() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the parallel walk forks workers with their own PostgreSQL connections")
    _write(12)
    # Entry 4 rewritten with its own hash recomputed: ranges 1-4 and 5-8 are each whole; only the link breaks.
    e = AuditEntry.objects.get(seq=4)
    d = entry_dict(e)
    d["target"]["id"] = "forged"
    with maintenance(connection), connection.cursor() as cur:
        cur.execute("UPDATE audit_auditentry SET target_id = 'forged', entry_hash = %s WHERE seq = 4",
                    [entry_hash(d["prev_hash"], d)])
        cur.execute("DELETE FROM audit_auditcheckpoint")
    _outside_file().unlink()
    single, parallel = audit_verify(), audit_verify(workers=3)
    assert not parallel.ok and parallel.first_bad_seq == single.first_bad_seq == 5
    assert "chain broken" in parallel.message
