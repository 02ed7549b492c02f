"""OpenAPI schema details: the bearer-token scheme and unique names for nested serializers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


class PortalAutoSchema(AutoSchema):
    """Nested ``InputSerializer`` classes are named after their view (``CommitCreateApiInput``), not all "Input"."""

    def get_serializer_name(self, serializer: Any, direction: str) -> str:
        name = super().get_serializer_name(serializer, direction)
        qualname = type(serializer).__qualname__
        if "." in qualname:
            name = qualname.replace(".", "").removesuffix("Serializer")
        return name


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "portal.accounts.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API token from `issue_token` or the "
                "settings page: `Authorization: Bearer lp_…`"}
