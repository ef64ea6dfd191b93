"""E-results: issue, signature, reading, cancellation and public verification (Decree 45/2020)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import insert, select, update

from reference_impl import results_domain
from reference_impl.accounts import applicant_of, ensure_account
from reference_impl.clock import rfc3339
from reference_impl.dossier_store import insert_new
from reference_impl.ids import new_id, next_dossier_code
from reference_impl.tables import (
    deliveries,
    notifications,
    outbox,
    repository_items,
    results,
    subscriptions,
)
from reference_impl.tables import dossiers as dossiers_table

from .conftest import Server
from .support import assert_problem

CITIZEN = "001203012345"

OTHER_CITIZEN = "079190012345"
ORGANISATION = "5700101059"
AGENCY = "000.00.01.H22"
OFFICER = "canbo.h22.honghai.01"
OTHER_OFFICER = "canbo.h22.baichay.01"
PROCEDURE = "1.001193"
REASON = "Giấy khai sinh cấp sai ngày sinh của trẻ; đã cấp lại theo hồ sơ cải chính."


def principal_of(server: Server, who: str) -> Any:
    """The verified principal of a fixture subject."""
    return server.services.verifier.verify(f"Bearer {server.token(who)}")


def make_dossier(server: Server, who: str = CITIZEN, agency: str = AGENCY) -> dict[str, Any]:
    """Store a dossier of ``who`` at ``agency``, as the dossiers interface would leave it."""
    services = server.services
    principal = principal_of(server, who)
    now = rfc3339(services.clock.now())
    with services.database.transaction() as conn:
        account, _ = ensure_account(conn, services, principal)
        document = {
            "id": new_id(),
            "code": next_dossier_code(conn, agency, services.clock.now()),
            "status": "processed",
            "procedureCode": PROCEDURE,
            "agencyCode": agency,
            "applicant": applicant_of(account),
            "form": {},
            "components": [],
            "version": 1,
            "createdAt": now,
            "updatedAt": now,
        }
        insert_new(conn, principal.owner_key, document)
    return document


def issue(
    server: Server,
    dossier: dict[str, Any] | None = None,
    *,
    who: str = CITIZEN,
    document: bytes | None = None,
    file_name: str | None = None,
) -> dict[str, Any]:
    """Issue a result through ``issue_result``, in one transaction, as resolveDossier does."""
    dossier = dossier or make_dossier(server, who)
    with server.services.database.transaction() as conn:
        return results_domain.issue_result(
            conn,
            server.services,
            dossier,
            "Giấy khai sinh của Nguyễn Minh Khoa",
            "Đăng ký khai sinh cho trẻ Nguyễn Minh Khoa, sinh ngày 02/03/2025.",
            document,
            file_name,
        )


def cancel(server: Server, code: str, who: str = OFFICER, reason: str = REASON) -> Any:
    return server.call("POST", f"/results/{code}/cancellation", who=who, json={"reason": reason})


def rows(server: Server, statement: Any) -> list[Any]:
    with server.services.database.transaction() as conn:
        return list(conn.execute(statement))


def subscribe(server: Server, types: list[str]) -> str:
    """A related agency's subscription to ``types``, stored as the events interface would."""
    subscription_id = new_id()
    document = {
        "id": subscription_id,
        "callbackUrl": "http://127.0.0.1:9/events",
        "types": types,
        "createdAt": rfc3339(server.services.clock.now()),
        "active": True,
    }
    with server.services.database.transaction() as conn:
        conn.execute(
            insert(subscriptions).values(
                id=subscription_id,
                owner_key="system:test",
                secret="s" * 24,
                active=1,
                doc=document,
            )
        )
    return subscription_id


def published_keys(server: Server) -> KeySet:
    response = server.call("GET", "/results-jwks")
    assert response.status_code == 200, response.text
    return KeySet.import_key_set(response.json())


# --- issue_result -------------------------------------------------------------------------


def test_issue_result_numbers_results_per_dossier(server: Server) -> None:
    dossier = make_dossier(server)
    first = issue(server, dossier)
    second = issue(server, dossier)
    assert first["code"] == f"{dossier['code']}-KQ1"
    assert second["code"] == f"{dossier['code']}-KQ2"
    assert first["verificationCode"] != second["verificationCode"]
    assert first["verificationUrl"] == f"/verification/{first['verificationCode']}"
    assert first["holder"] == {
        "accountId": dossier["applicant"]["accountId"],
        "name": dossier["applicant"]["name"],
    }
    assert first["status"] == "valid"
    assert first["issuedAt"] == "2025-03-17T09:00:00+07:00"


def test_issue_result_renders_a_pdf_when_none_is_uploaded(server: Server) -> None:
    result = issue(server)
    response = server.call("GET", f"/results/{result['code']}/document", who=CITIZEN)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert hashlib.sha256(response.content).hexdigest() == result["document"]["sha256"]
    assert result["document"]["size"] == len(response.content)


def test_issue_result_keeps_an_uploaded_pdf_byte_for_byte(server: Server) -> None:
    pdf = b"%PDF-1.7\n1 0 obj\n<</Type/Catalog>>\nendobj\n%%EOF\n"
    result = issue(server, document=pdf, file_name="giấy-khai-sinh.pdf")
    assert result["document"]["fileName"] == "giấy-khai-sinh.pdf"
    response = server.call("GET", f"/results/{result['code']}/document", who=OFFICER)
    assert response.content == pdf
    assert "filename*=UTF-8''gi%E1%BA%A5y-khai-sinh.pdf" in response.headers["content-disposition"]


def test_issue_result_refuses_a_document_that_is_not_a_pdf(server: Server) -> None:
    with pytest.raises(ValueError, match="PDF"):
        issue(server, document=b"\x89PNG\r\n\x1a\n....")
    assert rows(server, select(results.c.code)) == []


def test_issue_result_signature_verifies_with_the_published_keys(server: Server) -> None:
    result = issue(server)
    verified = jws.deserialize_compact(result["signature"], published_keys(server))
    assert verified.protected["typ"] == "egov-result+jws"
    assert verified.protected["alg"] == "ES256"
    assert json.loads(verified.payload) == {
        "code": result["code"],
        "dossierCode": result["dossierCode"],
        "documentSha256": result["document"]["sha256"],
        "issuedAt": result["issuedAt"],
    }


def _flipped(token: str) -> list[str]:
    """The token with each byte of each decoded segment flipped in turn."""
    segments = token.split(".")
    variants = []
    for index, segment in enumerate(segments):
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        for position in range(len(raw)):
            changed = bytearray(raw)
            changed[position] ^= 0x01
            encoded = base64.urlsafe_b64encode(bytes(changed)).decode().rstrip("=")
            variants.append(".".join([*segments[:index], encoded, *segments[index + 1 :]]))
    return variants


def test_a_flipped_byte_anywhere_in_the_signature_fails_verification(server: Server) -> None:
    result = issue(server)
    keys = published_keys(server)
    variants = _flipped(result["signature"])
    assert len(variants) > 64 + 32  # header, payload and the 64-byte ES256 signature
    for variant in variants:
        with pytest.raises((JoseError, ValueError)):
            jws.deserialize_compact(variant, keys)


def test_issue_result_writes_repository_event_notification_and_sync(server: Server) -> None:
    result = issue(server)
    code = result["code"]
    item = rows(server, select(repository_items.c.doc).where(repository_items.c.kind == "result"))
    assert item[0].doc["source"] == {
        "dossierCode": result["dossierCode"],
        "resultCode": code,
        "agencyCode": AGENCY,
    }
    assert item[0].doc["file"] == result["document"]
    event = rows(server, select(outbox.c.doc).where(outbox.c.type == "vn.gov.egov.result.issued"))
    assert event[0].doc["subject"] == code
    assert event[0].doc["data"] == {
        "resultCode": code,
        "dossierCode": result["dossierCode"],
        "agencyCode": AGENCY,
        "issuedAt": result["issuedAt"],
        "verificationCode": result["verificationCode"],
    }
    contract = server.services.contract
    assert not list(
        contract.schema_validator("event.json#/$defs/resultIssued").iter_errors(event[0].doc)
    )
    notice = rows(server, select(notifications.c.doc, notifications.c.owner_key))
    assert notice[0].owner_key == f"individual:{CITIZEN}"
    assert notice[0].doc["kind"] == "result-issued"
    assert notice[0].doc["refs"]["resultCode"] == code
    push = rows(server, select(deliveries).where(deliveries.c.event_id == f"result:{code}:valid"))
    assert push[0].url == f"http://testserver/sync/results/{code}"
    assert push[0].method == "PUT"
    assert not list(
        contract.schema_validator("sync.json#/$defs/resultSync").iter_errors(push[0].body)
    )


# --- reading ---------------------------------------------------------------------------------


def test_get_result_for_holder_and_issuing_officers(server: Server) -> None:
    result = issue(server)
    for who in (CITIZEN, OFFICER, "canbo.h22.honghai.02"):
        response = server.call("GET", f"/results/{result['code']}", who=who)
        assert response.status_code == 200, response.text
        assert response.json() == result


def test_get_result_hides_it_from_everyone_else(server: Server) -> None:
    result = issue(server)
    for who in (OTHER_CITIZEN, ORGANISATION, OTHER_OFFICER):
        assert_problem(server.call("GET", f"/results/{result['code']}", who=who), 404)
        response = server.call("GET", f"/results/{result['code']}/document", who=who)
        assert_problem(response, 404)


def test_get_result_errors(server: Server) -> None:
    assert_problem(server.call("GET", "/results/000.00.01.H22-250317-0001-KQ1"), 401)
    response = server.call("GET", "/results/000.00.01.H22-250317-0001-KQ1", who=CITIZEN)
    assert_problem(response, 404)
    assert_problem(server.call("GET", "/results/not-a-code", who=CITIZEN), 400, "#/path/resultCode")
    response = server.call("GET", "/results/not-a-code/document", who=CITIZEN)
    assert_problem(response, 400, "#/path/resultCode")


def test_list_results_per_caller_and_filters(server: Server) -> None:
    mine = issue(server)
    theirs = issue(server, who=OTHER_CITIZEN)
    elsewhere = issue(server, make_dossier(server, agency="000.00.02.H22"))
    cancel(server, theirs["code"])

    def codes(who: str, **params: str) -> list[str]:
        response = server.call("GET", "/results", who=who, params=params)
        assert response.status_code == 200, response.text
        return [item["code"] for item in response.json()["items"]]

    assert codes(CITIZEN) == [mine["code"], elsewhere["code"]]
    assert codes(OTHER_CITIZEN) == [theirs["code"]]
    assert codes(ORGANISATION) == []
    assert codes(OFFICER) == [mine["code"], theirs["code"]]
    assert codes(OTHER_OFFICER) == [elsewhere["code"]]
    assert codes(OFFICER, status="cancelled") == [theirs["code"]]
    assert codes(OFFICER, status="valid") == [mine["code"]]
    assert codes(OFFICER, dossierCode=mine["dossierCode"]) == [mine["code"]]
    assert codes(CITIZEN, dossierCode=theirs["dossierCode"]) == []


def test_list_results_pages(server: Server) -> None:
    dossier = make_dossier(server)
    issued = [issue(server, dossier)["code"] for _ in range(3)]
    first = server.call("GET", "/results", who=CITIZEN, params={"limit": 2}).json()
    assert [item["code"] for item in first["items"]] == issued[:2]
    params = {"limit": 2, "cursor": first["nextCursor"]}
    second = server.call("GET", "/results", who=CITIZEN, params=params).json()
    assert [item["code"] for item in second["items"]] == issued[2:]
    assert second["nextCursor"] is None


def test_list_results_errors(server: Server) -> None:
    assert_problem(server.call("GET", "/results"), 401)
    response = server.call("GET", "/results", who=CITIZEN, params={"status": "revoked"})
    assert_problem(response, 400, "#/query/status")
    response = server.call("GET", "/results", who=CITIZEN, params={"dossierCode": "x"})
    assert_problem(response, 400, "#/query/dossierCode")
    response = server.call("GET", "/results", who=CITIZEN, params={"cursor": "bm90LW91cnM"})
    assert_problem(response, 404, "#/query/cursor")


# --- cancellation ----------------------------------------------------------------------------


def test_cancel_result_marks_everything_at_one_moment(server: Server) -> None:
    result = issue(server)
    code = result["code"]
    subscription = subscribe(server, ["vn.gov.egov.result.cancelled"])
    server.clock.set(server.clock.now().replace(day=24, hour=15, minute=30))
    response = cancel(server, code)
    assert response.status_code == 200, response.text
    cancelled = response.json()
    at = "2025-03-24T15:30:00+07:00"
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelledAt"] == at
    assert cancelled["cancellationReason"] == REASON
    assert cancelled["signature"] == result["signature"]

    item = rows(server, select(repository_items.c.doc).where(repository_items.c.kind == "result"))
    assert item[0].doc["status"] == "cancelled"
    assert item[0].doc["cancelledAt"] == at
    assert item[0].doc["metadata"]["cancellationReason"] == REASON

    event = rows(
        server,
        select(outbox.c.doc, outbox.c.event_id.label("id")).where(
            outbox.c.type == "vn.gov.egov.result.cancelled"
        ),
    )
    assert event[0].doc["data"] == {
        "resultCode": code,
        "dossierCode": result["dossierCode"],
        "agencyCode": AGENCY,
        "cancelledAt": at,
        "reason": REASON,
    }
    sent = rows(server, select(deliveries.c.target).where(deliveries.c.event_id == event[0].id))
    assert [row.target for row in sent] == [subscription]
    contract = server.services.contract
    validator = contract.schema_validator("event.json#/$defs/resultCancelled")
    assert not list(validator.iter_errors(event[0].doc))

    notice = rows(
        server, select(notifications.c.doc).where(notifications.c.kind == "result-cancelled")
    )
    assert notice[0].doc["reason"] == REASON
    assert notice[0].doc["refs"]["resultCode"] == code
    assert not list(
        contract.schema_validator("account.json#/$defs/notification").iter_errors(notice[0].doc)
    )

    key = f"result:{code}:cancelled"
    push = rows(server, select(deliveries.c.body).where(deliveries.c.event_id == key))
    assert push[0].body["status"] == "cancelled"
    assert push[0].body["cancelledAt"] == at
    assert not list(
        contract.schema_validator("sync.json#/$defs/resultSync").iter_errors(push[0].body)
    )


def test_cancelled_result_stays_retrievable(server: Server) -> None:
    result = issue(server)
    cancel(server, result["code"])
    response = server.call("GET", f"/results/{result['code']}", who=CITIZEN)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    response = server.call("GET", f"/results/{result['code']}/document", who=CITIZEN)
    assert hashlib.sha256(response.content).hexdigest() == result["document"]["sha256"]


def test_cancel_result_twice_is_409(server: Server) -> None:
    result = issue(server)
    assert cancel(server, result["code"]).status_code == 200
    body = assert_problem(cancel(server, result["code"]), 409)
    assert "already cancelled" in body["detail"]
    events = rows(server, select(outbox.c.event_id).where(outbox.c.type.like("%cancelled")))
    assert len(events) == 1


def test_cancel_result_refuses_other_callers(server: Server) -> None:
    result = issue(server)
    code = result["code"]
    body = assert_problem(cancel(server, code, who=OTHER_OFFICER), 403)
    assert AGENCY in body["detail"]
    assert_problem(cancel(server, code, who=CITIZEN), 403)
    assert_problem(
        server.call("POST", f"/results/{code}/cancellation", json={"reason": REASON}), 401
    )
    assert server.call("GET", f"/results/{code}", who=CITIZEN).json()["status"] == "valid"


def test_cancel_result_errors(server: Server) -> None:
    result = issue(server)
    assert_problem(cancel(server, "000.00.01.H22-250317-0099-KQ1"), 404)
    assert_problem(cancel(server, result["code"], reason="sai"), 400, "/reason")
    response = server.call(
        "POST", f"/results/{result['code']}/cancellation", who=OFFICER, json={"why": REASON}
    )
    assert_problem(response, 400)
    assert_problem(cancel(server, "KQ1"), 400, "#/path/resultCode")


# --- public verification and keys -------------------------------------------------------------


def test_verify_result_before_and_after_cancellation(server: Server) -> None:
    result = issue(server)
    path = result["verificationUrl"]
    response = server.call("GET", path)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    answer = response.json()
    assert answer["valid"] is True
    assert answer["status"] == "valid"
    assert answer["resultCode"] == result["code"]
    assert answer["documentSha256"] == result["document"]["sha256"]
    assert "holder" not in answer
    assert "cancelledAt" not in answer

    server.clock.set(server.clock.now().replace(hour=11))
    cancel(server, result["code"])
    answer = server.call("GET", path).json()
    assert answer["valid"] is False
    assert answer["status"] == "cancelled"
    assert answer["cancelledAt"] == "2025-03-17T11:00:00+07:00"


def test_verify_result_errors(server: Server) -> None:
    assert_problem(server.call("GET", "/verification/AAAAAAAAAAAA"), 404)
    assert_problem(server.call("GET", "/verification/short"), 400, "#/path/verificationCode")


def test_verify_result_refuses_to_vouch_for_a_tampered_record(server: Server) -> None:
    result = issue(server)
    tampered = {**result, "title": "Giấy phép xây dựng số 99/GPXD"}
    tampered["document"] = {**result["document"], "sha256": "0" * 64}
    with server.services.database.transaction() as conn:
        conn.execute(update(results).where(results.c.code == result["code"]).values(doc=tampered))
    answer = server.call("GET", result["verificationUrl"])
    assert answer.status_code == 200
    assert answer.json()["valid"] is False
    assert answer.json()["integrity"] == "broken"
    assert answer.json()["status"] == "valid"


def test_get_result_jwks_publishes_public_keys_before_and_after_results(server: Server) -> None:
    before = server.call("GET", "/results-jwks").json()["keys"]
    result = issue(server)
    keys = server.call("GET", "/results-jwks").json()["keys"]
    assert keys == before
    assert len(keys) == 1
    assert keys[0]["alg"] == "ES256"
    assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(keys[0])
    header = json.loads(base64.urlsafe_b64decode(result["signature"].split(".")[0] + "=="))
    assert header["kid"] == keys[0]["kid"]


# --- end to end through the dossiers interface ---------------------------------------------


def test_resolve_dossier_issues_a_result_end_to_end(server: Server) -> None:
    dossier = make_dossier(server)
    dossier.update(
        status="in-process",
        statusCode=4,
        submittedAt="2025-03-17T08:00:00+07:00",
        officialReceiptTime="2025-03-17T08:00:00+07:00",
        acceptedAt="2025-03-17T08:30:00+07:00",
        appointmentDate="2025-03-20",
        receiptSlip={
            "number": dossier["code"],
            "issuedAt": "2025-03-17T08:30:00+07:00",
            "appointmentDate": "2025-03-20",
        },
    )
    with server.services.database.transaction() as conn:
        conn.execute(
            update(dossiers_table)
            .where(dossiers_table.c.id == dossier["id"])
            .values(status="in-process", doc=dossier)
        )
    path = f"/dossiers/{dossier['id']}"
    fetched = server.call("GET", path, who=OFFICER)
    assert fetched.status_code == 200, fetched.text
    etag = fetched.headers["etag"]
    body = {"title": "Giấy khai sinh", "summary": "Khai sinh cho Nguyễn Minh Khoa."}
    response = server.call(
        "POST", f"{path}/resolution", who=OFFICER, json=body, headers={"If-Match": etag}
    )
    assert response.status_code == 200, response.text
    code = f"{dossier['code']}-KQ1"
    assert response.json()["resultCodes"] == [code]
    result = server.call("GET", f"/results/{code}", who=CITIZEN).json()
    assert result["title"] == "Giấy khai sinh"
    verified = jws.deserialize_compact(result["signature"], published_keys(server))
    assert json.loads(verified.payload)["documentSha256"] == result["document"]["sha256"]
    assert server.call("GET", result["verificationUrl"]).json()["valid"] is True
    assert [row.kind for row in rows(server, select(repository_items.c.kind))] == ["result"]


def test_results_refuse_machine_clients(server: Server) -> None:
    result = issue(server)
    system = next(iter(server.services.fixtures.systems))
    headers = {"Authorization": f"Bearer {server.system_token(system)}"}
    for path in ("/results", f"/results/{result['code']}", f"/results/{result['code']}/printout"):
        assert_problem(server.call("GET", path, headers=headers), 403)
    response = server.call(
        "POST", f"/results/{result['code']}/cancellation", headers=headers, json={"reason": REASON}
    )
    assert_problem(response, 403)
