"""Writing to and checking the audit trail.

``audit_record`` is called by every service that changes state, inside that service's transaction, so the
entry commits or rolls back with the change. The chain head is extended under a lock (a PostgreSQL
transaction-level advisory lock; SQLite serialises writers already), so concurrent writers never fork it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from portal.lib.sql import insert_ignore

from . import context, keys
from .merkle import ChainTree
from .models import AuditCheckpoint, AuditEntry, AuditVerification
from .verifier import GENESIS, VerifyError, canonical, checkpoint_message, entry_hash, verify_stream

LOCK_KEY = 0x6175646974  # "audit"
ENTRY_COLUMNS = ("seq", "time", "actor_id", "actor_name", "actor_token", "action", "target_kind", "target_id",
                 "payload", "request_id", "client", "prev_hash", "entry_hash")


@dataclass(frozen=True, slots=True)
class Change:
    """One thing to record: an action on a target with its before/after values."""

    action: str
    target_kind: str = ""
    target_id: str = ""
    payload: dict[str, Any] | None = None


def time_text(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _head_locked() -> tuple[int, str]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
    last = AuditEntry.objects.order_by("-seq").values_list("seq", "entry_hash").first()
    return last if last else (0, GENESIS)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def audit_record_many(*, actor: Any | None, changes: Sequence[Change]) -> int:
    """Append entries for ``changes`` to the chain in the caller's transaction. Returns how many were written."""
    if not changes:
        return 0
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of the change it records")
    ctx = context.current()
    now = timezone.now()
    stamp = time_text(now)
    actor_id = getattr(actor, "pk", None) if actor is not None and getattr(actor, "is_authenticated", False) else None
    actor_name = (actor.printed_name if actor_id is not None else "")[:300]
    seq, head = _head_locked()
    rows = []
    db_now = connection.ops.adapt_datetimefield_value(now)
    for ch in changes:
        seq += 1
        payload = _jsonable(ch.payload or {})
        entry = {
            "seq": seq, "time": stamp, "actor": {"id": actor_id, "name": actor_name, "token": ctx.token_prefix},
            "action": ch.action, "target": {"kind": ch.target_kind, "id": ch.target_id}, "payload": payload,
            "request_id": ctx.request_id, "client": ctx.client,
        }
        h = entry_hash(head, entry)
        rows.append((seq, db_now, actor_id, actor_name, ctx.token_prefix, ch.action, ch.target_kind,
                     ch.target_id, canonical(payload).decode(), ctx.request_id, ctx.client, head, h))
        head = h
    insert_ignore("audit_auditentry", ENTRY_COLUMNS, rows, conflict=("seq",))
    return len(rows)


def audit_record(*, actor: Any | None, action: str, target_kind: str = "", target_id: str = "",
                 payload: dict[str, Any] | None = None) -> None:
    audit_record_many(actor=actor, changes=[Change(action, target_kind, target_id, payload)])


_ROW = ("seq", "time", "actor_id", "actor_name", "actor_token", "action", "target_kind", "target_id", "payload",
        "request_id", "client", "prev_hash", "entry_hash")


def _row_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    """An entry as exported and hashed (plus its two hashes), from a row of ``_ROW`` columns."""
    seq, t, actor_id, actor_name, token, action, kind, target, payload, rid, client, prev, h = row
    return {"seq": seq, "time": time_text(t), "actor": {"id": actor_id, "name": actor_name, "token": token},
            "action": action, "target": {"kind": kind, "id": target}, "payload": json.loads(payload),
            "request_id": rid, "client": client, "prev_hash": prev, "entry_hash": h}


def entry_dict(e: AuditEntry) -> dict[str, Any]:
    return _row_dict(tuple(getattr(e, f) for f in _ROW))


def entries_iter(chunk: int = 5000) -> Iterator[dict[str, Any]]:
    """Every entry in order, read as plain tuples with a server-side cursor on PostgreSQL."""
    for row in AuditEntry.objects.order_by("seq").values_list(*_ROW).iterator(chunk_size=chunk):
        yield _row_dict(row)


# -- checkpoints -----------------------------------------------------------------------------------------
def _append_outside(cp: dict[str, Any]) -> None:
    directory = Path(settings.PORTAL_AUDIT_CHECKPOINT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "checkpoints.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(cp, sort_keys=True) + "\n")
        fh.flush()


@transaction.atomic
def checkpoint_create(*, force: bool = False) -> AuditCheckpoint | None:
    """Sign the current tree size and root. Without ``force``, only when there is something new to sign."""
    size, _ = _head_locked()
    last = AuditCheckpoint.objects.order_by("-tree_size", "-id").first()
    if last is not None and last.tree_size == size and not force:
        return None
    root = ChainTree(size).root().hex()
    now = timezone.now()
    body = {"tree_size": size, "root": root, "time": time_text(now)}
    signature = base64.b64encode(keys.private_key().sign(checkpoint_message(body))).decode()
    cp = AuditCheckpoint.objects.create(tree_size=size, root=root, time=now, time_text=body["time"],
                                        signature=signature, key_id=keys.public_key_id())
    transaction.on_commit(lambda: _append_outside(cp.as_dict()))
    return cp


def checkpoint_due() -> bool:
    last = AuditCheckpoint.objects.order_by("-tree_size", "-id").first()
    size = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    if last is None:
        return size > 0
    if size - last.tree_size >= settings.PORTAL_AUDIT_CHECKPOINT_EVERY:
        return True
    age = (timezone.now() - last.time).total_seconds()
    return size > last.tree_size and age >= settings.PORTAL_AUDIT_CHECKPOINT_MINUTES * 60


def outside_checkpoints() -> list[dict[str, Any]]:
    path = Path(settings.PORTAL_AUDIT_CHECKPOINT_DIR) / "checkpoints.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- verification ----------------------------------------------------------------------------------------
@dataclass(slots=True)
class Verdict:
    ok: bool
    entries: int
    head: str
    message: str
    first_bad_seq: int | None = None
    checkpoints: int = 0


def audit_verify() -> Verdict:
    """Walk the whole chain, recompute every hash and checkpoint root, check every signature.

    Checkpoints come from the database and from the outside file; a checkpoint in the file that the database
    lost, or one whose root no longer matches, is reported.
    """
    db_cps = [c.as_dict() for c in AuditCheckpoint.objects.order_by("tree_size", "id")]
    seen = {(c["tree_size"], c["root"], c["time"]) for c in db_cps}
    cps = db_cps + [c for c in outside_checkpoints() if (c["tree_size"], c["root"], c["time"]) not in seen]
    try:
        pem: bytes | None = keys.public_key_pem()
    except keys.KeyMissing:
        pem = None if not cps else b""
    try:
        if pem == b"":
            raise VerifyError(None, "checkpoints exist but the signing key is missing")
        with transaction.atomic():
            stream = entries_iter()
            try:
                count, head = verify_stream(stream, cps, pem)
            finally:
                stream.close()  # release the server-side cursor inside its transaction
    except VerifyError as exc:
        return Verdict(False, 0, "", str(exc), exc.seq, len(cps))
    return Verdict(True, count, head, f"OK {count} entries, head {head}", None, len(cps))


def audit_verify_and_store() -> AuditVerification:
    """Verify and keep the outcome, so pages can show the chain status without re-walking it."""
    v = audit_verify()
    return AuditVerification.objects.create(ok=v.ok, entries=v.entries, head=v.head, message=v.message,
                                            first_bad_seq=v.first_bad_seq, time=timezone.now())
