"""The suite's copies of the shared test data (tests/data) are identical to ../shared when it is present."""

from __future__ import annotations

import pytest

from tests.conftest import CONTROL_CATALOG, EVENTS_DIR, OPENLINEAGE_SPEC, SHARED_ORIGINAL

PAIRS = [(OPENLINEAGE_SPEC, SHARED_ORIGINAL / "openlineage" / "spec" / "OpenLineage.json"),
         (CONTROL_CATALOG, SHARED_ORIGINAL / "compliance" / "controls.md")]


def test_the_copies_match_the_shared_folder() -> None:
    if not SHARED_ORIGINAL.is_dir():
        pytest.skip(f"no shared folder at {SHARED_ORIGINAL}: the copies in tests/data are used as they are")
    originals = sorted((SHARED_ORIGINAL / "openlineage" / "events").glob("*.json"))
    assert [p.name for p in sorted(EVENTS_DIR.glob("*.json"))] == [p.name for p in originals]
    pairs = PAIRS + [(EVENTS_DIR / p.name, p) for p in originals]
    assert [c.name for c, o in pairs if c.read_bytes() != o.read_bytes()] == []
