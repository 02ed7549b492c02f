"""Fixtures shared by the lineage tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from django.db import connection

Poison = Callable[..., AbstractContextManager[None]]


@pytest.fixture
def poison() -> Poison:
    """``with poison(table=..., column=...):`` inserting a row of ``table`` whose ``column`` is 'poison' raises
    'poisoned event' (a PL/pgSQL trigger; the test is skipped on other databases), so one event of a batch or a group
    fails in the database while the others go through. The trigger is dropped when the block ends."""
    if connection.vendor != "postgresql":
        pytest.skip("the poisoning trigger is PL/pgSQL")

    @contextmanager
    def poisoned(*, table: str, column: str) -> Iterator[None]:
        with connection.cursor() as cur:
            cur.execute(f"""
                CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.{column} = 'poison' THEN RAISE EXCEPTION 'poisoned event'; END IF;
                  RETURN NEW;
                END $$;
                CREATE TRIGGER test_poison BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION test_poison();
            """)
        try:
            yield
        finally:
            with connection.cursor() as cur:
                cur.execute(f"DROP TRIGGER test_poison ON {table}; DROP FUNCTION test_poison()")

    return poisoned
