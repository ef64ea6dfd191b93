"""Procedure catalogue: procedures, e-forms, agencies and the working calendar."""

from __future__ import annotations

import unicodedata

from ..dispatch import Context, Reply, Router
from ..pagination import page_of_list
from ..problems import not_found

router = Router()


def fold(text: str) -> str:
    """Case- and normalisation-insensitive form of a text, for searches (NFC = NFD)."""
    return unicodedata.normalize("NFC", text).casefold()


@router.operation("listProcedures")
def list_procedures(ctx: Context) -> Reply:
    procedures = list(ctx.services.fixtures.procedures.values())
    if agency := ctx.query.get("agencyCode"):
        procedures = [p for p in procedures if agency in p["agencyCodes"]]
    if level := ctx.query.get("onlineLevel"):
        procedures = [p for p in procedures if p["onlineLevel"] == level]
    if words := ctx.query.get("q"):
        wanted = fold(words).split()
        procedures = [p for p in procedures if all(w in fold(p["name"]) for w in wanted)]
    return Reply(body=page_of_list(procedures, ctx.query))


@router.operation("getProcedure")
def get_procedure(ctx: Context) -> Reply:
    code = ctx.path["procedureCode"]
    procedure = ctx.services.fixtures.procedures.get(code)
    if procedure is None:
        raise not_found("procedure", code)
    return Reply(body=procedure)


@router.operation("getProcedureForm")
def get_procedure_form(ctx: Context) -> Reply:
    code = ctx.path["procedureCode"]
    form = ctx.services.fixtures.forms.get(code)
    if form is None:
        raise not_found("procedure", code)
    return Reply(body=form, media_type="application/schema+json")


@router.operation("listAgencies")
def list_agencies(ctx: Context) -> Reply:
    return Reply(body=page_of_list(list(ctx.services.fixtures.agencies.values()), ctx.query))


@router.operation("getAgency")
def get_agency(ctx: Context) -> Reply:
    code = ctx.path["agencyCode"]
    agency = ctx.services.fixtures.agencies.get(code)
    if agency is None:
        raise not_found("agency", code)
    return Reply(body=agency)


@router.operation("getCalendar")
def get_calendar(ctx: Context) -> Reply:
    year = ctx.path["year"]
    calendar = ctx.services.fixtures.calendar
    return Reply(
        body={
            "year": year,
            "holidays": calendar.holidays(year),
            "workingWeekendDays": calendar.working_weekend_days(year),
        }
    )
