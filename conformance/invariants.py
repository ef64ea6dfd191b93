"""What every response must satisfy, checked on each one the kit receives, not once.

`Invariants` is an observer of `TargetClient` (``client.observe(invariants)``, wired for every
test in ``suites/conftest.py``). After each JSON response it checks, with the exchange as
evidence:

- every dossier, result, agency and procedure code has its format (`egov_contract.formats`),
  a dossier code names the dossier's agency and its day of receipt, and a result code is its
  dossier's code plus ``-KQ<n>`` (FMT-01, FMT-03, FMT-04, FMT-07);
- an official receipt time is not before the submission and falls in the working hours of a
  working day of the published calendar, at the first working moment after the submission
  (RCV-04); an appointment date is a working day (RCV-07), when the calendar is known;
- per dossier id, the session-wide memory of the last status and code seen: a later status
  must be reachable from the earlier one along the lifecycle of docs/contract-conventions.md,
  in any number of moves (LIF-03), and a code once given never changes (SUP-03).

Only the target's own statements are used: working hours and the calendar come from its
``getAgency`` and ``getCalendar``, fetched once through a lookup the caller provides.

A SHOULD broken in a test that does not name it is left to the tests that do: the report
grades a failure in a test against that test's requirements, so raising it there would turn a
SHOULD into a failed MUST.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import httpx

from egov_contract import formats

from .checks import body_of, fail

VN = timezone(timedelta(hours=7), "+07:00")
"""Vietnam's time: the contract's one offset (conventions, Times)."""

SLACK = timedelta(seconds=60)
"""Working time a receipt may lag behind the first working moment after sending (clock steps)."""

_SEARCH_DAYS = 400
"""How far ahead a working moment is looked for before the calendar is deemed unusable."""

# ---- the lifecycle -------------------------------------------------------------------------

# A supplement returns the dossier to where it was asked from, so supplement-requested is two
# states here: asked at reception (from 1 or 2, back to 2) and asked in processing (back to 4).
AT_RECEPTION = "supplement-requested@reception"
IN_PROCESSING = "supplement-requested@processing"

MOVES: Mapping[str, frozenset[str]] = {
    "draft": frozenset({"submitted"}),
    "submitted": frozenset({"received", "refused", AT_RECEPTION, "withdrawal-requested"}),
    "received": frozenset({"refused", "in-process", AT_RECEPTION, "withdrawal-requested"}),
    "in-process": frozenset(
        {IN_PROCESSING, "fee-requested", "withdrawal-requested", "stopped", "processed"}
    ),
    AT_RECEPTION: frozenset({"received", "withdrawal-requested"}),
    IN_PROCESSING: frozenset({"in-process", "withdrawal-requested"}),
    "fee-requested": frozenset({"in-process", "withdrawal-requested"}),
    "withdrawal-requested": frozenset({"stopped"}),
    "processed": frozenset({"returned"}),
    "refused": frozenset(),
    "stopped": frozenset(),
    "returned": frozenset(),
}
"""The moves of docs/contract-conventions.md ("Dossier lifecycle"), state → next states."""


def _closure(start: str) -> frozenset[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for following in MOVES.get(queue.popleft(), frozenset()):
            if following not in seen:
                seen.add(following)
                queue.append(following)
    return frozenset(seen)


REACHABLE: Mapping[str, frozenset[str]] = {state: _closure(state) for state in MOVES}
"""Every state reachable from each state in zero or more moves."""


def lifecycle_states(dossier: Mapping[str, Any]) -> frozenset[str]:
    """The lifecycle states a dossier body may be in (two when a supplement's origin is unsaid)."""
    status = dossier.get("status")
    if status == "supplement-requested":
        request = dossier.get("supplementRequest")
        origin = request.get("fromStatus") if isinstance(request, Mapping) else None
        if origin == "in-process":
            return frozenset({IN_PROCESSING})
        if origin in ("submitted", "received"):
            return frozenset({AT_RECEPTION})
        return frozenset({AT_RECEPTION, IN_PROCESSING})
    return frozenset({status}) if isinstance(status, str) and status in MOVES else frozenset()


def reachable(before: frozenset[str], after: frozenset[str]) -> bool:
    """True when some state of ``after`` can follow some state of ``before``."""
    return any(REACHABLE[b] & after for b in before)


# ---- working time --------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarYear:
    """The published non-working days of one year (``getCalendar``)."""

    holidays: frozenset[date]
    working_weekend_days: frozenset[date]

    @classmethod
    def published(cls, body: Any) -> CalendarYear | None:
        """The calendar of a ``getCalendar`` body, or ``None`` when it cannot be read."""
        try:
            holidays = frozenset(date.fromisoformat(h["date"]) for h in body["holidays"])
            working = frozenset(date.fromisoformat(d) for d in body["workingWeekendDays"])
        except (KeyError, TypeError, ValueError):
            return None
        return cls(holidays, working)


YearSource = Callable[[int], CalendarYear | None]


def parse_periods(agency: Any) -> tuple[tuple[time, time], ...] | None:
    """The working periods of a ``getAgency`` body, in order, or ``None`` when unreadable."""
    try:
        periods = [
            (time.fromisoformat(p["start"]), time.fromisoformat(p["end"]))
            for p in agency["workingHours"]["periods"]
        ]
    except (KeyError, TypeError, ValueError):
        return None
    periods = sorted(p for p in periods if p[0] < p[1])
    return tuple(periods) or None


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time with its offset, or ``None`` (the schema judges the rest)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def parse_date(value: Any) -> date | None:
    """A ``YYYY-MM-DD`` date, or ``None``."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


class WorkingTime:
    """An agency's working periods on the working days of the published calendar.

    Weekends are implied non-working days; the calendar lists holidays and the weekend days
    that are worked (agency.json ``calendar``). Every answer is ``None`` when it needs a year
    the target does not publish.
    """

    def __init__(self, periods: Sequence[tuple[time, time]], years: YearSource) -> None:
        self.periods = tuple(sorted(periods))
        self._years = years

    def is_working_day(self, day: date) -> bool | None:
        """True on a working day, ``None`` when the year's calendar is unknown."""
        year = self._years(day.year)
        if year is None:
            return None
        if day in year.working_weekend_days:
            return True
        return day.weekday() < 5 and day not in year.holidays

    def _windows(self, day: date) -> list[tuple[datetime, datetime]] | None:
        working = self.is_working_day(day)
        if working is None:
            return None
        if not working:
            return []
        return [
            (datetime.combine(day, start, VN), datetime.combine(day, end, VN))
            for start, end in self.periods
        ]

    def in_working_hours(self, moment: datetime) -> bool | None:
        """True when ``moment`` falls in a working period (its end included)."""
        windows = self._windows(moment.astimezone(VN).date())
        if windows is None:
            return None
        return any(start <= moment <= end for start, end in windows)

    def first_working_moment(self, moment: datetime) -> datetime | None:
        """The earliest moment at or after ``moment`` inside a working period."""
        day = moment.astimezone(VN).date()
        for offset in range(_SEARCH_DAYS):
            windows = self._windows(day + timedelta(days=offset))
            if windows is None:
                return None
            for start, end in windows:
                if moment <= end:
                    return max(start, moment)
        return None

    def working_time_between(self, earlier: datetime, later: datetime) -> timedelta | None:
        """How much working time lies between two moments (zero when ``later`` is earlier)."""
        total = timedelta()
        day = earlier.astimezone(VN).date()
        last = later.astimezone(VN).date()
        if last < day:
            return total
        if (last - day).days > _SEARCH_DAYS:
            return None
        while day <= last:
            windows = self._windows(day)
            if windows is None:
                return None
            for start, end in windows:
                low, high = max(start, earlier), min(end, later)
                if high > low:
                    total += high - low
            day += timedelta(days=1)
        return total

    def add_working_days(self, start: date, days: int) -> date | None:
        """The working day ``days`` working days after ``start`` (the first from it, for 0)."""
        day = start
        working = self.is_working_day(day)
        while working is False:
            day += timedelta(days=1)
            working = self.is_working_day(day)
        counted = 0
        while working is not None and counted < days:
            day += timedelta(days=1)
            working = self.is_working_day(day)
            counted += bool(working)
        return None if working is None else day


# ---- the observer --------------------------------------------------------------------------

Lookup = Callable[[str, str], httpx.Response | None]
"""``(interface, path) → response`` of a public GET, or ``None`` when it could not be sent."""


@dataclass
class _Seen:
    states: frozenset[str]
    status: str
    code: str | None


_DOSSIER_CODE = (
    "FMT-01",
    formats.explain_dossier_code,
    "a dossier code <agency code>-<YYMMDD>-<NNNN> (Circular 01/2018/TT-VPCP Art. 19)",
)
_RESULT_CODE = (
    "FMT-04",
    formats.explain_result_code,
    "a result code <dossier code>-KQ<n>, n from 1 (Decree 45/2020/ND-CP Art. 14)",
)
_AGENCY_CODE = (
    "FMT-03",
    formats.explain_agency_code,
    "an agency code of dot-separated groups of digits and capital letters, at most 35 "
    "characters (QCVN 102:2016)",
)
_PROCEDURE_CODE = (
    "FMT-07",
    formats.explain_procedure_code,
    "a procedure code of the national catalogue, a digit, a dot and six digits",
)
Format = tuple[str, Callable[[object], str | None], str]

_FORMATS: Mapping[str, Format] = {
    "dossierCode": _DOSSIER_CODE,
    "resultCode": _RESULT_CODE,
    "resultCodes": _RESULT_CODE,
    "agencyCode": _AGENCY_CODE,
    "agencyCodes": _AGENCY_CODE,
    "parentCode": _AGENCY_CODE,
    "procedureCode": _PROCEDURE_CODE,
}
"""Response members that hold a code, with the requirement of its format and its check."""

_FREE_TEXT = frozenset({"form", "metadata"})
"""Members whose content the applicant chose: whatever keys they use are not codes."""


class Invariants:
    """The observer: checks every JSON response, remembers each dossier's status and code."""

    def __init__(self, lookup: Lookup, levels: Mapping[str, str]) -> None:
        self._lookup = lookup
        self._levels = levels
        self._seen: dict[str, _Seen] = {}
        self._agencies: dict[str, tuple[WorkingTime | None, httpx.Response | None]] = {}
        self._years: dict[int, tuple[CalendarYear | None, httpx.Response | None]] = {}
        self.current: frozenset[str] = frozenset()
        """The requirements of the test running now (set by the suites' conftest)."""

    def __call__(self, interface: str, path: str, response: httpx.Response) -> None:
        """Check one response; raise `CheckFailed` naming the broken requirement."""
        if not 200 <= response.status_code < 300:
            return
        body = body_of(response)
        if body is None:
            return
        tracked = (
            interface == "dossiers"
            and path.startswith("/dossiers")
            and "idempotency-key" not in response.request.headers
        )
        for node in _objects(body):
            self._codes(node, response)
            if _is_dossier(node):
                self._dossier(node, response, tracked)
            elif _is_result(node):
                self._result(node, response)
            elif "workingHours" in node and "code" in node:
                self._format(_AGENCY_CODE, node["code"], response)
            elif "onlineLevel" in node and "code" in node:
                self._format(_PROCEDURE_CODE, node["code"], response)

    # ---- reporting ---------------------------------------------------------------------------

    def _broken(self, requirement: str, expected: str, actual: str, *evidence: Any) -> None:
        if self._levels.get(requirement) == "MUST" or requirement in self.current:
            raise fail(requirement, expected, actual, *evidence)

    def _format(self, kind: Format, value: Any, response: httpx.Response) -> None:
        requirement, explain, expected = kind
        problem = explain(value)
        if problem:
            self._broken(requirement, expected, problem, response)

    def _codes(self, node: Mapping[str, Any], response: httpx.Response) -> None:
        for key, kind in _FORMATS.items():
            value = node.get(key)
            for item in value if isinstance(value, list) else [value]:
                if item is not None:
                    self._format(kind, item, response)

    # ---- dossiers ----------------------------------------------------------------------------

    def _dossier(self, dossier: Mapping[str, Any], response: httpx.Response, tracked: bool) -> None:
        status, code = dossier.get("status"), dossier.get("code")
        if status != "draft":
            self._format(_DOSSIER_CODE, code, response)
            self._code_names_agency_and_day(dossier, response)
            self._receipt_time(dossier, response)
            self._appointment(dossier, response)
        if isinstance(code, str):
            for result in dossier.get("resultCodes") or []:
                if isinstance(result, str) and not result.startswith(f"{code}-KQ"):
                    self._broken(
                        "FMT-04",
                        f"every result code of dossier {code} to be {code}-KQ<n>",
                        f"resultCodes holds {result!r}",
                        response,
                    )
        if tracked and isinstance(dossier.get("id"), str) and isinstance(status, str):
            self._remember(dossier["id"], dossier, response)

    def _remember(self, key: str, dossier: Mapping[str, Any], response: httpx.Response) -> None:
        status, code = dossier["status"], dossier.get("code")
        states = lifecycle_states(dossier)
        before = self._seen.get(key)
        # Remember first, so that one wrong move is reported once, not on every later read.
        self._seen[key] = _Seen(
            states or (before.states if before else frozenset()),
            status,
            code if isinstance(code, str) else (before.code if before else None),
        )
        if before is None:
            return
        if before.code is not None and code != before.code:
            self._broken(
                "SUP-03",
                f"dossier {key} to keep the code {before.code} it was given",
                f"it now shows code {code!r}",
                response,
            )
        if states and before.states and not reachable(before.states, states):
            self._broken(
                "LIF-03",
                f"a status reachable from {_named(before.states)} along the lifecycle "
                "(docs/contract-conventions.md, Dossier lifecycle)",
                f"dossier {key} went from {_named(before.states)} to {_named(states)}",
                response,
            )

    def _code_names_agency_and_day(
        self, dossier: Mapping[str, Any], response: httpx.Response
    ) -> None:
        code, agency = dossier.get("code"), dossier.get("agencyCode")
        if formats.explain_dossier_code(code) is not None:
            return
        unit, day, _ = str(code).rsplit("-", 2)
        if isinstance(agency, str) and unit != agency:
            self._broken(
                "FMT-01",
                f"a dossier code that starts with the receiving agency's code {agency}",
                f"code {code}",
                response,
            )
        receipt = parse_time(dossier.get("officialReceiptTime"))
        if receipt is not None and day != receipt.astimezone(VN).strftime("%y%m%d"):
            self._broken(
                "FMT-01",
                "a dossier code whose YYMMDD is the day of receipt in Vietnam's time "
                f"({receipt.astimezone(VN):%y%m%d} for officialReceiptTime {receipt.isoformat()})",
                f"code {code}",
                response,
            )

    def _receipt_time(self, dossier: Mapping[str, Any], response: httpx.Response) -> None:
        sent = parse_time(dossier.get("submittedAt"))
        receipt = parse_time(dossier.get("officialReceiptTime"))
        if sent is None or receipt is None:
            return
        if receipt < sent:
            self._broken(
                "RCV-04",
                "an official receipt time no earlier than the submission",
                f"submittedAt {dossier['submittedAt']}, officialReceiptTime "
                f"{dossier['officialReceiptTime']}",
                response,
            )
        working, evidence = self.working_time(dossier.get("agencyCode"))
        if working is None:
            return
        inside = working.in_working_hours(receipt)
        lag = working.working_time_between(sent, receipt)
        if inside is False or (lag is not None and lag > SLACK):
            first = working.first_working_moment(sent)
            self._broken(
                "RCV-04",
                "the official receipt time to be the first working moment at or after the "
                "submission, in the agency's published working hours "
                f"({first.isoformat() if first else 'unknown'} for submittedAt "
                f"{sent.isoformat()})",
                f"officialReceiptTime {receipt.isoformat()}"
                + ("" if inside else ", outside the working hours"),
                response,
                *evidence,
            )

    def _appointment(self, dossier: Mapping[str, Any], response: httpx.Response) -> None:
        slip = dossier.get("receiptSlip")
        dates = [dossier.get("appointmentDate")]
        if isinstance(slip, Mapping):
            dates.append(slip.get("appointmentDate"))
        for value in dates:
            day = parse_date(value)
            if day is None:
                continue
            working, evidence = self.working_time(dossier.get("agencyCode"))
            if working is not None and working.is_working_day(day) is False:
                self._broken(
                    "RCV-07",
                    "an appointment date that is a working day of the published calendar",
                    f"appointmentDate {value} is a weekend day or a holiday",
                    response,
                    *evidence,
                )

    def _result(self, result: Mapping[str, Any], response: httpx.Response) -> None:
        code, dossier_code = result.get("code"), result.get("dossierCode")
        self._format(_RESULT_CODE, code, response)
        if (
            isinstance(code, str)
            and isinstance(dossier_code, str)
            and not code.startswith(f"{dossier_code}-KQ")
        ):
            self._broken(
                "FMT-04",
                f"the result code of dossier {dossier_code} to be {dossier_code}-KQ<n>",
                f"code {code}",
                response,
            )

    # ---- the published calendar --------------------------------------------------------------

    def working_time(self, agency: Any) -> tuple[WorkingTime | None, tuple[httpx.Response, ...]]:
        """The agency's published working time and the exchanges it was read from."""
        if not isinstance(agency, str) or formats.explain_agency_code(agency):
            return None, ()
        if agency not in self._agencies:
            found = self._lookup("catalogue", f"/agencies/{agency}")
            periods = parse_periods(_published(found))
            working = WorkingTime(periods, self._year) if periods else None
            self._agencies[agency] = (working, found)
        working, found = self._agencies[agency]
        evidence = [found] + [r for _, r in self._years.values()]
        return working, tuple(r for r in evidence if r is not None)

    def _year(self, year: int) -> CalendarYear | None:
        if year not in self._years:
            found = self._lookup("catalogue", f"/calendar/{year}") if 2000 <= year <= 2100 else None
            self._years[year] = (CalendarYear.published(_published(found)), found)
        return self._years[year][0]


def _named(states: frozenset[str]) -> str:
    """The states as a reader knows them: a supplement request says where it was asked."""
    shown = {
        AT_RECEPTION: "'supplement-requested' (asked at reception)",
        IN_PROCESSING: "'supplement-requested' (asked in processing)",
    }
    if states == {AT_RECEPTION, IN_PROCESSING}:
        return "'supplement-requested'"
    return " or ".join(sorted(shown.get(s, repr(s)) for s in states))


def _published(response: httpx.Response | None) -> Any:
    """The body of a successful lookup, or ``None``."""
    return body_of(response) if response is not None and response.status_code == 200 else None


def _objects(body: Any) -> Iterator[Mapping[str, Any]]:
    """Every JSON object of a body, outside the members whose keys the applicant chose."""
    if isinstance(body, Mapping):
        yield body
        for key, value in body.items():
            if key not in _FREE_TEXT:
                yield from _objects(value)
    elif isinstance(body, list):
        for item in body:
            yield from _objects(item)


def _is_dossier(node: Mapping[str, Any]) -> bool:
    return all(k in node for k in ("id", "status", "procedureCode", "applicant", "components"))


def _is_result(node: Mapping[str, Any]) -> bool:
    return all(k in node for k in ("code", "dossierCode", "verificationCode"))
