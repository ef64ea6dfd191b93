"""Automatic technical check and receipt (Decree 45/2020/ND-CP Art. 11; Circular 01/2018 Art. 19).

The automatic check refuses an incomplete or invalid dossier with every reason; a dossier that
passes is confirmed at once with its code and an official receipt time inside the agency's
published working hours; an officer confirms receipt with a slip and an appointment on a working
day, or refuses with a clear reason (Decree 137/2024/ND-CP Art. 7(1)(a)).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from conformance.checks import expect, expect_conforms, expect_refused, expect_status, fail
from conformance.invariants import (
    VN,
    CalendarYear,
    WorkingTime,
    parse_date,
    parse_periods,
    parse_time,
)
from conformance.scenario import REASON, Portal, sample_form, upload
from egov_contract import formats

CLOCK_TOLERANCE = timedelta(minutes=2)
"""How far the target's clock may be from the kit's (NTP-synchronised hosts are far closer)."""

ZERO = timedelta(0)

WRONG_TYPE: dict[str, Any] = {
    "string": 20250310,
    "integer": "không phải số",
    "number": "không phải số",
    "boolean": "có",
    "object": "không phải đối tượng",
    "array": "không phải danh sách",
}
"""A value of another JSON type, for each type an e-form field may declare."""


@pytest.mark.requirement("RCV-01")
def test_submit_dossier_refuses_incomplete_dossier_with_every_reason(portal: Portal) -> None:
    """An incomplete dossier is refused with a reason for every missing component."""
    required = [c["code"] for c in portal.procedure().get("components", []) if c.get("required")]
    if len(required) < 2:
        pytest.skip("insufficient test data: the primary procedure needs two required components")
    draft = portal.draft(complete=False)
    answer = portal.submit(draft["id"])
    problem = expect_refused("RCV-01", answer, {422}, why="required components are missing")
    named = " ".join(str(e) for e in problem.get("errors", []))
    missing = [code for code in required if code not in named]
    expect(
        "RCV-01",
        not missing,
        f"errors[] to name every missing component ({required})",
        f"errors[] does not name {missing}",
        answer,
    )
    after = portal.get(draft["id"])
    expect(
        "RCV-01",
        after.get("status") == "draft" and not after.get("code"),
        "the dossier stays a draft with no code",
        f"status {after.get('status')!r}, code {after.get('code')!r}",
    )


@pytest.mark.requirement("RCV-03", "FMT-05")
def test_submit_dossier_confirms_automatically_with_official_receipt_time(portal: Portal) -> None:
    """A complete dossier gets the automatic confirmation with its official receipt time."""
    draft = portal.draft()
    answer = portal.submit(draft["id"])
    body = expect_conforms("RCV-03", "submitDossier", answer)
    expect_status("RCV-03", answer, 200, why="the 200 answer is the automatic confirmation")
    receipt = body.get("officialReceiptTime")
    expect(
        "RCV-03",
        isinstance(receipt, str) and bool(body.get("code")),
        "a dossier code and an officialReceiptTime",
        f"code {body.get('code')!r}, officialReceiptTime {receipt!r}",
        answer,
    )
    expect(
        "FMT-05",
        str(receipt).endswith("+07:00"),
        "officialReceiptTime with offset +07:00",
        str(receipt),
        answer,
    )
    submitted = datetime.fromisoformat(str(body["submittedAt"]))
    expect(
        "RCV-03",
        datetime.fromisoformat(str(receipt)) >= submitted,
        "an official receipt time no earlier than the submission",
        f"submittedAt {body['submittedAt']}, officialReceiptTime {receipt}",
        answer,
    )
    read = portal.get(draft["id"])
    shown = {k: read.get(k) for k in ("code", "status", "officialReceiptTime")}
    confirmed = {k: body.get(k) for k in ("code", "status", "officialReceiptTime")}
    expect(
        "RCV-03",
        shown == confirmed,
        f"getDossier to show what the confirmation said: {confirmed}",
        f"{shown}",
    )


@pytest.mark.requirement("FMT-01", "FMT-02")
def test_submit_dossier_gives_unique_codes_of_the_agency_and_day(portal: Portal) -> None:
    """Dossier codes are <agency code>-<YYMMDD>-<NNNN> and no two dossiers share one."""
    dossiers = [portal.submitted() for _ in range(2)]
    other = portal.target.procedures.with_fee
    if other and portal.agency in portal.procedure(other).get("agencyCodes", []):
        # Numbers count per receiving unit and day, whatever the procedure.
        draft = portal.draft(procedure=other)
        answer = portal.submit(draft["id"])
        dossiers.append(expect_status("RCV-03", answer, 200, why="a complete dossier"))
    for dossier in dossiers:
        code = dossier.get("code")
        problem = formats.explain_dossier_code(code)
        expect(
            "FMT-01",
            problem is None and str(code).rsplit("-", 2)[0] == portal.agency,
            f"a code {portal.agency}-YYMMDD-NNNN (Circular 01/2018/TT-VPCP Art. 19)",
            problem or repr(code),
        )
    codes = [d["code"] for d in dossiers]
    expect("FMT-02", len(set(codes)) == len(codes), "different codes", repr(codes))
    for dossier in dossiers:
        found = portal.call(
            "GET", "dossiers", "/dossiers", as_="officer", params={"code": dossier["code"]}
        )
        page = expect_status("FMT-02", found, 200, why="an officer looks a code up")
        ids = [item.get("id") for item in (page or {}).get("items", [])]
        expect(
            "FMT-02",
            ids == [dossier["id"]],
            f"exactly one dossier of the agency with code {dossier['code']}",
            f"dossiers {ids}",
            found,
        )


# ---- the automatic check: the e-form and the file contents ---------------------------------


def _mistyped(form: dict[str, Any], schema: Any) -> tuple[str, dict[str, Any]] | None:
    """A top-level field of the e-form given a value of another type, and the form with it."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return None
    for name, field in sorted(properties.items()):
        kind = field.get("type") if isinstance(field, dict) else None
        if isinstance(kind, str) and kind in WRONG_TYPE:
            return name, {**form, name: WRONG_TYPE[kind]}
    return None


@pytest.mark.requirement("RCV-02")
def test_submit_dossier_refuses_a_form_that_fails_the_e_form_naming_the_field(
    portal: Portal,
) -> None:
    """A form that breaks the procedure's published e-form is refused, naming the field."""
    code = portal.target.procedures.primary
    found = portal.call("GET", "catalogue", f"/procedures/{code}/form")
    schema = expect_status("CAT-03", found, 200, why=f"the e-form of procedure {code}")
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    form = sample_form(code)
    if not validator.is_valid(form):
        pytest.skip(
            f"insufficient test data: the kit's sample form does not fit the e-form of {code}"
        )
    mistyped = _mistyped(form, schema)
    if mistyped is None or validator.is_valid(mistyped[1]):
        pytest.skip(f"the e-form of {code} has no typed top-level field the kit can break")
    field, broken = mistyped
    created = portal.create(form=broken)
    draft = expect_status("SUB-01", created, 201, why="a draft may hold any form until submitted")
    for component in portal.procedure().get("components", []):
        if component.get("required"):
            added = portal.attach(draft["id"], component["code"], portal.document_for(component))
            expect_status("SUB-01", added, 201, why=f"component {component['code']}")
    answer = portal.submit(draft["id"])
    problem = expect_refused("RCV-02", answer, {422}, why=f"/form/{field} breaks the e-form")
    pointers = [str(e.get("pointer")) for e in problem.get("errors", []) if isinstance(e, dict)]
    expect(
        "RCV-02",
        any(p == f"/form/{field}" or p.startswith(f"/form/{field}/") for p in pointers),
        f"errors[] to name the field /form/{field}",
        f"errors[] names {pointers or 'no field'}",
        answer,
    )
    after = portal.get(draft["id"])
    expect(
        "RCV-02",
        after.get("status") == "draft" and not after.get("code"),
        "the refused dossier stays a draft with no code",
        f"status {after.get('status')!r}, code {after.get('code')!r}",
    )


@pytest.mark.requirement("RCV-02")
def test_submit_dossier_refuses_a_file_whose_bytes_are_not_its_declared_type(
    portal: Portal,
) -> None:
    """A file declared a PDF whose bytes are a PNG is refused, at attachment or at submission."""
    components = [c for c in portal.procedure().get("components", []) if c.get("required")]
    target = next((c for c in components if "application/pdf" in c.get("mediaTypes", [])), None)
    if target is None:
        pytest.skip("insufficient test data: no required component of the primary takes a PDF")
    draft = portal.draft(complete=False)
    for component in components:
        if component is not target:
            added = portal.attach(draft["id"], component["code"], portal.document_for(component))
            expect_status("SUB-01", added, 201, why=f"component {component['code']}")
    # fixtures/documents/lying.pdf holds the bytes of a PNG image.
    lying = upload("lying.pdf")
    added = portal.attach(draft["id"], target["code"], lying)
    if added.status_code != 201:
        problem = expect_refused("RCV-02", added, {422}, why="PNG bytes declared application/pdf")
        pointers = [str(e.get("pointer")) for e in problem.get("errors", []) if isinstance(e, dict)]
        expect(
            "RCV-02",
            any(p.startswith("/file") for p in pointers),
            "errors[] to name the file (/file/...)",
            f"errors[] names {pointers or 'no field'}",
            added,
        )
        after = portal.get(draft["id"])
        kept = [c.get("componentCode") for c in after.get("components", [])]
        expect(
            "RCV-02",
            target["code"] not in kept,
            f"nothing attached as {target['code']}",
            f"components {kept}",
        )
        return
    answer = portal.submit(draft["id"])
    problem = expect_refused("RCV-02", answer, {422}, why="a component's bytes are not a PDF")
    pointers = [str(e.get("pointer")) for e in problem.get("errors", []) if isinstance(e, dict)]
    expect(
        "RCV-02",
        any(p.startswith("/components") for p in pointers),
        f"errors[] to name the component {target['code']} whose content is not a PDF",
        f"errors[] names {pointers or 'no field'}",
        answer,
    )


# ---- the official receipt time -------------------------------------------------------------


def published_working_time(portal: Portal, requirement: str) -> WorkingTime:
    """The agency's working time from its getAgency and getCalendar, read in this test."""
    found = portal.call("GET", "catalogue", f"/agencies/{portal.agency}")
    agency = expect_status(requirement, found, 200, why="the agency's published working hours")
    periods = parse_periods(agency)
    expect(
        requirement,
        periods is not None,
        "workingHours with at least one period",
        f"workingHours {str((agency or {}).get('workingHours'))[:200]}",
        found,
    )
    years: dict[int, CalendarYear | None] = {}

    def year(number: int) -> CalendarYear | None:
        if number not in years:
            answer = portal.call("GET", "catalogue", f"/calendar/{number}")
            body = expect_status(requirement, answer, 200, why=f"the calendar of {number}")
            years[number] = CalendarYear.published(body)
            expect(
                requirement,
                years[number] is not None,
                "a calendar of the year",
                f"{str(body)[:200]}",
                answer,
            )
        return years[number]

    return WorkingTime(periods or (), year)


@pytest.mark.requirement("RCV-04")
def test_submit_dossier_counts_receipt_from_the_first_working_moment(portal: Portal) -> None:
    """The official receipt time is in working hours, at the first working moment after sending."""
    drafting = datetime.now(VN)
    draft = portal.draft()
    before = datetime.now(VN)
    answer = portal.submit(draft["id"])
    after = datetime.now(VN)
    body = expect_status("RCV-03", answer, 200, why="a complete, valid dossier is received")
    sent, receipt = parse_time(body.get("submittedAt")), parse_time(body.get("officialReceiptTime"))
    if sent is None or receipt is None:
        raise fail(
            "RCV-04",
            "submittedAt and officialReceiptTime as RFC 3339 times",
            f"submittedAt {body.get('submittedAt')!r}, "
            f"officialReceiptTime {body.get('officialReceiptTime')!r}",
            answer,
        )
    created = parse_time(draft.get("createdAt"))
    shift = _clock_shift(sent, created, drafting, before, after)
    if shift is None:
        raise fail(
            "RCV-04",
            "submittedAt the moment the dossier was sent: "
            f"{before.isoformat(timespec='seconds')} on the kit's clock"
            + (f", or seconds after the draft's createdAt {draft['createdAt']}" if created else ""),
            f"submittedAt {body['submittedAt']}",
            answer,
        )
    before, after = before + shift, after + shift  # from here on, the target's clock
    expect(
        "RCV-04",
        receipt >= sent,
        "an official receipt time no earlier than the submission",
        f"submittedAt {body['submittedAt']}, officialReceiptTime {body['officialReceiptTime']}",
        answer,
    )
    working = published_working_time(portal, "RCV-04")
    first = working.first_working_moment(before)
    outside = working.in_working_hours(before) is False and working.in_working_hours(after) is False
    expect(
        "RCV-04",
        working.in_working_hours(receipt) is True,
        "an official receipt time in the agency's working hours on a working day"
        + (f" (sent outside them: {first.isoformat() if first else '?'})" if outside else ""),
        f"officialReceiptTime {body['officialReceiptTime']}",
        answer,
    )
    lag = working.working_time_between(before, receipt)
    allowed = (after - before) + CLOCK_TOLERANCE
    expect(
        "RCV-04",
        lag is not None and lag <= allowed,
        "the first working moment after sending"
        + (f", {first.isoformat()}" if first else "")
        + (
            " (sent outside working hours: the start of the next working period)" if outside else ""
        ),
        f"officialReceiptTime {body['officialReceiptTime']}, {lag} of working time later",
        answer,
    )


def _clock_shift(
    sent: datetime, created: datetime | None, drafting: datetime, before: datetime, after: datetime
) -> timedelta | None:
    """How far the target's clock is from the kit's, judged by ``sent`` (``None``: no fit).

    ``sent`` is the target's submittedAt of a dossier sent while the kit's clock went from
    ``before`` to ``after``. It fits the kit's clock (0), or else the target's own as the draft's
    ``created`` (stamped after ``drafting``) shows it: a sandbox whose clock is set to a Saturday
    night on purpose is judged by that clock, and a submittedAt that fits neither is wrong.
    """
    shifts = [ZERO] if created is None else [ZERO, created - drafting]
    for shift in shifts:
        if before + shift - CLOCK_TOLERANCE <= sent <= after + shift + CLOCK_TOLERANCE:
            return shift
    return None


# ---- the officer's confirmation of receipt -------------------------------------------------


@pytest.mark.requirement("RCV-06")
def test_accept_dossier_confirms_receipt_and_the_applicant_sees_it(portal: Portal) -> None:
    """An officer accepts a submitted dossier: received, with acceptedAt and a receipt slip."""
    dossier = portal.submitted()
    answer = portal.act(dossier["id"], "acceptance", {})
    body = expect_status("RCV-06", answer, 200, why="the receiving agency's officer accepts")
    slip = body.get("receiptSlip")
    expect(
        "RCV-06",
        body.get("status") == "received"
        and parse_time(body.get("acceptedAt")) is not None
        and isinstance(slip, dict)
        and bool(slip.get("number"))
        and parse_date(slip.get("appointmentDate")) is not None,
        "status received with acceptedAt and a receipt slip (number, appointment date)",
        f"status {body.get('status')!r}, acceptedAt {body.get('acceptedAt')!r}, "
        f"receiptSlip {slip!r}",
        answer,
    )
    seen = portal.get(dossier["id"])
    expect(
        "RCV-06",
        seen.get("status") == "received" and seen.get("code") == dossier["code"],
        f"the applicant sees dossier {dossier['code']} received",
        f"status {seen.get('status')!r}, code {seen.get('code')!r}",
    )


def _longest_procedure(portal: Portal) -> str:
    """The configured procedure of the agency with the longest processing time."""
    codes = [c for c in (portal.target.procedures.primary, portal.target.procedures.with_fee) if c]
    usable = [
        c
        for c in dict.fromkeys(codes)
        if portal.agency in portal.procedure(c).get("agencyCodes", [])
    ]
    return max(usable, key=lambda c: int(portal.procedure(c).get("processingDays") or 0))


@pytest.mark.requirement("RCV-07")
def test_accept_dossier_sets_an_appointment_on_a_working_day(portal: Portal) -> None:
    """The appointment is a working day, no earlier than the processing time after receipt."""
    code = _longest_procedure(portal)
    days = portal.procedure(code).get("processingDays")
    if type(days) is not int:
        pytest.skip(f"procedure {code} publishes no processing time")
    dossier = portal.received(procedure=code)
    appointment = parse_date(dossier.get("appointmentDate"))
    receipt = parse_time(dossier.get("officialReceiptTime"))
    if appointment is None or receipt is None:
        raise fail(
            "RCV-07",
            "an appointmentDate and the officialReceiptTime",
            f"appointmentDate {dossier.get('appointmentDate')!r}, "
            f"officialReceiptTime {dossier.get('officialReceiptTime')!r}",
        )
    working = published_working_time(portal, "RCV-07")
    expect(
        "RCV-07",
        working.is_working_day(appointment) is True,
        "an appointment date that is a working day of the published calendar",
        f"appointmentDate {appointment.isoformat()} ({appointment:%A})",
    )
    earliest = working.add_working_days(receipt.astimezone(VN).date(), days)
    expect(
        "RCV-07",
        earliest is not None and appointment >= earliest,
        f"an appointment no earlier than {days} working days after receipt "
        f"({receipt.isoformat()}): {earliest.isoformat() if earliest else '?'} or later",
        f"appointmentDate {appointment.isoformat()}",
    )
    slip = dossier.get("receiptSlip") or {}
    expect(
        "RCV-07",
        slip.get("appointmentDate") == dossier.get("appointmentDate"),
        f"the receipt slip to give the same appointment date {appointment.isoformat()}",
        f"receiptSlip.appointmentDate {slip.get('appointmentDate')!r}",
    )


# ---- refusal at reception ------------------------------------------------------------------


def _unchanged(portal: Portal, dossier: dict[str, Any], answer: httpx.Response) -> None:
    after = portal.get(dossier["id"])
    expect(
        "RCV-08",
        after.get("status") == dossier.get("status") and after.get("version") == dossier["version"],
        f"the dossier unchanged: status {dossier.get('status')}, version {dossier['version']}",
        f"status {after.get('status')!r}, version {after.get('version')!r}",
        answer,
    )


@pytest.mark.requirement("RCV-08")
def test_refuse_dossier_needs_a_reason_and_the_applicant_sees_it(portal: Portal) -> None:
    """A refusal without a reason is rejected and changes nothing; a refusal's reason is shown."""
    dossier = portal.submitted()
    for body in ({}, {"reason": " " * 12}):
        answer = portal.act(dossier["id"], "refusal", body)
        expect_refused("RCV-08", answer, {400, 422}, why=f"a refusal with no reason: {body}")
        _unchanged(portal, dossier, answer)
    answer = portal.act(dossier["id"], "refusal", {"reason": REASON})
    refused = expect_status("RCV-08", answer, 200, why="a refusal with a clear reason")
    expect(
        "RCV-08",
        refused.get("status") == "refused" and refused.get("refusalReason") == REASON,
        f"status refused with refusalReason {REASON!r}",
        f"status {refused.get('status')!r}, refusalReason {refused.get('refusalReason')!r}",
        answer,
    )
    seen = portal.get(dossier["id"])
    expect(
        "RCV-08",
        seen.get("refusalReason") == REASON,
        "the applicant sees the reason on the refused dossier",
        f"refusalReason {json.dumps(seen.get('refusalReason'), ensure_ascii=False)}",
    )
