"""End-to-end paths a real dossier takes, each across the applicant's and the officer's roles.

The full electronic path of a fully online procedure (Decree 137/2024/ND-CP Art. 8(3)): sign
in, prepare, submit, receipt, a supplement, processing, the signed e-result coded
``<dossier code>-KQ<n>`` (Decree 45/2020/ND-CP Art. 14) and its delivery; the same with an
online payment when the target claims it; and the other endings: a refusal with its reason, a
withdrawal the officer stops, a stop for ineligibility (Decree 137/2024/ND-CP Art. 7(1)(a)).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import pytest

from conformance.checks import expect, expect_refused, expect_status, fail
from conformance.scenario import REASON, Portal, sample_form

from .test_lifecycle import pay_fees, wait_for_status
from .test_supplements import current_component, replacement_for

RESULT = {"title": "Kết quả giải quyết thủ tục hành chính", "summary": "Đã giải quyết (kiểm thử)."}


def walk(
    portal: Portal,
    requirement: str,
    dossier: dict[str, Any],
    action: str,
    body: Any,
    status: str,
    as_: str = "officer",
) -> dict[str, Any]:
    """One move of the path: it must succeed and lead to ``status``."""
    answer = portal.act(dossier["id"], action, body, as_)
    moved: dict[str, Any] = expect_status(
        requirement, answer, 200, why=f"{action} on a {dossier['status']} dossier"
    )
    expect(
        requirement,
        moved.get("status") == status,
        f"{action} leads to {status}",
        f"status {moved.get('status')!r}",
        answer,
    )
    expect(
        requirement,
        moved.get("code") == dossier.get("code") or dossier["status"] == "draft",
        f"the dossier code {dossier.get('code')} unchanged",
        f"code {moved.get('code')!r}",
        answer,
    )
    return moved


def prepared(portal: Portal, requirement: str, procedure: str) -> dict[str, Any]:
    """Read the procedure and its e-form, then draft a complete dossier for it."""
    listed = portal.call("GET", "catalogue", f"/procedures/{procedure}")
    entry = expect_status(requirement, listed, 200, why=f"the catalogue entry of {procedure}")
    if entry.get("onlineLevel") != "full":
        pytest.skip(f"procedure {procedure} is not offered fully online")
    form = portal.call("GET", "catalogue", f"/procedures/{procedure}/form")
    expect_status(requirement, form, 200, why=f"the e-form of {procedure}")
    created = portal.create(procedure=procedure)
    draft = expect_status(requirement, created, 201, why="the applicant starts a draft")
    for component in entry.get("components", []):
        if component.get("required"):
            added = portal.attach(draft["id"], component["code"], portal.document_for(component))
            expect_status(requirement, added, 201, why=f"component {component['code']}")
    return portal.get(draft["id"])


def signed_in(portal: Portal, requirement: str) -> dict[str, Any]:
    """The applicant's portal account, registered with nothing but the sign-in token."""
    portal.register(requirement=requirement)
    found = portal.call("GET", "identity", "/accounts/me", as_="applicantA")
    account: dict[str, Any] = expect_status(requirement, found, 200, why="reading one's account")
    return account


def result_checks(portal: Portal, dossier: dict[str, Any]) -> str:
    """The e-result of a processed dossier: coded KQ1, signed over the document it serves."""
    codes = dossier.get("resultCodes") or []
    expect(
        "CAT-02", len(codes) == 1, "one e-result for the resolved dossier", f"resultCodes {codes}"
    )
    code = codes[0]
    expect(
        "FMT-04",
        code == f"{dossier['code']}-KQ1",
        f"the dossier's first result coded {dossier['code']}-KQ1 (n counts from 1 per dossier)",
        repr(code),
    )
    found = portal.call("GET", "results", f"/results/{code}", as_="applicantA")
    result = expect_status("RES-03", found, 200, why="the holder reads the e-result")
    signature = str(result.get("signature") or "")
    expect(
        "CAT-02",
        result.get("dossierCode") == dossier["code"] and signature.count(".") == 2,
        f"result {code} of dossier {dossier['code']} carrying a compact JWS signature",
        f"dossierCode {result.get('dossierCode')!r}, signature {signature[:40]!r}",
        found,
    )
    document = portal.call("GET", "results", f"/results/{code}/document", as_="applicantA")
    expect_status("RES-03", document, 200, why="the holder downloads the e-result")
    digest = hashlib.sha256(document.content).hexdigest()
    expect(
        "CAT-02",
        digest == (result.get("document") or {}).get("sha256"),
        "the downloaded document is the one the result describes (its SHA-256)",
        f"SHA-256 {digest}",
        document,
        found,
    )
    try:
        payload = signature.split(".")[1]
        signed = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        signed = {}
    expect(
        "CAT-02",
        isinstance(signed, dict)
        and signed.get("documentSha256") == digest
        and signed.get("code") == code,
        "a signature whose payload binds the result code and the document's digest",
        f"payload {str(signed)[:200]}",
        found,
    )
    return str(code)


def delivered(portal: Portal, dossier: dict[str, Any], code: str) -> None:
    """Deliver the result: the dossier is returned and the applicant lists and reads the result."""
    walk(portal, "RES-03", dossier, "delivery", {"channel": "electronic"}, "returned")
    listed = portal.call(
        "GET", "results", "/results", as_="applicantA", params={"dossierCode": dossier["code"]}
    )
    page = expect_status("RES-03", listed, 200, why="the applicant lists its results")
    shown = [r.get("code") for r in (page or {}).get("items", [])]
    expect(
        "RES-03",
        code in shown,
        f"the applicant's results to include {code}",
        f"listed {shown}",
        listed,
    )
    seen = portal.get(dossier["id"])
    expect(
        "RES-03",
        seen.get("status") == "returned" and code in (seen.get("resultCodes") or []),
        "the applicant sees the dossier returned with its result",
        f"status {seen.get('status')!r}, resultCodes {seen.get('resultCodes')}",
    )


def history_changes(portal: Portal, dossier_id: str) -> list[dict[str, Any]]:
    """Every component change the dossier's history records (first pages)."""
    answer = portal.call(
        "GET",
        "dossiers",
        f"/dossiers/{dossier_id}/history",
        as_="applicantA",
        params={"limit": 100},
    )
    page = expect_status("SUP-04", answer, 200, why="the applicant reads the history")
    return [
        c
        for e in (page or {}).get("items", [])
        for c in e.get("changes") or []
        if isinstance(c, dict)
    ]


@pytest.mark.requirement("CAT-02", "FMT-04", "RES-03")
def test_dossier_goes_online_from_sign_in_to_the_delivered_e_result(portal: Portal) -> None:
    """A fully online procedure goes from sign-in to the delivered, signed e-result online."""
    account = signed_in(portal, "CAT-02")
    dossier = prepared(portal, "CAT-02", portal.target.procedures.primary)
    sent = portal.submit(dossier["id"])
    dossier = expect_status("CAT-02", sent, 200, why="the automatic confirmation")
    code = dossier.get("code")
    expect(
        "CAT-02",
        dossier.get("status") == "submitted" and bool(code),
        "status submitted with a dossier code",
        f"status {dossier.get('status')!r}",
        sent,
    )
    expect(
        "CAT-02",
        (dossier.get("applicant") or {}).get("name") == account.get("name"),
        f"the dossier's applicant is the signed-in account ({account.get('name')})",
        f"applicant {dossier.get('applicant')}",
        sent,
    )
    dossier = walk(portal, "CAT-02", dossier, "acceptance", {}, "received")

    asked = next(c for c in portal.procedure().get("components", []) if c.get("required"))
    request = {"reason": REASON, "componentCodes": [asked["code"]]}
    dossier = walk(portal, "CAT-02", dossier, "supplement-request", request, "supplement-requested")
    file = replacement_for(asked, current_component(dossier, asked["code"]))
    body = {
        "components": [{"componentCode": asked["code"], "file": file}],
        "form": sample_form(dossier["procedureCode"]),
    }
    dossier = walk(portal, "CAT-02", dossier, "supplement", body, "received", as_="applicantA")
    expect(
        "CAT-02",
        dossier.get("code") == code,
        f"the dossier code {code} after the supplement",
        f"code {dossier.get('code')!r}",
    )
    changed = [
        c
        for c in history_changes(portal, dossier["id"])
        if c.get("componentCode") == asked["code"] and c.get("before")
    ]
    expect(
        "CAT-02",
        bool(changed),
        f"the history records the supplement's change of {asked['code']} (before/after)",
        "no such change in the history",
    )

    dossier = walk(portal, "CAT-02", dossier, "processing", {}, "in-process")
    dossier = walk(portal, "CAT-02", dossier, "resolution", RESULT, "processed")
    result = result_checks(portal, dossier)
    delivered(portal, dossier, result)


def _fee_lines(portal: Portal, dossier_id: str, status: str | None = None) -> httpx.Response:
    params = {"status": status} if status else {}
    return portal.call(
        "GET", "payments", f"/dossiers/{dossier_id}/fees", as_="applicantA", params=params
    )


@pytest.mark.requirement("CAT-02")
@pytest.mark.capability("payment")
def test_dossier_with_a_fee_is_paid_online_and_resolved(portal: Portal) -> None:
    """A fully online procedure with a fee: submitted, paid online, resolved and delivered."""
    procedure = portal.target.procedures.with_fee
    if procedure is None:
        pytest.skip("insufficient test data: the configuration names no procedure with a fee")
    if portal.agency not in portal.procedure(procedure).get("agencyCodes", []):
        pytest.skip(f"procedure {procedure} is not received by the configured agency")
    dossier = prepared(portal, "CAT-02", procedure)
    sent = portal.submit(dossier["id"])
    dossier = expect_status("CAT-02", sent, 200, why="the automatic confirmation")
    fees = portal.procedure(procedure).get("fees", [])
    if any(f.get("due") == "on-submission" for f in fees):
        pay_fees(portal, dossier["id"], "CAT-02")  # owed from the submission on
        dossier = walk(portal, "CAT-02", dossier, "acceptance", {}, "received")
        dossier = walk(portal, "CAT-02", dossier, "processing", {}, "in-process")
    else:
        dossier = walk(portal, "CAT-02", dossier, "acceptance", {}, "received")
        dossier = walk(portal, "CAT-02", dossier, "processing", {}, "in-process")
        fee = {"code": "LEPHI", "name": "Lệ phí giải quyết thủ tục (kiểm thử)", "amount": 10000}
        walk(portal, "CAT-02", dossier, "fee-notice", {"fees": [fee]}, "fee-requested")
        pay_fees(portal, dossier["id"], "CAT-02")
    owed = _fee_lines(portal, dossier["id"], "unpaid")
    page = expect_status("CAT-02", owed, 200, why="the applicant lists the fees owed")
    left = [o.get("id") for o in (page or {}).get("items", [])]
    expect("CAT-02", not left, "every fee of the dossier paid online", f"unpaid {left}", owed)
    dossier = wait_for_status(portal, dossier["id"], "in-process")
    expect(
        "CAT-02",
        dossier.get("status") == "in-process",
        "the dossier in process once its fees are paid",
        f"status {dossier.get('status')!r}",
    )
    dossier = walk(portal, "CAT-02", dossier, "resolution", RESULT, "processed")
    delivered(portal, dossier, result_checks(portal, dossier))


@pytest.mark.requirement("RCV-08")
def test_dossier_refused_at_reception_ends_with_its_reason(portal: Portal) -> None:
    """A dossier refused at reception is closed, and the applicant reads why."""
    dossier = portal.submitted()
    dossier = walk(portal, "RCV-08", dossier, "acceptance", {}, "received")
    dossier = walk(portal, "RCV-08", dossier, "refusal", {"reason": REASON}, "refused")
    seen = portal.get(dossier["id"])
    expect(
        "RCV-08",
        seen.get("refusalReason") == REASON,
        "the applicant sees the refusal's reason",
        f"refusalReason {seen.get('refusalReason')!r}",
    )
    again = portal.act(dossier["id"], "processing", {})
    expect_refused("RCV-08", again, {409}, why="a refused dossier is closed")


@pytest.mark.requirement("WDR-01", "WDR-02")
def test_dossier_withdrawn_by_the_applicant_is_stopped_by_the_officer(portal: Portal) -> None:
    """The applicant withdraws a dossier in process; the officer stops it; it stays stopped."""
    dossier = portal.in_process()
    reason = "Tôi xin rút hồ sơ để bổ sung giấy tờ và nộp lại sau (kiểm thử)."
    dossier = walk(
        portal,
        "WDR-01",
        dossier,
        "withdrawal",
        {"reason": reason},
        "withdrawal-requested",
        as_="applicantA",
    )
    expect(
        "WDR-01",
        dossier.get("withdrawalReason") == reason,
        "the withdrawal's reason kept",
        f"withdrawalReason {dossier.get('withdrawalReason')!r}",
    )
    dossier = walk(portal, "WDR-02", dossier, "stop", {"reason": reason}, "stopped")
    resolved = portal.act(dossier["id"], "resolution", RESULT)
    expect_refused("WDR-02", resolved, {409}, why="a stopped dossier is closed")


@pytest.mark.requirement("WDR-03")
def test_dossier_found_ineligible_is_stopped_with_its_reason(portal: Portal) -> None:
    """A dossier found ineligible in processing is stopped; the applicant reads why."""
    reason = "Thửa đất nằm trong hành lang an toàn giao thông, không đủ điều kiện (kiểm thử)."
    dossier = portal.in_process()
    dossier = walk(portal, "WDR-03", dossier, "stop", {"reason": reason}, "stopped")
    seen = portal.get(dossier["id"])
    if seen.get("stopReason") != reason:
        raise fail(
            "WDR-03",
            "the applicant sees the stop's reason",
            f"stopReason {seen.get('stopReason')!r}",
        )
