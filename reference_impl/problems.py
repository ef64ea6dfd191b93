"""RFC 9457 problem details: the one error root of the reference server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROBLEM_BASE = "https://egov-conformance.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "The request does not match the contract",
    401: "Sign-in required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "The current state does not allow this",
    412: "The object changed since you read it",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Refused by a check",
    429: "Too many requests",
    500: "Internal error",
}


@dataclass(frozen=True)
class FieldError:
    """One broken rule: where (JSON pointer), which rule, and what is wrong."""

    pointer: str
    detail: str
    rule: str | None = None

    def as_json(self) -> dict[str, str]:
        data = {"pointer": self.pointer, "detail": self.detail}
        if self.rule:
            data["rule"] = self.rule
        return data


@dataclass
class Problem(Exception):  # noqa: N818 - RFC 9457 calls it a problem
    """An error answer. Raise it anywhere in a handler; the dispatcher renders it."""

    status: int
    detail: str
    kind: str = "about:blank"
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    def as_json(self) -> dict[str, Any]:
        """The problem+json body."""
        body: dict[str, Any] = {
            "type": self.kind if self.kind == "about:blank" else PROBLEM_BASE + self.kind,
            "title": _TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = [e.as_json() for e in self.errors]
        body.update(self.extra)
        return body


def bad_request(detail: str, errors: list[FieldError] | None = None) -> Problem:
    """400: the request does not match the contract."""
    return Problem(400, detail, "invalid-request", errors or [])


def unauthorized(detail: str) -> Problem:
    """401, with the ``WWW-Authenticate`` challenge RFC 6750 asks for."""
    return Problem(401, detail, "unauthorized", headers={"WWW-Authenticate": 'Bearer realm="egov"'})


def forbidden(detail: str) -> Problem:
    """403: a valid caller that may not do this."""
    return Problem(403, detail, "forbidden")


def not_found(what: str, key: str) -> Problem:
    """404 naming the kind of object and the key looked up."""
    return Problem(404, f"No {what} {key!r} exists, or it is not yours to see.", "not-found")


def conflict(detail: str, **extra: Any) -> Problem:
    """409: the object's state forbids the action."""
    return Problem(409, detail, "conflict", extra=extra)


def precondition_failed(current_etag: str) -> Problem:
    """412: ``If-Match`` is stale."""
    return Problem(
        412,
        f"If-Match does not match the current ETag {current_etag}; read the object again.",
        "precondition-failed",
        headers={"ETag": current_etag},
    )


def unprocessable(detail: str, errors: list[FieldError] | None = None) -> Problem:
    """422: well-formed but refused by a domain check; ``errors`` lists every reason."""
    return Problem(422, detail, "check-failed", errors or [])
