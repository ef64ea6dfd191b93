"""The parts of deliberate faults that do not fit a one-line ``if ctx.fault(...)``.

Token checks, request validation, the role check and the shape of error answers are shared by
every operation, so their faults live here rather than in the hot paths: a lax token verifier,
the contract violations a faulty server lets through, and an ASGI middleware that spoils
error answers. Nothing here runs unless one of its faults is switched on.
"""

from __future__ import annotations

import json
from base64 import urlsafe_b64decode
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.errors import JoseError

from .auth import ACCOUNT_TYPES, AUDIENCE, CLOCK_SKEW_SECONDS, Principal, TokenVerifier
from .clock import Clock
from .keys import KeyRing
from .problems import PROBLEM_MEDIA_TYPE, FieldError, Problem

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from .operations import Operation

TOKEN_FAULTS = frozenset(
    {
        "accept-expired-token",
        "accept-wrong-audience",
        "accept-forged-signature",
        "accept-future-token",
    }
)
ERROR_FAULTS = frozenset(
    {"malformed-json-500", "problem-as-plain-json", "errors-without-pointers", "no-allow-on-405"}
)
_SIGNATURE_SKIPS = {
    "signature-chain-not-checked": "chain",
    "signature-digest-not-checked": "digest",
}
REASONLESS = {
    "refuse-without-reason": "refuseDossier",
    "stop-without-reason": "stopProcessing",
    "supplement-request-without-reason": "requestSupplement",
    "cancel-without-reason": "cancelResult",
    "request-refusal-without-reason": "refuseRequest",
}
"""Faults that take a body without its ``reason``, and the operation each spoils."""
LENIENT_BODIES = frozenset(
    {"createDossier", "updateDossier", "submitRequest", "addRepositoryItem", "createPaymentRequest"}
)
"""Operations whose unknown top-level fields ``accept-unknown-fields`` lets through."""


# ---- tokens --------------------------------------------------------------------------------


class LaxTokenVerifier(TokenVerifier):
    """A verifier that, after the real one refuses a token, lets some refused tokens in.

    Each token fault forgives one defect only (expiry, issue time, audience, signature), so a
    token with another defect is still refused and the fault stays what its name says.
    """

    def __init__(
        self,
        own_issuer: str,
        keys: KeyRing,
        clock: Clock,
        external: tuple[tuple[str, str], ...] = (),
        *,
        faults: frozenset[str],
    ) -> None:
        super().__init__(own_issuer, keys, clock, external)
        self._lax_clock = clock
        self._forgiven = faults & TOKEN_FAULTS

    def verify(self, authorization: str | None) -> Principal:
        try:
            return super().verify(authorization)
        except Problem:
            principal = self._let_in(authorization or "")
            if principal is None:
                raise
            return principal

    def _let_in(self, authorization: str) -> Principal | None:
        token = authorization.partition(" ")[2].strip()
        claims = _unverified_claims(token)
        issuer = claims.get("iss") if claims is not None else None
        if claims is None or not isinstance(issuer, str):
            return None
        try:  # the server's own keys, or those of an issuer it trusts (--trust-issuer)
            keys = self._key_set_for(issuer)
        except Problem:
            return None
        try:
            jwt.decode(token, keys, algorithms=["RS256", "ES256"])
        except (JoseError, ValueError):
            if "accept-forged-signature" not in self._forgiven:
                return None
        now = int(self._lax_clock.now().timestamp())
        expires = claims.get("exp")
        if not isinstance(expires, int):
            return None
        if expires <= now and "accept-expired-token" not in self._forgiven:
            return None
        issued = claims.get("iat")
        ahead = not isinstance(issued, int) or issued > now + CLOCK_SKEW_SECONDS
        if ahead and "accept-future-token" not in self._forgiven:
            return None
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if AUDIENCE not in audiences and "accept-wrong-audience" not in self._forgiven:
            return None
        return _principal(claims, issuer, max(expires, now + 60))


def _unverified_claims(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def _principal(claims: dict[str, Any], issuer: str, expires_at: int) -> Principal | None:
    account_type = claims.get("egov_account_type")
    subject = claims.get("sub")
    if account_type not in ACCOUNT_TYPES or not isinstance(subject, str) or not subject:
        return None
    return Principal(
        issuer=issuer,
        subject=subject,
        account_type=account_type,
        name=claims.get("name"),
        personal_id=claims.get("personal_id"),
        tax_code=claims.get("tax_code"),
        agency_code=claims.get("agency_code"),
        client_id=claims.get("client_id"),
        acr=claims.get("acr"),
        expires_at=expires_at,
    )


# ---- request validation and the role check ------------------------------------------------


def let_through(
    operation_id: str, errors: list[FieldError], faults: frozenset[str]
) -> list[FieldError]:
    """The contract violations a faulty server still answers 400 for; the rest pass."""
    return [e for e in errors if not _forgiven(operation_id, e, faults)]


def _forgiven(operation_id: str, error: FieldError, faults: frozenset[str]) -> bool:
    spoilt = {REASONLESS[f] for f in faults & REASONLESS.keys()}
    if operation_id in spoilt and _about_reason(error):
        return True
    lenient = LENIENT_BODIES if "accept-unknown-fields" in faults else frozenset()
    if "account-identity-overwritable" in faults:
        lenient |= {"updateMyAccount"}
    return operation_id in lenient and _unknown_top_level(error)


def _about_reason(error: FieldError) -> bool:
    if error.pointer == "/reason":
        return True
    return error.pointer == "/" and error.rule == "required" and "'reason'" in error.detail


def _unknown_top_level(error: FieldError) -> bool:
    return error.pointer == "/" and error.rule == "additionalProperties"


def waives_role(operation: Operation, principal: Principal, faults: frozenset[str]) -> bool:
    """True when a fault lets ``principal`` call ``operation`` although its role is not listed."""
    return (
        "applicant-calls-officer-action" in faults
        and principal.role == "applicant"
        and operation.spec == "dossiers"
        and "officer" in operation.roles
    )


# ---- error answers -------------------------------------------------------------------------


class SpoiledErrors:
    """ASGI middleware that turns correct error answers into the faulty ones."""

    def __init__(self, app: ASGIApp, faults: frozenset[str]) -> None:
        self.app = app
        self.faults = faults & ERROR_FAULTS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                for spoiled in self._spoil(held):
                    await send(spoiled)

        await self.app(scope, receive, hold)

    def _spoil(self, messages: list[Message]) -> list[Message]:
        start = messages[0]
        status = int(start["status"])
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        media = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        body = b"".join(m.get("body", b"") for m in messages[1:])
        if status == 405 and "no-allow-on-405" in self.faults:
            headers = [(k, v) for k, v in headers if k.lower() != b"allow"]
        if media.startswith(PROBLEM_MEDIA_TYPE.encode()):
            status, media, body = self._problem(status, media, body)
            headers = [(k, v) for k, v in headers if k.lower() != b"content-type"]
            headers.append((b"content-type", media))
        headers.append((b"content-length", str(len(body)).encode()))
        return [
            {**start, "status": status, "headers": headers},
            {"type": "http.response.body", "body": body},
        ]

    def _problem(self, status: int, media: bytes, body: bytes) -> tuple[int, bytes, bytes]:
        problem = json.loads(body)
        rules = {e.get("rule") for e in problem.get("errors", [])}
        if status == 400 and "json" in rules and "malformed-json-500" in self.faults:
            trace = (
                "Traceback (most recent call last):\n"
                '  File "/srv/egov/api/views.py", line 88, in dispatch\n'
                "    payload = json.loads(request.body)\n"
                "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)\n"
            )
            return 500, b"text/plain; charset=utf-8", trace.encode()
        if status == 400 and "errors-without-pointers" in self.faults:
            problem.pop("errors", None)
        if "problem-as-plain-json" in self.faults:
            plain = {"error": problem.get("title"), "message": problem.get("detail")}
            return status, b"application/json", json.dumps(plain, ensure_ascii=False).encode()
        return status, media, json.dumps(problem, ensure_ascii=False).encode()


def signature_checks_skipped(faults: frozenset[str]) -> frozenset[str]:
    """The checks of a file signature that the switched-on faults leave out."""
    return frozenset(skip for name, skip in _SIGNATURE_SKIPS.items() if name in faults)
