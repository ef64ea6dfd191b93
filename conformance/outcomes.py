"""What a conformance run produces: exchanges as evidence, test outcomes, requirement verdicts.

The client records `Exchange`s; checks raise `CheckFailed` carrying them; the pytest plugin turns
each test into a `TestOutcome`; the report groups those by requirement. Every part of the engine
speaks this model, so a failure's evidence reaches all three report formats unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, ClassVar


class Outcome(StrEnum):
    """The graded outcomes of a test and of a requirement.

    ``error`` is the harness's, the network's or the configuration's fault, never the target's;
    ``skipped`` always carries a reason; ``not-tested`` is for a requirement no test covered.
    """

    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"
    SKIPPED = "skipped"
    WAIVED = "waived"
    ERROR = "error"
    NOT_TESTED = "not-tested"


@dataclass(frozen=True)
class HttpRequest:
    """A request as sent (secrets already redacted)."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any = None


@dataclass(frozen=True)
class HttpResponse:
    """A response as received (secrets already redacted)."""

    status: int
    headers: dict[str, str]
    body: Any = None


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange, the evidence a failure points at."""

    request: HttpRequest
    response: HttpResponse | None
    elapsed_ms: float

    def as_json(self) -> dict[str, Any]:
        """The report's ``exchange`` object (schemas/report.json)."""
        data: dict[str, Any] = {
            "request": {
                "method": self.request.method,
                "url": self.request.url,
                "headers": self.request.headers,
            },
            "elapsedMs": max(0, round(self.elapsed_ms)),
        }
        if self.request.body is not None:
            data["request"]["body"] = self.request.body
        if self.response is not None:
            data["response"] = {"status": self.response.status, "headers": self.response.headers}
            if self.response.body is not None:
                data["response"]["body"] = self.response.body
        return data


class CheckFailed(AssertionError):  # noqa: N818  a broken requirement, not a fault of the kit
    """A requirement is broken: what was expected, what came back, and the exchanges as evidence."""

    def __init__(
        self,
        requirement: str,
        expected: str,
        actual: str,
        exchanges: tuple[Exchange, ...] = (),
        message: str | None = None,
        spec_ref: str | None = None,
    ) -> None:
        self.requirement = requirement
        self.spec_ref = spec_ref
        self.expected = expected
        self.actual = actual
        self.exchanges = exchanges
        self.message = message or f"{requirement}: expected {expected}; got {actual}"
        super().__init__(self.message)


class HarnessError(RuntimeError):
    """The harness, the network or the configuration failed: graded ``error``, not ``failed``."""


@dataclass(frozen=True)
class FailureDetail:
    """The evidence of one failed test: the requirement it broke and what shows it."""

    requirement: str
    expected: str
    actual: str
    message: str
    exchanges: tuple[Exchange, ...] = ()
    spec_ref: str | None = None


@dataclass
class TestOutcome:
    """One test of the suites, with the requirements it checks."""

    __test__: ClassVar[bool] = False  # a data class, not a pytest test class

    name: str
    title: str
    requirements: tuple[str, ...]
    outcome: Outcome
    duration_ms: float
    failure: FailureDetail | None = None
    reason: str | None = None
    exchanges: list[Exchange] = field(default_factory=list)


_REQUIREMENT_ID = re.compile(r"^[A-Z]{2,5}-[0-9]{2,3}$")


@dataclass(frozen=True)
class Waiver:
    """An approved exemption of one requirement until a date (``waivers`` of the config).

    Raises:
        ValueError: the id is not a requirement id or the justification is too thin to read.
    """

    requirement: str
    justification: str
    expires: date
    approved_by: str | None = None

    def __post_init__(self) -> None:
        if not _REQUIREMENT_ID.match(self.requirement):
            raise ValueError(
                f"waiver requirement {self.requirement!r} is not a requirement id like 'RCV-01'"
            )
        if len(self.justification.strip()) < 20:
            raise ValueError(
                f"the waiver of {self.requirement} needs a justification of at least 20 "
                f"characters, got {self.justification!r}"
            )

    def as_json(self) -> dict[str, str]:
        """The report's ``waiver`` object."""
        data = {"justification": self.justification, "expires": self.expires.isoformat()}
        if self.approved_by:
            data["approvedBy"] = self.approved_by
        return data
