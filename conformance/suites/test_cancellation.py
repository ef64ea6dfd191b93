"""Cancelling a result's validity (Decree 45/2020/ND-CP Art. 15)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import httpx
import pytest

from conformance.checks import expect, expect_conforms, expect_refused, expect_status
from conformance.client import TargetClient
from conformance.config import TargetConfig
from conformance.scenario import Portal
from conformance.simulators import Simulators
from egov_contract import contract

from ._s3_support import (
    REASON,
    delivered,
    download,
    expect_delivered,
    find_in_pages,
    resolved_result,
    subscribed,
)

CANCELLED = "vn.gov.egov.result.cancelled"


def cancel(portal: Portal, code: str, body: Any) -> httpx.Response:
    """``cancelResult`` as the officer of the issuing agency."""
    return portal.call("POST", "results", f"/results/{code}/cancellation", as_="officer", json=body)


def cancelled(portal: Portal, requirement: str, code: str) -> dict[str, Any]:
    """Cancel ``code`` with a reason; the cancelled result (200 expected)."""
    answer = cancel(portal, code, {"reason": REASON})
    body: dict[str, Any] = expect_status(
        requirement, answer, 200, why="cancelResult with a reason, by the issuing agency"
    )
    return body


def read(portal: Portal, requirement: str, code: str) -> dict[str, Any]:
    """The result as its holder reads it now."""
    answer = portal.call("GET", "results", f"/results/{code}", as_="applicantA")
    body: dict[str, Any] = expect_status(requirement, answer, 200, why="the holder reads it")
    return body


@pytest.mark.requirement("CAN-01")
def test_cancel_result_needs_a_reason_and_cannot_be_repeated(portal: Portal) -> None:
    """A cancellation without a reason is refused; a cancelled result cannot be cancelled again."""
    _, result = resolved_result(portal, "CAN-01")
    code = result["code"]
    for body in ({}, {"reason": ""}):
        answer = cancel(portal, code, body)
        expect_refused(
            "CAN-01",
            answer,
            {400, 422},
            why="a cancellation must say why (Decree 45/2020/ND-CP Art. 15)",
        )
    still = read(portal, "CAN-01", code)
    expect(
        "CAN-01",
        still.get("status") == "valid",
        "a refused cancellation leaves the result valid",
        f"status {still.get('status')!r}",
    )
    done = cancelled(portal, "CAN-01", code)
    expect(
        "CAN-01",
        done.get("status") == "cancelled",
        "the result is cancelled",
        f"status {done.get('status')!r}",
    )
    again = cancel(portal, code, {"reason": REASON})
    expect_refused("CAN-01", again, {409}, why="the result is already cancelled: no way back")


@pytest.mark.requirement("CAN-02")
def test_cancel_result_marks_time_and_reason_and_keeps_it_retrievable(portal: Portal) -> None:
    """A cancelled result shows when and why; it and its document can still be read."""
    dossier, result = resolved_result(portal, "CAN-02")
    code = result["code"]
    answer = cancel(portal, code, {"reason": REASON})
    cancelled_body = expect_conforms("CAN-02", "cancelResult", answer)
    got = portal.call("GET", "results", f"/results/{code}", as_="applicantA")
    now = expect_conforms("CAN-02", "getResult", got)
    expect_status("CAN-02", got, 200, why="a cancelled result stays retrievable")
    expect(
        "CAN-02",
        now.get("status") == "cancelled",
        "status cancelled",
        f"status {now.get('status')!r}",
        got,
    )
    expect(
        "CAN-02",
        now.get("cancellationReason") == REASON,
        "the cancellation reason as the officer gave it",
        f"cancellationReason {now.get('cancellationReason')!r}",
        got,
    )
    at = now.get("cancelledAt")
    expect(
        "CAN-02",
        isinstance(at, str) and at == cancelled_body.get("cancelledAt"),
        "a cancelledAt that stays what the cancellation answered",
        f"cancelledAt {at!r} (cancellation answered {cancelled_body.get('cancelledAt')!r})",
        got,
    )
    moment = datetime.fromisoformat(str(at))
    issued = datetime.fromisoformat(str(result["issuedAt"]))
    expect(
        "CAN-02",
        issued <= moment,
        "a cancellation time no earlier than the issue",
        f"issuedAt {result['issuedAt']}, cancelledAt {at}",
        got,
    )
    content = download(portal, "CAN-02", "results", f"/results/{code}/document")
    digest = hashlib.sha256(content.content).hexdigest()
    expect(
        "CAN-02",
        digest == (result.get("document") or {}).get("sha256"),
        "the cancelled result's document is still served, unchanged",
        f"SHA-256 {digest}",
        content,
    )
    listed = find_in_pages(
        "CAN-02",
        portal.client,
        "results",
        "/results",
        lambda item: item.get("code") == code,
        as_="applicantA",
        params={"dossierCode": dossier["code"]},
    )
    expect(
        "CAN-02",
        listed is not None and listed.get("status") == "cancelled",
        "listResults still lists the result, as cancelled",
        f"listed as {listed.get('status') if listed else 'nothing'}",
    )


@pytest.mark.requirement("CAN-03")
def test_cancel_result_marks_the_repository_item_at_the_same_moment(portal: Portal) -> None:
    """The holder's Repository item of a cancelled result shows it cancelled, with the same time."""
    dossier, result = resolved_result(portal, "CAN-03")
    delivered(portal, "CAN-03", dossier)
    code = result["code"]
    item = find_in_pages(
        "CAN-03",
        portal.client,
        "repository",
        "/repository/items",
        lambda i: (i.get("source") or {}).get("resultCode") == code,
        as_="applicantA",
        params={"kind": "result"},
    )
    if item is None:
        pytest.skip(
            f"the result {code} is not in the holder's Repository (RES-04 says why), "
            "so its cancellation cannot be seen there"
        )
    done = cancelled(portal, "CAN-03", code)
    answer = portal.call("GET", "repository", f"/repository/items/{item['id']}", as_="applicantA")
    now = expect_conforms("CAN-03", "getRepositoryItem", answer)
    expect(
        "CAN-03",
        now.get("status") == "cancelled",
        "the Repository item of the result is marked cancelled",
        f"status {now.get('status')!r}",
        answer,
    )
    expect(
        "CAN-03",
        now.get("cancelledAt") == done.get("cancelledAt"),
        f"the item's cancelledAt is the result's ({done.get('cancelledAt')})",
        f"cancelledAt {now.get('cancelledAt')!r}",
        answer,
    )


@pytest.mark.requirement("CAN-04")
def test_cancel_result_notifies_subscribed_agencies(
    portal: Portal, client: TargetClient, target: TargetConfig, simulators: Simulators
) -> None:
    """A subscribed related agency receives the resultCancelled event with time and reason."""
    _, result = resolved_result(portal, "CAN-04")
    code = result["code"]
    with subscribed("CAN-04", client, target, simulators, [CANCELLED]) as inbox:
        done = cancelled(portal, "CAN-04", code)
        found = inbox.wait(CANCELLED, lambda e: e.data.get("resultCode") == code)
        event = expect_delivered("CAN-04", found, f"a {CANCELLED} event for {code}", inbox)
    errors = [
        e.message
        for e in contract()
        .schema_validator("event.json#/$defs/resultCancelled")
        .iter_errors(event.event)
    ]
    expect(
        "CAN-04",
        not errors,
        "a CloudEvent valid against event.json#/$defs/resultCancelled",
        "; ".join(errors[:3]),
    )
    expect(
        "CAN-04",
        event.data.get("cancelledAt") == done.get("cancelledAt")
        and event.data.get("reason") == REASON,
        "the event carries the cancellation's time and reason",
        f"cancelledAt {event.data.get('cancelledAt')!r}, reason {event.data.get('reason')!r}",
    )


@pytest.mark.requirement("CAN-05")
def test_verify_result_reports_the_cancellation_at_once(portal: Portal) -> None:
    """From the moment of cancellation, verifying the result or its printout says it is invalid."""
    _, result = resolved_result(portal, "CAN-05")
    path = f"/verification/{result['verificationCode']}"
    first = portal.call("GET", "results", path)
    before = expect_status("CAN-05", first, 200, why="the valid result verifies")
    expect(
        "CAN-05",
        before.get("valid") is True,
        "a valid result verifies as valid",
        f"valid {before.get('valid')!r}",
        first,
    )
    done = cancelled(portal, "CAN-05", result["code"])
    # No wait: the law makes the result and every printout of it invalid at the same moment.
    answer = portal.call("GET", "results", path)
    after = expect_conforms("CAN-05", "verifyResult", answer)
    expect(
        "CAN-05",
        after.get("valid") is False and after.get("status") == "cancelled",
        "right after the cancellation: valid false, status cancelled",
        f"valid {after.get('valid')!r}, status {after.get('status')!r}",
        answer,
    )
    expect(
        "CAN-05",
        after.get("cancelledAt") == done.get("cancelledAt"),
        f"cancelledAt {done.get('cancelledAt')} (since when it is invalid)",
        f"cancelledAt {after.get('cancelledAt')!r}",
        answer,
    )
