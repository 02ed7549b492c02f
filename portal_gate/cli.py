#!/usr/bin/env python3
"""portal-gate: ask the Lineage Portal whether a model version may be deployed, from any CI system.

Standard library only (Python 3.11+), so it runs as one copied file (docs/ci/portal-gate.py) or as the
``portal-gate`` command of ``pip install --no-deps lineage-portal``.

    portal-gate --model credit-scoring --version 7 --environment production \
                --public-key portal-audit.pem --attestation-out attestation.json

It prints the gate's reasons and exits 0 when the deploy is allowed, 1 when it is refused, 2 when the gate
could not be asked (network, authentication, a bad argument) and 3 when the answer's attestation does not
verify: its Ed25519 signature is checked against the portal's public key (``--public-key``, the PEM that
``GET /api/v1/audit/public-key`` or an audit export gives; pin it in CI). Without ``--public-key`` the key is
fetched from the same portal, which proves only that the answer was not altered after signing.
Settings may come from the environment: PORTAL_URL, PORTAL_TOKEN, PORTAL_PUBLIC_KEY.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

ALLOWED, REFUSED, ERROR, BAD_SIGNATURE = 0, 1, 2, 3

# -- Ed25519 verification (RFC 8032, section 5.1.7), in pure Python -------------------------------------------
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _add(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Point addition in extended coordinates on -x^2 + y^2 = 1 + d x^2 y^2 (complete: doubles too)."""
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % _P
    bb = (y1 + x1) * (y2 + x2) % _P
    cc = 2 * t1 * t2 * _D % _P
    dd = 2 * z1 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _mul(k: int, point: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    acc = (0, 1, 1, 0)
    while k:
        if k & 1:
            acc = _add(acc, point)
        point = _add(point, point)
        k >>= 1
    return acc


def _decode_point(raw: bytes) -> tuple[int, int, int, int] | None:
    if len(raw) != 32:
        return None
    y = int.from_bytes(raw, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        if sign:
            return None
        return 0, y, 1, 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None
    if x & 1 != sign:
        x = _P - x
    return x, y, 1, x * y % _P


_BASE = _decode_point((4 * pow(5, _P - 2, _P) % _P).to_bytes(32, "little"))


def _same(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key`` (32 raw bytes)."""
    if len(signature) != 64 or _BASE is None:
        return False
    a, r = _decode_point(public_key), _decode_point(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % _L
    return _same(_mul(s, _BASE), _add(r, _mul(h, a)))


_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")  # SubjectPublicKeyInfo of an Ed25519 key


def public_key_from_pem(pem: str) -> bytes:
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    der = base64.b64decode(body)
    if len(der) != 44 or not der.startswith(_SPKI_PREFIX):
        raise ValueError("not an Ed25519 public key in PEM (SubjectPublicKeyInfo)")
    return der[len(_SPKI_PREFIX):]


def canonical(value: Any) -> bytes:
    """The bytes the portal signs: JSON with sorted keys, no spaces, UTF-8 (portal/audit/verifier.py)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def attestation_problem(attestation: Any, public_key: bytes) -> str | None:
    """Why the attestation does not verify with ``public_key``, or None when it does."""
    if not isinstance(attestation, dict) or not isinstance(attestation.get("signed"), dict):
        return "the answer carries no attestation"
    if attestation.get("algorithm") != "Ed25519":
        return f"unknown signature algorithm {attestation.get('algorithm')!r}"
    if attestation.get("key_id") != hashlib.sha256(public_key).hexdigest():
        return "signed by another key than the portal public key given (key_id differs)"
    try:
        signature = base64.b64decode(attestation.get("signature") or "", validate=True)
    except ValueError:
        return "the signature is not base64"
    if not ed25519_verify(public_key, canonical(attestation["signed"]), signature):
        return "the signature does not match the signed answer"
    return None


# -- asking the gate ------------------------------------------------------------------------------------------
class GateError(Exception):
    pass


def _get(url: str, token: str, timeout: float) -> Any:
    # main() accepts only http(s) URLs.
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}",  # noqa: S310
                                               "Accept": "application/json", "User-Agent": "portal-gate/1"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the portal's URL, http(s) only
            return json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise GateError(f"{exc.code} from {url.split('?')[0]}: {detail}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise GateError(f"cannot reach {url.split('?')[0]}: {exc}") from exc


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="portal-gate", description="Ask the Lineage Portal's deploy gate.")
    p.add_argument("--url", default=os.environ.get("PORTAL_URL", ""), help="portal base URL (PORTAL_URL)")
    p.add_argument("--token", default=os.environ.get("PORTAL_TOKEN", ""), help="API token (PORTAL_TOKEN)")
    p.add_argument("--model", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--environment", required=True)
    p.add_argument("--namespace", default="", help="model namespace, when the name is not unique")
    p.add_argument("--require-alias", default="", metavar="ALIAS",
                   help="refuse unless the version also holds this registry alias now (e.g. champion)")
    p.add_argument("--public-key", default=os.environ.get("PORTAL_PUBLIC_KEY", ""), metavar="PEM_FILE",
                   help="the portal's Ed25519 public key (PORTAL_PUBLIC_KEY); default: fetched from the portal")
    p.add_argument("--attestation-out", default="", metavar="FILE", help="write the signed answer here")
    p.add_argument("--timeout", type=float, default=30.0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.url or not args.token:
        print("portal-gate: --url and --token (or PORTAL_URL and PORTAL_TOKEN) are required", file=sys.stderr)
        return ERROR
    if urllib.parse.urlsplit(args.url).scheme not in ("http", "https"):
        print("portal-gate: --url must be http(s)://", file=sys.stderr)
        return ERROR
    base = args.url.rstrip("/")
    query = {"model": args.model, "version": args.version, "environment": args.environment}
    if args.namespace:
        query["namespace"] = args.namespace
    if args.require_alias:
        query["alias"] = args.require_alias
    try:
        if args.public_key:
            with open(args.public_key, encoding="ascii") as fh:
                key = public_key_from_pem(fh.read())
        else:
            key = public_key_from_pem(_get(f"{base}/api/v1/audit/public-key", args.token, args.timeout)["pem"])
            print("portal-gate: note: public key fetched from the portal itself; pin it with --public-key")
        answer = _get(f"{base}/api/v1/gate?{urllib.parse.urlencode(query)}", args.token, args.timeout)
    except (GateError, OSError, ValueError, KeyError, TypeError) as exc:
        print(f"portal-gate: {exc}", file=sys.stderr)
        return ERROR
    attestation = answer.get("attestation") if isinstance(answer, dict) else None
    problem = attestation_problem(attestation, key)
    if problem:
        print(f"portal-gate: attestation does not verify: {problem}", file=sys.stderr)
        return BAD_SIGNATURE
    signed = attestation["signed"]  # judge by what was signed, not by the unsigned copy beside it
    asked = f"{args.model} {args.version} -> {args.environment} (alias {args.require_alias or None})"
    if signed.get("environment") != args.environment or not str(signed.get("model_version", "")).endswith(
            f":{args.model}#{args.version}") or (args.require_alias and signed.get("alias") != args.require_alias):
        print(f"portal-gate: the signed answer is about {signed.get('model_version')} -> "
              f"{signed.get('environment')} (alias {signed.get('alias')}), not {asked}", file=sys.stderr)
        return BAD_SIGNATURE
    if args.attestation_out:
        with open(args.attestation_out, "w", encoding="utf-8") as fh:
            json.dump(attestation, fh, indent=2, sort_keys=True)
    verdict = "ALLOWED" if signed.get("allowed") is True else "REFUSED"
    print(f"portal-gate: {verdict}: {signed.get('model_version')} -> {signed.get('environment')} "
          f"(attestation verified, key {attestation['key_id'][:16]}…, {signed.get('time')})")
    for reason in signed.get("reasons") or []:
        print(f"  - {reason}")
    return ALLOWED if verdict == "ALLOWED" else REFUSED


if __name__ == "__main__":
    sys.exit(main())
