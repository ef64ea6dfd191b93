"""Small checks that raise `CheckFailed` carrying the requirement, the evidence and the spec.

Each check takes the requirement it speaks for and the response it judges; the response's
recorded exchange (see `client.TargetClient.call`) becomes the evidence. A suite calls checks,
never bare ``assert``: the plugin grades a bare assertion as the kit's own error.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from functools import cache
from typing import Any

import httpx

from egov_contract import contract

from .client import EXCHANGE_KEY
from .outcomes import CheckFailed, Exchange

JSON_TYPES = ("application/json", "application/problem+json")


def evidence(*responses: httpx.Response | None) -> tuple[Exchange, ...]:
    """The recorded exchanges of ``responses``."""
    found = []
    for response in responses:
        if response is not None and EXCHANGE_KEY in response.extensions:
            found.append(response.extensions[EXCHANGE_KEY])
    return tuple(found)


def fail(
    requirement: str,
    expected: str,
    actual: str,
    *responses: httpx.Response | None,
    spec_ref: str | None = None,
) -> CheckFailed:
    """A `CheckFailed` with the exchanges of ``responses`` (raise it)."""
    return CheckFailed(requirement, expected, actual, evidence(*responses), spec_ref=spec_ref)


def expect(
    requirement: str,
    condition: bool,
    expected: str,
    actual: str | Callable[[], str],
    *responses: httpx.Response | None,
) -> None:
    """Fail ``requirement`` unless ``condition`` holds."""
    if not condition:
        shown = actual() if callable(actual) else actual
        raise fail(requirement, expected, shown, *responses)


def body_of(response: httpx.Response) -> Any:
    """The JSON body, or ``None`` when there is none or it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def describe(response: httpx.Response) -> str:
    """A short account of a response for the 'what came back' line."""
    media = response.headers.get("content-type", "no content type")
    body = response.text[:300] if response.content else "an empty body"
    return f"HTTP {response.status_code} ({media}): {body}"


def expect_status(requirement: str, response: httpx.Response, *statuses: int, why: str = "") -> Any:
    """Fail unless the status is one of ``statuses``; return the JSON body (or ``None``)."""
    if response.status_code not in statuses:
        wanted = " or ".join(str(s) for s in statuses)
        expected = f"HTTP {wanted}" + (f" ({why})" if why else "")
        raise fail(requirement, expected, describe(response), response)
    return body_of(response)


def expect_refused(
    requirement: str,
    response: httpx.Response,
    statuses: Collection[int],
    *,
    why: str,
    pointer: str | None = None,
) -> dict[str, Any]:
    """Fail unless the answer is an RFC 9457 problem with one of ``statuses``.

    ``pointer``: the JSON Pointer of the field the problem's ``errors[]`` must name.
    """
    if response.status_code not in statuses:
        wanted = " or ".join(str(s) for s in sorted(statuses))
        raise fail(requirement, f"a refusal, HTTP {wanted}: {why}", describe(response), response)
    problem = expect_problem_body(requirement, response)
    if pointer is not None:
        named = [e.get("pointer") for e in problem.get("errors", []) if isinstance(e, dict)]
        if pointer not in named:
            raise fail(
                requirement,
                f"the problem's errors[] to name the field {pointer}",
                f"errors[] names {named or 'no field'}",
                response,
            )
    return problem


def expect_problem_body(requirement: str, response: httpx.Response) -> dict[str, Any]:
    """Fail unless the body is ``application/problem+json`` valid per RFC 9457."""
    media = response.headers.get("content-type", "").split(";", 1)[0].strip()
    body = body_of(response)
    if media != "application/problem+json" or not isinstance(body, dict):
        raise fail(
            requirement,
            "an application/problem+json body (RFC 9457)",
            describe(response),
            response,
        )
    errors = list(contract().schema_validator("common/problem.json").iter_errors(body))
    if errors or body.get("status") != response.status_code:
        detail = errors[0].message if errors else f"status member {body.get('status')!r}"
        raise fail(
            requirement,
            "a problem body valid against schemas/common/problem.json whose status member "
            "equals the HTTP status",
            detail,
            response,
        )
    return body


def expect_conforms(requirement: str, operation_id: str, response: httpx.Response) -> Any:
    """Fail unless the response is one the operation declares, with a body valid against it."""
    spec, pointer, declared = _response_schema(operation_id, response.status_code,
                                               _media(response))  # fmt: skip
    spec_ref = f"specs/{spec}.yaml#{pointer}"
    if not declared:
        raise fail(
            requirement,
            f"a status that {operation_id} declares",
            describe(response),
            response,
            spec_ref=spec_ref,
        )
    if pointer.endswith("/schema"):
        validator = contract().spec_validator(spec, pointer)
        body = body_of(response)
        error = next(iter(validator.iter_errors(body)), None) if body is not None else None
        if body is None or error is not None:
            where = "/" + "/".join(str(p) for p in error.absolute_path) if error else ""
            raise fail(
                requirement,
                f"a body valid against the {response.status_code} response of {operation_id}",
                f"{where or 'body'}: {error.message}" if error else describe(response),
                response,
                spec_ref=spec_ref,
            )
        return body
    return body_of(response)


def _media(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "")).split(";", 1)[0].strip().lower()


@cache
def operation_index() -> dict[str, tuple[str, str]]:
    """operationId → (spec, JSON pointer of the operation inside the spec)."""
    index: dict[str, tuple[str, str]] = {}
    for spec, method, path, operation in contract().operations():
        escaped = path.replace("~", "~0").replace("/", "~1")
        index[operation["operationId"]] = (spec, f"/paths/{escaped}/{method}")
    return index


def _resolve(spec: str, pointer: str) -> tuple[str, Any]:
    node: Any = contract().specs[spec]
    for part in pointer.strip("/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    ref = node.get("$ref") if isinstance(node, dict) else None
    if isinstance(ref, str) and ref.startswith("#/"):
        return _resolve(spec, ref[1:])
    return pointer, node


def _response_schema(operation_id: str, status: int, media: str) -> tuple[str, str, bool]:
    """(spec, pointer to the schema or the response, whether the status is declared)."""
    spec, operation = operation_index()[operation_id]
    responses = _resolve(spec, operation + "/responses")[1]
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            pointer, response = _resolve(spec, f"{operation}/responses/{key}")
            content = response.get("content") or {}
            for candidate in _candidates(media, content):
                if "schema" in content[candidate]:
                    escaped = candidate.replace("~", "~0").replace("/", "~1")
                    return spec, f"{pointer}/content/{escaped}/schema", True
            return spec, pointer, True
    return spec, operation, False


def _candidates(media: str, content: dict[str, Any]) -> Iterable[str]:
    if media in content:
        yield media
    elif media in JSON_TYPES:
        yield from (m for m in content if m in JSON_TYPES)
