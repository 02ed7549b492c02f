"""OpenAPI schema details: the bearer-token scheme, unique names for nested serializers, and the error answers
every operation may give (``portal.lib.errors``), documented once."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorItemSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="Dotted path of the input field, or null.")
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx and 5xx answer (``portal.lib.errors.error_body``)."""

    detail = serializers.CharField(help_text="A one-line summary.")
    errors = ErrorItemSerializer(many=True)


def paginated(serializer: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The page ``LimitOffsetPagination`` answers, ``{count, next, previous, results}``, as a named component.
    Call it once per serializer (at import), so the component is defined once."""
    name = f"Paginated{serializer.__name__.removesuffix('Serializer')}List"
    return type(name, (serializers.Serializer,), {
        "__module__": serializer.__module__,
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": serializer(many=True),
    })


# What any operation may answer besides its success: documented unless the operation documents the code itself.
DEFAULT_ERRORS = {
    "400": "The input is invalid, or a business rule refused it.",
    "401": "No API token, or an unknown or revoked one.",
    "403": "The role may not do this.",
    "404": "No such object, or one the caller may not see.",
    "413": "The request body is over a size limit.",
    "415": "The request's content type is not accepted.",
    "429": "Too many failed token checks from this address.",
}


class PortalAutoSchema(AutoSchema):
    """Nested ``InputSerializer`` classes are named after their view (``CommitCreateApiInput``), not all "Input"."""

    def get_serializer_name(self, serializer: Any, direction: str) -> str:
        name = super().get_serializer_name(serializer, direction)
        qualname = type(serializer).__qualname__
        if "." in qualname:
            name = qualname.replace(".", "").removesuffix("Serializer")
        return name

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code, description in DEFAULT_ERRORS.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description), code, direction=direction)
        return responses


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "portal.accounts.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API token from `issue_token` or the "
                "settings page: `Authorization: Bearer lp_…`"}
