"""Export the audit trail for outsiders: entries, checkpoints, public key, a standalone verifier and its rules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from django.db import transaction

from . import keys
from .models import AuditCheckpoint
from .services import audit_record, checkpoint_create, entries_iter

VERIFIER = Path(__file__).with_name("verifier.py")

README = """# Lineage Portal audit export

Check it on your own machine (Python 3.9+ with the `cryptography` package; nothing else):

    python verify.py .

It prints `OK <n> entries, head <hash>` and exits 0, or `FAIL <where and what>` and exits 1.

Files:
- `entries.jsonl`: one audit entry per line, in sequence order.
- `checkpoints.jsonl`: signed checkpoints (tree size, RFC 6962 Merkle root, time, Ed25519 signature); the last
  one was made for this export and covers every entry in it.
- `public_key.pem`: the Ed25519 public key that signs checkpoints. Compare its fingerprint (the checkpoints'
  `key_id`, SHA-256 of the raw key) with the one the portal's operators published.
- `verify.py`: the verifier. Its docstring states the exact hashing rules, repeated here.

{rules}
"""


def _rules() -> str:
    text = VERIFIER.read_text(encoding="utf-8")
    start = text.index("Hashing rules")
    end = text.index('"""', start)
    return text[start:end].strip()


def audit_export(*, out: Path, by: Any | None = None) -> dict[str, Any]:
    """Write an export to ``out`` (created; must be empty). Returns a summary."""
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    with transaction.atomic():
        audit_record(actor=by, action="audit.exported", target_kind="audit", target_id=str(out.name))
    cp = checkpoint_create(force=True)
    assert cp is not None
    count = 0
    with transaction.atomic(), (out / "entries.jsonl").open("w", encoding="utf-8") as fh:
        for entry in entries_iter():
            if entry["seq"] > cp.tree_size:
                break
            fh.write(json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    with (out / "checkpoints.jsonl").open("w", encoding="utf-8") as fh:
        for c in AuditCheckpoint.objects.filter(tree_size__lte=cp.tree_size).order_by("tree_size", "id"):
            fh.write(json.dumps(c.as_dict(), sort_keys=True) + "\n")
    (out / "public_key.pem").write_bytes(keys.public_key_pem())
    shutil.copyfile(VERIFIER, out / "verify.py")
    (out / "README.md").write_text(README.format(rules=_rules()), encoding="utf-8")
    return {"entries": count, "tree_size": cp.tree_size, "root": cp.root, "dir": str(out)}
