"""The procedure catalogue (Decree 137/2024/ND-CP Art. 8(3); Decree 45/2020/ND-CP Art. 9).

What an applicant is told before applying: whether a procedure can be done fully online and,
when not, why; its e-form as a machine-readable JSON Schema; its components, fees and
processing time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator, SchemaError

from conformance.checks import expect, expect_conforms, expect_status, fail
from conformance.scenario import Portal

PAGES = 10
"""Pages of 100 procedures read at most: a whole small catalogue, a sample of a big one."""
FORMS = 12
"""E-forms fetched at most: every procedure of a small catalogue, enough of a big one."""


def procedures(portal: Portal, requirement: str, **query: str) -> Iterator[dict[str, Any]]:
    """The published procedures, page after page (bounded), each page checked by ``requirement``."""
    params: dict[str, Any] = {"limit": 100, **query}
    for _ in range(PAGES):
        answer = portal.call("GET", "catalogue", "/procedures", params=params)
        page = expect_status(requirement, answer, 200, why="listProcedures is public")
        items = page.get("items") if isinstance(page, dict) else None
        if not isinstance(items, list):
            raise fail(requirement, "a page {items, nextCursor}", f"body {str(page)[:200]}", answer)
        yield from (item for item in items if isinstance(item, dict))
        cursor = page.get("nextCursor")
        if not cursor:
            return
        params = {**params, "cursor": cursor}


def check_online_level(procedure: dict[str, Any], *evidence: Any) -> None:
    """CAT-01 for one procedure: full or partial, and a partial one says why."""
    code, level = procedure.get("code"), procedure.get("onlineLevel")
    expect(
        "CAT-01",
        level in ("full", "partial"),
        "onlineLevel full (fully online) or partial (partly online)",
        f"procedure {code}: onlineLevel {level!r}",
        *evidence,
    )
    if level == "partial":
        reason = procedure.get("notFullyOnlineReason")
        expect(
            "CAT-01",
            isinstance(reason, str) and len(reason.strip()) >= 10,
            "a partly online procedure states which step is not online and why "
            "(notFullyOnlineReason, Decree 137/2024/ND-CP Art. 8(3))",
            f"procedure {code}: notFullyOnlineReason {reason!r}",
            *evidence,
        )


@pytest.mark.requirement("CAT-01")
def test_list_procedures_says_of_each_whether_it_is_fully_online_and_why_not(
    portal: Portal,
) -> None:
    """Every published procedure says whether it is fully online; a partly online one says why."""
    listed = list(procedures(portal, "CAT-01"))
    expect("CAT-01", bool(listed), "the catalogue publishes procedures", "an empty catalogue")
    for procedure in listed:
        check_online_level(procedure)
    partial = list(procedures(portal, "CAT-01", onlineLevel="partial"))
    for procedure in partial:
        code, level = procedure.get("code"), procedure.get("onlineLevel")
        expect(
            "CAT-01",
            level == "partial",
            "onlineLevel=partial lists partly online ones only",
            f"procedure {code} is {level!r}",
        )
        check_online_level(procedure)


@pytest.mark.requirement("CAT-01")
def test_get_procedure_tells_a_partly_online_procedure_apart_with_its_reason(
    portal: Portal,
) -> None:
    """A procedure read on its own says how far it is online; the partly online one says why."""
    primary = portal.target.procedures.primary
    answer = portal.call("GET", "catalogue", f"/procedures/{primary}")
    check_online_level(expect_status("CAT-01", answer, 200, why="the configured procedure"), answer)
    partly = portal.target.procedures.partly_online
    if partly is None:
        pytest.skip("insufficient test data: the configuration names no partly online procedure")
    answer = portal.call("GET", "catalogue", f"/procedures/{partly}")
    body = expect_status("CAT-01", answer, 200, why="the configured partly online procedure")
    expect(
        "CAT-01",
        body.get("onlineLevel") == "partial",
        f"procedure {partly}, configured as partly online, published as partial",
        f"onlineLevel {body.get('onlineLevel')!r}",
        answer,
    )
    check_online_level(body, answer)


@pytest.mark.requirement("CAT-03")
def test_get_procedure_form_publishes_each_e_form_as_a_json_schema(portal: Portal) -> None:
    """Each online procedure's e-form is a JSON Schema 2020-12 a client can check a form with."""
    codes = [portal.target.procedures.primary]
    codes += [str(p["code"]) for p in procedures(portal, "CAT-03") if p.get("code") not in codes]
    for code in codes[:FORMS]:
        answer = portal.call("GET", "catalogue", f"/procedures/{code}/form")
        form = expect_status(
            "CAT-03", answer, 200, why=f"the e-form of procedure {code} is published"
        )
        expect_conforms("CAT-03", "getProcedureForm", answer)
        try:
            Draft202012Validator.check_schema(form)
        except SchemaError as problem:
            expect(
                "CAT-03",
                False,
                "a valid JSON Schema 2020-12 document",
                f"procedure {code}: {problem.message}",
                answer,
            )


@pytest.mark.requirement("CAT-04")
def test_get_procedure_publishes_components_fees_in_vnd_and_processing_days(
    portal: Portal,
) -> None:
    """Each procedure lists its components, its fees in VND and its processing time in days."""
    codes = [portal.target.procedures.primary, portal.target.procedures.with_fee]
    for code in dict.fromkeys(c for c in codes if c):
        answer = portal.call("GET", "catalogue", f"/procedures/{code}")
        body = expect_conforms("CAT-04", "getProcedure", answer)
        expect_status("CAT-04", answer, 200, why=f"the configured procedure {code}")
        components = body.get("components")
        expect(
            "CAT-04",
            isinstance(components, list)
            and bool(components)
            and all(isinstance(c.get("required"), bool) for c in components),
            "the components, each marked required or not",
            f"components {str(components)[:200]}",
            answer,
        )
        fees = body.get("fees")
        expect(
            "CAT-04",
            isinstance(fees, list)
            and all(f.get("currency") == "VND" and type(f.get("amount")) is int for f in fees),
            "the fees and charges as whole VND amounts",
            f"fees {str(fees)[:200]}",
            answer,
        )
        days = body.get("processingDays")
        expect(
            "CAT-04",
            type(days) is int and days >= 0,
            "the processing time as a number of working days",
            f"processingDays {days!r}",
            answer,
        )
