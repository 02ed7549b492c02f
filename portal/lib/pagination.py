"""The API's one pagination: limit and offset, bounded, refused with a 400 naming the parameter when out of range.

DRF's ``LimitOffsetPagination`` has no upper bound by default and silently ignores a malformed value;
``?limit=1000000`` once answered a million rows. The bound is ``PORTAL_API_MAX_PAGE_SIZE`` and it is stated in
the OpenAPI schema (``page_parameters``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

from portal.lib.errors import FieldError

# Deep offsets make the database skip that many rows: bounded as well.
MAX_OFFSET = 1_000_000


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """A query parameter that must be an integer within [low, high]: a 400 naming it otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise FieldError(name, "must be an integer") from exc
    if not low <= value <= high:
        raise FieldError(name, f"must be between {low} and {high}")
    return value


def bounded_int_parameter(name: str, *, low: int, high: int, description: str = "") -> OpenApiParameter:
    """The schema of an integer query parameter with its bounds, for ``extend_schema(parameters=…)``."""
    return OpenApiParameter(name, {"type": "integer", "minimum": low, "maximum": high}, description=description)


def page_parameters() -> list[OpenApiParameter]:
    high = settings.PORTAL_API_MAX_PAGE_SIZE
    return [
        bounded_int_parameter("limit", low=1, high=high, description=f"Results per page (default "
                              f"{settings.REST_FRAMEWORK['PAGE_SIZE']}, at most {high})."),
        bounded_int_parameter("offset", low=0, high=MAX_OFFSET, description="Results to skip."),
    ]


class BoundedPagination(LimitOffsetPagination):
    """``LimitOffsetPagination`` whose limit and offset are bounded and validated (the API's default)."""

    def get_limit(self, request: Request) -> int:
        return int_param(request, self.limit_query_param, int(str(settings.REST_FRAMEWORK["PAGE_SIZE"])), 1,
                         settings.PORTAL_API_MAX_PAGE_SIZE)

    def get_offset(self, request: Request) -> int:
        return int_param(request, self.offset_query_param, 0, 0, MAX_OFFSET)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params = super().get_schema_operation_parameters(view)
        for p in params:
            if p["name"] == self.limit_query_param:
                p["schema"].update(minimum=1, maximum=settings.PORTAL_API_MAX_PAGE_SIZE)
            elif p["name"] == self.offset_query_param:
                p["schema"].update(minimum=0, maximum=MAX_OFFSET)
        return params
