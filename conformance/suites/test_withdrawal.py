"""Withdrawal and stopping (NPSP statuses 7 and 8; Decree 137/2024/ND-CP Art. 7(1)(a)).

The applicant asks to withdraw an open dossier; an officer stops it; an officer stops a
dossier found ineligible only with a reason the applicant then sees.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conformance.checks import expect, expect_refused, expect_status
from conformance.scenario import Portal

WITHDRAWAL = "Gia đình đã nộp hồ sơ tại cơ quan khác nên xin rút hồ sơ này."
INELIGIBLE = "Người nộp không thuộc đối tượng được giải quyết thủ tục tại cơ quan này (kiểm thử)."


def withdraw(portal: Portal, dossier_id: str, reason: str = WITHDRAWAL) -> httpx.Response:
    """The applicant's requestWithdrawal."""
    return portal.act(dossier_id, "withdrawal", {"reason": reason}, as_="applicantA")


def unchanged(portal: Portal, dossier: dict[str, Any], requirement: str, answer: Any) -> None:
    """Fail ``requirement`` unless the dossier kept its status and version."""
    after = portal.get(dossier["id"])
    expect(
        requirement,
        after.get("status") == dossier.get("status") and after.get("version") == dossier["version"],
        f"the dossier unchanged: status {dossier.get('status')}, version {dossier['version']}",
        f"status {after.get('status')!r}, version {after.get('version')!r}",
        answer,
    )


@pytest.mark.requirement("WDR-01")
def test_request_withdrawal_of_an_open_dossier_is_recorded_with_its_reason(
    portal: Portal,
) -> None:
    """The applicant withdraws a dossier in process; from a draft or a closed dossier it is 409."""
    dossier = portal.in_process()
    answer = withdraw(portal, dossier["id"])
    body = expect_status("WDR-01", answer, 200, why="withdrawal of a dossier in process")
    expect(
        "WDR-01",
        body.get("status") == "withdrawal-requested" and body.get("withdrawalReason") == WITHDRAWAL,
        "status withdrawal-requested with the applicant's reason",
        f"status {body.get('status')!r}, withdrawalReason {body.get('withdrawalReason')!r}",
        answer,
    )
    draft = portal.draft()
    refused = withdraw(portal, draft["id"])
    expect_refused("WDR-01", refused, {409}, why="a draft is deleted, not withdrawn")
    unchanged(portal, draft, "WDR-01", refused)
    closed = portal.submitted()
    closed = portal.step("RCV-08", closed["id"], "refusal", {"reason": INELIGIBLE})
    late = withdraw(portal, closed["id"])
    expect_refused("WDR-01", late, {409}, why="a refused dossier is closed")
    unchanged(portal, closed, "WDR-01", late)


@pytest.mark.requirement("WDR-02")
def test_stop_processing_ends_a_dossier_whose_withdrawal_was_asked(portal: Portal) -> None:
    """An officer stops a dossier whose withdrawal was asked; stopped is terminal."""
    dossier = portal.received()
    portal.step("WDR-01", dossier["id"], "withdrawal", {"reason": WITHDRAWAL}, as_="applicantA")
    answer = portal.act(dossier["id"], "stop", {"reason": WITHDRAWAL})
    body = expect_status("WDR-02", answer, 200, why="stopping a dossier whose withdrawal was asked")
    expect(
        "WDR-02",
        body.get("status") == "stopped",
        "status stopped",
        f"status {body.get('status')!r}",
        answer,
    )
    again = portal.act(dossier["id"], "processing", {})
    expect_refused("WDR-02", again, {409}, why="stopped is terminal")
    unchanged(portal, body, "WDR-02", again)


@pytest.mark.requirement("WDR-03")
def test_stop_processing_an_ineligible_dossier_needs_a_reason_the_applicant_sees(
    portal: Portal,
) -> None:
    """A stop without a reason is rejected and changes nothing; the applicant sees the reason."""
    dossier = portal.in_process()
    for body in ({}, {"reason": " " * 12}):
        answer = portal.act(dossier["id"], "stop", body)
        expect_refused("WDR-03", answer, {400, 422}, why=f"a stop with no reason: {body}")
        unchanged(portal, dossier, "WDR-03", answer)
    answer = portal.act(dossier["id"], "stop", {"reason": INELIGIBLE})
    stopped = expect_status("WDR-03", answer, 200, why="a stop with a clear reason")
    expect(
        "WDR-03",
        stopped.get("status") == "stopped" and stopped.get("stopReason") == INELIGIBLE,
        f"status stopped with stopReason {INELIGIBLE!r}",
        f"status {stopped.get('status')!r}, stopReason {stopped.get('stopReason')!r}",
        answer,
    )
    seen = portal.get(dossier["id"])
    expect(
        "WDR-03",
        seen.get("status") == "stopped" and seen.get("stopReason") == INELIGIBLE,
        "the applicant sees the stopped dossier with its reason",
        f"status {seen.get('status')!r}, stopReason {seen.get('stopReason')!r}",
    )
