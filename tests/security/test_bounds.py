"""Every ``limit``, ``offset``, ``depth`` and ``expand`` is bounded, and the bound is in the OpenAPI schema.

``GET /api/v1/nodes?limit=1000000`` used to answer a million rows: five such requests took the server from 1.1
to 3.3 GB. A value over the bound is a 400 naming the parameter, and the schema says the bound, so a client
can know it without trying.
"""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db
BOUNDED = ("limit", "depth", "offset", "page_size")


def _query_parameters() -> list[tuple[str, str, dict]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    out = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            out.extend((method, path, p) for p in op.get("parameters", []) if p["in"] == "query")
    return out


def test_every_limit_depth_offset_and_expand_has_its_bound_in_the_schema() -> None:
    params = _query_parameters()
    names = {p["name"] for _, _, p in params}
    assert {"limit", "depth", "offset", "expand"} <= names
    unbounded = [(m, path, p["name"]) for m, path, p in params
                 if p["name"] in BOUNDED and "maximum" not in p["schema"]]
    assert unbounded == []
    unbounded = [(m, path) for m, path, p in params if p["name"] == "expand" and "maxItems" not in p["schema"]]
    assert unbounded == []


def test_a_limit_over_the_bound_is_a_400_naming_it_on_every_listing(admin_client) -> None:
    listings = [(path, p["schema"]["maximum"]) for m, path, p in _query_parameters()
                if m == "get" and p["name"] == "limit" and "{" not in path]
    assert "/api/v1/nodes" in dict(listings)
    for path, high in listings:
        r = admin_client.get(path, {"limit": 1_000_000})
        assert r.status_code == 400, (path, r.status_code)
        assert r.json()["errors"][0]["field"] == "limit"
        assert admin_client.get(path, {"limit": high}).status_code == 200, path
        assert admin_client.get(path, {"limit": "x"}).status_code == 400, path
        assert admin_client.get(path, {"offset": -1}).status_code == 400, path


def test_the_page_size_is_the_default_when_no_limit_is_given(admin_client, settings) -> None:
    from django.utils import timezone

    from lineage.models import Node

    now = timezone.now()
    Node.objects.bulk_create([Node(node_id=f"dataset:ns:t{i}", kind="dataset", name=f"t{i}", namespace="ns",
                                   created_at=now, updated_at=now) for i in range(60)])
    assert len(admin_client.get("/api/v1/nodes").json()["results"]) == settings.REST_FRAMEWORK["PAGE_SIZE"]
