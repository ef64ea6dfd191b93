"""Online requests to agencies and their answers (Decree 137/2024/ND-CP Art. 7)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conformance.checks import expect, expect_conforms, expect_refused, expect_status
from conformance.scenario import Portal

from ._s3_support import find_in_pages, poll

ANSWER = "Ông/bà nộp văn bản của người làm chứng xác nhận việc sinh (Luật Hộ tịch, Điều 16)."
REFUSAL = "Nội dung thuộc thẩm quyền của Ban Quản lý dự án thành phố; đề nghị gửi tới đơn vị này."


def question(portal: Portal) -> dict[str, Any]:
    """A question to the configured agency."""
    return {
        "agencyCode": portal.agency,
        "subject": "Hỏi về giấy tờ khi đăng ký khai sinh cho con sinh tại nhà",
        "content": "Con tôi sinh tại nhà, không có giấy chứng sinh. Tôi cần nộp giấy tờ gì "
        "thay thế? (câu hỏi của bộ công cụ kiểm thử)",
        "category": "question",
    }


def submitted(portal: Portal, requirement: str) -> dict[str, Any]:
    """``submitRequest`` as applicantA (201 expected)."""
    answer = portal.call("POST", "requests", "/requests", as_="applicantA", json=question(portal))
    body: dict[str, Any] = expect_status(
        requirement, answer, 201, why="an applicant sends a request to an agency"
    )
    return body


def read(portal: Portal, requirement: str, request_id: str, as_: str) -> httpx.Response:
    """``getRequest`` as ``as_``."""
    return portal.call("GET", "requests", f"/requests/{request_id}", as_=as_)


@pytest.mark.requirement("REQ-01")
def test_submit_request_is_received_with_an_id_and_a_time(portal: Portal) -> None:
    """A request is received with an id and a receipt time; requester and agency both read it."""
    answer = portal.call("POST", "requests", "/requests", as_="applicantA", json=question(portal))
    sent = expect_conforms("REQ-01", "submitRequest", answer)
    expect_status("REQ-01", answer, 201, why="an applicant sends a request to an agency")
    expect(
        "REQ-01",
        sent.get("status") == "received" and bool(sent.get("id")) and bool(sent.get("receivedAt")),
        "status received, an id and receivedAt",
        f"status {sent.get('status')!r}, id {sent.get('id')!r}, receivedAt "
        f"{sent.get('receivedAt')!r}",
        answer,
    )
    for who in ("applicantA", "officer"):
        got = read(portal, "REQ-01", sent["id"], who)
        body = expect_conforms("REQ-01", "getRequest", got)
        expect_status("REQ-01", got, 200, why=f"the {who} reads the request")
        expect(
            "REQ-01",
            (body.get("id"), body.get("subject")) == (sent["id"], sent["subject"]),
            f"request {sent['id']} as sent",
            f"id {body.get('id')!r}",
            got,
        )
    listed = find_in_pages(
        "REQ-01",
        portal.client,
        "requests",
        "/requests",
        lambda r: r.get("id") == sent["id"],
        as_="officer",
        params={"status": "received"},
    )
    expect(
        "REQ-01",
        listed is not None,
        "the agency's officers find it in listRequests",
        "absent from the officer's list",
    )


@pytest.mark.requirement("REQ-02")
def test_refuse_request_needs_a_clear_reason_the_requester_sees(portal: Portal) -> None:
    """A refusal without a reason is rejected; the reason of a refusal reaches the requester."""
    sent = submitted(portal, "REQ-02")
    path = f"/requests/{sent['id']}/refusal"
    for body in ({}, {"reason": ""}):
        answer = portal.call("POST", "requests", path, as_="officer", json=body)
        expect_refused("REQ-02", answer, {400, 422}, why="a refusal must give a clear reason")
    still = expect_status(
        "REQ-02",
        read(portal, "REQ-02", sent["id"], "applicantA"),
        200,
        why="the requester reads the request",
    )
    expect(
        "REQ-02",
        still.get("status") == "received",
        "a rejected refusal changes nothing",
        f"status {still.get('status')!r}",
    )
    refused = portal.call("POST", "requests", path, as_="officer", json={"reason": REFUSAL})
    expect_status("REQ-02", refused, 200, why="a refusal with a reason")
    got = read(portal, "REQ-02", sent["id"], "applicantA")
    body = expect_conforms("REQ-02", "getRequest", got)
    expect(
        "REQ-02",
        body.get("status") == "refused" and body.get("refusalReason") == REFUSAL,
        "the requester sees the request refused, with the reason as given",
        f"status {body.get('status')!r}, refusalReason {body.get('refusalReason')!r}",
        got,
    )


@pytest.mark.requirement("REQ-03")
def test_resolve_request_answers_online_and_notifies_the_requester(portal: Portal) -> None:
    """The requester reads the answer online and gets an electronic notification of it."""
    portal.register()
    sent = submitted(portal, "REQ-03")
    answer = portal.call(
        "POST",
        "requests",
        f"/requests/{sent['id']}/resolution",
        as_="officer",
        json={"response": ANSWER},
    )
    expect_status("REQ-03", answer, 200, why="an officer of the agency answers the request")
    got = read(portal, "REQ-03", sent["id"], "applicantA")
    body = expect_conforms("REQ-03", "getRequest", got)
    expect(
        "REQ-03",
        body.get("status") == "resolved" and body.get("response") == ANSWER,
        "the requester reads the answer as given",
        f"status {body.get('status')!r}, response {body.get('response')!r}",
        got,
    )

    def notice() -> dict[str, Any]:
        found = find_in_pages(
            "REQ-03",
            portal.client,
            "identity",
            "/accounts/me/notifications",
            lambda n: (
                n.get("kind") == "request-answered"
                and (n.get("refs") or {}).get("requestId") == sent["id"]
            ),
            as_="applicantA",
        )
        return found or {}

    # The notice may be sent a moment after the answer: poll, within a bounded wait.
    found = poll(notice, bool)
    expect(
        "REQ-03",
        bool(found),
        f"a request-answered notification naming request {sent['id']} (listMyNotifications)",
        "no such notification",
    )


POSTAL_ADDRESS = "Số 27 đường Lê Thánh Tông, phường Hồng Hải, tỉnh Quảng Ninh"


@pytest.mark.requirement("REQ-04")
def test_submit_request_honours_the_requesters_choice_of_notification(portal: Portal) -> None:
    """A requester who asked not to be notified electronically is notified the way they asked."""
    portal.register()
    body = {**question(portal), "notifyBy": "post", "postalAddress": POSTAL_ADDRESS}
    sent = portal.call("POST", "requests", "/requests", as_="applicantA", json=body)
    request = expect_status("REQ-04", sent, 201, why="a request that asks to be told by post")
    expect(
        "REQ-04",
        (request.get("notifyBy"), request.get("postalAddress")) == ("post", POSTAL_ADDRESS),
        f"the request keeps the choice: notifyBy 'post', postalAddress {POSTAL_ADDRESS!r}",
        f"notifyBy {request.get('notifyBy')!r}, postalAddress {request.get('postalAddress')!r}",
        sent,
    )
    answered = portal.call(
        "POST",
        "requests",
        f"/requests/{request['id']}/resolution",
        as_="officer",
        json={"response": ANSWER},
    )
    expect_status("REQ-04", answered, 200, why="an officer of the agency answers the request")

    def current() -> dict[str, Any]:
        got = read(portal, "REQ-04", request["id"], "applicantA")
        body: dict[str, Any] = expect_status("REQ-04", got, 200, why="the requester reads it")
        return body

    # Handing the answer to the post may happen a moment later: poll, within a bounded wait.
    final = poll(current, lambda r: bool(r.get("postedAt")))
    expect(
        "REQ-04",
        bool(final.get("postedAt")) and not final.get("notifiedAt"),
        "postedAt (the answer went by post, as asked) and no notifiedAt",
        f"postedAt {final.get('postedAt')!r}, notifiedAt {final.get('notifiedAt')!r}",
    )
    electronic = find_in_pages(
        "REQ-04",
        portal.client,
        "identity",
        "/accounts/me/notifications",
        lambda n: (n.get("refs") or {}).get("requestId") == request["id"],
        as_="applicantA",
    )
    expect(
        "REQ-04",
        electronic is None,
        "no electronic notification about a request whose requester asked for post",
        f"notification {electronic}",
    )
