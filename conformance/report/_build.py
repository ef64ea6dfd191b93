"""From test outcomes to the certification report (``schemas/report.json``).

Each test contributes to every requirement it lists; a requirement takes the worst contribution;
a profile is certifiable when none of its MUSTs stands in the way. The rules are those of
docs/engine-design.md and the descriptions in schemas/report.json.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from jsonschema.exceptions import best_match

from egov_contract import Catalogue, Requirement, contract, load_catalogue, pointer_of

from ..outcomes import Outcome, TestOutcome
from ._grade import Graded, WaiverLike, grade
from ._meta import contract_section, environment, in_vietnam, kit, timestamp
from ._redact import scrub_strings, scrub_url

REPORT_VERSION = "1.0"
REPORT_SCHEMA = "report.json"
_COUNTED = (
    Outcome.PASSED,
    Outcome.FAILED,
    Outcome.WARNING,
    Outcome.SKIPPED,
    Outcome.WAIVED,
    Outcome.ERROR,
)


def _requirements_of(catalogue: Catalogue, profiles: Sequence[str]) -> list[Requirement]:
    chosen: set[str] = set()
    for name in profiles:
        chosen.update(r.id for r in catalogue.for_profile(name))  # ValueError for a bad name
    return [r for r in catalogue if r.id in chosen]


def _waivers_by_id(waivers: Iterable[WaiverLike]) -> dict[str, WaiverLike]:
    # Two waivers of one requirement: the one that lasts longer is the one the approver meant.
    found: dict[str, WaiverLike] = {}
    for waiver in waivers:
        known = found.get(waiver.requirement)
        if known is None or waiver.expires > known.expires:
            found[waiver.requirement] = waiver
    return found


def _counts(graded: Iterable[Graded]) -> dict[str, int]:
    counts = {outcome.value: 0 for outcome in _COUNTED}
    for item in graded:
        if item.outcome is not Outcome.NOT_TESTED:
            counts[item.outcome.value] += 1
    return counts


def _profile(name: str, graded: Sequence[Graded]) -> dict[str, Any]:
    mine = [g for g in graded if name in g.requirement.profiles]
    blocking = [g.requirement.id for g in mine if g.blocks]
    result: dict[str, Any] = {
        "name": name,
        "verdict": "not-certifiable" if blocking else "certifiable",
        "counts": _counts(mine),
    }
    if blocking:
        result["blocking"] = blocking
    return result


def _coverage(item: Graded) -> dict[str, Any]:
    row: dict[str, Any] = {
        "requirement": item.requirement.id,
        "level": item.requirement.level,
        "tests": item.tests,
    }
    if item.requirement.not_testable:
        row["notTestable"] = item.requirement.not_testable
    return row


def _target(target: Mapping[str, Any]) -> dict[str, Any]:
    # A base URL may carry userinfo (http://user:password@host); it is configuration, not
    # evidence, but it still must not reach the report.
    urls = target.get("baseUrls")
    if not isinstance(urls, Mapping):
        return dict(target)
    return {**target, "baseUrls": {name: scrub_url(str(url)) for name, url in urls.items()}}


def _validate(document: Mapping[str, Any]) -> None:
    error = best_match(contract().schema_validator(REPORT_SCHEMA).iter_errors(document))
    if error is not None:
        where = pointer_of(list(error.absolute_path)) or "/"
        rule = pointer_of(list(error.absolute_schema_path))
        # The offending value stays out of the message: it may be the very secret that broke
        # the rule, and exception messages end up in CI logs.
        raise ValueError(
            f"the report breaks schemas/report.json at {where} (rule {rule}, "
            f"'{error.validator}'); this is a bug of the kit, please report it"
        )


def build_report(
    outcomes: Sequence[TestOutcome],
    *,
    profiles: Sequence[str],
    target: Mapping[str, Any],
    capabilities: Collection[str],
    started: datetime,
    finished: datetime,
    seeds: Mapping[str, Any],
    waivers: Sequence[WaiverLike] = (),
    catalogue: Catalogue | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """Grade the outcomes of a run and return its report, validated against report.json.

    Args:
        outcomes: every test the run collected, in the order they ran.
        profiles: the profiles the target is certified under.
        target: the report's ``target`` object, ready.
        capabilities: the capabilities the target claims.
        started: when the run began.
        finished: when it ended.
        seeds: ``run`` and, when hypothesis ran, ``hypothesis`` and ``hypothesisProfile``.
        waivers: approved exemptions (`Waiver`, or any object with its four fields); one
            that has expired is not applied, and the requirement's reason says so.
        catalogue: the requirement catalogue; the contract's by default.
        today: the day waivers are judged on; the day ``finished`` falls on in Vietnam.

    Raises:
        ValueError: no or an unknown profile, ``finished`` before ``started``, or a report
            that breaks the schema (a bug of the kit), naming the JSON pointer.
    """
    chosen = list(dict.fromkeys(profiles))
    if not chosen:
        raise ValueError("choose at least one profile to build a report for")
    if finished < started:
        raise ValueError(f"the run finished ({finished}) before it started ({started})")
    catalogue = catalogue if catalogue is not None else load_catalogue()
    today = today if today is not None else in_vietnam(finished).date()
    waived = _waivers_by_id(waivers)
    claimed = frozenset(capabilities)
    graded = [
        grade(
            requirement,
            [t for t in outcomes if requirement.id in t.requirements],
            claimed=claimed,
            source=catalogue.cite(requirement),
            source_vi=catalogue.cite_vi(requirement),
            waiver=waived.get(requirement.id),
            today=today,
        )
        for requirement in _requirements_of(catalogue, chosen)
    ]
    in_report = {r.id for r in (g.requirement for g in graded)}
    ran = [t for t in outcomes if in_report.intersection(t.requirements)]
    document: dict[str, Any] = {
        "reportVersion": REPORT_VERSION,
        "kit": kit(),
        "contract": contract_section(catalogue),
        "target": _target(target),
        "startedAt": timestamp(started),
        "finishedAt": timestamp(finished),
        "environment": environment(),
        "seeds": dict(seeds),
        "profiles": [_profile(name, graded) for name in chosen],
        # Everything a test put there passes the text scrubber once more: a message may quote
        # a header, a reason may quote a body.
        "requirements": scrub_strings([g.result for g in graded]),
        "coverage": [_coverage(g) for g in graded],
        "summary": {
            "requirements": len(graded),
            "tests": len(ran),
            "counts": _counts(graded),
            "notTested": sum(g.outcome is Outcome.NOT_TESTED for g in graded),
            "failedMust": [
                g.requirement.id
                for g in graded
                if g.outcome is Outcome.FAILED and g.requirement.level == "MUST"
            ],
            "durationMs": round((finished - started).total_seconds() * 1000),
        },
    }
    _validate(document)
    return document


def exit_code(report: Mapping[str, Any]) -> int:
    """The exit status a report earns: the vendor's failure apart from the kit's missing verdict.

    0 when every chosen profile is certifiable; 1 when a MUST failed (a waived one does not
    count); 2 when none failed but some MUST stands in the way all the same (in error, skipped
    for a precondition, or not tested): the run could not reach a verdict, which is a set-up or
    connection matter, not the target's failure.
    """
    verdicts = [profile["verdict"] for profile in report.get("profiles", ())]
    if verdicts and all(v == "certifiable" for v in verdicts):
        return 0
    # A report without profiles certifies nothing; it has always been a plain "not certified".
    if not verdicts or report.get("summary", {}).get("failedMust"):
        return 1
    return 2
