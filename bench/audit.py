"""Audit trail benchmark: concurrent audited writes, verify_audit over a large chain, inclusion proofs.

Targets (issue 4): >= 1,000 audited writes/s from concurrent writers without a forked chain; verify_audit over
1,000,000 entries in < 30 s; an inclusion proof in < 50 ms at 1,000,000 entries.

    .venv/bin/python bench/audit.py                    # quick: 200,000-entry chain
    .venv/bin/python bench/audit.py --entries 1000000  # the full target

Baselines measured in the same run: the same writers doing a bare one-row INSERT + COMMIT per write (no lock,
no hashing), and COPY of the same entry rows.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench._common import database_url, drop_database, dsn, log, migrate, percentile, recreate_database, run_name  # noqa: E402

DB = run_name("lineage_bench_audit")


def _django(db: str) -> None:
    os.environ["DATABASE_URL"] = database_url(db)
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ.setdefault("PORTAL_AUDIT_KEY", f"/tmp/{db}-key.pem")
    os.environ.setdefault("PORTAL_AUDIT_CHECKPOINT_DIR", f"/tmp/{db}-checkpoints")
    import django

    django.setup()


def _writer(db: str, n: int, start: mp.Event, out: mp.Queue) -> None:  # type: ignore[type-arg]
    _django(db)
    from django.db import transaction

    from portal.audit.services import audit_record

    start.wait()
    t0 = time.perf_counter()
    for i in range(n):
        with transaction.atomic():
            audit_record(actor=None, action="bench.write", target_kind="bench", target_id=str(i),
                         payload={"i": i, "note": "x" * 120})
    out.put(time.perf_counter() - t0)


def _raw_writer(db: str, n: int, start: mp.Event, out: mp.Queue) -> None:  # type: ignore[type-arg]
    with psycopg.connect(dsn(db)) as conn:
        start.wait()
        t0 = time.perf_counter()
        for i in range(n):
            conn.execute("INSERT INTO bench_raw (payload, h) VALUES (%s, %s)", [json.dumps({"i": i}), "0" * 64])
            conn.commit()
    out.put(time.perf_counter() - t0)


def concurrent(target: object, writers: int, per_writer: int) -> float:
    start, out = mp.Event(), mp.Queue()
    procs = [mp.Process(target=target, args=(DB, per_writer, start, out)) for _ in range(writers)]
    for p in procs:
        p.start()
    time.sleep(3)  # let every writer finish Django setup
    t0 = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    return writers * per_writer / wall


def build_chain(total: int) -> float:
    """Append ``total`` entries with the portal's own hashing rules, written with COPY. Returns COPY seconds."""
    from portal.audit.services import time_text
    from portal.audit.verifier import GENESIS, canonical, entry_hash

    with psycopg.connect(dsn(DB)) as conn:
        row = conn.execute("SELECT seq, entry_hash FROM audit_auditentry ORDER BY seq DESC LIMIT 1").fetchone()
        seq, head = row if row else (0, GENESIS)
        base = datetime(2026, 1, 1, tzinfo=UTC)
        copy_seconds = 0.0
        batch = 50_000
        while total > 0:
            n = min(batch, total)
            buf = io.StringIO()
            for _ in range(n):
                seq += 1
                t = base + timedelta(milliseconds=seq)
                payload = {"sha256": f"{seq:064x}", "eventType": "COMPLETE"}
                entry = {"seq": seq, "time": time_text(t), "actor": {"id": None, "name": "", "token": "lp_bench"},
                         "action": "lineage.event_ingested", "target": {"kind": "run", "id": f"run:{seq}"},
                         "payload": payload, "request_id": "", "client": "127.0.0.1"}
                h = entry_hash(head, entry)
                buf.write("\t".join([str(seq), t.isoformat(), "\\N", "", "lp_bench", "lineage.event_ingested", "run",
                                     f"run:{seq}", canonical(payload).decode(), "", "127.0.0.1", head, h]) + "\n")
                head = h
            buf.seek(0)
            t0 = time.perf_counter()
            with conn.cursor().copy(
                "COPY audit_auditentry (seq, time, actor_id, actor_name, actor_token, action, target_kind, target_id,"
                " payload, request_id, client, prev_hash, entry_hash) FROM STDIN"
            ) as cp:
                cp.write(buf.getvalue())
            conn.commit()
            copy_seconds += time.perf_counter() - t0
            total -= n
    return copy_seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=200_000, help="chain length for verify and proofs")
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--per-writer", type=int, default=1000)
    ap.add_argument("--proofs", type=int, default=200)
    args = ap.parse_args()

    recreate_database(DB)
    # A fresh key and outside-checkpoint folder: checkpoints of an earlier run's chain would (rightly) fail it.
    import shutil

    shutil.rmtree(f"/tmp/{DB}-checkpoints", ignore_errors=True)
    if os.path.exists(f"/tmp/{DB}-key.pem"):
        os.remove(f"/tmp/{DB}-key.pem")
    try:
        migrate(DB)
        with psycopg.connect(dsn(DB), autocommit=True) as conn:
            conn.execute("CREATE TABLE bench_raw (id bigserial, payload text, h text)")
        log(f"== concurrent audited writes: {args.writers} writer processes x {args.per_writer}")
        raw = concurrent(_raw_writer, args.writers, args.per_writer)
        audited = concurrent(_writer, args.writers, args.per_writer)
        _django(DB)
        from portal.audit.models import AuditEntry
        from portal.audit.services import audit_verify, checkpoint_create

        seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
        forked = seqs != list(range(1, len(seqs) + 1))
        log(f"baseline  bare INSERT+COMMIT per write : {raw:8.0f} writes/s")
        log(f"portal    audit_record per transaction : {audited:8.0f} writes/s  (chain contiguous: {not forked})")

        log(f"== building a chain of {args.entries:,} entries (portal hashing, COPY)")
        t0 = time.perf_counter()
        copy_s = build_chain(args.entries - len(seqs))
        log(f"built in {time.perf_counter() - t0:.1f} s (COPY itself {copy_s:.1f} s = "
            f"{args.entries / max(copy_s, 1e-9):,.0f} rows/s baseline)")
        t0 = time.perf_counter()
        cp = checkpoint_create(force=True)
        log(f"first checkpoint (fills the block cache): {time.perf_counter() - t0:.1f} s, tree {cp.tree_size:,}")

        t0 = time.perf_counter()
        verdict = audit_verify()
        verify_s = time.perf_counter() - t0
        log(f"verify_audit over {verdict.entries:,} entries: {verify_s:.1f} s ({verdict.message[:90]})")

        from django.test import Client

        from portal.accounts.services import user_ensure

        client = Client()
        client.force_login(user_ensure(username="bench-auditor", role="auditor"))
        import random

        rnd = random.Random(7)
        times = []
        for _ in range(args.proofs):
            seq = rnd.randint(1, cp.tree_size)
            t0 = time.perf_counter()
            r = client.get("/api/v1/audit/proof/inclusion", {"seq": seq}, HTTP_HOST="127.0.0.1")
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.content
        log(f"inclusion proof via API at {cp.tree_size:,} entries: median {statistics.median(times):.1f} ms, "
            f"p99 {percentile(times, 99):.1f} ms, max {max(times):.1f} ms ({args.proofs} proofs)")
    finally:
        drop_database(DB)


if __name__ == "__main__":
    main()
