"""The authorization matrix: every URL pattern, every method it serves, every role, against one table.

The patterns come from the URL resolver, so a new endpoint without a row in ``authz_matrix.txt`` fails here,
and so does a row whose pattern is gone. Each probe runs in a savepoint that is rolled back, so one probe's
writes (a withdrawn release, a revoked token) do not change the next one's answer.

State-changing methods are probed with an empty body: "ok" then means the permission checks passed (the answer
is 2xx, or a 400 for the missing input), which is only meaningful because the views check permissions before
they validate input.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from django.apps import apps
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from rest_framework.test import APIClient
from rest_framework.views import APIView

from tests.security.world import World, build_world

TABLE = Path(__file__).with_name("authz_matrix.txt")
ROLES = ("anonymous", "ingestor", "viewer", "outsider", "approver", "compliance_officer", "auditor", "admin")
CELLS = {"ok", "login", "401", "403", "404", "405"}
# Admin rows may stand for every registered model: "{model}" matches "<app_label>/<model_name>".
MODEL_PLACEHOLDER = "{model}"

pytestmark = pytest.mark.django_db


@dataclass(frozen=True, slots=True)
class Endpoint:
    route: str
    method: str
    view: Any


def _route(pattern: URLPattern | URLResolver) -> str:
    return str(pattern.pattern)


def endpoints() -> list[Endpoint]:
    """Every (route, method) the portal serves, from the resolver."""
    out: list[Endpoint] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + _route(p))
                continue
            out.extend(Endpoint(prefix + _route(p), m, p.callback) for m in _methods(p.callback))

    walk(get_resolver().url_patterns, "")
    return out


def _methods(view: Any) -> list[str]:
    cls = getattr(view, "cls", None)
    if cls is not None and issubclass(cls, APIView):
        # A DRF view serves what it implements.
        return [m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)]
    # Function views and Django's class-based views: what a browser or a form sends.
    return ["GET", "POST"]


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    method: str
    cells: dict[str, str]
    line: int

    def matches(self, route: str) -> bool:
        route = "/" + route  # the table writes routes as paths: the home page is "/"
        if MODEL_PLACEHOLDER not in self.key:
            return self.key == route
        regex = re.escape(self.key).replace(re.escape(MODEL_PLACEHOLDER), r"[a-z_]+/[a-z_]+")
        return re.fullmatch(regex, route) is not None


def table() -> list[Row]:
    rows: list[Row] = []
    for n, raw in enumerate(TABLE.read_text().splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        key, method, *cells = line.split()
        assert key.startswith("/"), f"{TABLE.name}:{n}: a route starts with /"
        assert len(cells) == len(ROLES), f"{TABLE.name}:{n}: {len(cells)} cells, expected {len(ROLES)}"
        assert set(cells) <= CELLS, f"{TABLE.name}:{n}: unknown cell in {cells}; use {sorted(CELLS)}"
        rows.append(Row(key, method, dict(zip(ROLES, cells, strict=True)), n))
    return rows


def _value(route: str, name: str, world: World) -> str:
    v = world.values
    if name == "node_id":
        return v["modelVersion"] if "model-versions/" in route else (
            v["deployment"] if "deployments/" in route else v["dataset"])
    if name == "pk":
        for prefix, key in (("releases/", "release"), ("tokens/", "token"), ("erasure-requests/", "erasure_request"),
                            ("from-alert/", "alert"), ("alerts/", "alert"), ("incidents/", "incident"),
                            ("reports/", "report"),
                            ("documents/", "document"), ("evidence/", "document")):
            if prefix in route:
                return v[key]
    if name == "object_id":
        admin_model = re.match(r"admin/(\w+)/(\w+)/", route)
        if admin_model:
            obj = apps.get_model(*admin_model.groups()).objects.order_by("pk").first()
            return str(obj.pk) if obj else "1"
        return v["user"]
    simple = {"run_uuid": v["run_uuid"], "seq": v["seq"], "id": v["user"], "content_type_id": v["user_ct"],
              "app_label": "accounts", "url": "no-such-page/", "field_name": v["field"], "framework": "sox"}
    assert name in simple, f"no value for <{name}> in {route}: add one to _value()"
    return simple[name]


def url_for(route: str, world: World) -> str:
    def sub(m: re.Match[str]) -> str:
        return quote(_value(route, m.group("name"), world), safe=":/@")

    url = re.sub(r"\(\?P<(?P<name>\w+)>[^)]*\)", sub, route)
    url = re.sub(r"<(?:\w+:)?(?P<name>\w+)>", sub, url)
    url = "/" + url.replace("^", "").replace("$", "")
    assert resolve(unquote(url)).route.replace("^", "") == route.replace("^", ""), f"{url} does not resolve to {route}"
    return url


def classify(resp: HttpResponse) -> str:
    code = resp.status_code
    if code in (301, 302, 303):
        location = resp["Location"]
        return "login" if location.startswith((reverse("web:login"), reverse("admin:login"))) else "ok"
    if code in (401, 403, 404, 405) or code >= 500:
        return str(code)
    return "ok"  # 2xx, and 4xx for input (400, 409, 413, 415): the permission checks passed


def probe(ep: Endpoint, url: str, role: str, world: World) -> str:
    user = world.users.get(role)
    client: Client
    if url.startswith("/api/"):
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens[role]}")
        kw: dict[str, Any] = {"data": {}, "format": "json"} if ep.method != "GET" else {}
    else:
        client = Client()
        if user is not None:
            client.force_login(user)
        kw = {"data": {}} if ep.method != "GET" else {}
    with transaction.atomic():
        try:
            resp = getattr(client, ep.method.lower())(url, **kw)
        except Exception as exc:  # noqa: BLE001 - a crash is a finding, reported with the others
            return f"500 ({type(exc).__name__}: {exc})"
        finally:
            transaction.set_rollback(True)
    return classify(resp)


def _observed_row(ep: Endpoint, got: dict[str, str]) -> str:
    return (f"/{ep.route:<60} {ep.method:<6} " + " ".join(f"{got[r]:<{len(r)}}" for r in ROLES)).rstrip()


def match_rows(eps: list[Endpoint], rows: list[Row]) -> tuple[dict[Endpoint, Row], list[str]]:
    problems: list[str] = []
    found: dict[Endpoint, Row] = {}
    for ep in eps:
        hits = [r for r in rows if r.method == ep.method and r.matches(ep.route)]
        if len(hits) > 1:
            problems.append(f"{ep.method} {ep.route}: rows {[r.line for r in hits]} all match")
        elif hits:
            found[ep] = hits[0]
    used = {r.line for r in found.values()}
    problems += [f"{TABLE.name}:{r.line}: {r.method} {r.key} matches no URL pattern" for r in rows
                 if r.line not in used]
    return found, problems


def test_every_url_pattern_has_a_row_and_every_row_a_pattern() -> None:
    eps = endpoints()
    found, problems = match_rows(eps, table())
    missing = [f"{ep.method} /{ep.route}" for ep in eps if ep not in found]
    assert not problems and not missing, "\n".join(
        problems + [f"no row in {TABLE.name} for {m}" for m in missing])


def test_every_role_gets_the_answer_the_table_gives() -> None:
    world = build_world()
    eps = endpoints()
    found, _ = match_rows(eps, table())
    mismatches: list[str] = []
    observed: list[str] = []
    for ep in eps:
        url = url_for(ep.route, world)
        got = {role: probe(ep, url, role, world) for role in ROLES}
        observed.append(_observed_row(ep, got))
        row = found.get(ep)
        if row is None:
            continue
        wrong = {r: f"expected {row.cells[r]}, got {got[r]}" for r in ROLES if got[r] != row.cells[r]}
        if wrong:
            mismatches.append(f"{ep.method} {url} ({TABLE.name}:{row.line}): {wrong}")
    # Set PORTAL_AUTHZ_RECORD=<file> to write what each role got, in the table's format, e.g. for a new row.
    if os.environ.get("PORTAL_AUTHZ_RECORD"):
        Path(os.environ["PORTAL_AUTHZ_RECORD"]).write_text("\n".join(observed) + "\n")
    assert not mismatches, "\n".join(mismatches)


