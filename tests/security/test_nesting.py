"""Deeply nested JSON is a 400 naming the body on every API operation that takes a JSON body, never a 500.

Python's json module recurses once per level; 100,000 levels overflow the interpreter's recursion limit and
used to surface as a 500 (``/api/v1/releases``, ``/api/v1/policies``). One parser guard refuses them first.
"""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def json_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    ops = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method in ("post", "put", "patch") and "application/json" in op.get("requestBody", {}).get(
                    "content", {}):
                ops.append((method, path.replace("{id}", "1").replace("{node_id}", "x").replace("{run_uuid}", "x")))
    return ops


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
def test_deep_nesting_is_a_400_naming_the_body_on_releases_and_policies(admin_client, body) -> None:
    for url in ("/api/v1/releases", "/api/v1/policies"):
        r = admin_client.post(url, data=body, content_type="application/json")
        assert r.status_code == 400, (url, r.status_code)
        assert r.json()["errors"][0]["field"] == "body"
        assert "nested" in r.json()["detail"]


def test_no_json_operation_answers_deep_nesting_with_a_server_error(admin_client) -> None:
    ops = json_operations()
    assert len(ops) > 10
    for method, url in ops:
        r = getattr(admin_client, method)(url, data=DEEP, content_type="application/json")
        assert 400 <= r.status_code < 500, (method, url, r.status_code)


def test_ordinary_nesting_still_parses(admin_client) -> None:
    r = admin_client.post("/api/v1/policies", data=b'{"name": [[[[["x"]]]]]}', content_type="application/json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] != "body"
