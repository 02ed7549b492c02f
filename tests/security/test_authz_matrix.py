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
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from rest_framework.test import APIClient
from rest_framework.views import APIView

from lineage import demo
from lineage.management.commands.load_demo import _load
from lineage.models import Node
from portal.accounts.models import ApiToken, User
from portal.accounts.services import token_issue
from portal.approvals.models import Release
from portal.audit.models import AuditEntry
from portal.evidence.models import Document
from portal.reports.models import Report
from portal.reports.services import report_generate, report_request

TABLE = Path(__file__).with_name("authz_matrix.txt")
ROLES = ("anonymous", "ingestor", "viewer", "outsider", "approver", "compliance_officer", "auditor", "admin")
# Who plays each role: demo users. The outsider is a viewer of the clinical team; every object below belongs to
# the credit-risk team, which the viewer (priya) is in and the outsider (tomas) is not.
PLAYERS = {"ingestor": demo.INGESTOR, "viewer": demo.PRIYA, "outsider": demo.TOMAS, "approver": demo.MARCUS,
           "compliance_officer": demo.SAM, "auditor": demo.INGRID, "admin": demo.ALEX}
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


@dataclass(slots=True)
class World:
    users: dict[str, User]
    tokens: dict[str, str]
    values: dict[str, str]


def build_world() -> World:
    _load()
    users = {role: User.objects.get(username=p.username) for role, p in PLAYERS.items()}
    tokens = {role: token_issue(user=u, name="authz")[1] for role, u in users.items()}
    viewer, outsider = users["viewer"], users["outsider"]
    credit = [ns for t in demo.TEAMS if t.name == "credit-risk" for ns in t.namespaces]

    def hidden(qs: Any, obj: Any) -> Any:
        """The object the probes target: seen by the viewer, not by the outsider."""
        assert qs.visible_to(viewer).filter(pk=obj.pk).exists(), obj
        assert not qs.visible_to(outsider).filter(pk=obj.pk).exists(), obj
        return obj

    nodes = Node.objects.filter(namespace__in=credit)
    dataset = hidden(Node.objects, nodes.filter(kind="dataset").order_by("pk").first())
    model = hidden(Node.objects, nodes.filter(kind="modelVersion").order_by("pk").first())
    deployment = hidden(Node.objects, nodes.filter(kind="deployment").order_by("pk").first())
    run = hidden(Node.objects, nodes.filter(kind="run").order_by("pk").first())
    release = hidden(Release.objects, Release.objects.filter(model_version__namespace__in=credit,
                                                             state=Release.State.PENDING).get())
    document = hidden(Document.objects, Document.objects.visible_to(viewer).exclude(
        pk__in=Document.objects.visible_to(outsider)).order_by("created_at").first())
    report = report_request(by=users["compliance_officer"], kind=Report.Kind.FRAMEWORK, framework="gdpr",
                            enqueue=False)
    report_generate(report_id=str(report.pk))
    return World(users=users, tokens=tokens, values={
        "dataset": dataset.node_id, "modelVersion": model.node_id, "deployment": deployment.node_id,
        "run_uuid": run.node_id.removeprefix("run:"), "release": str(release.pk), "document": str(document.pk),
        "report": str(report.pk), "seq": str(AuditEntry.objects.order_by("-seq").values_list("seq", flat=True)[0]),
        # The viewer's token: nobody else may revoke it.
        "token": str(ApiToken.objects.filter(user=viewer).order_by("pk").values_list("pk", flat=True)[0]),
        "user": str(viewer.pk), "user_ct": str(ContentType.objects.get_for_model(User).pk),
    })


def _value(route: str, name: str, world: World) -> str:
    v = world.values
    if name == "node_id":
        return v["modelVersion"] if "model-versions/" in route else (
            v["deployment"] if "deployments/" in route else v["dataset"])
    if name == "pk":
        for prefix, key in (("releases/", "release"), ("tokens/", "token"), ("reports/", "report"),
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
              "app_label": "accounts", "url": "no-such-page/"}
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


