"""Security headers on pages, API answers and errors; check --deploy with production settings; NUL in URLs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def _assert_secure_headers(r) -> None:
    csp = r["Content-Security-Policy"]
    directives = dict((d.split(" ", 1) + [""])[:2] for d in (x.strip() for x in csp.split(";")) if d)
    assert directives["default-src"] == "'self'"
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["frame-ancestors"] == "'none'"
    assert r["X-Frame-Options"] == "DENY"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Referrer-Policy"] == "same-origin"


def test_a_page_an_api_answer_and_a_404_carry_the_security_headers(client, alice, alice_client) -> None:
    client.force_login(alice)
    page = client.get("/")
    assert page.status_code == 200
    _assert_secure_headers(page)
    api = alice_client.get("/api/v1/nodes")
    assert api.status_code == 200
    _assert_secure_headers(api)
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    _assert_secure_headers(missing)
    _assert_secure_headers(client.get("/login/"))


def test_pages_have_no_inline_script_or_style(client, admin_user) -> None:
    client.force_login(admin_user)
    for url in ("/", "/login/", "/settings/tokens/", "/approvals/", "/approvals/policies", "/audit/", "/reports/",
                "/evidence/", "/evidence/upload", "/api/docs/", "/admin/"):
        r = client.get(url)
        assert r.status_code == 200, url
        html = r.content.decode()
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), url  # every script has a src
        assert "<style" not in html and " style=" not in html and "javascript:" not in html, url
        assert not re.search(r"\son[a-z]+=", html), url  # no inline event handlers


def test_swagger_init_script_is_served_from_its_own_url(client, alice) -> None:
    client.force_login(alice)
    page = client.get("/api/docs/").content.decode()
    src = re.search(r'<script src="([^"]*script=[^"]*)"', page).group(1).replace("&amp;", "&")
    script = client.get(src)
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


def test_hsts_and_secure_cookies_behind_tls(client, settings) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_SSL_REDIRECT = True
    r = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert r.status_code == 200
    assert r["Strict-Transport-Security"].startswith("max-age=31536000")
    plain = client.get("/login/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")


def _deploy_check(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    base.update({"DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_DEBUG": "0", "PORTAL_PRODUCTION": "1",
                 "PORTAL_ALLOWED_HOSTS": "portal.example.com", **env})
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=base, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_production_settings() -> None:
    key = "k3y-" + "a1B2c3D4e5F6g7H8i9J0" * 3
    r = _deploy_check(PORTAL_SECRET_KEY=key, PORTAL_BEHIND_TLS="1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no issues" in r.stdout


def test_check_deploy_complains_without_tls() -> None:
    key = "k3y-" + "a1B2c3D4e5F6g7H8i9J0" * 3
    r = _deploy_check(PORTAL_SECRET_KEY=key)
    assert r.returncode != 0
    assert "security.W004" in r.stderr + r.stdout  # no HSTS


@pytest.mark.parametrize("url", ["/lineage/node/dataset:a%00b", "/?q=a%00b"])
def test_a_nul_in_a_page_url_is_a_400(client, alice, url) -> None:
    client.force_login(alice)
    assert client.get(url).status_code == 400


@pytest.mark.parametrize("url", ["/api/v1/nodes?q=%00", "/api/v1/nodes/dataset:x%00y",
                                 "/api/v1/lineage?nodeId=dataset:a:%00"])
def test_a_nul_in_an_api_url_is_a_400_with_the_error_shape(alice_client, url) -> None:
    r = alice_client.get(url)
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "url"


def test_a_nul_in_a_page_form_is_a_400(client, alice) -> None:
    client.force_login(alice)
    r = client.post("/settings/tokens/new", {"name": "bad\x00name"})
    assert r.status_code == 400
    assert not alice.api_tokens.exists()


def test_the_page_showing_a_new_token_is_never_cached(client, alice) -> None:
    client.force_login(alice)
    r = client.post("/settings/tokens/new", {"name": "ci"})
    assert r.status_code == 200 and b"lp_" in r.content
    assert "no-store" in r["Cache-Control"]
