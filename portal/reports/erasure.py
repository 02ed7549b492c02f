"""GDPR Art. 17 erasure impact as CSV. The impact itself is a lineage read (``lineage.selectors.erasure_impact``);
the PDF draws it in ``pdf/erasure.py``.
"""

from __future__ import annotations

import csv
import io
from typing import Any


def erasure_csv(erasure: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["kind", "node_id", "name", "namespace", "active_deployments", "path"])
    for a in erasure["affected"]:
        w.writerow([a["kind"], _csv_safe(a["node_id"]), _csv_safe(a["name"]), _csv_safe(a["namespace"]),
                    " ; ".join(_csv_safe(x) for x in a["active_deployments"]),
                    " > ".join(_csv_safe(x) for x in a["path"])])
    return out.getvalue()


def _csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas in user data (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
