"""Procedure catalogue: procedures, e-forms, agencies and the working calendar."""

from __future__ import annotations

import unicodedata
from typing import Any

from ..dispatch import Context, Reply, Router
from ..pagination import page_of_list
from ..problems import not_found

router = Router()


def fold(text: str) -> str:
    """Case- and normalisation-insensitive form of a text, for searches (NFC = NFD)."""
    return unicodedata.normalize("NFC", text).casefold()


def _published(ctx: Context, procedure: dict[str, Any]) -> dict[str, Any]:
    """A procedure as the catalogue shows it (a fault may leave out the online notice)."""
    if ctx.fault("online-notice-missing"):
        return {k: v for k, v in procedure.items() if k != "notFullyOnlineReason"}
    return procedure


def _agency(ctx: Context, agency: dict[str, Any]) -> dict[str, Any]:
    if ctx.fault("agency-code-lowercase"):
        return {**agency, "code": agency["code"].lower()}
    return agency


@router.operation("listProcedures")
def list_procedures(ctx: Context) -> Reply:
    procedures = [_published(ctx, p) for p in ctx.services.fixtures.procedures.values()]
    if agency := ctx.query.get("agencyCode"):
        procedures = [p for p in procedures if agency in p["agencyCodes"]]
    if level := ctx.query.get("onlineLevel"):
        procedures = [p for p in procedures if p["onlineLevel"] == level]
    if words := ctx.query.get("q"):
        # The fault compares code points as sent: NFD words never meet the NFC names.
        folding = str.casefold if ctx.fault("search-ignores-nfd") else fold
        wanted = folding(words).split()
        procedures = [p for p in procedures if all(w in folding(p["name"]) for w in wanted)]
    page = page_of_list(procedures, ctx.query)
    if ctx.fault("procedures-last-page-lost"):
        page["nextCursor"] = None
    return Reply(body=page)


@router.operation("getProcedure")
def get_procedure(ctx: Context) -> Reply:
    code = ctx.path["procedureCode"]
    procedure = ctx.services.fixtures.procedures.get(code)
    if procedure is None:
        raise not_found("procedure", code)
    return Reply(body=_published(ctx, procedure))


@router.operation("getProcedureForm")
def get_procedure_form(ctx: Context) -> Reply:
    code = ctx.path["procedureCode"]
    form = ctx.services.fixtures.forms.get(code)
    if form is None or ctx.fault("form-not-published"):
        raise not_found("procedure", code)
    return Reply(body=form, media_type="application/schema+json")


@router.operation("listAgencies")
def list_agencies(ctx: Context) -> Reply:
    agencies = [_agency(ctx, a) for a in ctx.services.fixtures.agencies.values()]
    return Reply(body=page_of_list(agencies, ctx.query))


@router.operation("getAgency")
def get_agency(ctx: Context) -> Reply:
    code = ctx.path["agencyCode"]
    agency = ctx.services.fixtures.agencies.get(code)
    if agency is None:
        raise not_found("agency", code)
    return Reply(body=_agency(ctx, agency))


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
