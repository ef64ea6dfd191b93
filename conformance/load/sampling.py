"""Conformance under load: a sample of the responses is checked against the contract.

A server that answers fast but wrongly under load must not pass, so one response in N of each
operation (and always the first) is checked: its status must be one the operation declares, its
media type one the status declares, and a JSON body must validate against the schema. Requests
are named by ``operationId``, which is how a response finds its operation here.

No locust import: the locustfile feeds responses in, and the checks are unit-tested directly.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema.exceptions import best_match

from egov_contract import contract, pointer_of

MAX_EXAMPLES = 50
"""Violations kept with their detail; beyond that only counted."""
BUDGET = 0.05
"""Share of a load generator's time that checking may take. Validating a body costs
milliseconds (every ``$ref`` is resolved through the registry): unbounded, 1 in 20 could eat
most of a core and the run would measure the kit instead of the target."""


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class Violation:
    """A sampled response that breaks the contract, with the first error found."""

    operation: str
    status: int
    error: str
    pointer: str = ""
    rule: str = ""

    def as_json(self) -> dict[str, Any]:
        """The summary's form."""
        return {
            "operation": self.operation,
            "status": self.status,
            "error": self.error,
            "pointer": self.pointer,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class Response:
    """What the contract says one operation may answer with one status."""

    spec: str
    pointer: str
    """Where the response object sits in the spec (after resolving a ``$ref``)."""
    content: Mapping[str, Any]


@dataclass(frozen=True)
class Operation:
    """One operation of the contract and its declared responses."""

    spec: str
    method: str
    path: str
    responses: Mapping[str, Any]

    def response_for(self, status: int) -> Response | None:
        """The declared response for ``status`` (exact, then ``4XX``-style, then ``default``)."""
        base = f"/paths/{_escape(self.path)}/{self.method}/responses"
        for code in (str(status), f"{status // 100}XX", "default"):
            entry = self.responses.get(code)
            if entry is None:
                continue
            pointer = f"{base}/{code}"
            document = contract().specs[self.spec]
            if isinstance(entry, dict) and isinstance(entry.get("$ref"), str):
                pointer = entry["$ref"].removeprefix("#")
                entry = _resolve(document, pointer)
            content = entry.get("content") if isinstance(entry, dict) else None
            return Response(self.spec, pointer, content or {})
        return None


def _resolve(document: Any, pointer: str) -> Any:
    node = document
    for token in pointer.lstrip("/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


@cache
def operations() -> Mapping[str, Operation]:
    """Every operation of the contract by ``operationId``."""
    return {
        operation["operationId"]: Operation(spec, method, path, operation.get("responses", {}))
        for spec, method, path, operation in contract().operations()
        if "operationId" in operation
    }


@cache
def _validator(spec: str, pointer: str) -> Any:
    # The contract caches validators too, but builds each one's URI with a file-system lookup.
    return contract().spec_validator(spec, pointer)


def _is_json(media_type: str) -> bool:
    return media_type.endswith(("/json", "+json"))


def check_response(
    operation_id: str, status: int, content_type: str | None, body: bytes | None
) -> Violation | None:
    """The first way this response breaks the contract, or None; unknown operations pass."""
    operation = operations().get(operation_id)
    if operation is None:
        return None
    declared = operation.response_for(status)
    if declared is None:
        codes = ", ".join(sorted(operation.responses))
        return Violation(operation_id, status, f"HTTP {status} is not declared (declared: {codes})")
    media_type = (content_type or "").split(";")[0].strip().lower()
    if not declared.content:
        if status == 204 and body:
            return Violation(operation_id, status, "HTTP 204 must have no body")
        return None
    if media_type not in declared.content:
        allowed = ", ".join(sorted(declared.content))
        return Violation(
            operation_id, status, f"media type {media_type or 'none'!r} is not declared ({allowed})"
        )
    if not _is_json(media_type) or "schema" not in declared.content[media_type]:
        return None
    try:
        document = json.loads(body or b"")
    except ValueError as problem:
        return Violation(operation_id, status, f"the {media_type} body is not JSON: {problem}")
    pointer = f"{declared.pointer}/content/{_escape(media_type)}/schema"
    error = best_match(_validator(declared.spec, pointer).iter_errors(document))
    if error is None:
        return None
    return Violation(
        operation_id,
        status,
        error.message[:500],
        pointer_of(error.absolute_path) or "/",
        str(error.validator),
    )


class Sampler:
    """Picks the responses to check: each operation's first, then one in ``every``.

    Beyond the first of each operation, a response is checked only while checking has taken
    less than ``budget`` of the time since the sampler started; the others are counted as
    skipped, so the summary says how much went unchecked.
    """

    def __init__(
        self, every: int, budget: float = BUDGET, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.every = every
        self.budget = budget
        self._clock = clock
        self._started = clock()
        self._spent = 0.0
        self._seen: Counter[str] = Counter()
        self.sampled = 0
        self.skipped = 0
        self.violations: list[Violation] = []
        self.violation_count = 0

    def wants(self, operation_id: str) -> bool:
        """True when this response of ``operation_id`` is one to check."""
        if self.every <= 0:
            return False
        seen = self._seen[operation_id]
        self._seen[operation_id] = seen + 1
        if seen == 0:
            return True
        if seen % self.every:
            return False
        if self._spent > self.budget * (self._clock() - self._started):
            self.skipped += 1
            return False
        return True

    def check(
        self, operation_id: str, status: int, content_type: str | None, body: bytes | None
    ) -> Violation | None:
        """Check one response and keep what it broke."""
        began = self._clock()
        self.sampled += 1
        found = check_response(operation_id, status, content_type, body)
        if found is not None:
            self.violation_count += 1
            if len(self.violations) < MAX_EXAMPLES:
                self.violations.append(found)
        self._spent += self._clock() - began
        return found

    def drain(self) -> dict[str, Any]:
        """What was sampled since the last drain, as plain data (a worker's report)."""
        report = {
            "sampled": self.sampled,
            "skipped": self.skipped,
            "violationCount": self.violation_count,
            "violations": [v.as_json() for v in self.violations],
        }
        self.sampled = self.skipped = self.violation_count = 0
        self.violations = []
        return report
