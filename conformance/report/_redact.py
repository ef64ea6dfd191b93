"""The report's second line of defence against secrets.

`conformance.client.redact` removes credentials before an `Exchange` is built. This module runs
again over everything a report carries from a test, so a redaction slip upstream, or a server
that echoes a token back in a body, never puts a credential in a file handed to a regulator.
The rules are the ones ``schemas/report.json`` enforces, and a little wider.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

MASK = "***"

SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)

# Compared after lower-casing and dropping "_" and "-", so client_secret and clientSecret are one
# name. secureHash is deliberately absent: a payment notification's HMAC is evidence, and it
# proves nothing to anyone without the shared secret.
_SECRET_FIELDS = frozenset(
    {
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "clientsecret",
        "codeverifier",
        "password",
        "token",
        "secret",
        "apikey",
    }
)

# "code" is an OAuth authorization code only beside these; elsewhere (GET /dossiers?code=...,
# a dossier's "code" field) it is the dossier code, which is evidence and must stay.
_OAUTH_MARKERS = frozenset({"state", "session_state", "grant_type", "redirect_uri"})

# A credential after an auth scheme inside free text. Auth-params of a challenge
# (WWW-Authenticate: Bearer realm="x", error="invalid_token") are not credentials; the length
# floor keeps prose such as "a Bearer token was expected" readable.
_SCHEME_IN_TEXT = re.compile(
    r"\b(?P<scheme>Bearer|Basic)(?P<gap>\s+)"
    r"(?!(?:realm|error|error_description|error_uri|scope|charset)\s*=)"
    r"[A-Za-z0-9._~+/-]{16,}=*",
    re.IGNORECASE,
)
# A secret field written into text: a form body kept as a string, or JSON quoted in a message.
_FIELD_IN_TEXT = re.compile(
    r"(?P<key>\b(?:access_token|refresh_token|id_token|client_secret|clientSecret|code_verifier"
    r"|password)\b[\"']?)(?P<sep>\s*[:=]\s*[\"']?)(?P<value>[^\"'&\s,;}]+)"
)


def _normal(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def is_secret_field(name: str) -> bool:
    """True for a body field or URL parameter that holds a credential."""
    return _normal(name) in _SECRET_FIELDS


def scrub_text(text: str) -> str:
    """Mask credentials that appear inside free text."""
    text = _SCHEME_IN_TEXT.sub(lambda m: f"{m['scheme']}{m['gap']}{MASK}", text)
    return _FIELD_IN_TEXT.sub(lambda m: f"{m['key']}{m['sep']}{MASK}", text)


def scrub_strings(node: Any) -> Any:
    """A copy of a JSON value with `scrub_text` applied to every string value (not to keys)."""
    if isinstance(node, str):
        return scrub_text(node)
    if isinstance(node, Mapping):
        return {str(key): scrub_strings(value) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [scrub_strings(value) for value in node]
    return node


def scrub_header_value(name: str, value: str) -> str:
    """The value of a credential header as the schema wants it: ``Bearer ***`` or ``***``."""
    if name.lower() not in SECRET_HEADERS:
        return scrub_text(value)
    scheme, _, rest = value.strip().partition(" ")
    if rest.strip() and scheme.isascii() and scheme.isalpha():
        return f"{scheme} {MASK}"
    return MASK


def scrub_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """Headers with lower-case names (the schema's rule) and credentials masked."""
    merged: dict[str, str] = {}
    for name, value in headers.items():
        key = str(name).lower()
        text = scrub_header_value(key, str(value))
        # Two spellings of one field (Set-Cookie, set-cookie) are one field in HTTP.
        merged[key] = f"{merged[key]}, {text}" if key in merged else text
    return merged


def scrub_body(body: Any) -> Any:
    """A copy of a body with secret fields masked at any depth."""
    if isinstance(body, bytes | bytearray):
        digest = hashlib.sha256(body).hexdigest()
        return f"<{len(body)} bytes sha256={digest}>"
    if isinstance(body, str):
        return scrub_text(body)
    if isinstance(body, Mapping):
        oauth = any(str(key) in _OAUTH_MARKERS for key in body)
        return {
            str(key): MASK
            if is_secret_field(str(key)) or (oauth and key == "code")
            else scrub_body(value)
            for key, value in body.items()
        }
    if isinstance(body, list | tuple):
        return [scrub_body(value) for value in body]
    if body is None or isinstance(body, bool | int | float):
        return body
    return scrub_text(str(body))


def _scrub_pairs(query: str) -> str:
    pairs = query.split("&")
    names = {unquote_plus(pair.partition("=")[0]) for pair in pairs}
    oauth = bool(names & _OAUTH_MARKERS)
    kept = []
    for pair in pairs:
        name, equals, value = pair.partition("=")
        plain = unquote_plus(name)
        if equals and value and (is_secret_field(plain) or (oauth and plain == "code")):
            value = MASK
        kept.append(f"{name}{equals}{value}")
    return "&".join(kept)


def scrub_url(url: str) -> str:
    """A URL with secret query or fragment parameters and any userinfo password masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return scrub_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}{colon}{MASK if colon else ''}@{host}"
    query = _scrub_pairs(parts.query) if parts.query else ""
    # An implicit-flow redirect carries its token in the fragment.
    fragment = _scrub_pairs(parts.fragment) if "=" in parts.fragment else parts.fragment
    joined = urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
    # Characters a URI may not hold (a space, "<", non-ASCII) are percent-encoded, as a client
    # sends them; existing escapes and the delimiters are left alone.
    return quote(joined, safe="!#$%&'()*+,/:;=?@[]~")


def scrub_exchange(exchange: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a report ``exchange`` object with every credential masked."""
    request = exchange["request"]
    scrubbed: dict[str, Any] = {
        "request": {
            "method": str(request["method"]).upper(),
            "url": scrub_url(str(request["url"])),
            "headers": scrub_headers(request.get("headers") or {}),
        },
        "elapsedMs": exchange["elapsedMs"],
    }
    if "body" in request:
        scrubbed["request"]["body"] = scrub_body(request["body"])
    response = exchange.get("response")
    if response is not None:
        scrubbed["response"] = {
            "status": response["status"],
            "headers": scrub_headers(response.get("headers") or {}),
        }
        if "body" in response:
            scrubbed["response"]["body"] = scrub_body(response["body"])
    return scrubbed
