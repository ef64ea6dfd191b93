"""Online requests and their answers (Decree 137/2024/ND-CP Art. 7), through HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from reference_impl.tables import notifications, outbox

from .conftest import Server
from .support import assert_problem

CITIZEN = "001203012345"

OTHER_CITIZEN = "079190012345"
ORGANISATION = "5700101059"
AGENCY = "000.00.01.H22"
OFFICER = "canbo.h22.honghai.01"
OTHER_AGENCY_OFFICER = "canbo.h29.saigon.01"
SYSTEM = "one-stop-h22"
REASON = "Đường Nguyễn Văn Cừ do Ban Quản lý dự án thành phố Hạ Long quản lý."
ANSWER = "Ông/bà nộp văn bản của người làm chứng xác nhận việc sinh (Luật Hộ tịch, Điều 16)."
QUESTION = {
    "agencyCode": AGENCY,
    "subject": "Hỏi về giấy tờ khi đăng ký khai sinh cho con sinh tại nhà",
    "content": "Con tôi sinh tại nhà, không có giấy chứng sinh. Tôi cần nộp giấy tờ gì thay thế?",
    "category": "question",
}


def submit(server: Server, who: str = CITIZEN, **extra: Any) -> Any:
    return server.call("POST", "/requests", who=who, json=QUESTION, **extra)


def submitted(server: Server, who: str = CITIZEN) -> dict[str, Any]:
    response = submit(server, who)
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


def resolve(server: Server, request_id: str, who: str = OFFICER, body: Any = None) -> Any:
    payload = {"response": ANSWER} if body is None else body
    return server.call("POST", f"/requests/{request_id}/resolution", who=who, json=payload)


def refuse(server: Server, request_id: str, who: str = OFFICER, body: Any = None) -> Any:
    payload = {"reason": REASON} if body is None else body
    return server.call("POST", f"/requests/{request_id}/refusal", who=who, json=payload)


def inbox(server: Server, owner_key: str) -> list[dict[str, Any]]:
    with server.services.database.transaction() as conn:
        rows = conn.execute(
            select(notifications.c.doc).where(notifications.c.owner_key == owner_key)
        )
        return [row[0] for row in rows]


def feed(server: Server) -> list[dict[str, Any]]:
    response = server.call(
        "GET", "/events", headers={"Authorization": f"Bearer {server.system_token(SYSTEM)}"}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# ---- submitRequest ---------------------------------------------------------------------------


def test_submit_request_receives_it_for_the_signed_in_requester(server: Server) -> None:
    """201, status received, Location, the requester from the token."""
    response = submit(server)
    assert response.status_code == 201, response.text
    document = response.json()
    assert response.headers["location"].endswith(f"/requests/{document['id']}")
    assert document["status"] == "received"
    assert document["requester"] == {
        "accountId": f"citizen-{CITIZEN}",
        "type": "individual",
        "name": "Nguyễn Văn An",
    }
    assert document["receivedAt"] == "2025-03-17T09:00:00+07:00"
    organisation = submitted(server, ORGANISATION)
    assert organisation["requester"]["type"] == "organisation"


def test_submit_request_to_an_unknown_agency_is_422(server: Server) -> None:
    """An agency code that names no agency is refused by a domain check."""
    body = {**QUESTION, "agencyCode": "000.00.99.H99"}
    response = server.call("POST", "/requests", who=CITIZEN, json=body)
    assert_problem(response, 422, "/agencyCode")


def test_submit_request_with_a_malformed_body_is_400(server: Server) -> None:
    """A missing field or an unknown category does not match the contract."""
    assert_problem(
        server.call("POST", "/requests", who=CITIZEN, json={**QUESTION, "category": "gossip"}),
        400,
        "/category",
    )
    assert_problem(server.call("POST", "/requests", who=CITIZEN, json={"agencyCode": AGENCY}), 400)


def test_submit_request_is_for_applicants(server: Server) -> None:
    """An officer or a system may not send a request (403); no token is 401."""
    assert_problem(submit(server, OFFICER), 403)
    headers = {"Authorization": f"Bearer {server.system_token(SYSTEM)}"}
    assert_problem(server.client.post("/requests", json=QUESTION, headers=headers), 403)
    assert_problem(server.client.post("/requests", json=QUESTION), 401)


def test_submit_request_with_an_idempotency_key_is_safe_to_retry(server: Server) -> None:
    """The same key and body return the first answer; another body with it is 422."""
    headers = {"Idempotency-Key": "req-2025-03-17-0001"}
    first = submit(server, headers=headers)
    again = submit(server, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    listed = server.call("GET", "/requests", who=CITIZEN).json()["items"]
    assert len(listed) == 1
    other = server.call(
        "POST", "/requests", who=CITIZEN, headers=headers, json={**QUESTION, "category": "petition"}
    )
    assert_problem(other, 422, "#/header/Idempotency-Key")


# ---- listRequests and getRequest -------------------------------------------------------------


def test_list_requests_shows_the_requesters_own_and_the_agencys(server: Server) -> None:
    """An applicant sees what it sent; an officer what was sent to its agency."""
    mine = submitted(server)
    theirs = submitted(server, OTHER_CITIZEN)
    elsewhere = server.call(
        "POST", "/requests", who=CITIZEN, json={**QUESTION, "agencyCode": "000.00.01.H29"}
    ).json()
    own = server.call("GET", "/requests", who=CITIZEN).json()
    assert {r["id"] for r in own["items"]} == {mine["id"], elsewhere["id"]}
    officer = server.call("GET", "/requests", who=OFFICER).json()
    assert {r["id"] for r in officer["items"]} == {mine["id"], theirs["id"]}
    other_agency = server.call("GET", "/requests", who=OTHER_AGENCY_OFFICER).json()
    assert [r["id"] for r in other_agency["items"]] == [elsewhere["id"]]


def test_list_requests_filters_by_status_and_pages(server: Server) -> None:
    """?status= filters; limit and cursor page through the rest."""
    first = submitted(server)
    second = submitted(server)
    resolve(server, first["id"])
    resolved = server.call("GET", "/requests?status=resolved", who=OFFICER).json()
    assert [r["id"] for r in resolved["items"]] == [first["id"]]
    page = server.call("GET", "/requests?limit=1", who=OFFICER).json()
    assert page["nextCursor"]
    rest = server.call(
        "GET", "/requests", who=OFFICER, params={"limit": 1, "cursor": page["nextCursor"]}
    ).json()
    assert [r["id"] for r in page["items"] + rest["items"]] == [first["id"], second["id"]]
    assert rest["nextCursor"] is None


def test_get_request_for_its_requester_and_its_agency_only(server: Server) -> None:
    """The requester and the agency's officers read it; anyone else gets 404."""
    document = submitted(server)
    path = f"/requests/{document['id']}"
    assert server.call("GET", path, who=CITIZEN).json() == document
    assert server.call("GET", path, who=OFFICER).json() == document
    assert_problem(server.call("GET", path, who=OTHER_CITIZEN), 404)
    assert_problem(server.call("GET", path, who=OTHER_AGENCY_OFFICER), 404)
    assert_problem(server.call("GET", "/requests/no-such-request", who=CITIZEN), 404)
    assert_problem(server.call("GET", "/requests/bad%20id", who=CITIZEN), 400, "#/path/requestId")
    assert_problem(server.client.get(path), 401)


# ---- answers ---------------------------------------------------------------------------------


def test_resolve_request_answers_notifies_and_emits(server: Server) -> None:
    """received → resolved, with the answer, notified electronically, event emitted."""
    document = submitted(server)
    response = resolve(server, document["id"])
    assert response.status_code == 200, response.text
    answered = response.json()
    assert answered["status"] == "resolved"
    assert answered["response"] == ANSWER
    assert answered["answeredAt"] == answered["notifiedAt"] == "2025-03-17T09:00:00+07:00"
    assert server.call("GET", f"/requests/{document['id']}", who=CITIZEN).json() == answered
    notices = inbox(server, f"individual:{CITIZEN}")
    assert len(notices) == 1
    assert notices[0]["kind"] == "request-answered"
    assert notices[0]["refs"] == {"requestId": document["id"]}
    assert ANSWER in notices[0]["message"]
    events = feed(server)
    assert [e["type"] for e in events] == ["vn.gov.egov.request.answered"]
    assert events[0]["data"] == {
        "requestId": document["id"],
        "agencyCode": AGENCY,
        "status": "resolved",
        "answeredAt": answered["answeredAt"],
    }


def test_refuse_request_gives_the_reason_to_the_requester(server: Server) -> None:
    """received → refused with a reason, notified with that reason, event emitted."""
    document = submitted(server)
    response = refuse(server, document["id"])
    assert response.status_code == 200, response.text
    refused = response.json()
    assert refused["status"] == "refused"
    assert refused["refusalReason"] == REASON
    notices = inbox(server, f"individual:{CITIZEN}")
    assert notices[0]["reason"] == REASON
    register = server.call("POST", "/accounts", who=CITIZEN, json={})
    assert register.status_code == 201
    listed = server.call("GET", "/accounts/me/notifications?kind=request-answered", who=CITIZEN)
    assert listed.json()["items"][0]["reason"] == REASON
    assert feed(server)[0]["data"]["status"] == "refused"


@pytest.mark.parametrize(
    "body", [{}, {"reason": ""}, {"reason": "short"}, {"reason": REASON, "extra": 1}]
)
def test_refuse_request_without_a_proper_reason_is_400(server: Server, body: Any) -> None:
    """A refusal must carry a reason a person can understand; nothing changes without one."""
    document = submitted(server)
    problem = assert_problem(refuse(server, document["id"], body=body), 400)
    assert problem["errors"]
    assert server.call("GET", f"/requests/{document['id']}", who=CITIZEN).json() == document
    assert inbox(server, f"individual:{CITIZEN}") == []


def test_resolve_request_without_an_answer_is_400(server: Server) -> None:
    """The answer is required and at least 10 characters."""
    document = submitted(server)
    assert_problem(resolve(server, document["id"], body={"response": "OK"}), 400, "/response")


def test_an_answered_request_cannot_be_answered_again(server: Server) -> None:
    """Both answers are final: any second answer is 409 naming the status."""
    document = submitted(server)
    resolve(server, document["id"])
    problem = assert_problem(refuse(server, document["id"]), 409)
    assert "resolved" in problem["detail"]
    assert_problem(resolve(server, document["id"]), 409)
    other = submitted(server)
    refuse(server, other["id"])
    assert_problem(resolve(server, other["id"]), 409)
    assert len(inbox(server, f"individual:{CITIZEN}")) == 2


def test_only_an_officer_of_the_agency_answers(server: Server) -> None:
    """Another agency's officer gets 404; the requester and systems get 403."""
    document = submitted(server)
    assert_problem(resolve(server, document["id"], OTHER_AGENCY_OFFICER), 404)
    assert_problem(refuse(server, document["id"], OTHER_AGENCY_OFFICER), 404)
    assert_problem(resolve(server, document["id"], CITIZEN), 403)
    assert_problem(refuse(server, document["id"], CITIZEN), 403)
    headers = {"Authorization": f"Bearer {server.system_token(SYSTEM)}"}
    url = f"/requests/{document['id']}/resolution"
    assert_problem(server.client.post(url, json={"response": ANSWER}, headers=headers), 403)
    assert_problem(resolve(server, "no-such-request"), 404)
    assert server.call("GET", f"/requests/{document['id']}", who=CITIZEN).json() == document
    with server.services.database.transaction() as conn:
        assert conn.execute(select(outbox)).first() is None


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/requests", None),
        ("GET", "/requests/req-1", None),
        ("POST", "/requests/req-1/resolution", {"response": ANSWER}),
        ("POST", "/requests/req-1/refusal", {"reason": REASON}),
    ],
)
def test_request_operations_need_a_token_of_the_right_role(
    server: Server, method: str, path: str, body: Any
) -> None:
    """No token is 401; a system token is 403."""
    assert_problem(server.client.request(method, path, json=body), 401)
    headers = {"Authorization": f"Bearer {server.system_token(SYSTEM)}"}
    assert_problem(server.client.request(method, path, json=body, headers=headers), 403)


def test_list_requests_refuses_an_unknown_status(server: Server) -> None:
    """A status outside the enum does not match the contract."""
    assert_problem(server.call("GET", "/requests?status=lost", who=CITIZEN), 400, "#/query/status")
