"""From an HTTP request to a handler and back: authenticate, validate, call, render."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from .auth import Principal
from .fault_hooks import let_through, waives_role
from .operations import Operation
from .problems import PROBLEM_MEDIA_TYPE, FieldError, Problem, bad_request, forbidden
from .validation import read_parameters, schema_errors

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger("reference_impl")

_MAX_BODY_BYTES = 15_000_000


@dataclass
class Reply:
    """What a handler answers: a status, a JSON body (or bytes) and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str | None = None


@dataclass
class Context:
    """Everything a handler needs about the request it serves."""

    operation: Operation
    services: Services
    principal: Principal | None
    path: dict[str, Any]
    query: dict[str, Any]
    headers: dict[str, Any]
    body: Any
    raw_headers: Headers
    base_url: str
    contract_errors: list[FieldError] = field(default_factory=list)
    """Violations of the contract, for handlers registered with ``own_contract_errors``."""

    @property
    def caller(self) -> Principal:
        """The signed-in caller (operations with roles other than public always have one)."""
        if self.principal is None:  # pragma: no cover - the dispatcher guarantees it
            raise forbidden("This operation needs a signed-in caller.")
        return self.principal

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A database transaction that commits before the answer is sent."""
        with self.services.database.transaction() as connection:
            yield connection

    def fault(self, name: str) -> bool:
        """True when the deliberate fault ``name`` is on (mutation testing)."""
        return self.services.settings.has_fault(name)


Handler = Callable[[Context], Reply]
_OWN_ERRORS = "egov_own_contract_errors"


class Router:
    """A module's handlers, by operationId."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}

    def operation(
        self, operation_id: str, *, own_contract_errors: bool = False
    ) -> Callable[[Handler], Handler]:
        """Register the decorated function as the handler of ``operation_id``.

        Args:
            operation_id: the operation it serves.
            own_contract_errors: hand parameter and body violations to the handler in
                ``ctx.contract_errors`` instead of answering 400 before it runs; for the OAuth
                endpoints, whose errors are redirects or carry RFC 6749 members.
        """

        def register(function: Handler) -> Handler:
            if operation_id in self.handlers:
                raise ValueError(f"{operation_id} has two handlers")
            if own_contract_errors:
                setattr(function, _OWN_ERRORS, True)
            self.handlers[operation_id] = function
            return function

        return register


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""Built once: json.dumps with options builds an encoder on every call."""


def json_bytes(value: Any) -> bytes:
    """Serialise a JSON value the way every response is serialised."""
    return _ENCODER.encode(value).encode("utf-8")


def problem_response(problem: Problem) -> Response:
    """Render a problem as ``application/problem+json``."""
    return Response(
        json_bytes(problem.as_json()),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


def _authorise(operation: Operation, principal: Principal, faults: frozenset[str]) -> None:
    if principal.role not in operation.roles and not waives_role(operation, principal, faults):
        allowed = ", ".join(sorted(operation.roles))
        raise forbidden(
            f"{operation.operation_id} is for {allowed}; the token is for a {principal.role}."
        )


def make_endpoint(
    operation: Operation, handler: Handler | None, services: Services
) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint serving ``operation`` with ``handler``."""

    own_errors = bool(getattr(handler, _OWN_ERRORS, False))

    async def endpoint(request: Request) -> Response:
        try:
            if handler is None:
                raise Problem(501, f"{operation.operation_id} is not implemented here.")
            context = await _context(request, operation, services, own_errors)
            reply = handler(context)
            response = _render(reply)
            if services.settings.validate_responses:
                _check_response(operation, reply, services)
            return response
        except Problem as problem:
            return problem_response(problem)
        except Exception:
            reference = secrets.token_hex(6)
            log.exception("internal error %s in %s", reference, operation.operation_id)
            return problem_response(
                Problem(500, f"The server failed; quote reference {reference} when reporting it.")
            )

    return endpoint


async def _context(
    request: Request, operation: Operation, services: Services, own_errors: bool = False
) -> Context:
    principal = None
    if not operation.public:
        principal = services.verifier.verify(request.headers.get("authorization"))
        _authorise(operation, principal, services.settings.faults)
    path, query, headers, errors = read_parameters(
        operation.parameters,
        dict(request.path_params),
        dict(request.query_params) if request.scope.get("query_string") else {},
        request.headers,
    )
    body = await _body(request, operation, errors)
    if errors and services.settings.faults:  # mutation testing: some violations pass
        errors = let_through(operation.operation_id, errors, services.settings.faults)
    if errors and not own_errors:
        count = len(errors)
        raise bad_request(
            f"{count} part{'s' if count > 1 else ''} of the request do not match the contract.",
            errors,
        )
    return Context(
        operation=operation,
        services=services,
        principal=principal,
        path=path,
        query=query,
        headers=headers,
        body=body,
        raw_headers=request.headers,
        base_url=services.settings.public_url.rstrip("/"),
        contract_errors=errors,
    )


async def _body(request: Request, operation: Operation, errors: list[FieldError]) -> Any:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > _MAX_BODY_BYTES:
        raise Problem(413, f"The body is larger than {_MAX_BODY_BYTES} bytes.")
    if operation.body is None and not length and "transfer-encoding" not in request.headers:
        return None  # nothing was sent, so there is nothing to read (most GETs)
    raw = await request.body()
    if operation.body is None:
        return None
    if not raw:
        if operation.body_required:
            errors.append(FieldError("/", "A request body is required.", "required"))
        return None
    media_type, value = operation.body.parse(request.headers.get("content-type", ""), raw)
    errors.extend(operation.body.errors(media_type, value))
    return value


def _render(reply: Reply) -> Response:
    if reply.body is None:
        return Response(status_code=reply.status, headers=reply.headers)
    if isinstance(reply.body, bytes):
        media_type = reply.media_type or "application/octet-stream"
        return Response(reply.body, reply.status, reply.headers, media_type=media_type)
    return Response(
        json_bytes(reply.body),
        reply.status,
        reply.headers,
        media_type=reply.media_type or "application/json",
    )


def _check_response(operation: Operation, reply: Reply, services: Services) -> None:
    """In test mode, refuse to send a response the contract does not allow."""
    # An empty mapping is a declared response without content (204), not a missing one.
    declared = operation.responses.get(str(reply.status))
    if declared is None:
        declared = operation.responses.get(f"{str(reply.status)[0]}XX")
    if declared is None:
        declared = operation.responses.get("default")
    if declared is None:
        raise Problem(500, f"{operation.operation_id} answered {reply.status}, not in the spec.")
    if reply.body is None or isinstance(reply.body, bytes) or not declared:
        return
    media_type = reply.media_type or "application/json"
    pointer = declared.get(media_type)
    if pointer is None:
        raise Problem(500, f"{operation.operation_id} answered {media_type}, not in the spec.")
    validator = services.contract.spec_validator(operation.spec, pointer)
    errors = schema_errors(validator, reply.body)
    if errors:
        described = "; ".join(f"{e.pointer}: {e.detail}" for e in errors[:5])
        raise Problem(
            500, f"{operation.operation_id} built a response the contract forbids: {described}"
        )
