"""One error shape for the whole API, and the mapping of domain errors to HTTP.

Every 4xx/5xx body is::

    {"detail": "<summary>", "errors": [{"field": "<dotted path or null>", "message": "<problem>"}]}
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.dateparse import parse_datetime
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class FieldError(Exception):
    """A problem with one field of the caller's input."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class DomainError(Exception):
    """A business rule refused the request. `status_code` says how the API answers; `extra` adds keys to the
    API's error body (such as where to go to be able to retry)."""

    status_code = 400
    extra: dict[str, Any] = {}

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class TooLarge(DomainError):
    """The request is over a size limit: 413, naming what was too large."""

    status_code = 413


def error_body(detail: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"detail": detail, "errors": errors or []}


def flatten_errors(data: Any, prefix: str = "") -> list[dict[str, Any]]:
    """DRF's nested ValidationError detail as a flat list of {field, message}."""
    out: list[dict[str, Any]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            name = "" if key == "non_field_errors" else str(key)
            out.extend(flatten_errors(value, f"{prefix}.{name}" if prefix and name else (name or prefix)))
    elif isinstance(data, list):
        if all(not isinstance(v, dict | list) for v in data):
            out.extend({"field": prefix or None, "message": str(v)} for v in data)
        else:
            for i, value in enumerate(data):
                out.extend(flatten_errors(value, f"{prefix}[{i}]"))
    else:
        out.append({"field": prefix or None, "message": str(data)})
    return out


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, FieldError):
        return Response(error_body(str(exc), [{"field": exc.field, "message": exc.message}]), status=400)
    if isinstance(exc, DomainError):
        return Response(
            {**error_body(exc.message, [{"field": exc.field, "message": exc.message}]), **exc.extra},
            status=exc.status_code,
        )
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is unreachable: a temporary condition; clients such as openlineage-python retry 503.
        logger.warning("database unavailable: %s", exc)
        resp = Response(error_body("The database is temporarily unavailable; retry later."), status=503)
        resp["Retry-After"] = "5"
        return resp
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        summary = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
        return Response(error_body(summary or "Invalid input.", errors), status=400)
    # Imported here: rest_framework.views loads the authentication classes, whose services raise errors from here.
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    if response is not None:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else str(response.data)
        response.data = error_body(str(detail))
        return response
    if isinstance(exc, DatabaseError):
        logger.exception("database error")
        return Response(error_body("Internal database error."), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return None


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: a URL under /api/ that matches no route (``/api/v1/releases/-1``) answers the API's error
    shape, not the HTML page."""
    if _is_api(request):
        return JsonResponse(error_body("Not found."), status=404)
    return defaults.page_not_found(request, exception)  # type: ignore[arg-type]


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: the API's error shape under /api/, the HTML page elsewhere."""
    if _is_api(request):
        return JsonResponse(error_body("Internal server error."), status=500)
    return defaults.server_error(request)


def query_datetime(params: Any, name: str) -> datetime | None:
    """An ISO 8601 query parameter as an aware UTC date-time (a time without a zone is UTC), or None when absent.
    Anything the database could not compare (a malformed value, an offset or year out of range) is a 400 naming
    the parameter, never a database error."""
    raw = params.get(name)
    if not raw:
        return None
    problem = "expected an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z"
    try:
        value = parse_datetime(raw)
        if value is None:
            raise FieldError(name, problem)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise FieldError(name, problem) from exc
    if value.year < 1900:
        raise FieldError(name, "out of range: expected a year from 1900 to 9999")
    return value
