"""The sandbox's data, loaded from ``fixtures/``: agencies, procedures, e-forms, subjects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from egov_contract import fixtures_dir, format_checker, load_document

from .calendar import WorkingCalendar, WorkingPeriod, parse_periods


@dataclass(frozen=True)
class Fixtures:
    """Everything the reference server serves that is not created through the API."""

    agencies: dict[str, dict[str, Any]]
    procedures: dict[str, dict[str, Any]]
    forms: dict[str, dict[str, Any]]
    form_validators: dict[str, Draft202012Validator]
    citizens: dict[str, dict[str, Any]]
    organisations: dict[str, dict[str, Any]]
    officers: dict[str, dict[str, Any]]
    systems: dict[str, dict[str, Any]]
    calendar: WorkingCalendar
    calendar_years: dict[str, Any]

    def working_periods(self, agency_code: str) -> tuple[WorkingPeriod, ...]:
        """The working periods of an agency's day."""
        return parse_periods(self.agencies[agency_code]["workingHours"])


def _list(path: Path) -> list[dict[str, Any]]:
    data = load_document(path)
    return list(data) if isinstance(data, list) else list(data.get("items", []))


def load_fixtures(root: Path | None = None) -> Fixtures:
    """Read the fixture files once."""
    root = root or fixtures_dir()
    agencies = {a["code"]: a for a in _list(root / "agencies.json")}
    procedures = {}
    for path in sorted((root / "procedures").glob("*.json")):
        procedure = load_document(path)
        procedures[procedure["code"]] = procedure
    forms = {}
    validators = {}
    checker = format_checker()
    for code in procedures:
        form = load_document(root / "forms" / f"{code}.json")
        forms[code] = form
        validators[code] = Draft202012Validator(form, format_checker=checker)
    calendar_years = load_document(root / "calendar.json")
    return Fixtures(
        agencies=agencies,
        procedures=procedures,
        forms=forms,
        form_validators=validators,
        citizens={c["personalId"]: c for c in _list(root / "citizens.json")},
        organisations={o["taxCode"]: o for o in _list(root / "organisations.json")},
        officers={o["username"]: o for o in _list(root / "officers.json")},
        systems={s["clientId"]: s for s in _list(root / "systems.json")},
        calendar=WorkingCalendar(calendar_years),
        calendar_years=calendar_years,
    )
