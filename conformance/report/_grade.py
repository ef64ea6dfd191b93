"""Grading one requirement: each test's contribution, the worst of them, waivers, excuses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from egov_contract import Requirement

from ..outcomes import Exchange, Outcome, TestOutcome
from ._redact import scrub_exchange

# failed > error > warning > passed > skipped (docs/engine-design.md).
_RANK = {
    Outcome.SKIPPED: 0,
    Outcome.PASSED: 1,
    Outcome.WARNING: 2,
    Outcome.ERROR: 3,
    Outcome.FAILED: 4,
}
NO_TEST = "no test of this kit covers it"


def not_claimed(capability: str) -> str:
    """The reason of a requirement skipped because the target does not claim its capability."""
    return f"capability '{capability}' not claimed by the target"


def stopped_at(requirement: str) -> str:
    """The reason of a test's other requirements when it failed on an earlier one."""
    return f"stopped at an earlier failure of {requirement}"


class WaiverLike(Protocol):
    """What grading reads of a waiver: `Waiver`, or the configuration's own waiver class."""

    @property
    def requirement(self) -> str: ...
    @property
    def justification(self) -> str: ...
    @property
    def expires(self) -> date: ...
    @property
    def approved_by(self) -> str | None: ...


def waiver_json(waiver: WaiverLike) -> dict[str, str]:
    """The report's ``waiver`` object."""
    data = {"justification": waiver.justification, "expires": waiver.expires.isoformat()}
    if waiver.approved_by:
        data["approvedBy"] = waiver.approved_by
    return data


@dataclass(frozen=True)
class Graded:
    """A requirement with its ``requirementResult``, and whether it blocks certification."""

    requirement: Requirement
    result: dict[str, Any]
    outcome: Outcome
    tests: int
    blocks: bool


@dataclass(frozen=True)
class _Contribution:
    outcome: Outcome
    result: dict[str, Any]
    reason: str | None = None


def _ms(value: float) -> int:
    return max(0, round(value))


def _exchanges(exchanges: Sequence[Exchange]) -> list[dict[str, Any]]:
    return [scrub_exchange(exchange.as_json()) for exchange in exchanges]


def _failure(test: TestOutcome) -> dict[str, Any]:
    detail = test.failure
    if detail is None:
        # A failed test without evidence is a plugin slip; the test's own exchanges are the
        # best evidence left, and the schema wants a failure object on every failed result.
        return {
            "expected": "",
            "actual": "",
            "message": test.reason or "the test failed without recording its evidence",
            "exchanges": _exchanges(test.exchanges),
        }
    failure: dict[str, Any] = {
        "expected": detail.expected,
        "actual": detail.actual,
        "message": detail.message or f"{detail.requirement}: expected {detail.expected}",
        # A check that raised without exchanges still leaves the test's own as evidence.
        "exchanges": _exchanges(detail.exchanges or tuple(test.exchanges)),
    }
    if detail.spec_ref:
        failure["specRef"] = detail.spec_ref
    return failure


def _contribution(test: TestOutcome, requirement: Requirement) -> _Contribution:
    result: dict[str, Any] = {"name": test.name, "durationMs": _ms(test.duration_ms)}
    if test.title:
        result["title"] = test.title
    outcome = Outcome(test.outcome)
    reason: str | None = None
    if outcome in (Outcome.FAILED, Outcome.WARNING):
        broke = test.failure.requirement if test.failure else requirement.id
        # A failure naming a requirement the test does not list still fails what it lists:
        # evidence is never dropped for a mislabelled check.
        if broke == requirement.id or broke not in test.requirements:
            graded = outcome is Outcome.FAILED and requirement.level == "MUST"
            outcome = Outcome.FAILED if graded else Outcome.WARNING
            result["failure"] = _failure(test)
        else:
            outcome, reason = Outcome.SKIPPED, stopped_at(broke)
    elif outcome is Outcome.ERROR:
        reason = test.reason or (test.failure.message if test.failure else None)
        reason = reason or "the test raised an error without a message"
        if test.failure is not None:
            result["failure"] = _failure(test)
    elif outcome is Outcome.SKIPPED:
        reason = test.reason or "skipped without a reason"
    elif outcome is not Outcome.PASSED:
        raise ValueError(
            f"test {test.name} has outcome {outcome.value!r}; a test is passed, failed, "
            "warning, skipped or error (waived and not-tested are a requirement's)"
        )
    result["outcome"] = outcome.value
    if outcome is Outcome.SKIPPED and reason:
        result["skipReason"] = reason
    return _Contribution(outcome, result, reason)


def _joined(reasons: Sequence[str | None]) -> str | None:
    unique = list(dict.fromkeys(r for r in reasons if r))
    return "; ".join(unique) or None


def grade(
    requirement: Requirement,
    tests: Sequence[TestOutcome],
    *,
    claimed: frozenset[str],
    source: str,
    waiver: WaiverLike | None,
    today: date,
    source_vi: str | None = None,
) -> Graded:
    """Grade one requirement from the tests that list it (``source_vi``: the citation in
    Vietnamese, for the Vietnamese page)."""
    contributions = [_contribution(test, requirement) for test in tests]
    excused = False
    reason: str | None
    if not contributions and requirement.not_testable:
        outcome, reason, excused = Outcome.NOT_TESTED, requirement.not_testable, True
    elif requirement.capability and requirement.capability not in claimed:
        # Not claimed means not part of the certification, whatever a stray test found.
        outcome, reason, excused = Outcome.SKIPPED, not_claimed(requirement.capability), True
    elif not contributions:
        outcome, reason = Outcome.NOT_TESTED, NO_TEST
    else:
        outcome = max((c.outcome for c in contributions), key=_RANK.__getitem__)
        reason = _joined([c.reason for c in contributions if c.outcome is outcome])
    result: dict[str, Any] = {
        "id": requirement.id,
        "level": requirement.level,
        "title": {"en": requirement.title.en, "vi": requirement.title.vi},
        "source": source,
        **({"sourceVi": source_vi} if source_vi else {}),
        "outcome": outcome.value,
        "durationMs": sum(c.result["durationMs"] for c in contributions),
        "tests": [c.result for c in contributions],
    }
    if outcome in (Outcome.FAILED, Outcome.WARNING) and waiver is not None:
        expires = waiver.expires.isoformat()
        if waiver.expires >= today:
            reason = f"{outcome.value} but waived until {expires}"
            outcome = Outcome.WAIVED
            result["outcome"] = outcome.value
            result["waiver"] = waiver_json(waiver)
        else:
            reason = f"the waiver expired on {expires} and was not applied"
    if reason:
        result["reason"] = reason
    blocks = requirement.level == "MUST" and not (
        excused or outcome in (Outcome.PASSED, Outcome.WAIVED)
    )
    return Graded(requirement, result, outcome, len(contributions), blocks)
