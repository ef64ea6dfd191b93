"""Converting e-results to paper, and paper results to data (Decree 45/2020/ND-CP Art. 18(2);
Decree 137/2024/ND-CP Art. 8(4))."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

import httpx
import pytest

from conformance.checks import expect, expect_conforms, expect_status, fail
from conformance.config import TargetConfig
from conformance.scenario import Portal
from conformance.simulators import Simulators

from ._s3_support import (
    EVENT_WAIT_SECONDS,
    delivered,
    download,
    pdf_text,
    resolved_result,
    shows,
)

_VERIFICATION_CODE = re.compile(r"(?<![A-Za-z0-9])[A-Z0-9]{12}(?![A-Za-z0-9])")


_printed: dict[tuple[str, str], httpx.Response] = {}
"""Printouts already fetched in this run: the shared result is printed once per identity."""


def printout(portal: Portal, requirement: str, code: str, as_: str) -> httpx.Response:
    """``getResultPrintout`` as ``as_``: a PDF (200, application/pdf, %PDF- magic)."""
    answer = _printed.get((code, as_)) or portal.call(
        "GET", "results", f"/results/{code}/printout", as_=as_
    )
    expect_status(requirement, answer, 200, why=f"the {as_} prints the result")
    media = answer.headers.get("content-type", "").split(";")[0].strip()
    expect(
        requirement,
        media == "application/pdf" and answer.content.startswith(b"%PDF-"),
        "a PDF (application/pdf, starting %PDF-)",
        f"{media!r}, starting {answer.content[:8]!r}",
        answer,
    )
    _printed[(code, as_)] = answer
    return answer


def readable_text(answer: httpx.Response) -> str:
    """The printout's text; a skip when the kit can read none of it."""
    text = pdf_text(answer.content)
    if not text.strip():
        pytest.skip(
            "the kit cannot read text from the printout (text drawn as outlines or "
            "images): check its content by eye"
        )
    return text


def date_spellings(moment: str) -> list[str]:
    """Ways a printout may write the day of ``moment``: ISO, dd/mm/yyyy, Vietnamese words."""
    day = datetime.fromisoformat(moment).date()
    return [
        day.isoformat(),
        day.strftime("%d/%m/%Y"),
        f"{day.day}/{day.month}/{day.year}",
        f"ngày {day.day:02d} tháng {day.month:02d} năm {day.year}",
        f"ngày {day.day} tháng {day.month} năm {day.year}",
    ]


@pytest.mark.requirement("PRN-01")
def test_get_result_printout_serves_the_holder_and_the_agencys_officer(
    portal: Portal, returned_result: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """The result's holder and an officer of the issuing agency both get a printable PDF."""
    _, result = returned_result
    for who in ("applicantA", "officer"):
        printout(portal, "PRN-01", result["code"], who)


@pytest.mark.requirement("PRN-02")
def test_get_result_printout_shows_the_result_faithfully(
    portal: Portal, returned_result: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """The printout shows the result's title, holder, agency, issue date and its code."""
    _, result = returned_result
    text = readable_text(printout(portal, "PRN-02", result["code"], "applicantA"))
    agency = portal.call("GET", "catalogue", f"/agencies/{result['agencyCode']}")
    agency_name = (agency.json() or {}).get("name") if agency.status_code == 200 else None
    wanted: list[tuple[str, list[str]]] = [
        ("the result's title", [result["title"]]),
        ("the holder's name", [result["holder"]["name"]]),
        ("the result code or the dossier code", [result["code"], result["dossierCode"]]),
        (
            "the issuing agency (code or name)",
            [result["agencyCode"], *([agency_name] if agency_name else [])],
        ),
        ("the issue date", date_spellings(result["issuedAt"])),
    ]
    missing = [what for what, spellings in wanted if not any(shows(text, s) for s in spellings)]
    expect(
        "PRN-02",
        not missing,
        "a printout showing " + "; ".join(w for w, _ in wanted),
        f"it does not show {missing}; its text begins: {text[:300]!r}",
    )


@pytest.mark.requirement("PRN-03")
def test_get_result_printout_carries_a_code_that_verifies_the_result(
    portal: Portal, returned_result: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """The code printed on the printout verifies the result: its code, status and digest."""
    _, result = returned_result
    text = readable_text(printout(portal, "PRN-03", result["code"], "applicantA"))
    from_url = re.findall(r"/verification/([A-Z0-9]{12})", text)
    printed = list(dict.fromkeys(from_url + _VERIFICATION_CODE.findall(text)))
    expect(
        "PRN-03",
        bool(printed),
        "a verification code (or its address) on the printout",
        f"no 12-character verification code in its text: {text[:300]!r}",
    )
    answers: list[str] = []
    for code in printed[:5]:
        answer = portal.call("GET", "results", f"/verification/{code}")
        if answer.status_code != 200:
            answers.append(f"{code}: HTTP {answer.status_code}")
            continue
        body: dict[str, Any] = expect_conforms("PRN-03", "verifyResult", answer)
        if body.get("resultCode") == result["code"]:
            expect(
                "PRN-03",
                body.get("valid") is True
                and body.get("status") == "valid"
                and body.get("documentSha256") == (result.get("document") or {}).get("sha256"),
                "the check confirms the result valid, with the document's digest",
                f"valid {body.get('valid')!r}, status {body.get('status')!r}, documentSha256 "
                f"{body.get('documentSha256')!r}",
                answer,
            )
            return
        answers.append(f"{code}: result {body.get('resultCode')!r}")
    raise fail(
        "PRN-03",
        f"a printed code that verifyResult confirms as {result['code']}",
        "; ".join(answers),
    )


@pytest.mark.requirement("PRN-05")
def test_deliver_result_on_paper_keeps_the_electronic_result(
    portal: Portal, target: TargetConfig, request: pytest.FixtureRequest
) -> None:
    """A result delivered on paper stays stored, downloadable by the holder, and synced."""
    dossier, result = resolved_result(portal, "PRN-05")
    delivered(portal, "PRN-05", dossier, channel="paper")
    code = result["code"]
    read = portal.call("GET", "results", f"/results/{code}", as_="applicantA")
    expect_status("PRN-05", read, 200, why="the electronic result of a paper delivery is kept")
    served = download(portal, "PRN-05", "results", f"/results/{code}/document")
    digest = hashlib.sha256(served.content).hexdigest()
    expect(
        "PRN-05",
        digest == (result.get("document") or {}).get("sha256"),
        "the holder downloads the electronic result document",
        f"sha256 {digest}",
        served,
    )
    if not target.claims("sync"):
        return
    simulators: Simulators = request.getfixturevalue("simulators")
    if not simulators.fixed_address:
        # Where the target pushes is only known when the configuration fixes the NPSP address;
        # the push itself is checked by EVT-04 then.
        return
    push = simulators.npsp.wait_for(
        lambda p: p.kind == "result" and p.key == code, timeout=EVENT_WAIT_SECONDS
    )
    expect(
        "PRN-05",
        push is not None and not push.errors,
        f"the result {code} pushed to the NPSP (syncResult) so other agencies can use it",
        "no push came" if push is None else f"a push the contract refuses: {push.errors}",
    )
