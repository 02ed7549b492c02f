"""Audit trail benchmark: concurrent audited writes, verify_audit over a large chain, inclusion proofs.

Targets (issue 13): audited writes from concurrent writers >= 0.5 x bare INSERT+COMMIT in the same run;
verify_audit over 1,000,000 entries < 10 s; inclusion proofs < 50 ms p99 at 1,000,000 entries.

    .venv/bin/python bench/audit.py                    # quick: 200,000-entry chain
    .venv/bin/python bench/audit.py --entries 1000000  # the full target

Baselines measured in the same run: the same writers doing a bare one-row INSERT + COMMIT per write (no Django,
no hashing); the old way (each writer chaining its own entry under the chain lock, "inline" mode); COPY of the
entry rows out of PostgreSQL; hashing the same rows in memory.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import multiprocessing as mp
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench._common import (  # noqa: E402
    PYTHON,
    ROOT,
    database_url,
    drop_database,
    dsn,
    log,
    migrate,
    percentile,
    recreate_database,
    run_name,
)

DB = run_name("lineage_bench_audit")
KEY, CPDIR = f"/tmp/{DB}-key.pem", f"/tmp/{DB}-checkpoints"


def _env(mode: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url(DB), "DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_DEBUG": "0",
            "PORTAL_AUDIT_KEY": KEY, "PORTAL_AUDIT_CHECKPOINT_DIR": CPDIR, "PORTAL_AUDIT_SEQUENCER": mode,
            "PORTAL_AUDIT_LATENCY": "1.0", "CELERY_BROKER_URL": ""}


def _django(mode: str = "service") -> None:
    os.environ.update(_env(mode))
    import django

    django.setup()


def _writer(mode: str, n: int, ready: mp.Queue, start: mp.Event, out: mp.Queue) -> None:  # type: ignore[type-arg]
    _django(mode)
    from django.db import connection, transaction

    from portal.audit.services import audit_record

    connection.ensure_connection()
    ready.put(1)
    start.wait()
    t0 = time.perf_counter()
    for i in range(n):
        with transaction.atomic():
            audit_record(actor=None, action="bench.write", target_kind="bench", target_id=str(i),
                         payload={"i": i, "note": "x" * 120})
    out.put(time.perf_counter() - t0)


def _raw_writer(mode: str, n: int, ready: mp.Queue, start: mp.Event, out: mp.Queue) -> None:  # type: ignore[type-arg]
    with psycopg.connect(dsn(DB)) as conn:
        ready.put(1)
        start.wait()
        t0 = time.perf_counter()
        for i in range(n):
            conn.execute("INSERT INTO bench_raw (payload, h) VALUES (%s, %s)",
                         [json.dumps({"i": i, "note": "x" * 120}), "0" * 64])
            conn.commit()
    out.put(time.perf_counter() - t0)


def concurrent(target: object, mode: str, writers: int, per_writer: int) -> float:
    ready, start, out = mp.Queue(), mp.Event(), mp.Queue()
    procs = [mp.Process(target=target, args=(mode, per_writer, ready, start, out)) for _ in range(writers)]
    for p in procs:
        p.start()
    for _ in procs:  # every writer has finished Django setup and holds its connection
        ready.get(timeout=300)
    t0 = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    return writers * per_writer / (time.perf_counter() - t0)


def _count(sql: str) -> int:
    with psycopg.connect(dsn(DB)) as conn:
        return conn.execute(sql).fetchone()[0]


def build_chain(total: int) -> float:
    """Append ``total`` entries with the portal's own hashing rules, written with COPY. Returns COPY seconds."""
    from portal.audit.canonical import entry_bytes
    from portal.audit.sequencer import time_text
    from portal.audit.verifier import GENESIS, canonical

    with psycopg.connect(dsn(DB)) as conn:
        row = conn.execute("SELECT seq, entry_hash FROM audit_auditentry ORDER BY seq DESC LIMIT 1").fetchone()
        seq, head = row if row else (0, GENESIS)
        base = datetime(2026, 1, 1, tzinfo=UTC)
        copy_seconds = 0.0
        while total > 0:
            n = min(50_000, total)
            buf = io.StringIO()
            for _ in range(n):
                seq += 1
                t = base + timedelta(milliseconds=seq)
                payload = canonical({"sha256": f"{seq:064x}", "eventType": "COMPLETE"}).decode()
                h = hashlib.sha256(head.encode() + entry_bytes(
                    seq, time_text(t), None, "", "lp_bench", "lineage.event_ingested", "run", f"run:{seq}", payload,
                    "", "127.0.0.1")).hexdigest()
                buf.write("\t".join([str(seq), t.isoformat(), "\\N", "", "lp_bench", "lineage.event_ingested", "run",
                                     f"run:{seq}", payload, "", "127.0.0.1", head, h]) + "\n")
                head = h
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


def baselines_read() -> tuple[float, float, int]:
    """COPY the entry rows out (the database's floor) and SHA-256 the same bytes in memory (hashing's floor)."""
    buf = io.BytesIO()
    t0 = time.perf_counter()
    with psycopg.connect(dsn(DB)) as conn, conn.cursor().copy(
            "COPY (SELECT * FROM audit_auditentry ORDER BY seq) TO STDOUT") as cp:
        for chunk in cp:
            buf.write(chunk)
    copy_out = time.perf_counter() - t0
    lines = buf.getvalue().splitlines()
    t0 = time.perf_counter()
    h = b"0" * 64
    for line in lines:
        h = hashlib.sha256(h + line).hexdigest().encode()
    return copy_out, time.perf_counter() - t0, len(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=200_000, help="chain length for verify and proofs")
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--per-writer", type=int, default=1000)
    ap.add_argument("--proofs", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of bare and audited writers")
    args = ap.parse_args()

    recreate_database(DB)
    # A fresh key and outside-checkpoint folder: checkpoints of an earlier run's chain would (rightly) fail it.
    shutil.rmtree(CPDIR, ignore_errors=True)
    if os.path.exists(KEY):
        os.remove(KEY)
    seq_proc = None
    try:
        migrate(DB)
        with psycopg.connect(dsn(DB), autocommit=True) as conn:
            conn.execute("CREATE TABLE bench_raw (id bigserial, payload text, h text)")
        subprocess.run([PYTHON, "manage.py", "audit_keygen"], cwd=ROOT, env={**os.environ, **_env("service")},
                       check=True, capture_output=True)
        log(f"== concurrent audited writes: {args.writers} writer processes x {args.per_writer} (PostgreSQL)")
        inline = concurrent(_writer, "inline", args.writers, max(1, args.per_writer // 4))
        seq_proc = subprocess.Popen([PYTHON, "manage.py", "audit_sequencer"], cwd=ROOT,
                                    env={**os.environ, **_env("service")}, stdout=subprocess.DEVNULL)
        time.sleep(2)
        # Alternate the two, so a machine shared with other work loads both alike; report the medians.
        raws, auditeds = [], []
        for _ in range(args.rounds):
            raws.append(concurrent(_raw_writer, "service", args.writers, args.per_writer))
            auditeds.append(concurrent(_writer, "service", args.writers, args.per_writer))
        raw, audited = statistics.median(raws), statistics.median(auditeds)
        t0 = time.perf_counter()
        while _count("SELECT count(*) FROM audit_auditpending"):
            time.sleep(0.05)
        drain = time.perf_counter() - t0
        seq_proc.terminate()
        seq_proc.wait(30)
        seq_proc = None
        _django("service")
        from portal.audit.models import AuditEntry
        from portal.audit.outside import outside_checkpoints
        from portal.audit.services import audit_verify, checkpoint_create

        seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
        contiguous = seqs == list(range(1, len(seqs) + 1))
        cps = outside_checkpoints()
        log(f"baseline  bare INSERT+COMMIT per write              : {raw:8.0f} writes/s (rounds: "
            f"{', '.join(f'{r:.0f}' for r in raws)})")
        log(f"portal    pending table + sequencer process         : {audited:8.0f} writes/s "
            f"({audited / raw:.2f} x bare; "
            f"rounds: {', '.join(f'{r:.0f}' for r in auditeds)})")
        log(f"          chain contiguous: {contiguous}; {len(cps)} outside checkpoints; the last entry was "
            f"checkpointed {drain:.2f} s after the writers finished")
        log(f"eager     inline mode (writer chains under the lock, checkpoint after each commit): {inline:6.0f} "
            "writes/s (the demo and tests; production runs the sequencer)")

        log(f"== building a chain of {args.entries:,} entries (portal hashing, COPY)")
        t0 = time.perf_counter()
        copy_s = build_chain(args.entries - len(seqs))
        log(f"built in {time.perf_counter() - t0:.1f} s (COPY in {copy_s:.1f} s)")
        t0 = time.perf_counter()
        cp = checkpoint_create(force=True)
        log(f"checkpoint over it (fills the Merkle block cache): {time.perf_counter() - t0:.1f} s, tree "
            f"{cp.tree_size:,}")

        copy_out, hash_s, nrows = baselines_read()
        t0 = time.perf_counter()
        verdict = audit_verify()
        verify_s = time.perf_counter() - t0
        workers = min(4, os.cpu_count() or 1)
        t0 = time.perf_counter()
        verdict_p = audit_verify(workers=workers)
        verify_p = time.perf_counter() - t0
        log(f"baseline  COPY the {nrows:,} rows out            : {copy_out:6.1f} s")
        log(f"baseline  SHA-256 chain over those bytes in memory: {hash_s:6.1f} s")
        log(f"portal    verify_audit over {verdict.entries:,} entries, one process : {verify_s:6.1f} s "
            f"({verdict.message[:40]})")
        log(f"portal    verify_audit over {verdict_p.entries:,} entries, {workers} processes: {verify_p:6.1f} s "
            f"({verdict_p.message[:40]}; the default of manage.py verify_audit)")

        from django.test import Client

        from portal.accounts.services import user_ensure

        client = Client()
        client.force_login(user_ensure(username="bench-auditor", role="auditor"))
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
        if seq_proc is not None:
            seq_proc.kill()
        drop_database(DB)


if __name__ == "__main__":
    main()
