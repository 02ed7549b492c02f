"""Small pure helpers the importers share: times, producers, facets, JSON. No ORM."""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PRODUCER_BASE = "https://lineage-portal.example/importers"
FACET_SCHEMA_BASE = "https://lineage-portal.example/spec/facets/1-0-0"
OL_SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
OL_FACETS = "https://openlineage.io/spec/facets"


def ms_time(ms: int | float) -> datetime:
    """A millisecond epoch timestamp (MLflow's unit) as an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def facet(producer: str, schema: str, /, **fields: Any) -> dict[str, Any]:
    """A custom facet with the ``_producer`` and ``_schemaURL`` every facet must carry."""
    return {"_producer": producer, "_schemaURL": f"{FACET_SCHEMA_BASE}/{schema}.json", **fields}


def std_facet(producer: str, path: str, /, **fields: Any) -> dict[str, Any]:
    """A standard OpenLineage facet (``path`` like ``1-1-1/SchemaDatasetFacet.json``)."""
    return {"_producer": producer, "_schemaURL": f"{OL_FACETS}/{path}", **fields}


def number(value: Any) -> Any:
    """JSON has no NaN or infinity: those become strings ("nan", "inf"), as MLflow prints them."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def dumps(value: Any) -> bytes:
    """Canonical JSON bytes: the same record maps to the same bytes on every import."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def digest(value: Any) -> str:
    return hashlib.sha256(dumps(value)).hexdigest()


def without_credentials(uri: str) -> str:
    """A URI fit to store and show: user, password, query and fragment dropped (tokens hide there)."""
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc:
        return uri.split("?", 1)[0]
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def location(uri: str) -> tuple[str, str] | None:
    """OpenLineage dataset naming for a URI: (``scheme://authority``, path), ``file`` for local paths."""
    uri = uri.strip()
    if not uri:
        return None
    parts = urlsplit(uri)
    if parts.scheme in ("", "file"):
        path = parts.path or uri
        return "file", path
    if parts.netloc:
        name = parts.path.lstrip("/")
        return f"{parts.scheme}://{parts.netloc}", name or "/"
    return parts.scheme, parts.path or uri


_AGO = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since_parse(text: str, now: datetime) -> datetime:
    """``--since``: an ISO 8601 time (UTC when it has no zone) or a look-back such as ``30m``, ``24h``, ``7d``."""
    m = _AGO.match(text)
    if m:
        return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 time or a look-back like 24h or 7d: {text!r}") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)
