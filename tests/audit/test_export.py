"""The export and its standalone verifier, run as an outsider would: a separate Python process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from portal.accounts.services import token_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def export(tmp_path: Path, alice) -> Path:
    for _ in range(6):
        token_issue(user=alice)
    out = tmp_path / "export"
    call_command("export_audit", "--out", str(out), stdout=open(tmp_path / "log", "w"))  # noqa: SIM115
    return out


def run_verifier(directory: Path) -> subprocess.CompletedProcess[str]:
    # A clean interpreter: only the export folder, no portal code on the path.
    return subprocess.run([sys.executable, "-I", str(directory / "verify.py"), str(directory)],
                          capture_output=True, text=True, timeout=60, check=False)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _copy(export: Path, tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copytree(export, dst)
    return dst


def test_a_clean_export_verifies(export: Path) -> None:
    assert {p.name for p in export.iterdir()} == {"entries.jsonl", "checkpoints.jsonl", "public_key.pem",
                                                  "verify.py", "README.md"}
    r = run_verifier(export)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith(f"OK {len(_lines(export / 'entries.jsonl'))} entries, head ")
    assert "SHA-256(prev_hash || canonical(entry))" in (export / "README.md").read_text()


def test_one_changed_byte_fails_and_says_where(export: Path, tmp_path: Path) -> None:
    bad = _copy(export, tmp_path, "bad")
    lines = _lines(bad / "entries.jsonl")
    lines[2] = lines[2].replace("account.token_issued", "account.token_issuef")
    (bad / "entries.jsonl").write_text("\n".join(lines) + "\n")
    r = run_verifier(bad)
    assert r.returncode == 1
    assert "entry 3" in r.stdout and "altered" in r.stdout


def test_a_removed_entry_fails(export: Path, tmp_path: Path) -> None:
    bad = _copy(export, tmp_path, "bad")
    lines = _lines(bad / "entries.jsonl")
    del lines[3]
    (bad / "entries.jsonl").write_text("\n".join(lines) + "\n")
    r = run_verifier(bad)
    assert r.returncode == 1 and "entry 4" in r.stdout


def test_two_swapped_entries_fail(export: Path, tmp_path: Path) -> None:
    bad = _copy(export, tmp_path, "bad")
    lines = _lines(bad / "entries.jsonl")
    lines[1], lines[2] = lines[2], lines[1]
    (bad / "entries.jsonl").write_text("\n".join(lines) + "\n")
    r = run_verifier(bad)
    assert r.returncode == 1 and "entry 2" in r.stdout


def test_a_forged_checkpoint_fails(export: Path, tmp_path: Path) -> None:
    bad = _copy(export, tmp_path, "bad")
    cps = [json.loads(x) for x in _lines(bad / "checkpoints.jsonl")]
    cps[-1]["time"] = "2030-01-01T00:00:00.000000Z"  # same root, different signed content
    (bad / "checkpoints.jsonl").write_text("\n".join(json.dumps(c) for c in cps) + "\n")
    r = run_verifier(bad)
    assert r.returncode == 1 and "bad signature" in r.stdout


def test_a_truncated_tail_fails(export: Path, tmp_path: Path) -> None:
    bad = _copy(export, tmp_path, "bad")
    data = (bad / "entries.jsonl").read_bytes()
    (bad / "entries.jsonl").write_bytes(data[: len(data) - 40])  # cut mid-line
    r = run_verifier(bad)
    assert r.returncode == 1 and "line" in r.stdout
    lines = _lines(export / "entries.jsonl")
    (bad / "entries.jsonl").write_text("\n".join(lines[:-2]) + "\n")  # cut on a line boundary
    r = run_verifier(bad)
    assert r.returncode == 1 and "missing" in r.stdout


def test_an_export_into_a_non_empty_folder_is_refused(tmp_path: Path, alice) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("keep")
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        call_command("export_audit", "--out", str(tmp_path / "x"))
