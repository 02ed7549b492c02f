"""Response headers that browsers enforce, and refusal of NUL characters in URLs.

Django's SecurityMiddleware and XFrameOptionsMiddleware set HSTS, no-sniff, the referrer policy and
``X-Frame-Options``; this adds the Content-Security-Policy they do not. No page has inline script or
style (the Swagger UI page loads its init script from a URL of its own), so the policy allows neither.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse, QueryDict

from portal.lib.errors import error_body

DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy (and Cross-Origin-Opener-Policy) to every response, errors included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.csp = getattr(settings, "PORTAL_CSP", DEFAULT_CSP)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.csp)
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response


def _has_nul(data: QueryDict) -> bool:
    return any("\x00" in k or any("\x00" in v for v in values) for k, values in data.lists())


class BodySizeLimitMiddleware:
    """A request whose Content-Length is over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413 before any view runs.

    Django enforces that limit only where it reads the body itself; DRF's parsers read the stream directly.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        length = request.META.get("CONTENT_LENGTH") or ""
        if limit is not None and length.isdigit() and int(length) > limit:
            message = f"the body is larger than the limit of {limit} bytes"
            return JsonResponse(error_body(message, [{"field": "body", "message": message}]), status=413)
        return self.get_response(request)


class RefuseNulMiddleware:
    """A NUL character in the path, the query string or a page's form fields is a 400 before any view runs.

    PostgreSQL text cannot hold U+0000, so a lookup or a write with such a value would fail inside the database
    driver (a 500). Nothing legitimate puts one in a URL or a form. API bodies are JSON: their serializers
    refuse NUL field by field.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = request.path.startswith("/api/")
        form = request.method == "POST" and not api and request.content_type in (
            "application/x-www-form-urlencoded", "multipart/form-data")
        if "\x00" in request.path or _has_nul(request.GET) or (form and _has_nul(request.POST)):
            message = "The request contains a NUL character (U+0000)."
            if api:
                return JsonResponse(error_body(message, [{"field": "url", "message": message}]), status=400)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
