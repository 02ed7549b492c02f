"""Layout quality benchmark: edge crossings and overlapping boxes of the explorer's layout (lineage/layout.py).

Measured on every model version and deployment of the demo organisation (the graph the explorer draws around
each at the default depth, 5) and on two 300-node graphs: a shuffled random layered DAG and the wide fan-out
of the browser test (one table read by 200 jobs). Each layout is printed beside the **baseline measured in the
same run**: the layout as it was before the crossing reduction work (``lineage/layout.py`` at commit
``BASELINE_COMMIT``, loaded from git), on the same graphs.

"Crossings" are what a reader sees: ``lineage.layout.drawn_crossings``, the edges drawn as straight lines
between the placed nodes, long edges included. "Overlaps" counts pairs of node boxes (the explorer's
228x48 boxes on the server's grid) that intersect; it must be 0.

    .venv/bin/python bench/layout.py            # ~1 min: creates, migrates and drops its own database

Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import types
from collections.abc import Hashable
from typing import Any

from _common import ROOT, database_url, drop_database, log, machine_line, manage, migrate, recreate_database, run_name

BASELINE_COMMIT = "b74729a"
BOX_W, BOX_H = 228.0, 48.0  # the explorer's box, drawn on the grid the graph API uses (220 x 60 per step)


def baseline_module() -> Any:
    src = subprocess.run(["git", "show", f"{BASELINE_COMMIT}:lineage/layout.py"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    module = types.ModuleType("lineage.layout_baseline")
    module.__package__ = "lineage"
    sys.modules[module.__name__] = module
    exec(compile(src, f"{BASELINE_COMMIT}:lineage/layout.py", "exec"), module.__dict__)  # noqa: S102 - our own file
    return module


def overlaps(result: Any, column: float = 288.0, row: float = 66.0) -> int:
    """Box pairs that intersect when the explorer draws the layout left to right (its denser orientation)."""
    boxes = [(p.x / 220.0 * column, p.y / 60.0 * row) for p in result.positions.values()]
    boxes.sort()
    count = 0
    for i, (x1, y1) in enumerate(boxes):
        for x2, y2 in boxes[i + 1:]:
            if x2 - x1 >= BOX_W:
                break
            if abs(y2 - y1) < BOX_H:
                count += 1
    return count


def random_layered(seed: int = 7) -> tuple[list[Hashable], list[tuple[Hashable, Hashable]]]:
    rnd = random.Random(seed)
    layers = [[f"n{li}_{i}" for i in range(30)] for li in range(10)]
    edges = []
    for li in range(1, 10):
        for n in layers[li]:
            for _ in range(rnd.randint(1, 3)):
                edges.append((rnd.choice(layers[max(0, li - rnd.choice([1, 1, 1, 2, 3]))]), n))
    nodes: list[Hashable] = [n for layer in layers for n in layer]
    rnd.shuffle(nodes)
    return nodes, list(dict.fromkeys(edges))


def fan_out() -> tuple[list[Hashable], list[tuple[Hashable, Hashable]]]:
    nodes: list[Hashable] = ["source", "source#v"]
    edges: list[tuple[Hashable, Hashable]] = [("source", "source#v")]
    for i in range(74):
        job, run, out = f"fan_{i}", f"fan_{i}·run", f"out_{i}#v"
        nodes += [job, run, out, f"out_{i}"]
        edges += [("source#v", run), (job, run), (run, out), (f"out_{i}", out)]
    return nodes[:300], edges


def demo_graphs(db: str) -> dict[str, tuple[list[Hashable], list[tuple[Hashable, Hashable]]]]:
    os.environ.update({"DATABASE_URL": database_url(db), "DJANGO_SETTINGS_MODULE": "portal.settings",
                       "PORTAL_AUDIT_KEY": f"/tmp/{db}-audit-key.pem",
                       "PORTAL_AUDIT_CHECKPOINT_DIR": f"/tmp/{db}-checkpoints"})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from lineage import selectors
    from lineage.api.graph import GRAPH_DEFAULT_DEPTH, GRAPH_DEFAULT_NODES
    from lineage.models import Node

    officer = get_user_model().objects.get(username="sam.okafor")
    out = {}
    for node in Node.objects.filter(kind__in=["modelVersion", "deployment"]).order_by("node_id"):
        sub = selectors.lineage_graph(user=officer, node=node, depth=GRAPH_DEFAULT_DEPTH,
                                      directions=("upstream", "downstream"), max_nodes=GRAPH_DEFAULT_NODES,
                                      expand=[])
        out[node.node_id] = (list(sub.nodes), [(s, d) for s, d, _ in sub.edges])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=run_name("lineage_bench_layout"))
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    log(machine_line())
    recreate_database(args.db)
    try:
        migrate(args.db)
        manage(args.db, "load_demo")
        graphs = demo_graphs(args.db)
    finally:
        if not args.keep_db:
            drop_database(args.db)
    graphs["random layered DAG, shuffled (300 nodes)"] = random_layered()
    graphs["fan-out of the browser test (300 nodes)"] = fan_out()

    from lineage.layout import drawn_crossings, layout

    old = baseline_module()
    log(f"{'graph':58} {'nodes':>5} {'edges':>5} | {'crossings before':>16} {'after':>6} | overlaps "
        f"before/after | ms before/after")
    totals = [0, 0]
    for name, (nodes, edges) in graphs.items():
        t0 = time.perf_counter()
        before = old.layout(nodes, edges)
        t1 = time.perf_counter()
        after = layout(nodes, edges)
        t2 = time.perf_counter()
        cb, ca = drawn_crossings(before, edges), drawn_crossings(after, edges)
        totals[0] += cb
        totals[1] += ca
        log(f"{name[:58]:58} {len(nodes):5} {len(edges):5} | {cb:16} {ca:6} | {overlaps(before):5} / "
            f"{overlaps(after):<5} | {1000 * (t1 - t0):6.1f} / {1000 * (t2 - t1):6.1f}")
    log(f"total crossings: before {totals[0]}, after {totals[1]} (ratio {totals[1] / max(1, totals[0]):.2f})")


if __name__ == "__main__":
    main()
