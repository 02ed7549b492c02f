"""The documented canonical JSON (verifier.py, rule 1), fast: msgspec where it is byte-identical to the rule.

``msgspec.json`` with sorted keys writes strings, integers, ``null``, objects and arrays exactly as
``json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` does (tests/audit/test_canonical.py
checks every code point and random documents). Floats are the exception (``1e16`` vs ``1e+16``), so a payload
text that might hold a float, or that does not re-encode to itself, takes the standard-library path. The result
is always the bytes rule 1 gives; only the speed differs.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from .verifier import canonical


def _no_float(text: str) -> Any:
    raise ValueError("a float: the standard library writes floats differently")


_encode = msgspec.json.Encoder(order="sorted").encode
_decode_no_float = msgspec.json.Decoder(float_hook=_no_float).decode


def payload_bytes(text: str) -> bytes:
    """Canonical bytes of the JSON value stored as ``text``: ``canonical(json.loads(text))``.

    Fast when ``text`` is already canonical and holds no float (what the portal stores); otherwise the rule itself.
    """
    raw = text.encode()
    try:
        if _encode(_decode_no_float(raw)) == raw:
            return raw
    except (msgspec.DecodeError, msgspec.EncodeError, OverflowError, ValueError):
        pass
    return canonical(json.loads(text))


def _entry(seq: int, time: str, actor_id: int | None, actor_name: str, token: str, action: str, kind: str,
           target: str, payload: str, request_id: str, client: str) -> dict[str, Any]:
    return {"seq": seq, "time": time, "actor": {"id": actor_id, "name": actor_name, "token": token},
            "action": action, "target": {"kind": kind, "id": target},
            "payload": msgspec.Raw(payload_bytes(payload)), "request_id": request_id, "client": client}


def entry_bytes(*row: Any) -> bytes:
    """``canonical(entry)`` (rule 2) from a row's first 11 columns (seq ... client), the time as its signed text
    and ``payload`` as the stored JSON text."""
    return _encode(_entry(*row))


def export_line(row: tuple[Any, ...]) -> bytes:
    """One line of ``entries.jsonl``: the entry with its ``prev_hash`` and ``entry_hash``, canonical JSON."""
    entry = _entry(*row[:11])
    entry["prev_hash"], entry["entry_hash"] = row[11], row[12]
    return _encode(entry) + b"\n"
