"""The sequencer: gives pending entries their place in the chain and covers them with a signed checkpoint.

Writers only INSERT into ``AuditPending`` in their own transaction. One sequencer at a time (a transaction-level
advisory lock on PostgreSQL; SQLite serialises writers) takes a batch of committed pending rows, assigns the next
sequence numbers in pending-id order, chains and hashes them (the documented rules), appends them to
``AuditEntry``, and signs a checkpoint of the new tree size and Merkle root. The checkpoint goes to the file
outside the database and to the witnesses *before* the transaction commits, so every committed entry is covered
by an outside checkpoint as soon as it is in the chain. A crash between the two leaves an outside checkpoint the
database lacks, which verification reports: a false alarm is the price of never having an unwitnessed window.

Before signing, the sequencer checks that the database still extends the last outside checkpoint; if it does not
(rows below it were rewritten or deleted), it refuses to sign and leaves the pending entries where they are.

Production runs ``manage.py audit_sequencer`` (docker-compose service ``sequencer``); in eager mode (the demo,
tests) ``audit_record`` sequences in the writer's transaction and the checkpoint follows its commit.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time as _time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

from portal.lib.sql import copy_fast, insert_copy

from . import keys, outside
from .canonical import entry_bytes
from .merkle import ChainTree
from .models import AuditCheckpoint
from .verifier import GENESIS, checkpoint_message

log = logging.getLogger(__name__)
LOCK_KEY = 0x6175646974  # "audit"
BATCH = 20_000
PENDING_COLUMNS = ("time", "actor_id", "actor_name", "actor_token", "action", "target_kind", "target_id", "payload",
                   "request_id", "client")
ENTRY_COLUMNS = ("seq", *PENDING_COLUMNS, "prev_hash", "entry_hash")


class SequencerRefused(Exception):
    """The database no longer extends the last outside checkpoint: nothing is signed over it."""


def time_text(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def as_datetime(value: Any) -> datetime:
    """A raw cursor gives datetimes on PostgreSQL and text on SQLite."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_datetime(str(value))
    if parsed is None:
        raise ValueError(f"not a date-time: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def lock() -> None:
    """Serialise sequencing. Call inside a transaction; released at commit or rollback."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def head() -> tuple[int, str]:
    with connection.cursor() as cur:
        cur.execute("SELECT seq, entry_hash FROM audit_auditentry ORDER BY seq DESC LIMIT 1")
        row = cur.fetchone()
    return (int(row[0]), row[1]) if row else (0, GENESIS)


def _insert(table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Plain multi-row INSERT: a collision raises and rolls the batch back (never silently skipped)."""
    if copy_fast(rows):  # PostgreSQL, many rows: COPY, no statement of thousands of placeholders
        insert_copy(table, columns, rows, conflict=None)
        return
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    per = max(1, 30000 // len(columns))
    with connection.cursor() as cur:
        for i in range(0, len(rows), per):
            part = rows[i : i + per]
            cur.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608 - fixed names
                        + ", ".join([one] * len(part)), [v for r in part for v in r])


def pending_append(rows: list[tuple[Any, ...]]) -> None:
    """The writer's side: rows of ``PENDING_COLUMNS``, in the caller's transaction, no lock."""
    _insert("audit_auditpending", PENDING_COLUMNS, rows)


def integrate(limit: int = BATCH) -> int:
    """Move up to ``limit`` committed pending rows into the chain. The caller holds ``lock()``."""
    cols = ", ".join(("id", *PENDING_COLUMNS))
    with connection.cursor() as cur:
        # One statement: exactly the rows it returns are the rows it deletes, whatever commits meanwhile.
        sql = (f"DELETE FROM audit_auditpending WHERE id IN (SELECT id FROM audit_auditpending ORDER BY id "  # noqa: S608
               f"LIMIT %s) RETURNING {cols}")  # fixed column names
        cur.execute(sql, [limit])
        taken = sorted(cur.fetchall())
    if not taken:
        return 0
    seq, prev = head()
    out = []
    for _id, t, actor_id, name, token, action, kind, target, payload, rid, client in taken:
        seq += 1
        when = as_datetime(t)
        h = hashlib.sha256(prev.encode() + entry_bytes(seq, time_text(when), actor_id, name, token, action, kind,
                                                        target, payload, rid, client)).hexdigest()
        out.append((seq, connection.ops.adapt_datetimefield_value(when), actor_id, name, token, action, kind, target,
                    payload, rid, client, prev, h))
        prev = h
    _insert("audit_auditentry", ENTRY_COLUMNS, out)
    return len(out)


# -- checkpoints -----------------------------------------------------------------------------------------
@dataclass(slots=True)
class Step:
    integrated: int
    checkpoint: AuditCheckpoint | None
    problems: list[str]


def _last_signed() -> dict[str, Any] | None:
    """The newest checkpoint the sequencer must extend: the outside file's, else the database's."""
    last = outside.outside_last()
    if last is None:
        cp = AuditCheckpoint.objects.order_by("-tree_size", "-id").first()
        last = cp.as_dict() if cp else None
    return last


def sequencer_step(*, force: bool = False, limit: int = BATCH) -> Step:
    """Integrate one batch and sign a checkpoint over it (or over nothing new, with ``force``)."""
    with transaction.atomic():
        lock()
        n = integrate(limit)
        size, _ = head()
        db_last = AuditCheckpoint.objects.order_by("-tree_size", "-id").first()
        if not force and (size == 0 or (db_last is not None and db_last.tree_size == size and not n)):
            return Step(n, None, [])
        tree = ChainTree(size)
        tree.preload_blocks()
        last = _last_signed()
        if last is not None:
            old = int(last["tree_size"])
            if old > size or tree.hash(0, old).hex() != last["root"]:
                raise SequencerRefused(f"the database does not extend the checkpoint at tree size {old} "
                                       f"({last['time']}): entries below it were changed or removed; not signing")
        root = tree.root().hex()
        now = datetime.now(UTC)
        stamp = time_text(now)
        body: dict[str, Any] = {"tree_size": size, "root": root, "time": stamp}
        signature = base64.b64encode(keys.private_key().sign(checkpoint_message(body))).decode()
        cp = AuditCheckpoint.objects.create(tree_size=size, root=root, time=now, time_text=stamp,
                                            signature=signature, key_id=keys.public_key_id())
        outside.append_line(outside.checkpoint_file(), outside.line(cp.as_dict()))
        old_size = int(last["tree_size"]) if last else 0
        problems = outside.witness_publish(cp.as_dict(), old_size, tree.consistency_proof)
    return Step(n, cp, problems)


def sequencer_run(*, latency: float, stop: Any, on_step: Any = None) -> None:
    """The loop of ``manage.py audit_sequencer``: a step at least every ``latency / 2`` seconds until ``stop()``."""
    interval = max(0.01, latency / 2)
    while not stop():
        started = _time.monotonic()
        try:
            step = sequencer_step()
        except SequencerRefused as exc:
            log.error("audit sequencer: %s", exc)
            step = None
        except Exception:  # a lost connection, a full disk: log, reconnect, keep going
            log.exception("audit sequencer step failed")
            connection.close()
            step = None
        if on_step and step is not None and step.checkpoint is not None:
            on_step(step)
        if step is not None and step.integrated >= BATCH:
            continue  # more waiting: no sleep
        _time.sleep(max(0.0, interval - (_time.monotonic() - started)))


def sequencer_after_commit() -> None:
    """Inline mode: sign right after the writer commits. A failure is logged, never raised at the writer."""
    try:
        step = sequencer_step()
    except Exception:
        log.exception("audit checkpoint after commit failed; the next step covers these entries")
        return
    del step


def inline() -> bool:
    return settings.PORTAL_AUDIT_SEQUENCER == "inline"
