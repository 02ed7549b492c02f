"""Export the audit trail for outsiders: entries, every outside checkpoint, the public key, a standalone verifier.

An export is made only of a chain that verifies against the checkpoint file outside the database and the
witnesses; otherwise it is refused, saying where the chain and a checkpoint disagree. It never signs anything
new over the chain itself: the sequencer's checkpoints (the ones in the outside file) are what it carries.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.db import transaction

from . import keys, outside
from .canonical import export_line
from .models import AuditCheckpoint
from .sequencer import SequencerRefused
from .services import audit_record, audit_verify, checkpoint_create, entry_rows

VERIFIER = Path(__file__).with_name("verifier.py")

README = """# Lineage Portal audit export

Check it on your own machine (Python 3.9+ with the `cryptography` package; nothing else):

    python verify.py .
    python verify.py . your-own-checkpoints.jsonl   # also against checkpoints you kept yourself

It prints `OK <n> entries, ...` and exits 0, or `FAIL <where and what>` and exits 1.

Files:
- `entries.jsonl`: one audit entry per line, in sequence order.
- `checkpoints.jsonl`: the portal's checkpoint file kept outside its database, as it was when this export was
  made: one signed checkpoint (tree size, RFC 6962 Merkle root, time, Ed25519 signature) per batch of entries
  the sequencer integrated. The last one covers every entry in this export.
- `witness-<n>.jsonl` (if the portal has witnesses): the checkpoints each witness holds, with its
  countersignatures.
- `witness-<n>.pem` (when the portal pins that witness's key): the witness's public key, then the keys it retired
  that are still pinned; `verify.py` checks every countersignature in `witness-<n>.jsonl` under the key it names.
  One under a key this file does not hold is printed as a `NOTE` (not vouched for by the witness) unless it is
  the witness's newest, which fails. Compare the first key with the one the witness itself serves
  (`GET /public-key`).
- `public_key.pem`: the Ed25519 public key that signs checkpoints. Compare its fingerprint (the checkpoints'
  `key_id`, SHA-256 of the raw key) with the one the portal's operators published.
- `verify.py`: the verifier. Its docstring states the exact hashing rules, repeated here.

## Which checkpoints to compare

This export cannot prove on its own that it was not rebuilt by someone who controls the portal and its
signing key. Compare it with checkpoints that someone else holds:

- Compare **your own copy** of checkpoints you received earlier (an earlier export's `checkpoints.jsonl`, a
  checkpoint from `GET /api/v1/audit/checkpoint`, one printed in a report's appendix): pass the file as an
  extra argument. Every one of them must verify against these entries; one at a tree size larger than this
  export, or with another root at the same size, means the trail was rolled back or rewritten.
- Compare **the witnesses'** copies, fetched from the witness itself (its `GET /checkpoints`), not only the
  `witness-*.jsonl` files inside this export.
- Check that the **newest checkpoint's time** is recent: an export whose checkpoints stop long before it was
  made is missing what came after.

{rules}
"""


class ExportRefused(Exception):
    """The database chain does not verify against the outside checkpoints: no export is made of it."""


def _rules() -> str:
    text = VERIFIER.read_text(encoding="utf-8")
    start = text.index("Hashing rules")
    end = text.index('"""', start)
    return text[start:end].strip()


def export_write(*, out: Path, tree_size: int | None = None,
                 pinned: outside.Pinned | None = None) -> dict[str, Any]:
    """Write the export files for the first ``tree_size`` entries (default: the newest checkpoint's size).

    No check of its own: ``audit_export`` verifies first. Whatever the database holds, the outside checkpoints
    written beside the entries let ``verify.py`` catch entries that do not match them.
    """
    pinned = outside.witness_keys() if pinned is None else pinned
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    cps = outside.outside_checkpoints()
    db_last = AuditCheckpoint.objects.order_by("-tree_size", "-id").first()
    if tree_size is None:
        tree_size = max([int(c["tree_size"]) for c in cps] + [db_last.tree_size if db_last else 0])
    known = {outside.line(c) for c in cps}
    extra = [c.as_dict() for c in AuditCheckpoint.objects.filter(tree_size__lte=tree_size).order_by("tree_size")
             if outside.line(c.as_dict()) not in known]  # only when the outside file was lost
    count = 0
    with transaction.atomic(), (out / "entries.jsonl").open("wb") as fh:
        stream = entry_rows()
        try:
            for row in stream:
                if row[0] > tree_size:
                    break
                fh.write(export_line(row))
                count += 1
        finally:
            stream.close()
    with (out / "checkpoints.jsonl").open("w", encoding="utf-8") as fh:
        for c in sorted([*cps, *extra], key=lambda c: int(c["tree_size"])):
            if int(c["tree_size"]) <= tree_size:
                fh.write(outside.line(c) + "\n")
    for i, spec in enumerate(outside.witnesses(), 1):
        held = [c for c in outside.witness_checkpoints(spec, pinned) if int(c["tree_size"]) <= tree_size]
        (out / f"witness-{i}.jsonl").write_text("".join(outside.witness_line(c) + "\n" for c in held),
                                                 encoding="utf-8")
        witness_pems = outside.witness_key(spec, pinned)
        if witness_pems is not None:  # verify.py checks each countersignature under them (current key first)
            (out / f"witness-{i}.pem").write_bytes(witness_pems)
    (out / "public_key.pem").write_bytes(keys.public_key_pem())
    shutil.copyfile(VERIFIER, out / "verify.py")
    (out / "README.md").write_text(README.format(rules=_rules()), encoding="utf-8")
    return {"entries": count, "tree_size": tree_size, "dir": str(out)}


def audit_export(*, out: Path, by: Any | None = None) -> dict[str, Any]:
    """Verify the chain against the outside checkpoints and witnesses, then export it. ``ExportRefused`` if not."""
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    try:
        checkpoint_create()  # sequence what is pending, so the export is as fresh as it can be
        refused = ""
    except SequencerRefused as exc:
        refused = str(exc)
    try:
        pinned = outside.witness_keys()  # once for the verification and the files
    except outside.WitnessError as exc:
        raise ExportRefused(f"the audit chain cannot be verified: {exc}") from exc
    verdict = audit_verify(pinned=pinned)
    if not verdict.ok or refused:
        where = verdict.message if not verdict.ok else refused
        raise ExportRefused(f"the audit chain does not verify: {where}")
    with transaction.atomic():
        audit_record(actor=by, action="audit.exported", target_kind="audit", target_id=str(out.name))
    cp = checkpoint_create()  # covers the audit.exported entry
    summary = export_write(out=out, tree_size=cp.tree_size if cp else None, pinned=pinned)
    return {**summary, "root": cp.root if cp else "", "notes": verdict.notes}
