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
import re
import time as _time
from collections.abc import Iterable
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
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ``, as PostgreSQL's to_char gives it: strftime's %Y does not pad years below
    1000 on glibc, so the year is formatted here."""
    u = t.astimezone(UTC)
    return f"{u.year:04d}-{u:%m-%dT%H:%M:%S.%f}Z"


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
    return _integrate(limit)[0]


# PostgreSQL gives the signed time text itself (as verification reads it, services.entry_rows); PostgreSQL
# parses it back on insert, to the same microsecond. No datetime is built per entry.
_PG_TIME = """to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def _chain(taken: list[tuple[Any, ...]], pg: bool) -> tuple[int, str, list[tuple[Any, ...]]]:
    """Sequence numbers and hashes for ``taken`` (pending rows, id first, in id order) after the chain's head:
    the new head and, per row, (id, seq, time as stored, the pending columns after it, prev_hash, entry_hash)."""
    seq, prev = head()
    adapt = connection.ops.adapt_datetimefield_value
    out = []
    for pid, t, actor_id, name, token, action, kind, target, payload, rid, client in taken:
        seq += 1
        if pg:
            text = stored = t
        else:
            when = as_datetime(t)
            text, stored = time_text(when), adapt(when)
        h = hashlib.sha256(prev.encode() + entry_bytes(seq, text, actor_id, name, token, action, kind, target, payload,
                                                        rid, client)).hexdigest()
        out.append((pid, seq, stored, actor_id, name, token, action, kind, target, payload, rid, client, prev, h))
        prev = h
    return seq, prev, out


# PostgreSQL: the rows just read are deleted and appended to the chain in one statement, joined by id to the
# sequence numbers and hashes computed for them; their columns never travel back. Their content is what was
# hashed: pending rows are never updated (trigger, migration 0004) and the lock keeps other sequencers out.
_PG_MOVE = f"""WITH chained AS (SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[])
        AS c(id, seq, prev_hash, entry_hash)),
    moved AS (DELETE FROM audit_auditpending p USING chained c WHERE p.id = c.id
        RETURNING c.seq, {", ".join(f"p.{c}" for c in PENDING_COLUMNS)}, c.prev_hash, c.entry_hash)
    INSERT INTO audit_auditentry ({", ".join(ENTRY_COLUMNS)}) SELECT * FROM moved ORDER BY seq"""  # noqa: S608


_PLAIN = re.compile(r"[0-9a-f]*")


def _array(values: Iterable[Any]) -> str | list[str]:
    """An array parameter: the literal itself when every value is an integer or hex digits (ids, sequence
    numbers, hashes: nothing to quote), which the driver sends as one string instead of quoting each element."""
    items = [str(v) for v in values]
    if _PLAIN.fullmatch("".join(items)) and all(items):
        return "{" + ",".join(items) + "}"
    return items


def _integrate(limit: int) -> tuple[int, int, str]:
    """``integrate``, also giving the chain's new head (seq, entry_hash); (0, -1, "") when nothing was pending."""
    pg = connection.vendor == "postgresql"
    with connection.cursor() as cur:
        if pg:
            cur.execute(f"SELECT id, {_PG_TIME}, {', '.join(PENDING_COLUMNS[1:])} FROM audit_auditpending "  # noqa: S608
                        "ORDER BY id LIMIT %s", [limit])
            taken = cur.fetchall()
        else:
            # One statement: exactly the rows it returns are the rows it deletes, whatever commits meanwhile.
            cur.execute(f"DELETE FROM audit_auditpending WHERE id IN (SELECT id FROM audit_auditpending "  # noqa: S608
                        f"ORDER BY id LIMIT %s) RETURNING {', '.join(('id', *PENDING_COLUMNS))}", [limit])
            taken = sorted(cur.fetchall())
        if not taken:
            return 0, -1, ""
        seq, prev, out = _chain(taken, pg)
        if pg:
            cur.execute(_PG_MOVE, [_array(r[0] for r in out), _array(r[1] for r in out),
                                   _array(r[-2] for r in out), _array(r[-1] for r in out)])
            if cur.rowcount != len(out):  # a pending row vanished under the lock: never leave a gap in seq
                raise RuntimeError(f"audit sequencer: {len(out)} pending entries read, {cur.rowcount} moved")
    if not pg:
        _insert("audit_auditentry", ENTRY_COLUMNS, [r[1:] for r in out])
    return len(out), seq, prev


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


def _sizes() -> tuple[bool, int, int | None]:
    """One read: whether anything is pending, the chain's size and the newest checkpoint's tree size."""
    with connection.cursor() as cur:
        # Both by index: the pending table holds mostly dead rows between vacuums, the checkpoints grow by one a step.
        cur.execute("SELECT EXISTS (SELECT id FROM audit_auditpending ORDER BY id LIMIT 1), "
                    "(SELECT seq FROM audit_auditentry ORDER BY seq DESC LIMIT 1), "
                    "(SELECT tree_size FROM audit_auditcheckpoint ORDER BY tree_size DESC, id DESC LIMIT 1)")
        pending, size, signed = cur.fetchone()
    return bool(pending), int(size or 0), None if signed is None else int(signed)


def _nothing_new(size: int, signed: int | None) -> bool:
    return size == 0 or signed == size


def sequencer_step(*, force: bool = False, limit: int = BATCH) -> Step:
    """Integrate one batch and sign a checkpoint over it (or over nothing new, with ``force``)."""
    if not force:
        # The polling loop's usual answer, from one read without a transaction or the lock: nothing to do.
        pending, size, signed = _sizes()
        if not pending and _nothing_new(size, signed):
            return Step(0, None, [])
    with transaction.atomic():
        lock()
        n, size, _ = _integrate(limit)
        if not n:
            _, size, signed = _sizes()
            if not force and _nothing_new(size, signed):
                return Step(0, None, [])
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
