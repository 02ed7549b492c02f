"""OpenID Connect single sign-on: the authorization code flow with PKCE, for one provider set by environment.

The flow (OpenID Connect Core 1.0 §3.1, RFC 7636):

1. ``authorization_url`` makes a fresh ``state``, ``nonce`` and PKCE verifier, kept in the user's session, and
   sends the browser to the provider's authorization endpoint.
2. ``callback`` checks the ``state``, exchanges the code at the token endpoint (client secret and PKCE verifier),
   and verifies the ID token: its signature with a key from the provider's JWKS (RS256/ES256 only, never
   ``none`` or HMAC), ``iss`` equal to the configured issuer, ``aud`` containing the client id (``azp`` when
   there are several), ``exp``/``iat`` within a small leeway, and ``nonce`` equal to the session's.
3. ``user_sync`` creates or updates the portal user from the claims: username, e-mail, and role and teams from
   the groups claim through ``PORTAL_OIDC_ROLE_MAP``/``PORTAL_OIDC_TEAM_MAP``. A user is linked to the provider
   by ``(iss, sub)``; a local account that happens to have the same username is never taken over.

The provider's ``amr``/``acr`` claims satisfy the portal's second factor when they name a method listed in
``PORTAL_OIDC_MFA_AMR`` or an ``acr`` listed in ``PORTAL_OIDC_MFA_ACR``.

Re-authentication for an electronic signature (an SSO user has no portal password): the same flow with
``prompt=login`` and ``max_age=0`` (OpenID Connect Core §3.1.2.1), so the provider asks the person to sign in
again. ``reauth_evidence`` accepts the answer only when the ID token's ``sub`` (and ``iss``) is the identity
linked to the signing user and its ``auth_time`` is fresh: not before the re-authentication was started (less
the clock leeway) and at most ``REAUTH_MAX_AGE`` seconds old. A provider that answers from its session without
asking again gives an old ``auth_time`` and is refused. What was checked is the signature's evidence.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from django.db import transaction

from portal.audit.services import audit_record
from portal.lib.errors import DomainError

from .models import ExternalIdentity, Role, Team, User

SESSION_PENDING = "oidc_pending"  # the session key of a sign-in or re-authentication under way (``Pending``)
SESSION_REAUTH = "oidc_reauth"  # the one-time result id of the last re-authentication (``reauth.reauth_record``)
ALLOWED_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
LEEWAY_SECONDS = 60
REAUTH_MAX_AGE = 300  # seconds from the provider's sign-in to the signature
HTTP_TIMEOUT = 10
# When several mapped groups give several roles, the most capable wins.
ROLE_RANK = [Role.VIEWER, Role.APPROVER, Role.AUDITOR, Role.COMPLIANCE_OFFICER, Role.ADMIN]


class SsoError(DomainError):
    """The sign-in with the identity provider was refused; the message says why, without secrets."""

    status_code = 400


def enabled() -> bool:
    return bool(settings.PORTAL_OIDC_ISSUER and settings.PORTAL_OIDC_CLIENT_ID)


def _get_json(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """GET (or POST ``data``) over TLS only, verified against the system's CAs or ``PORTAL_OIDC_CA_FILE``."""
    if not url.startswith("https://"):
        raise SsoError("The identity provider's address is not an https URL.")
    request = urllib.request.Request(url, data=data, headers={"Accept": "application/json", **(headers or {})})  # noqa: S310
    context = ssl.create_default_context(cafile=settings.PORTAL_OIDC_CA_FILE or None)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT, context=context) as response:  # noqa: S310
            return json.loads(response.read(1_000_000))
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read(10_000)).get("error", "")
        except ValueError:
            detail = ""
        raise SsoError(f"The identity provider refused the request ({exc.code} {detail}).".replace(" )", ")")) from exc
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        raise SsoError("The identity provider could not be reached.") from exc


_discovery: dict[str, tuple[float, dict[str, Any]]] = {}


def discovery() -> dict[str, Any]:
    """The provider's metadata (cached for an hour); its ``issuer`` must be the configured one exactly."""
    issuer = settings.PORTAL_OIDC_ISSUER.rstrip("/")
    cached = _discovery.get(issuer)
    if cached and time.monotonic() - cached[0] < 3600:
        return cached[1]
    meta = _get_json(f"{issuer}/.well-known/openid-configuration")
    if meta.get("issuer", "").rstrip("/") != issuer:
        raise SsoError("The identity provider's metadata names another issuer.")
    _discovery[issuer] = (time.monotonic(), meta)
    return meta


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Pending:
    """What the callback must find again: kept in the session between the redirect and the return."""

    state: str
    nonce: str
    verifier: str
    next_url: str
    reauth: bool = False  # a re-authentication of the signed-in user, not a sign-in
    started: float = 0.0  # epoch seconds when the browser was sent to the provider

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "nonce": self.nonce, "verifier": self.verifier, "next": self.next_url,
                "reauth": self.reauth, "started": self.started}


def authorization_url(*, redirect_uri: str, next_url: str = "", reauth: bool = False) -> tuple[str, Pending]:
    pending = Pending(state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24),
                      verifier=secrets.token_urlsafe(48), next_url=next_url, reauth=reauth, started=time.time())
    challenge = _b64(hashlib.sha256(pending.verifier.encode("ascii")).digest())
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": settings.PORTAL_OIDC_CLIENT_ID, "redirect_uri": redirect_uri,
        "scope": settings.PORTAL_OIDC_SCOPES, "state": pending.state, "nonce": pending.nonce,
        "code_challenge": challenge, "code_challenge_method": "S256",
        **({"prompt": "login", "max_age": "0"} if reauth else {}),
    })
    endpoint = discovery()["authorization_endpoint"]
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", pending


def _signing_key(token: str) -> Any:
    meta = discovery()
    jwks = jwt.PyJWKSet.from_dict(_get_json(meta["jwks_uri"]))
    kid = jwt.get_unverified_header(token).get("kid")
    keys = [k for k in jwks.keys if kid is None or k.key_id == kid]
    if not keys:
        raise SsoError("The ID token is signed with a key the identity provider does not publish.")
    return keys[0]


def id_token_verify(token: str, *, nonce: str) -> dict[str, Any]:
    """The ID token's claims once every check of OpenID Connect Core §3.1.3.7 passed; ``SsoError`` otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise SsoError("The ID token is not a signed JWT.") from exc
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise SsoError(f"The ID token's algorithm {header.get('alg')!r} is not accepted.")
    key = _signing_key(token)
    client_id = settings.PORTAL_OIDC_CLIENT_ID
    try:
        claims = jwt.decode(token, key=key.key, algorithms=ALLOWED_ALGORITHMS, audience=client_id,
                            issuer=discovery()["issuer"], leeway=LEEWAY_SECONDS,
                            options={"require": ["iss", "sub", "aud", "exp", "iat"]})
    except jwt.InvalidSignatureError as exc:
        raise SsoError("The ID token's signature does not verify: it was altered or forged.") from exc
    except jwt.ExpiredSignatureError as exc:
        raise SsoError("The ID token has expired.") from exc
    except jwt.InvalidAudienceError as exc:
        raise SsoError("The ID token was issued to another client.") from exc
    except jwt.InvalidIssuerError as exc:
        raise SsoError("The ID token was issued by another provider.") from exc
    except jwt.PyJWTError as exc:
        raise SsoError(f"The ID token is not valid: {exc}.") from exc
    aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(aud) > 1 and claims.get("azp") != client_id:
        raise SsoError("The ID token names several audiences and another authorised party.")
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise SsoError("The ID token's nonce does not match this sign-in: it belongs to another one.")
    return claims


def code_exchange(*, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
    meta = discovery()
    body = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                                   "code_verifier": verifier}).encode()
    basic = base64.b64encode(f"{urllib.parse.quote(settings.PORTAL_OIDC_CLIENT_ID, safe='')}:"
                             f"{urllib.parse.quote(settings.PORTAL_OIDC_CLIENT_SECRET, safe='')}".encode()).decode()
    tokens = _get_json(meta["token_endpoint"], data=body, headers={
        "Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})
    if not isinstance(tokens.get("id_token"), str):
        raise SsoError("The identity provider answered without an ID token.")
    return tokens


def _userinfo(access_token: str, sub: str) -> dict[str, Any]:
    endpoint = discovery().get("userinfo_endpoint")
    if not endpoint or not access_token:
        return {}
    info = _get_json(endpoint, headers={"Authorization": f"Bearer {access_token}"})
    return info if info.get("sub") == sub else {}  # OpenID Connect Core §5.3.2: another subject is ignored


def callback(*, params: dict[str, str], pending: dict[str, str] | None, redirect_uri: str) -> dict[str, Any]:
    """Check the provider's answer against the session and return the verified claims (userinfo merged in for
    claims the ID token lacks)."""
    if not pending:
        raise SsoError("This sign-in was not started here, or it expired; start again.")
    if not secrets.compare_digest(params.get("state", ""), pending["state"]):
        raise SsoError("The answer does not belong to this sign-in (state mismatch).")
    if params.get("error"):
        raise SsoError(f"The identity provider refused the sign-in: {params['error'][:100]}.")
    if not params.get("code"):
        raise SsoError("The identity provider's answer has no authorization code.")
    tokens = code_exchange(code=params["code"], verifier=pending["verifier"], redirect_uri=redirect_uri)
    claims = id_token_verify(tokens["id_token"], nonce=pending["nonce"])
    wanted = (settings.PORTAL_OIDC_USERNAME_CLAIM, settings.PORTAL_OIDC_EMAIL_CLAIM, settings.PORTAL_OIDC_GROUPS_CLAIM)
    if any(c not in claims for c in wanted):
        extra = _userinfo(tokens.get("access_token", ""), claims["sub"])
        claims = {**{k: v for k, v in extra.items() if k in wanted}, **claims}
    return claims


def _mapping(raw: str) -> dict[str, str]:
    """``group=value,group2=value2`` from the environment."""
    pairs = (item.split("=", 1) for item in raw.split(",") if "=" in item)
    return {k.strip(): v.strip() for k, v in pairs if k.strip() and v.strip()}


def second_factor_by_provider(claims: dict[str, Any]) -> bool:
    amr = claims.get("amr") or []
    amr = [amr] if isinstance(amr, str) else [str(a) for a in amr]
    accepted_amr = {a.strip() for a in settings.PORTAL_OIDC_MFA_AMR.split(",") if a.strip()}
    accepted_acr = {a.strip() for a in settings.PORTAL_OIDC_MFA_ACR.split(",") if a.strip()}
    return bool(accepted_amr & set(amr)) or str(claims.get("acr", "")) in accepted_acr


@transaction.atomic
def user_sync(*, claims: dict[str, Any]) -> User:
    """Create or update the portal user of these verified claims. Role and teams follow the provider's groups on
    every sign-in: an SSO user's role is not assigned by hand."""
    issuer, sub = str(claims["iss"]), str(claims["sub"])
    username = str(claims.get(settings.PORTAL_OIDC_USERNAME_CLAIM) or "").strip()
    if not username or len(username) > 150:
        raise SsoError(f"The identity provider sent no usable {settings.PORTAL_OIDC_USERNAME_CLAIM!r} claim.")
    groups = claims.get(settings.PORTAL_OIDC_GROUPS_CLAIM) or []
    groups = [groups] if isinstance(groups, str) else [str(g) for g in groups]
    role_map, team_map = _mapping(settings.PORTAL_OIDC_ROLE_MAP), _mapping(settings.PORTAL_OIDC_TEAM_MAP)
    rank = [str(r) for r in ROLE_RANK]
    roles = [role_map[g] for g in groups if role_map.get(g) in rank]
    role = max(roles, key=rank.index) if roles else settings.PORTAL_OIDC_DEFAULT_ROLE
    if not role:
        raise SsoError("None of your identity provider groups gives access to the portal.")
    teams = sorted({team_map[g] for g in groups if g in team_map})
    link = (ExternalIdentity.objects.select_for_update().filter(issuer=issuer, subject=sub)
            .select_related("user").first())
    if link is None:
        if User.objects.filter(username=username).exists():
            raise SsoError(f"A local account named {username!r} exists already; an admin must link it to the "
                           "identity provider before it can be used for single sign-on.")
        user = User.objects.create(username=username)
        user.set_unusable_password()
        link = ExternalIdentity.objects.create(user=user, issuer=issuer, subject=sub)
        before: dict[str, Any] | None = None
    else:
        user = link.user
        before = {"role": user.role, "email": user.email, "teams": sorted(user.teams.values_list("name", flat=True))}
    user.email = str(claims.get(settings.PORTAL_OIDC_EMAIL_CLAIM) or user.email)[:254]
    user.first_name = str(claims.get("given_name") or user.first_name)[:150]
    user.last_name = str(claims.get("family_name") or user.last_name)[:150]
    user.role, user.is_staff = role, role == Role.ADMIN
    user.save()
    user.teams.set([Team.objects.get_or_create(name=t)[0] for t in teams])
    after = {"role": user.role, "email": user.email, "teams": teams}
    if before is None:
        audit_record(actor=None, action="account.user_created", target_kind="user", target_id=user.username,
                     payload={"after": after, "source": "sso", "issuer": issuer})
    elif before != after:
        action = "account.role_changed" if before["role"] != after["role"] else "account.user_changed"
        audit_record(actor=None, action=action, target_kind="user", target_id=user.username,
                     payload={"before": before, "after": after, "source": "sso", "groups": groups})
    return user


def sso_only(user: User) -> bool:
    """The user signs in through the identity provider and has no portal password to sign with."""
    return not user.has_usable_password() and ExternalIdentity.objects.filter(user=user).exists()


def reauth_evidence(*, user: User, claims: dict[str, Any], started: float, now: float | None = None
                    ) -> dict[str, Any]:
    """The evidence of a re-authentication at the provider for ``user``, from verified ID-token ``claims``;
    ``SsoError`` when it is not ``user``'s identity or not a fresh sign-in (see the module's docstring)."""
    now = time.time() if now is None else now
    issuer, sub = str(claims.get("iss", "")), str(claims.get("sub", ""))
    if not ExternalIdentity.objects.filter(user=user, issuer=issuer, subject=sub).exists():
        raise SsoError("The identity provider signed in another person than the one signing; nothing was signed.")
    auth_time = claims.get("auth_time")
    if isinstance(auth_time, bool) or not isinstance(auth_time, int | float):
        raise SsoError("The identity provider did not say when you signed in (auth_time); nothing was signed.")
    if auth_time < started - LEEWAY_SECONDS or now - auth_time > REAUTH_MAX_AGE:
        raise SsoError("The identity provider did not ask you to sign in again (its sign-in is from "
                       f"{int(now - auth_time)} s ago); nothing was signed.")
    amr = claims.get("amr") or []
    return {"method": "oidc_reauth", "issuer": issuer, "subject": sub, "auth_time": int(auth_time),
            "started": int(started), "amr": [amr] if isinstance(amr, str) else [str(a) for a in amr],
            "acr": str(claims.get("acr", "")), "second_factor": second_factor_by_provider(claims)}


def reauth_check(*, user: User, evidence: dict[str, Any], now: float | None = None) -> None:
    """Asked again by the service that signs: the evidence is ``user``'s and still fresh."""
    now = time.time() if now is None else now
    if evidence.get("method") != "oidc_reauth" or not ExternalIdentity.objects.filter(
            user=user, issuer=evidence.get("issuer"), subject=evidence.get("subject")).exists():
        raise SsoError("This re-authentication is not yours; nothing was signed.")
    if now - float(evidence.get("auth_time", 0)) > REAUTH_MAX_AGE:
        raise SsoError("Your re-authentication at the identity provider is too old; sign again.")
