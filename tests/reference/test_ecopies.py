"""Legally valid e-copies of the reference server, through HTTP (Decree 45/2020/ND-CP Art. 10).

From the original register or certified from a paper original; issued by an officer of the
agency addressed, signed with the agency key over the file's digest, and placed in the
applicant's Data Management Repository (Art. 16).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from joserfc import jws
from joserfc.jwk import KeySet

from egov_contract import fixtures_dir

from .conftest import Server
from .support import assert_problem as problem
from .support import ok

APPLICANT = "079190012345"

OTHER_APPLICANT = "001203012345"
OFFICER = "canbo.h22.honghai.01"  # 000.00.01.H22
OTHER_OFFICER = "canbo.h22.baichay.01"  # 000.00.02.H22
AGENCY = "000.00.01.H22"
REASON = "Không tìm thấy mục số 125 trong sổ đăng ký khai sinh quyển 01/2003."
REGISTER = {"book": "01/2003", "entryNumber": "125", "year": 2003}


def document(name: str) -> bytes:
    return (fixtures_dir() / "documents" / name).read_bytes()


def from_register(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "from-register",
        "documentType": "birth-certificate",
        "agencyCode": AGENCY,
        "register": dict(REGISTER),
    }
    body.update(changes)
    return body


def certified_copy(name: str = "sample.pdf", media_type: str = "application/pdf") -> dict[str, Any]:
    return {
        "kind": "certified-copy",
        "documentType": "diploma",
        "documentName": "Bằng tốt nghiệp đại học",
        "agencyCode": AGENCY,
        "original": {
            "fileName": "bang-tot-nghiep.pdf",
            "mediaType": media_type,
            "contentBase64": base64.b64encode(document(name)).decode(),
        },
    }


def ask(server: Server, body: dict[str, Any], who: str = APPLICANT, **kwargs: Any) -> Any:
    return server.call("POST", "/ecopies", who=who, json=body, **kwargs)


def decide(server: Server, ecopy_id: str, body: dict[str, Any], who: str = OFFICER) -> Any:
    return server.call("POST", f"/ecopies/{ecopy_id}/certification", who=who, json=body)


def requested(server: Server, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return dict(ok(ask(server, body or from_register()), 201))


def agency_keys(server: Server) -> KeySet:
    """The agency's public keys, as getResultJwks publishes them once a result exists.

    The contract gives e-copies no key set of their own, and getResultJwks is 404 until a
    result is issued, so the test reads the set the server would publish.
    """
    return KeySet.import_key_set(server.services.keys.public_jwks("agency"))


# ---- from the register ---------------------------------------------------------------------


def test_ecopy_from_register_is_issued_signed_and_kept(server: Server) -> None:
    """Requested, issued by the agency's officer, signed over the file, in the Repository."""
    created = ask(server, from_register())
    ecopy = ok(created, 201)
    assert created.headers["Location"] == f"/ecopies/{ecopy['id']}"
    assert (ecopy["status"], ecopy["register"]) == ("requested", REGISTER)
    assert ecopy["requestedAt"] == "2025-03-17T09:00:00+07:00"

    issued = ok(decide(server, ecopy["id"], {"decision": "issue"}))
    assert issued["status"] == "issued"
    assert issued["issuedAt"] == "2025-03-17T09:00:00+07:00"
    assert issued["file"]["mediaType"] == "application/pdf"
    content = server.call("GET", f"/ecopies/{ecopy['id']}/content", who=APPLICANT)
    assert content.status_code == 200
    assert content.headers["content-type"] == "application/pdf"
    assert content.content.startswith(b"%PDF-")
    assert hashlib.sha256(content.content).hexdigest() == issued["file"]["sha256"]
    claims = json.loads(jws.deserialize_compact(issued["signature"], agency_keys(server)).payload)
    assert claims == {
        "ecopyId": ecopy["id"],
        "kind": "from-register",
        "documentType": "birth-certificate",
        "agencyCode": AGENCY,
        "issuedAt": issued["issuedAt"],
        "fileSha256": issued["file"]["sha256"],
    }
    item = ok(server.call("GET", f"/repository/items/{issued['repositoryItemId']}", who=APPLICANT))
    assert item["kind"] == "ecopy"
    assert item["source"] == {"ecopyId": ecopy["id"], "agencyCode": AGENCY}
    assert item["file"] == issued["file"]
    assert ok(server.call("GET", f"/ecopies/{ecopy['id']}", who=OFFICER)) == issued


def test_ecopy_from_register_refuses_a_future_year_and_an_unknown_agency(server: Server) -> None:
    """422 listing every reason: no such agency, a register year still to come."""
    body = from_register(agencyCode="999.99.99.H99", register={**REGISTER, "year": 2030})
    answer = problem(ask(server, body), 422)
    assert {(e["pointer"], e["rule"]) for e in answer["errors"]} == {
        ("/agencyCode", "unknown-agency"),
        ("/register/year", "register-entry"),
    }


def test_ecopy_of_another_document_needs_its_name(server: Server) -> None:
    """documentType ``other`` without documentName does not match the contract: 400."""
    problem(ask(server, from_register(documentType="other")), 400)
    named = ok(ask(server, from_register(documentType="other", documentName="Trích lục")), 201)
    assert named["documentName"] == "Trích lục"


# ---- certified copies ----------------------------------------------------------------------


def test_certified_copy_is_the_scan_certified_by_the_agency(server: Server) -> None:
    """The scan is kept; downloads are 409 until issued, then the certified bytes."""
    ecopy = requested(server, certified_copy())
    original = document("sample.pdf")
    assert ecopy["original"]["sha256"] == hashlib.sha256(original).hexdigest()
    assert ecopy["original"]["size"] == len(original)
    problem(server.call("GET", f"/ecopies/{ecopy['id']}/content", who=APPLICANT), 409)

    issued = ok(decide(server, ecopy["id"], {"decision": "issue"}))
    assert issued["file"]["sha256"] == ecopy["original"]["sha256"]
    content = server.call("GET", f"/ecopies/{ecopy['id']}/content", who=OFFICER)
    assert content.status_code == 200
    assert content.content == original
    claims = json.loads(jws.deserialize_compact(issued["signature"], agency_keys(server)).payload)
    assert (claims["kind"], claims["fileSha256"]) == ("certified-copy", issued["file"]["sha256"])
    items = ok(server.call("GET", "/repository/items?kind=ecopy", who=APPLICANT))["items"]
    assert [item["id"] for item in items] == [issued["repositoryItemId"]]


def test_certified_copy_refuses_a_file_that_is_not_its_type(server: Server) -> None:
    """A PNG declared as PDF, or a type that is no scan: 422 naming the field."""
    problem(ask(server, certified_copy("lying.pdf")), 422, "/original/mediaType")
    body = certified_copy()
    body["original"].update(
        mediaType="application/json", contentBase64=base64.b64encode(b"{}").decode()
    )
    answer = problem(ask(server, body), 422, "/original/mediaType")
    assert "not accepted here" in answer["errors"][0]["detail"]


# ---- the officer's decision ----------------------------------------------------------------


def test_refusal_carries_the_reason_and_is_final(server: Server) -> None:
    """refuse with a reason; deciding again and downloading are 409."""
    ecopy = requested(server)
    refused = ok(decide(server, ecopy["id"], {"decision": "refuse", "reason": REASON}))
    assert (refused["status"], refused["refusalReason"]) == ("refused", REASON)
    assert "file" not in refused
    problem(decide(server, ecopy["id"], {"decision": "issue"}), 409)
    problem(server.call("GET", f"/ecopies/{ecopy['id']}/content", who=APPLICANT), 409)
    problem(decide(server, ecopy["id"], {"decision": "refuse"}), 400)


def test_only_an_officer_of_the_agency_addressed_decides(server: Server) -> None:
    """Another agency's officer: 403; an applicant: 403; unknown id: 404."""
    ecopy = requested(server)
    problem(decide(server, ecopy["id"], {"decision": "issue"}, who=OTHER_OFFICER), 403)
    problem(decide(server, ecopy["id"], {"decision": "issue"}, who=APPLICANT), 403)
    problem(decide(server, "ec-none", {"decision": "issue"}), 404)
    assert ok(server.call("GET", f"/ecopies/{ecopy['id']}", who=APPLICANT))["status"] == (
        "requested"
    )


def test_other_parties_cannot_read_an_ecopy(server: Server) -> None:
    """Another applicant and another agency's officer: 404 for the request and its file."""
    ecopy = requested(server)
    ok(decide(server, ecopy["id"], {"decision": "issue"}))
    for who in (OTHER_APPLICANT, OTHER_OFFICER):
        problem(server.call("GET", f"/ecopies/{ecopy['id']}", who=who), 404)
        problem(server.call("GET", f"/ecopies/{ecopy['id']}/content", who=who), 404)
    problem(server.call("GET", "/ecopies/ec-none", who=APPLICANT), 404)
    problem(server.call("GET", f"/ecopies/{ecopy['id']}"), 401)


def test_request_ecopy_replays_the_same_idempotency_key(server: Server) -> None:
    """Same key and body: the first request; same key, another body: 422."""
    headers = {"Idempotency-Key": "copy-1"}
    first = ok(ask(server, from_register(), headers=headers), 201)
    again = ask(server, from_register(), headers=headers)
    assert again.status_code == 201
    assert again.json() == first
    other = from_register(register={**REGISTER, "entryNumber": "126"})
    problem(ask(server, other, headers=headers), 422, "#/header/Idempotency-Key")
    problem(ask(server, from_register(), who=OFFICER), 403)
