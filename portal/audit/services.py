"""Writing to and checking the audit trail.

``audit_record`` is called by every service that changes state, inside that service's transaction, so the
entry commits or rolls back with the change. It only appends to the pending table (no chain lock); the
sequencer (``sequencer.py``) gives entries their place and signs a checkpoint over them within
``PORTAL_AUDIT_LATENCY`` seconds. In inline mode (eager Celery: the demo, tests) the writer sequences its own
entries under the lock and the checkpoint follows its commit.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, connections, transaction
from django.utils import timezone

from . import context, keys, outside, sequencer
from .canonical import entry_bytes
from .context import RequestContext
from .models import AuditCheckpoint, AuditEntry, AuditPending, AuditVerification
from .sequencer import ENTRY_COLUMNS, as_datetime, time_text
from .verifier import GENESIS, Checkpoints, VerifyError, canonical, verify_stream, walk

__all__ = ["Change", "audit_record", "audit_record_many", "time_text", "checkpoint_create", "audit_integrate"]


@dataclass(frozen=True, slots=True)
class Change:
    """One thing to record: an action on a target with its before/after values."""

    action: str
    target_kind: str = ""
    target_id: str = ""
    payload: dict[str, Any] | None = None
    # Who asked, when it is not the request running this code: events applied together for several
    # requests (lineage/intake.py) each carry the request that brought them.
    context: RequestContext | None = None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def audit_record_many(*, actor: Any | None, changes: Sequence[Change]) -> int:
    """Append entries for ``changes`` in the caller's transaction. Returns how many were written.

    The entries get their sequence numbers from the sequencer; until then they are pending (``AuditPending``).
    """
    if not changes:
        return 0
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of the change it records")
    rows = pending_rows(actor=actor, changes=changes)
    sequencer.pending_append(rows)
    if sequencer.inline():
        sequencer.lock()
        sequencer.integrate()
        if not any(item[1] is sequencer.sequencer_after_commit for item in connection.run_on_commit):
            transaction.on_commit(sequencer.sequencer_after_commit)
    return len(rows)


def pending_rows(*, actor: Any | None, changes: Sequence[Change]) -> list[tuple[Any, ...]]:
    """The ``AuditPending`` rows (``sequencer.PENDING_COLUMNS``) of ``changes``, for a writer that inserts them in
    its own statement (``lineage.services.events_append``): the caller's transaction must hold the change too."""
    ctx = context.current()
    db_now = connection.ops.adapt_datetimefield_value(timezone.now())
    actor_id = getattr(actor, "pk", None) if actor is not None and getattr(actor, "is_authenticated", False) else None
    actor_name = (actor.printed_name if actor is not None and actor_id is not None else "")[:300]
    return [(db_now, actor_id, actor_name, (ch.context or ctx).token_prefix, ch.action, ch.target_kind,
             ch.target_id, canonical(_jsonable(ch.payload or {})).decode(), (ch.context or ctx).request_id,
             (ch.context or ctx).client) for ch in changes]


def audit_record(*, actor: Any | None, action: str, target_kind: str = "", target_id: str = "",
                 payload: dict[str, Any] | None = None) -> None:
    audit_record_many(actor=actor, changes=[Change(action, target_kind, target_id, payload)])


def _row_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    """An entry as exported and hashed (plus its two hashes), from a row of ``ENTRY_COLUMNS``."""
    seq, t, actor_id, actor_name, token, action, kind, target, payload, rid, client, prev, h = row
    return {"seq": seq, "time": time_text(as_datetime(t)), "actor": {"id": actor_id, "name": actor_name,
                                                                     "token": token},
            "action": action, "target": {"kind": kind, "id": target}, "payload": json.loads(payload),
            "request_id": rid, "client": client, "prev_hash": prev, "entry_hash": h}


def entry_dict(e: AuditEntry) -> dict[str, Any]:
    return _row_dict(tuple(getattr(e, f) for f in ENTRY_COLUMNS))


# How a payload is shown to a reader who may not see everything it names, by action: registered by the domain
# that writes those entries (approvals, for ``approval.subject_changed``) from its AppConfig.ready. Entries stay
# as written (the chain hashes them); only what a reader is shown is redacted.
payload_redactors: dict[str, Callable[[Any, dict[str, Any]], dict[str, Any]]] = {}


def entry_for(user: Any, e: AuditEntry) -> dict[str, Any]:
    """``entry_dict`` as ``user`` may read it. A redacted payload is flagged ``"redacted": true``: its hash no
    longer matches ``entry_hash``; the export (for verification) carries entries as written."""
    d = entry_dict(e)
    redact = payload_redactors.get(d["action"])
    if redact is not None and isinstance(d["payload"], dict):
        shown = redact(user, d["payload"])
        if shown != d["payload"]:
            d = {**d, "payload": shown, "redacted": True}
    return d


def entries_iter(chunk: int = 5000) -> Iterator[dict[str, Any]]:
    """Every entry in order, read as plain tuples with a server-side cursor on PostgreSQL."""
    for row in AuditEntry.objects.order_by("seq").values_list(*ENTRY_COLUMNS).iterator(chunk_size=chunk):
        yield _row_dict(row)


# -- checkpoints -----------------------------------------------------------------------------------------
def checkpoint_create(*, force: bool = False) -> AuditCheckpoint | None:
    """Sequence what is pending and sign a checkpoint; without ``force`` only when the tree grew."""
    return sequencer.sequencer_step(force=force).checkpoint


def audit_integrate() -> int:
    """For readers that need final sequence numbers now: run a sequencer step. Returns the entries integrated."""
    if not AuditPending.objects.exists():
        return 0
    return sequencer.sequencer_step().integrated


def pending_count() -> int:
    return AuditPending.objects.count()


def outside_checkpoints() -> list[dict[str, Any]]:
    return outside.outside_checkpoints()


# -- verification ----------------------------------------------------------------------------------------
@dataclass(slots=True)
class Verdict:
    ok: bool
    entries: int
    head: str
    message: str
    first_bad_seq: int | None = None
    checkpoints: int = 0
    notes: list[str] = field(default_factory=list)


def checkpoints_all(pinned: outside.Pinned | None = None,
                    notes: list[str] | None = None) -> list[dict[str, Any]]:
    """Every checkpoint to verify against, each once, with where it was found: the database, the outside file
    and every witness. Raises ``WitnessError`` when a witness cannot be read or vouches falsely; the witness
    checkpoints countersigned under a key no longer pinned go to ``notes``."""
    pinned = outside.witness_keys() if pinned is None else pinned
    found: dict[tuple[Any, ...], dict[str, Any]] = {}

    def add(cps: list[dict[str, Any]], source: str) -> None:
        for c in cps:
            key = (c["tree_size"], c["root"], c["time"], c["signature"])
            if key in found:
                found[key]["source"] += f", {source}"
            else:
                found[key] = dict(c, source=source)

    add([c.as_dict() for c in AuditCheckpoint.objects.order_by("tree_size", "id")], "database")
    add(outside.outside_checkpoints(), "checkpoint file")
    for spec in outside.witnesses():
        add(outside.witness_checkpoints(spec, pinned, notes), f"witness {spec}")
    return list(found.values())


_PG_ROWS = """SELECT seq, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), actor_id, actor_name,
    actor_token, action, target_kind, target_id, payload, request_id, client, prev_hash, entry_hash
    FROM audit_auditentry ORDER BY seq"""


def entry_rows(after: int = 0, upto: int | None = None) -> Generator[tuple[Any, ...], None, None]:
    """Entry rows ``after < seq <= upto`` in order, the time already as the signed text.

    PostgreSQL: a server-side cursor with large fetches. Call inside a transaction.
    """
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        bounds = "WHERE seq > %s" + (" AND seq <= %s" if upto is not None else "")
        with connection.connection.cursor(name="audit_verify") as cur:
            cur.execute(_PG_ROWS.replace("ORDER BY", bounds + " ORDER BY"),
                        [after] + ([upto] if upto is not None else []))
            while rows := cur.fetchmany(20_000):
                yield from rows
        return
    qs = AuditEntry.objects.filter(seq__gt=after).order_by("seq")
    if upto is not None:
        qs = qs.filter(seq__lte=upto)
    for row in qs.values_list(*ENTRY_COLUMNS).iterator(chunk_size=5000):
        yield (row[0], time_text(as_datetime(row[1])), *row[2:])


def _unpack_row(r: tuple[Any, ...]) -> tuple[Any, Any, Any, bytes]:
    seq, t, actor_id, name, token, action, kind, target, payload, rid, client, prev, h = r
    return seq, prev, h, entry_bytes(seq, t, actor_id, name, token, action, kind, target, payload, rid, client)


@dataclass(slots=True)
class _Part:
    leaves: bytes
    first_prev: str | None
    count: int
    head: str
    error: tuple[int | None, str] | None


def _walk_part(bounds: tuple[int, int]) -> _Part:
    """One range of the chain, in a worker process with its own connection."""
    after, upto = bounds
    leaves: list[bytes] = []
    first: list[str] = []

    def rows() -> Iterator[tuple[Any, ...]]:
        stream = entry_rows(after, upto)
        try:
            for r in stream:
                if not first:
                    first.append(r[11])
                yield r
        finally:
            stream.close()

    count, head, error = after, "", None
    try:
        with transaction.atomic():
            count, head = walk(rows(), _unpack_row, leaves, after, GENESIS if after == 0 else None)
    except VerifyError as exc:
        error = (exc.seq, exc.message)
    finally:
        connection.close()
    return _Part(b"".join(leaves), first[0] if first else None, count, head, error)


def _verify_parallel(cps: Checkpoints, workers: int) -> tuple[int, str]:
    """The chain in ``workers`` ranges at once (each entry's hash depends only on the ``prev_hash`` stored in its
    row); the links between ranges, the tree and the checkpoints are checked here."""
    size = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    step = -(-size // workers)
    bounds = [(i, min(i + step, size)) for i in range(0, size, step)] or [(0, 0)]
    connections.close_all()  # the workers open their own; none may share this process's socket
    with multiprocessing.get_context("fork").Pool(len(bounds)) as pool:
        parts = pool.map(_walk_part, bounds)
    leaves: list[bytes] = []
    head = GENESIS
    try:
        for (after, _), part in zip(bounds, parts, strict=True):
            if after and part.first_prev is not None and part.first_prev != head:
                raise VerifyError(after + 1, "prev_hash does not match the previous entry's hash (chain broken)")
            leaves.extend(part.leaves[i:i + 32] for i in range(0, len(part.leaves), 32))
            if part.error is not None:
                raise VerifyError(*part.error)
            head = part.head
    except VerifyError:
        cps.check(leaves, len(leaves) + 1)
        raise
    cps.finish(leaves)
    return len(leaves), head


def audit_verify(*, workers: int = 1, pinned: outside.Pinned | None = None) -> Verdict:
    """Walk the whole chain, recompute every hash, check it against every checkpoint and signature.

    Checkpoints come from the database, the outside file and every witness; one the database lost, one whose
    root no longer matches, or one for more entries than the chain holds, is reported with where it was found.
    ``workers`` > 1 (PostgreSQL, from a management command: it forks) walks ranges in parallel processes.
    The witnesses' pinned keys are read once (``pinned``, or now); a witness checkpoint countersigned under a
    key no longer pinned is named in ``notes`` (and the message) without failing the verdict.
    """
    notes: list[str] = []
    try:
        cps = checkpoints_all(pinned, notes)
    except outside.WitnessError as exc:
        return Verdict(False, 0, "", str(exc), None, 0)
    try:
        pem: bytes | None = keys.public_key_pem()
    except keys.KeyMissing:
        pem = None if not cps else b""
    try:
        if pem == b"":
            raise VerifyError(None, "checkpoints exist but the signing key is missing")
        # Workers have their own connections: only when nothing uncommitted here could be missed by them.
        if workers > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
            count, head = _verify_parallel(Checkpoints(cps, pem), workers)
        else:
            with transaction.atomic():
                stream = entry_rows()
                try:
                    count, head = verify_stream(stream, cps, pem, _unpack_row)
                finally:
                    stream.close()  # release the server-side cursor inside its transaction
    except VerifyError as exc:
        return Verdict(False, 0, "", str(exc), exc.seq, len(cps))
    noted = "".join(f"; NOTE {n}" for n in notes)
    return Verdict(True, count, head, f"OK {count} entries, head {head}{noted}", None, len(cps), notes)


def audit_verify_and_store() -> AuditVerification:
    """Verify and keep the outcome, so pages can show the chain status without re-walking it."""
    v = audit_verify()
    return AuditVerification.objects.create(ok=v.ok, entries=v.entries, head=v.head, message=v.message,
                                            first_bad_seq=v.first_bad_seq, time=timezone.now())
