"""The fast canonical JSON (msgspec) gives exactly the bytes of the documented rule (json.dumps), always."""

from __future__ import annotations

import json

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.audit.canonical import _encode, entry_bytes, export_line, payload_bytes
from portal.audit.verifier import canonical

# JSON values as the portal stores them; floats are included to show they take the slow path correctly.
scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text() | st.floats(
    allow_nan=False, allow_infinity=False)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner,
                                                                                          max_size=4), max_leaves=12)


def test_every_code_point_is_escaped_as_the_standard_library_does() -> None:
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:  # lone surrogates cannot be UTF-8: both sides refuse them
            continue
        s = f"a{chr(cp)}\\"
        assert _encode(s) == json.dumps(s, ensure_ascii=False).encode(), hex(cp)


@settings(max_examples=400, deadline=None)
@given(values)
def test_payload_bytes_is_the_canonical_form_of_any_stored_text(value: object) -> None:
    want = canonical(value)
    assert payload_bytes(want.decode()) == want
    assert payload_bytes(json.dumps(value, indent=1)) == want  # not canonical as stored: still the rule's bytes


def test_texts_that_differ_from_the_rule_take_the_standard_library_path() -> None:
    assert payload_bytes('{"x":1e16}') == b'{"x":1e+16}'  # msgspec would keep 1e16
    assert payload_bytes('{"a":1,"a":2}') == b'{"a":2}'
    assert payload_bytes('{"b": 1, "a": [1.50, "\\u00e9"]}') == '{"a":[1.5,"é"],"b":1}'.encode()
    assert payload_bytes(str(2**80)) == str(2**80).encode()


@settings(max_examples=300, deadline=None)
@given(seq=st.integers(1, 2**62), actor_id=st.none() | st.integers(1, 2**62), strings=st.lists(st.text(), min_size=7,
       max_size=7), payload=values)
def test_entry_bytes_and_export_lines_match_the_rule(seq: int, actor_id: int | None, strings: list[str],
                                                     payload: object) -> None:
    name, token, action, kind, target, rid, client = strings
    time = "2026-12-06T11:00:00.000001Z"
    entry = {"seq": seq, "time": time, "actor": {"id": actor_id, "name": name, "token": token}, "action": action,
             "target": {"kind": kind, "id": target}, "payload": payload, "request_id": rid, "client": client}
    row = (seq, time, actor_id, name, token, action, kind, target, json.dumps(payload), rid, client, "a" * 64,
           "b" * 64)
    assert entry_bytes(*row[:11]) == canonical(entry)
    assert export_line(row) == canonical({**entry, "prev_hash": "a" * 64, "entry_hash": "b" * 64}) + b"\n"
    assert msgspec.json.decode(export_line(row))["seq"] == seq
