"""A real OpenID Connect provider on 127.0.0.1 for the SSO tests: pyop (the OP library of SATOSA) behind a small
WSGI server in a thread. It signs ID tokens with its own RSA key, publishes discovery and JWKS, checks the
client's secret and PKCE verifier at the token endpoint, and serves userinfo.

What the provider's own sign-in page would do (a person typing their password at the identity provider) is
replaced by ``login_as``: the test says who signs in there, and with which ``amr``/``acr``. ``tamper`` lets a
test act as a man in the middle on the token response.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

from Cryptodome.PublicKey import RSA
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jwkest.jwk import RSAKey
from pyop.authz_state import AuthorizationState
from pyop.exceptions import InvalidAuthenticationRequest, OAuthError
from pyop.provider import Provider
from pyop.subject_identifier import HashBasedSubjectIdentifierFactory
from pyop.userinfo import Userinfo

CLIENT_ID = "lineage-portal"
CLIENT_SECRET = "portal-secret-for-tests"  # noqa: S105


@dataclass
class TestProvider:
    issuer: str
    provider: Provider
    users: dict[str, dict[str, Any]]
    login_as: str = ""
    extra_claims: dict[str, Any] = field(default_factory=dict)
    tamper: Callable[[str], str] | None = None
    # When the person last signed in at the provider (``auth_time``): by default the moment of each
    # authorization request, as a provider that asks again; set it to act as one answering from an old session.
    auth_time: int | None = None
    auth_times: dict[str, int] = field(default_factory=dict)  # by authorization code
    requests: list[dict[str, Any]] = field(default_factory=list)
    ca_file: str = ""


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def _app(op: TestProvider) -> Callable[..., Any]:
    def respond(start: Callable[..., Any], status: str, body: Any, headers: list | None = None) -> list[bytes]:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        start(status, [("Content-Type", "application/json"), *(headers or [])])
        return [data]

    def app(environ: dict[str, Any], start: Callable[..., Any]) -> list[bytes]:
        path, query = environ["PATH_INFO"], environ.get("QUERY_STRING", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode() if length else ""
        headers = {"Authorization": environ.get("HTTP_AUTHORIZATION", "")}
        p = op.provider
        if path == "/.well-known/openid-configuration":
            return respond(start, "200 OK", p.provider_configuration.to_dict())
        if path == "/jwks":
            return respond(start, "200 OK", p.jwks)
        if path == "/authorize":
            op.requests.append({k: v[0] for k, v in parse_qs(query).items()})
            try:
                request = p.parse_authentication_request(query)
            except InvalidAuthenticationRequest as exc:
                return respond(start, "400 Bad Request", {"error": "invalid_request", "detail": str(exc)})
            response = p.authorize(request, op.login_as)
            op.auth_times[response["code"]] = op.auth_time if op.auth_time is not None else int(time.time())
            location = response.request(request["redirect_uri"], False)
            start("302 Found", [("Location", location)])
            return [b""]
        if path == "/token":
            try:
                # the user's claims go into the ID token, as a provider's claim mappers put them
                code = parse_qs(body).get("code", [""])[0]
                response = p.handle_token_request(body, headers, extra_id_token_claims=lambda user, client: {
                    **op.users[user], "auth_time": op.auth_times.get(code, int(time.time())),
                    **op.extra_claims}).to_dict()
            except OAuthError as exc:
                return respond(start, "400 Bad Request", {"error": exc.oauth_error, "detail": str(exc)})
            if op.tamper and "id_token" in response:
                response["id_token"] = op.tamper(response["id_token"])
            return respond(start, "200 OK", response, [("Cache-Control", "no-store")])
        if path == "/userinfo":
            try:
                return respond(start, "200 OK", p.handle_userinfo_request(body, headers).to_dict())
            except OAuthError as exc:
                return respond(start, "401 Unauthorized", {"error": exc.oauth_error})
        return respond(start, "404 Not Found", {"error": "not_found"})

    return app


def tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A private CA and a certificate for 127.0.0.1 it signed, as an organisation's internal provider has:
    (CA certificate, server certificate, server key) in PEM files."""
    now = datetime.datetime.now(datetime.UTC)

    def cert(subject: str, key: Any, issuer_name: x509.Name, signer: Any, ca: bool) -> x509.Certificate:
        builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = cert("Test identity provider CA", ca_key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                                                 "Test identity provider CA")]),
              ca_key, True)
    server = cert("127.0.0.1", server_key, ca.subject, ca_key, False)
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return paths


@contextmanager
def oidc_provider(redirect_uri: str, users: dict[str, dict[str, Any]], folder: Path) -> Iterator[TestProvider]:
    """Start the provider with TLS on a free port of 127.0.0.1; stop it when the block ends. Its CA certificate
    is ``provider.ca_file``."""
    ca_file, cert_file, key_file = tls_files(folder)
    server = make_server("127.0.0.1", 0, lambda e, s: app(e, s), handler_class=_Quiet)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    issuer = f"https://127.0.0.1:{server.server_port}"
    key = RSAKey(key=RSA.generate(2048), alg="RS256", kid="test-key-1")
    config = {
        "issuer": issuer, "authorization_endpoint": f"{issuer}/authorize", "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo", "jwks_uri": f"{issuer}/jwks",
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"], "claims_supported": ["sub", "email", "groups"],
    }
    clients = {CLIENT_ID: {"client_secret": CLIENT_SECRET, "redirect_uris": [redirect_uri],
                           "response_types": ["code"], "token_endpoint_auth_method": "client_secret_basic"}}
    state = AuthorizationState(HashBasedSubjectIdentifierFactory("pepper"))
    provider = Provider(key, config, state, clients, Userinfo(users), extra_scopes={"groups": ["groups"]})
    op = TestProvider(issuer=issuer, provider=provider, users=users, ca_file=str(ca_file))
    app = _app(op)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield op
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def portal_using(settings: Any, op: TestProvider, *, role_map: str, team_map: str) -> Iterator[TestProvider]:
    """The portal's SSO settings pointed at ``op`` (pytest-django's ``settings``), its discovery cache empty."""
    from portal.accounts import oidc

    settings.PORTAL_OIDC_CA_FILE = op.ca_file
    settings.PORTAL_OIDC_ISSUER = op.issuer
    settings.PORTAL_OIDC_CLIENT_ID = CLIENT_ID
    settings.PORTAL_OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.PORTAL_OIDC_ROLE_MAP = role_map
    settings.PORTAL_OIDC_TEAM_MAP = team_map
    oidc._discovery.clear()
    try:
        yield op
    finally:
        oidc._discovery.clear()


def provider_round_trip(r: Any, op: TestProvider) -> str:
    """The browser at the provider: it signs the person in (``login_as``) and sends it back with a code."""
    import requests

    assert r.status_code == 302 and r["Location"].startswith(f"{op.issuer}/authorize?"), r
    back = requests.get(r["Location"], allow_redirects=False, timeout=10, verify=op.ca_file)
    assert back.status_code == 302, back.text
    return str(back.headers["Location"])


def continue_form(html: str) -> tuple[str, list[tuple[str, str]]]:
    """The continue page's form (``templates/accounts/reauth_continue.html``): where it posts and its fields."""
    import html as html_lib
    import re

    form = html.split('id="reauth-form"')[0].rsplit("<form", 1)[1] + html.split('id="reauth-form"')[1]
    action = re.search(r'action="([^"]+)"', form)
    assert action is not None, html
    fields = [(html_lib.unescape(n), html_lib.unescape(v)) for n, v in re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.split("</form>")[0])]
    return html_lib.unescape(action.group(1)), [f for f in fields if f[0] != "csrfmiddlewaretoken"]


__all__ = ["CLIENT_ID", "CLIENT_SECRET", "TestProvider", "continue_form", "oidc_provider", "portal_using",
           "provider_round_trip"]
