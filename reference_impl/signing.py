"""Signing and verifying compact JWS: tokens, e-results, receipts and e-copies."""

from __future__ import annotations

import json
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError

from .keys import KeyRing


def sign_json(keys: KeyRing, purpose: str, payload: dict[str, Any], typ: str | None = None) -> str:
    """A compact JWS over the canonical JSON of ``payload`` with the key of ``purpose``.

    ``typ`` goes into the protected header (e.g. ``egov-result+jws``) so that a signature of
    one kind of object cannot be passed off as another's.
    """
    key = keys.key(purpose)
    header = {"alg": keys.algorithm(purpose), "kid": key.kid}
    if typ:
        header["typ"] = typ
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return jws.serialize_compact(header, body.encode("utf-8"), key)


def verify_json(keys: KeyRing, purpose: str, token: str) -> dict[str, Any] | None:
    """The payload of a compact JWS if it verifies with the key of ``purpose``, else ``None``."""
    try:
        verified = jws.deserialize_compact(token, keys.key_set(purpose))
        payload = json.loads(verified.payload)
    except (JoseError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def issue_jwt(keys: KeyRing, claims: dict[str, Any]) -> str:
    """A JWT signed by the sandbox identity provider."""
    key = keys.key("identity")
    header = {"alg": keys.algorithm("identity"), "kid": key.kid, "typ": "JWT"}
    return jwt.encode(header, claims, key)
