"""Where ingestion time goes: the batch and single-event endpoints in-process under cProfile.

Runs the same events as ``bench/ingest.py`` through Django's test client (the full view, DRF, authentication
and services, without gunicorn and HTTP), counts SQL statements and their time with an execute wrapper, and
prints the top functions.

    .venv/bin/python bench/profile_ingest.py                  # 20 batches of 500 and 1,000 single events
    .venv/bin/python bench/profile_ingest.py --batches 40 --top 40
    .venv/bin/python bench/profile_ingest.py --batches 0 --broker redis://127.0.0.1:6379/7 --apply-batch 30
        # deferred single events: the requests without the applier, then the applier alone
    .venv/bin/python bench/profile_ingest.py --batches 0 --broker redis://127.0.0.1:6379/7 --cpu-rounds 8
        # no profiler: CPU per single-event request (time.process_time) in rounds of --round-size
    .venv/bin/python bench/profile_ingest.py --batches 0 --broker redis://127.0.0.1:6379/7 --apply-sizes 1,30,100
        # statements by phase, CPU and wall time per micro-batch of 1, 30 and 100 events (no profiler)
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import queue
import random
import sys
import threading
import time
from collections import defaultdict
from typing import Any

from _common import ROOT, drop_database, issue_token, log, migrate, portal_env, recreate_database, run_name
from ingest import EventStream, Pool


class SqlTally:
    """A Django execute wrapper that counts statements and their wall time, grouped by their first words (with
    ``by_phase``: by the project function that sent them, ``module.function:line``, and their first two words)."""

    def __init__(self, by_phase: bool = False) -> None:
        self.count: dict[str, int] = defaultdict(int)
        self.copies: dict[str, int] = defaultdict(int)
        self.seconds: dict[str, float] = defaultdict(float)
        self.by_phase = by_phase

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        words = sql.split()
        key = (_phase() + "  " + " ".join(words[:2])[:40]) if self.by_phase else " ".join(words[:4])[:60]
        key += " [many]" if many else ""
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count[key] += 1
            self.seconds[key] += time.perf_counter() - t0

    def report(self, wall: float) -> None:
        total = sum(self.seconds.values())
        log(f"  SQL: {sum(self.count.values()):,} statements, {total:.2f}s of {wall:.2f}s wall "
            f"({100 * total / wall:.0f}%; includes the server's work and the round trip)")
        for key in sorted(self.seconds, key=self.seconds.get, reverse=True)[:10]:
            log(f"    {self.seconds[key]:7.3f}s {self.count[key]:7,}x  {key}")


_OWN = (os.sep + "lineage" + os.sep, os.sep + "portal" + os.sep)


def _phase() -> str:
    """The innermost project frame outside ``portal/lib`` that led to this statement: ``module.function:line``."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if any(d in name for d in _OWN) and os.sep + "lib" + os.sep not in name and ".venv" not in name:
            module = os.path.splitext(os.path.basename(name))[0]
            return f"{module}.{frame.f_code.co_name}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


def apply_sizes(sizes: list[int], rounds: int) -> None:
    """Apply the waiting events ``rounds`` micro-batches of each size (``lineage_apply_pending(max_batches=1)``, as
    the ingest worker's loop takes them), without a profiler: statements per batch by phase, and the process's CPU
    (``time.process_time``) and wall time per batch."""
    from django.db import connection

    from lineage.services import lineage_apply_pending
    from portal.lib import sql

    copy = sql._copy

    def counted_copy(cur: Any, stage: str, columns: Any, rows: Any) -> None:  # COPY bypasses the execute wrapper
        key = _phase() + "  COPY"
        t0 = time.perf_counter()
        try:
            copy(cur, stage, columns, rows)
        finally:
            tally.copies[key] += 1
            tally.seconds[key] += time.perf_counter() - t0

    sql._copy = counted_copy
    for size in sizes:
        tally = SqlTally(by_phase=True)
        cpu: list[float] = []
        wall: list[float] = []
        applied = 0
        with connection.execute_wrapper(tally):
            for _ in range(rounds):
                c0, w0 = time.process_time(), time.perf_counter()
                count = lineage_apply_pending(batch_size=size, max_batches=1)
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
                applied += count.applied
        n = sum(tally.count.values())
        copies = sum(tally.copies.values())
        cpu.sort()
        wall.sort()
        log(f"\n== micro-batches of {size}: {rounds} batches, {applied} events; {n / rounds:.1f} statements and "
            f"{copies / rounds:.1f} COPY per batch; "
            f"CPU per batch median {1000 * cpu[len(cpu) // 2]:.1f} ms (min {1000 * cpu[0]:.1f}, max "
            f"{1000 * cpu[-1]:.1f}), {1000 * sum(cpu) / max(applied, 1):.2f} ms per event; wall median "
            f"{1000 * wall[len(wall) // 2]:.1f} ms; SQL {1000 * sum(tally.seconds.values()) / rounds:.1f} ms per "
            f"batch (COPY included; statements exclude COPY, BEGIN and COMMIT) ==")
        for key in sorted(tally.seconds):
            n_key = tally.count.get(key) or tally.copies.get(key, 0)
            log(f"    {n_key / rounds:5.1f}  {1000 * tally.seconds[key] / rounds:6.1f} ms  {key}")
    sql._copy = copy


def profile(label: str, fn: Any, top: int, dump: str = "", threads: int = 1) -> None:
    """Profile ``fn`` (returns the events it posted); with ``threads`` > 1, that many threads run it at once,
    each under its own profiler and SQL tally, and the figures are added up."""
    from django.db import connection

    tally = SqlTally()
    profs: list[cProfile.Profile] = []
    done: list[int] = []

    def run() -> None:
        prof = cProfile.Profile()
        try:
            with connection.execute_wrapper(tally):
                prof.enable()
                done.append(fn())
                prof.disable()
        finally:
            profs.append(prof)
            if threads > 1:
                connection.close()

    t0 = time.perf_counter()
    if threads == 1:
        run()
    else:
        workers = [threading.Thread(target=run) for _ in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    wall = time.perf_counter() - t0
    n = sum(done)
    prof = pstats.Stats(profs[0])
    for other in profs[1:]:
        prof.add(other)
    log(f"\n== {label}: {n:,} events in {wall:.2f}s in-process = {n / wall:,.0f} events/s (one process, "
        f"{threads} thread(s), under cProfile, which slows Python code ~1.5-2x) ==")
    tally.report(wall)
    if dump:
        prof.dump_stats(dump)
        log(f"  profile written to {dump} (python -m pstats {dump})")
    for sort in ("cumulative", "tottime"):
        out = io.StringIO()
        prof.stream = out  # type: ignore[attr-defined]
        prof.strip_dirs().sort_stats(sort).print_stats(top)
        log(f"  -- top {top} by {sort} --")
        log("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


def cpu_rounds(args: Any, stream: EventStream, client_new: Any) -> None:
    """CPU and wall per single-event request, no profiler, in rounds (``--toggle`` flips an attribute each round)."""
    import importlib

    from django.db import connection

    client = client_new()
    toggled: tuple[Any, str, list[Any]] | None = None
    if args.toggle:  # module:attr or module:object.attr
        mod, path = args.toggle.split(":")
        owner: Any = importlib.import_module(mod)
        *objects, attr = path.split(".")
        for name in objects:
            owner = getattr(owner, name)
        original = getattr(owner, attr)
        # a flag set on and off, or a check kept and replaced by one answering False
        toggled = (owner, attr, [True, False] if isinstance(original, bool) else [original, lambda *a, **k: False])

    def post_from(own: Any, bodies: list[bytes]) -> None:
        for body in bodies:
            resp = own.post("/api/v1/lineage", body, content_type="application/json")
            if resp.status_code not in (200, 201):
                raise RuntimeError(f"HTTP {resp.status_code}: {resp.content[:500]!r}")

    # --single-threads > 1: that many threads kept for every round (each its client and connection, so no round
    # pays for connecting), each posting its share of a round's bodies at once; they form groups.
    feeds: list[queue.Queue[list[bytes] | None]] = [queue.Queue() for _ in range(args.single_threads)]
    done: queue.Queue[BaseException | None] = queue.Queue()

    def poster(feed: queue.Queue[list[bytes] | None]) -> None:
        own = client_new()
        try:
            while (bodies := feed.get()) is not None:
                try:
                    post_from(own, bodies)
                    done.put(None)
                except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                    done.put(exc)
        finally:
            connection.close()

    posters = [threading.Thread(target=poster, args=(f,), daemon=True) for f in feeds[1:]]
    for t in posters:
        t.start()

    def post(bodies: list[bytes]) -> None:
        n = args.single_threads
        for i, feed in enumerate(feeds[1:], start=1):
            feed.put(bodies[i::n])
        post_from(client, bodies[0::n])  # this thread is one of them
        for _ in feeds[1:]:
            if (exc := done.get()) is not None:
                raise exc

    post(stream.take(100))  # warm-up
    log(f"\n== POST /api/v1/lineage, {args.cpu_rounds} rounds of {args.round_size} from {args.single_threads} "
        f"thread(s), no profiler (code: {args.code or ROOT}; load {os.getloadavg()[0]:.1f}) ==")
    per: dict[str, list[float]] = defaultdict(list)
    rng = random.Random(args.cpu_rounds)
    order = [side for _ in range(args.cpu_rounds // 2 + 1) for side in rng.choice([(0, 1), (1, 0)])]
    for r in range(args.cpu_rounds):
        label = "-"
        if toggled is not None:  # pairs of rounds, on then off or off then on at random (so nothing periodic
            state = order[r]      # sides with one of them)
            setattr(toggled[0], toggled[1], toggled[2][state])
            label = f"{toggled[1]} {'off' if state else 'on'}"
        bodies = stream.take(args.round_size)
        gc.collect()  # a full collection falls outside the rounds, not in some of them
        w0, c0 = time.perf_counter(), time.process_time()
        post(bodies)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        per[label].append(1000 * cpu / len(bodies))
        log(f"  round {r + 1:2}  {label:24} CPU {1000 * cpu / len(bodies):.3f} ms/request, wall "
            f"{1000 * wall / len(bodies):.3f} ms/request, load {os.getloadavg()[0]:.1f}")
    for feed in feeds[1:]:
        feed.put(None)
    if toggled is not None:
        on, off = (per[f"{toggled[1]} {k}"] for k in ("on", "off"))
        diffs = sorted(b - a for a, b in zip(on, off, strict=False))  # the two rounds of each pair, in run order
        log(f"  off - on, round pairs: median {diffs[len(diffs) // 2]:+.3f} ms/request, range {diffs[0]:+.3f} "
            f"to {diffs[-1]:+.3f} ({len(diffs)} pairs)")
        setattr(toggled[0], toggled[1], toggled[2][0])
    for label, values in per.items():
        values.sort()
        log(f"  {label:24} CPU ms/request: median {values[len(values) // 2]:.3f}, min {values[0]:.3f}, "
            f"max {values[-1]:.3f} ({len(values)} rounds)")
    tally = SqlTally()
    bodies = stream.take(args.round_size)
    with connection.execute_wrapper(tally):
        post_from(client, bodies)  # from this thread: the wrapper sees this thread's connection only
    log(f"  SQL statements per request (Django's cursor, one more round from one thread): "
        f"{sum(tally.count.values()) / len(bodies):.2f}")
    for key in sorted(tally.count, key=tally.count.get, reverse=True)[:10]:
        log(f"    {tally.count[key] / len(bodies):5.2f}  {key}")
    if args.single_threads > 1:
        from lineage.intake import intake_stats

        st = intake_stats()
        log(f"  groups (lineage/intake.py), all rounds: {st.groups:,} for {st.events:,} events, mean "
            f"{st.events / max(st.groups, 1):.1f}, largest {st.largest}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--single-events", type=int, default=1000)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--single-threads", type=int, default=1, help="post single events from this many threads at "
                   "once (they form groups, lineage/intake.py); each posts --single-events / threads")
    p.add_argument("--audit-sequencer", choices=["service", "inline"], default="service",
                   help="service (default, as in production): requests only append pending audit entries")
    p.add_argument("--db", default=run_name("lineage_bench_profile"))
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--pstats", default="", help="also write the batch profile to this file (for pstats)")
    p.add_argument("--broker", default="", help="a Redis broker URL (no worker is started): deferred single events "
                   "are then only appended and enqueued, so the applier stays out of the profile (without it Celery "
                   "runs eagerly and each request applies inline)")
    p.add_argument("--single-pstats", default="", help="also write the single-event profile to this file")
    p.add_argument("--apply-batch", type=int, default=0, help="with --broker: then profile applying the events the "
                   "single run left waiting (lineage_apply_pending), this many per micro-batch, as the ingest worker")
    p.add_argument("--cpu-rounds", type=int, default=0, help="instead of profiling the single events: this many "
                   "rounds of --round-size requests without a profiler, printing CPU (time.process_time) and wall "
                   "per request for each round, and the SQL statements per request of one more round")
    p.add_argument("--round-size", type=int, default=300)
    p.add_argument("--toggle", default="", help="with --cpu-rounds: MODULE:ATTR or MODULE:OBJECT.ATTR (e.g. "
                   "django.conf:settings.LINEAGE_INGEST_GROUP): a flag set on and off, or a function kept and "
                   "replaced by one answering False, in pairs of rounds in random order (A/B in one process)")
    p.add_argument("--code", default="", help="import the portal from this checkout instead of this script's (the "
                   "same measurement of another version; migrations still run from this one)")
    p.add_argument("--apply-sizes", default="", help="with --broker: first apply the waiting events in micro-batches "
                   "of these sizes (comma-separated, e.g. 1,30,100), --apply-rounds batches each, without a profiler: "
                   "statements per batch by phase, CPU and wall time per batch")
    p.add_argument("--apply-rounds", type=int, default=5)
    args = p.parse_args()

    recreate_database(args.db)
    try:
        migrate(args.db)
        token = issue_token(args.db, "benchsvc", "ingestor")
        # The same environment as the benchmarks' gunicorn, so the audit key and checkpoints of this throwaway
        # database stay out of var/ (a checkpoint of an earlier run made every after-commit step fail).
        os.environ.update(portal_env(args.db, PORTAL_AUDIT_SEQUENCER=args.audit_sequencer))
        if args.broker:
            os.environ.update({"CELERY_BROKER_URL": args.broker, "CELERY_KEY_PREFIX": f"{args.db}:",
                               "CELERY_TASK_DEFAULT_QUEUE": f"{args.db}-default"})
        sys.path.insert(0, args.code or str(ROOT))
        import django

        django.setup()
        from django.test import Client

        client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
        pool = Pool(datasets=3000, sources=200)
        stream = EventStream(pool, seed=4242)

        def post_batch(n: int) -> None:
            body = b"[" + b",".join(stream.take(n)) + b"]"
            resp = client.post("/api/v1/lineage/batch", body, content_type="application/json")
            if resp.status_code != 200:
                raise RuntimeError(f"HTTP {resp.status_code}: {resp.content[:500]!r}")

        for _ in range(4):  # warm-up: imports, connection, a graph to merge into
            post_batch(args.batch_size)

        def batches() -> int:
            for _ in range(args.batches):
                post_batch(args.batch_size)
            return args.batches * args.batch_size

        per_thread = args.single_events // args.single_threads
        bodies = iter([stream.take(per_thread) for _ in range(args.single_threads)])
        take = threading.Lock()

        def singles() -> int:
            with take:
                mine = next(bodies)
            own = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
            for body in mine:
                resp = own.post("/api/v1/lineage", body, content_type="application/json")
                if resp.status_code not in (200, 201):
                    raise RuntimeError(f"HTTP {resp.status_code}: {resp.content[:500]!r}")
            return len(mine)

        if args.batches:
            profile(f"POST /api/v1/lineage/batch x {args.batches} (batches of {args.batch_size})", batches,
                    args.top, args.pstats)
        if args.cpu_rounds:
            cpu_rounds(args, stream, lambda: Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}"))
        else:
            profile("POST /api/v1/lineage (one event per request)", singles, args.top, args.single_pstats,
                    threads=args.single_threads)
        if args.broker and args.apply_sizes:
            apply_sizes([int(n) for n in args.apply_sizes.split(",")], args.apply_rounds)
        if args.broker and args.apply_batch:
            from lineage.services import lineage_apply_pending

            def apply() -> int:
                count = lineage_apply_pending(batch_size=args.apply_batch)
                log(f"  {count.line()}")
                return count.applied

            profile(f"lineage_apply_pending, micro-batches of {args.apply_batch} (the ingest worker's task)", apply,
                    args.top)
        if args.single_threads > 1:
            from lineage.intake import intake_stats

            st = intake_stats()
            log(f"  groups (lineage/intake.py): {st.groups:,} for {st.events:,} events, mean "
                f"{st.events / max(st.groups, 1):.1f}, largest {st.largest}; sizes {dict(sorted(st.sizes.items()))}")
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not args.keep_db:
            drop_database(args.db)


if __name__ == "__main__":
    main()
