"""The one guard for JSON the portal parses from a request: bounded nesting, a 400 instead of a crash.

Python's json module recurses once per nesting level, so ``[[[[…]]]]`` 100,000 deep overflows the interpreter's
stack (a ``RecursionError``, which every caller treated as a 500). Legitimate bodies are a few levels deep;
anything deeper than ``PORTAL_JSON_MAX_DEPTH`` is refused before any view or serializer sees it, so no later
recursive walk (validation, the audit payload, rendering) meets it either.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework.parsers import JSONParser

from portal.lib.errors import FieldError


def json_depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value (a scalar is 0, ``[]`` is 1), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            depth += 1
            stack.extend((v, depth) for v in item.values())
        elif isinstance(item, list):
            depth += 1
            stack.extend((v, depth) for v in item)
        deepest = max(deepest, depth)
    return deepest


def json_loads_bounded(data: str | bytes, *, field: str = "body") -> Any:
    """``json.loads`` that refuses nesting deeper than ``PORTAL_JSON_MAX_DEPTH`` with a ``FieldError`` on
    ``field``; malformed JSON is a ``ValueError`` as before."""
    limit = settings.PORTAL_JSON_MAX_DEPTH
    message = f"JSON nested deeper than {limit} levels is not accepted."
    try:
        value = json.loads(data)
    except RecursionError:
        raise FieldError(field, message) from None
    if json_depth(value) > limit:
        raise FieldError(field, message)
    return value


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with the nesting bound: the API's default parser (``REST_FRAMEWORK``)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
              ) -> Any:
        from rest_framework.exceptions import ParseError

        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json_loads_bounded(stream.read().decode(encoding))
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
