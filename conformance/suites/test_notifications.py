"""Electronic notifications to the applicant (Decree 45/2020/ND-CP Art. 11; Decree 137/2024/ND-CP
Art. 7(1)(a) and (c)), read through listMyNotifications.

A submission is notified with the dossier code and the official receipt time; a refusal, a
supplement request and a stop with their reason; a delivered result with its code. The
contract does not say that a notification is written before the answer to the move that caused
it, so each test waits for it a few seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from conformance.checks import expect_status, fail
from conformance.invariants import VN, parse_time
from conformance.scenario import Portal

WAIT_SECONDS = 10.0
"""How long a notification may take to appear."""

Notification = dict[str, Any]


def refs_of(note: Notification) -> dict[str, Any]:
    """The objects a notification names (empty when it names none)."""
    refs = note.get("refs")
    return refs if isinstance(refs, dict) else {}


def about(dossier: dict[str, Any]) -> Callable[[Notification], bool]:
    """Whether a notification is about ``dossier`` (by id or by code)."""

    def matches(note: Notification) -> bool:
        refs = refs_of(note)
        return refs.get("dossierId") == dossier["id"] or (
            bool(dossier.get("code")) and refs.get("dossierCode") == dossier["code"]
        )

    return matches


def text_of(note: Notification) -> str:
    """What a notification tells its reader, as one string.

    Not its own ``id`` and ``createdAt``: a notification written at the moment of receipt
    would otherwise seem to state the receipt time without saying it.
    """
    told = {k: v for k, v in note.items() if k not in ("id", "createdAt")}
    return json.dumps(told, ensure_ascii=False)


def wait_for(
    portal: Portal, requirement: str, wanted: Callable[[Notification], bool], expected: str
) -> tuple[Notification, httpx.Response]:
    """The newest notification of applicantA that ``wanted`` accepts, and the page it is on."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        answer = portal.call(
            "GET", "identity", "/accounts/me/notifications", as_="applicantA", params={"limit": 100}
        )
        page = expect_status(requirement, answer, 200, why="the applicant reads its notifications")
        items = [n for n in (page or {}).get("items", []) if isinstance(n, dict)]
        found = [n for n in items if wanted(n)]
        if found:
            return found[0], answer
        if time.monotonic() > deadline:
            raise fail(
                requirement,
                expected,
                f"no such notification among the {len(items)} newest after {WAIT_SECONDS:.0f} s",
                answer,
            )
        time.sleep(0.5)


def says_time(text: str, moment: Any) -> bool:
    """True when ``text`` gives the time ``moment``, as RFC 3339 or as a date and an hour."""
    local = moment.astimezone(VN)
    if local.isoformat(timespec="seconds") in text or local.strftime("%Y-%m-%dT%H:%M") in text:
        return True
    hour, minute = local.hour, local.minute
    hours = (
        f"{hour:02d}:{minute:02d}",
        f"{hour}:{minute:02d}",
        f"{hour:02d}h{minute:02d}",
        f"{hour}h{minute:02d}",
        f"{hour:02d} giờ {minute:02d}",
        f"{hour} giờ {minute:02d}",
    )
    d, m, y = local.day, local.month, local.year
    days = (
        f"{d:02d}/{m:02d}/{y}",
        f"{d}/{m}/{y}",
        f"{y}-{m:02d}-{d:02d}",
        f"{d:02d}-{m:02d}-{y}",
        f"ngày {d:02d} tháng {m:02d} năm {y}",
        f"ngày {d} tháng {m} năm {y}",
    )
    return any(h in text for h in hours) and any(day in text for day in days)


@pytest.mark.requirement("NTF-01")
def test_submit_dossier_notifies_the_code_and_the_official_receipt_time(portal: Portal) -> None:
    """A successful submission is notified to the applicant with its code and receipt time."""
    portal.register()
    dossier = portal.submitted()
    code, receipt = dossier["code"], parse_time(dossier.get("officialReceiptTime"))
    note, page = wait_for(
        portal, "NTF-01", about(dossier), f"a notification of the submission of dossier {code}"
    )
    text = text_of(note)
    if code not in text:
        raise fail("NTF-01", f"the notification to name the dossier code {code}", text[:400], page)
    if receipt is None or not (says_time(text, receipt) or dossier["officialReceiptTime"] in text):
        raise fail(
            "NTF-01",
            f"the notification to give the official receipt time "
            f"{dossier.get('officialReceiptTime')} (Decree 45/2020/ND-CP Art. 11)",
            text[:400],
            page,
        )


def carries(reason: str, dossier: dict[str, Any]) -> Callable[[Notification], bool]:
    """Whether a notification is about ``dossier`` and carries ``reason``."""
    mine = about(dossier)
    return lambda note: mine(note) and (note.get("reason") == reason or reason in text_of(note))


@pytest.mark.requirement("NTF-02")
def test_refuse_dossier_notifies_the_applicant_with_the_reason(portal: Portal) -> None:
    """A refusal reaches the applicant as a notification that carries its reason."""
    portal.register()
    reason = "Hồ sơ không thuộc thẩm quyền tiếp nhận của cơ quan này (kiểm thử từ chối)."
    dossier = portal.submitted()
    portal.step("RCV-08", dossier["id"], "refusal", {"reason": reason})
    wait_for(
        portal,
        "NTF-02",
        carries(reason, dossier),
        f"a notification of the refusal of {dossier['code']} with the reason {reason!r}",
    )


@pytest.mark.requirement("NTF-02")
def test_request_supplement_notifies_the_applicant_with_the_reason(portal: Portal) -> None:
    """A supplement request reaches the applicant as a notification that carries its reason."""
    portal.register()
    reason = "Đề nghị bổ sung bản chụp rõ nét của thành phần hồ sơ (kiểm thử bổ sung)."
    components = [c for c in portal.procedure().get("components", []) if c.get("required")]
    if not components:
        pytest.skip("insufficient test data: the primary procedure has no required component")
    dossier = portal.submitted()
    body = {"reason": reason, "componentCodes": [components[0]["code"]]}
    portal.step("SUP-01", dossier["id"], "supplement-request", body)
    wait_for(
        portal,
        "NTF-02",
        carries(reason, dossier),
        f"a notification of the supplement request for {dossier['code']} with the reason "
        f"{reason!r}",
    )


@pytest.mark.requirement("NTF-02")
def test_stop_processing_notifies_the_applicant_with_the_reason(portal: Portal) -> None:
    """Stopping a dossier reaches the applicant as a notification that carries the reason."""
    portal.register()
    reason = "Hồ sơ không đủ điều kiện giải quyết theo quy định (kiểm thử dừng xử lý)."
    dossier = portal.in_process()
    portal.step("WDR-03", dossier["id"], "stop", {"reason": reason})
    wait_for(
        portal,
        "NTF-02",
        carries(reason, dossier),
        f"a notification of the stop of {dossier['code']} with the reason {reason!r}",
    )


@pytest.mark.requirement("NTF-03")
def test_deliver_result_notifies_the_applicant_with_the_result_code(portal: Portal) -> None:
    """A delivered result is notified to the applicant with the result's code."""
    portal.register()
    dossier = portal.resolved()
    codes = dossier.get("resultCodes") or []
    if not codes:
        raise fail("RES-01", "a resolved dossier lists its result code", "resultCodes []")
    portal.step("RES-03", dossier["id"], "delivery", {"channel": "electronic"})
    result = codes[-1]

    def names_result(note: Notification) -> bool:
        refs = refs_of(note)
        return refs.get("resultCode") == result or result in text_of(note)

    wait_for(
        portal,
        "NTF-03",
        names_result,
        f"a notification of the result of {dossier['code']} naming {result}",
    )
