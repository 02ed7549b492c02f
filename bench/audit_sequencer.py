"""The audit sequencer in-process: CPU (this process and its PostgreSQL backend) and statements per entry.

    .venv/bin/python bench/audit_sequencer.py --db bench_sequencer [--entries 10000] [--rounds 2]

Three shapes, each on the same database, one after the other:

- bulk: ``--entries`` pending entries appended first (not measured), then ``sequencer_step()`` with the default
  batch until nothing is pending (what a backlog costs);
- steady: ``--steps`` steps of ``--per-step`` entries each (append, then one measured step: what the
  ``manage.py audit_sequencer`` process does under the single-event benchmark, ~120 entries per 0.5 s step);
- idle: ``--idle`` steps with nothing pending (what the polling loop costs while nothing happens).

The entries look like the ingest path's (``lineage.event_ingested`` with the event's sha256, type and time). The
chain is verified at the end. Run the same script from two worktrees, alternating, for a before/after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench._common import (  # noqa: E402
    cpu_seconds,
    drop_database,
    log,
    machine_line,
    migrate,
    portal_env,
    recreate_database,
)


def _setup(db: str) -> None:
    os.environ.update(portal_env(db, PORTAL_AUDIT_SEQUENCER="service", PORTAL_AUDIT_LATENCY="1.0"))
    shutil.rmtree(os.environ["PORTAL_AUDIT_CHECKPOINT_DIR"], ignore_errors=True)
    if os.path.exists(os.environ["PORTAL_AUDIT_KEY"]):
        os.remove(os.environ["PORTAL_AUDIT_KEY"])
    import django

    django.setup()


def _rows(start: int, n: int) -> list[tuple[Any, ...]]:
    from django.db import connection

    from portal.audit.verifier import canonical

    now = connection.ops.adapt_datetimefield_value(datetime.now(UTC))
    out = []
    for i in range(start, start + n):
        payload = canonical({"sha256": f"{i:064x}", "eventType": "COMPLETE" if i % 2 else "START",
                             "eventTime": "2026-12-06T18:00:00.123456+00:00", "warnings": []}).decode()
        out.append((now, 7, "benchsvc", "lp_abcdef12", "lineage.event_ingested", "run", f"run:{i:032x}", payload,
                    f"req-{i:020d}", "127.0.0.1"))
    return out


def _append(start: int, n: int) -> None:
    from django.db import transaction

    from portal.audit.sequencer import pending_append

    with transaction.atomic():
        pending_append(_rows(start, n))


class Meter:
    """CPU of this process and of its database backend, wall time and statements over a span."""

    def __init__(self) -> None:
        from django.db import connection

        connection.ensure_connection()
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            self.backend = int(cur.fetchone()[0])
        self.statements = 0

    def count(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statements += 1
        return execute(sql, params, many, context)

    def span(self, fn: Callable[[], int]) -> tuple[int, float, float, float, int]:
        from django.db import connection

        self.statements = 0
        b0, w0, p0 = cpu_seconds(self.backend) or 0.0, time.perf_counter(), time.process_time()
        with connection.execute_wrapper(self.count):
            n = fn()
        p1, w1, b1 = time.process_time(), time.perf_counter(), cpu_seconds(self.backend) or 0.0
        return n, p1 - p0, b1 - b0, w1 - w0, self.statements


def _line(label: str, n: int, steps: int, cpu: float, pg: float, wall: float, stmts: int) -> None:
    per, k = max(n, 1), max(steps, 1)
    entry = (f" ({cpu * 1000 / per:.3f} ms/entry)", f" ({pg * 1000 / per:.3f} ms/entry)") if n else ("", "")
    log(f"  {label:<7} {n:>6} entries in {steps:>4} steps, per step: process CPU {cpu * 1000 / k:7.2f} ms{entry[0]}, "
        f"PostgreSQL backend {pg * 1000 / k:6.2f} ms{entry[1]}, wall {wall * 1000 / k:7.2f} ms, "
        f"{stmts / k:5.1f} statements")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True)
    ap.add_argument("--entries", type=int, default=10_000, help="bulk: entries pending before the steps")
    ap.add_argument("--steps", type=int, default=50, help="steady: steps")
    ap.add_argument("--per-step", type=int, default=120, help="steady: entries appended before each step")
    ap.add_argument("--idle", type=int, default=200, help="idle: steps with nothing pending")
    ap.add_argument("--rounds", type=int, default=2, help="repeat the three shapes (the chain keeps growing)")
    ap.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    args = ap.parse_args()
    recreate_database(args.db)
    migrate(args.db)
    _setup(args.db)
    from django.db import connection

    from portal.audit import keys
    from portal.audit.sequencer import sequencer_step
    from portal.audit.services import audit_verify

    keys.private_key()  # generated once, outside the measurements
    log(f"bench/audit_sequencer.py  {machine_line()}  load {os.getloadavg()[0]:.2f}")
    meter = Meter()
    nxt = 0
    for r in range(args.rounds):
        log(f"round {r + 1}, load {os.getloadavg()[0]:.2f}")
        _append(nxt, args.entries)
        nxt += args.entries
        steps: list[int] = []

        def drain(steps: list[int] = steps) -> int:
            while n := sequencer_step().integrated:
                steps.append(n)
            return sum(steps)

        n, cpu, pg, wall, st = meter.span(drain)
        _line("bulk", n, len(steps), cpu, pg, wall, st)
        tot = [0, 0.0, 0.0, 0.0, 0]
        for _ in range(args.steps):
            _append(nxt, args.per_step)
            nxt += args.per_step
            res = meter.span(lambda: sequencer_step().integrated)
            tot = [a + b for a, b in zip(tot, res, strict=True)]
        _line("steady", int(tot[0]), args.steps, tot[1], tot[2], tot[3], int(tot[4]))
        tot = [0, 0.0, 0.0, 0.0, 0]
        for _ in range(args.idle):
            res = meter.span(lambda: sequencer_step().integrated)
            tot = [a + b for a, b in zip(tot, res, strict=True)]
        _line("idle", int(tot[0]), args.idle, tot[1], tot[2], tot[3], int(tot[4]))
    connection.close()
    v = audit_verify()
    log(f"verify: {v.message[:60]}")
    connection.close()
    if not args.keep_db:
        drop_database(args.db)
    if not v.ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
