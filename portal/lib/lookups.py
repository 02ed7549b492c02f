"""``field__in_array=values``: one array parameter on PostgreSQL instead of thousands of placeholders.

``IN (%s, %s, ...)`` over thousands of values makes a statement psycopg splits on the client every time (long
statements are not cached) and PostgreSQL parses whole. ``= ANY(%s)`` is one short statement whatever the count.
Elsewhere (SQLite) it is the ordinary ``IN``. Registered on every field by ``lineage.apps``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models.lookups import In


class InArray(In):
    lookup_name = "in_array"

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        if not self.rhs_is_direct_value():
            return super().as_sql(compiler, connection)  # type: ignore[no-any-return]
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(dict.fromkeys(v for v in self.rhs if v is not None))
        if not values:
            raise EmptyResultSet
        return f"{lhs} = ANY(%s)", (*lhs_params, values)
