"""The dossiers interface of the reference server, through HTTP.

Decree 45/2020/ND-CP Art. 9 (prepare and submit), Art. 11 (automatic technical check, official
receipt time), Art. 12 (supplements: same code, history kept), Art. 14 (results); Circular
01/2018/TT-VPCP Art. 19 (dossier codes). The lifecycle itself is exhausted in
test_state_machine.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import unicodedata
from datetime import datetime
from typing import Any
from urllib.parse import quote

import pytest

from conformance.signatures import sandbox_signer, signed
from egov_contract import fixtures_dir
from reference_impl.clock import VN_TZ

from .conftest import Server

APPLICANT = "079190012345"  # Trần Thị Bích Ngọc
OTHER_APPLICANT = "001203012345"  # Nguyễn Văn An
ORGANISATION = "5700101059"
OFFICER = "canbo.h22.honghai.01"  # UBND phường Hồng Hải, 000.00.01.H22
OTHER_OFFICER = "canbo.h22.baichay.01"  # UBND phường Bãi Cháy, 000.00.02.H22
PROCEDURE = "1.001193"  # birth registration: TKKS (PDF) and GCS (PDF or image) required
AGENCY = "000.00.01.H22"
OTHER_AGENCY = "000.00.02.H22"
REASON = "Bản chụp giấy chứng sinh bị mờ, không đọc được số giấy; đề nghị nộp lại."


# ---- helpers -------------------------------------------------------------------------------


def document_bytes(name: str) -> bytes:
    return (fixtures_dir() / "documents" / name).read_bytes()


def upload(
    name: str, file_name: str | None = None, media_type: str | None = None
) -> dict[str, str]:
    """A fixture document as an inline upload."""
    guessed = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png"}
    return {
        "fileName": name if file_name is None else file_name,
        "mediaType": media_type or guessed[name.rsplit(".", 1)[1]],
        "contentBase64": base64.b64encode(document_bytes(name)).decode(),
    }


def signed_upload(name: str = "sample.pdf") -> dict[str, str]:
    """A fixture document signed by the sandbox signer, for a component that must be signed."""
    return signed(upload(name), sandbox_signer())


def sample_form(procedure: str = PROCEDURE) -> dict[str, Any]:
    path = fixtures_dir() / "forms" / f"{procedure}.sample.json"
    return dict(json.loads(path.read_text("utf-8")))


def create(
    server: Server,
    who: str = APPLICANT,
    procedure: str = PROCEDURE,
    agency: str = AGENCY,
    **kwargs: Any,
) -> Any:
    body = {"procedureCode": procedure, "agencyCode": agency, "form": sample_form(procedure)}
    return server.call("POST", "/dossiers", who=who, json=body, **kwargs)


def attach(
    server: Server, dossier_id: str, code: str, file: dict[str, str] | None = None, **kwargs: Any
) -> Any:
    body = {"componentCode": code, "file": file or upload("sample.pdf")}
    kwargs.setdefault("who", APPLICANT)
    return server.call("POST", f"/dossiers/{dossier_id}/components", json=body, **kwargs)


def draft(server: Server, who: str = APPLICANT, agency: str = AGENCY) -> dict[str, Any]:
    """A draft with every required component, ready to submit."""
    created = create(server, who=who, agency=agency)
    assert created.status_code == 201, created.text
    dossier_id = created.json()["id"]
    for code, name in (("TKKS", "sample.pdf"), ("GCS", "sample.png")):
        assert attach(server, dossier_id, code, upload(name), who=who).status_code == 201
    return read(server, dossier_id, who)


def read(server: Server, dossier_id: str, who: str = APPLICANT) -> dict[str, Any]:
    found = server.call("GET", f"/dossiers/{dossier_id}", who=who)
    assert found.status_code == 200, found.text
    return dict(found.json())


def act(
    server: Server, dossier_id: str, suffix: str, who: str = OFFICER, body: Any = None, **kw: Any
) -> Any:
    if body is not None:
        kw["json"] = body
    return server.call("POST", f"/dossiers/{dossier_id}/{suffix}", who=who, **kw)


def submitted(server: Server, who: str = APPLICANT, agency: str = AGENCY) -> dict[str, Any]:
    dossier = draft(server, who, agency)
    answer = act(server, dossier["id"], "submission", who=who)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def moved(server: Server, dossier_id: str, suffix: str, body: Any = None) -> dict[str, Any]:
    answer = act(server, dossier_id, suffix, body=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def in_process(server: Server) -> dict[str, Any]:
    dossier = submitted(server)
    moved(server, dossier["id"], "acceptance", {})
    return moved(server, dossier["id"], "processing")


def reasons(answer: Any, status: int = 422) -> set[tuple[str, str]]:
    """The (pointer, rule) pairs of a problem, after checking its status and media type."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    return {(e["pointer"], e.get("rule", "")) for e in answer.json().get("errors", [])}


def history(server: Server, dossier_id: str, who: str = APPLICANT) -> list[dict[str, Any]]:
    answer = server.call("GET", f"/dossiers/{dossier_id}/history", who=who)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


# ---- the whole way -------------------------------------------------------------------------


def test_dossier_goes_from_draft_to_returned_result(server: Server) -> None:
    """A birth registration runs the whole lifecycle and ends in the applicant's Repository."""
    created = create(server)
    assert created.status_code == 201, created.text
    dossier = created.json()
    assert dossier["status"] == "draft"
    assert dossier["version"] == 1
    assert dossier["code"] is None
    assert "statusCode" not in dossier
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"].endswith(f"/dossiers/{dossier['id']}")
    assert dossier["applicant"]["personalId"] == APPLICANT
    dossier_id = dossier["id"]

    tkks = attach(server, dossier_id, "TKKS", upload("sample.pdf", "Tờ khai khai sinh.pdf"))
    assert tkks.status_code == 201, tkks.text
    gcs = attach(server, dossier_id, "GCS", upload("sample.jpg"))
    assert gcs.status_code == 201, gcs.text
    assert gcs.json()["file"]["sha256"] == hashlib.sha256(document_bytes("sample.jpg")).hexdigest()

    confirmation = act(server, dossier_id, "submission", who=APPLICANT)
    assert confirmation.status_code == 200, confirmation.text
    dossier = confirmation.json()
    assert dossier["status"] == "submitted"
    assert dossier["statusCode"] == 1
    assert dossier["code"] == f"{AGENCY}-250317-0001"
    assert dossier["submittedAt"] == dossier["officialReceiptTime"] == "2025-03-17T09:00:00+07:00"

    dossier = moved(server, dossier_id, "acceptance", {"note": "Hồ sơ đầy đủ."})
    assert dossier["status"] == "received"
    assert dossier["appointmentDate"] == "2025-03-18"  # one working day after receipt
    assert dossier["receiptSlip"] == {
        "number": dossier["code"],
        "issuedAt": "2025-03-17T09:00:00+07:00",
        "appointmentDate": "2025-03-18",
    }
    dossier = moved(server, dossier_id, "processing")
    assert dossier["status"] == "in-process"

    fee = {"code": "BSTL", "name": "Phí cấp bản sao trích lục", "amount": 8000}
    dossier = moved(server, dossier_id, "fee-notice", {"fees": [fee]})
    assert dossier["status"] == "fee-requested"
    fees = server.call("GET", f"/dossiers/{dossier_id}/fees", who=APPLICANT)
    assert fees.status_code == 200, fees.text
    assert [line["code"] for o in fees.json()["items"] for line in o["lines"]] == ["BSTL"]
    pay_fee_notice(server, dossier_id)
    assert read(server, dossier_id)["status"] == "in-process"

    dossier = moved(server, dossier_id, "resolution", {"title": "Giấy khai sinh"})
    assert dossier["status"] == "processed"
    assert dossier["resultCodes"] == [f"{dossier['code']}-KQ1"]
    result = server.call("GET", f"/results/{dossier['resultCodes'][0]}", who=APPLICANT)
    assert result.status_code == 200, result.text

    dossier = moved(server, dossier_id, "delivery", {"channel": "electronic"})
    assert dossier["status"] == "returned"
    assert dossier["statusCode"] == 10
    items = server.call("GET", "/repository/items", who=APPLICANT)
    assert items.status_code == 200, items.text
    kinds = {item["kind"]: item for item in items.json()["items"]}
    assert {"processed-dossier", "processing-history", "result"} <= set(kinds)
    assert kinds["processed-dossier"]["source"]["dossierCode"] == dossier["code"]

    actions = [entry["action"] for entry in history(server, dossier_id)]
    assert actions == [
        "createDossier",
        "addComponent",
        "addComponent",
        "submitDossier",
        "acceptDossier",
        "startProcessing",
        "issueFeeNotice",
        "receivePaymentNotification",
        "resolveDossier",
        "deliverResult",
    ]


def pay_fee_notice(server: Server, dossier_id: str) -> None:
    """Pay the dossier's unpaid obligations; the test plays the platform's notification."""
    unpaid = server.call("GET", f"/dossiers/{dossier_id}/fees?status=unpaid", who=APPLICANT)
    assert unpaid.status_code == 200, unpaid.text
    body = {"obligationIds": [obligation["id"] for obligation in unpaid.json()["items"]]}
    headers = {"Idempotency-Key": f"pay-{dossier_id}"}
    created = server.call("POST", "/payments", who=APPLICANT, json=body, headers=headers)
    assert created.status_code == 201, created.text
    payment = created.json()
    notification: dict[str, Any] = {
        "notificationId": f"ntf-{payment['id']}",
        "reference": payment["reference"],
        "transactionId": payment["transactionId"],
        "amount": payment["amount"],
        "currency": "VND",
        "status": "succeeded",
        "paidAt": "2025-03-17T09:00:00+07:00",
    }
    # Conventions, "Payment notifications": HMAC-SHA256 of the fields joined by "|".
    fields = ("reference", "transactionId", "amount", "currency", "status", "paidAt")
    message = "|".join(str(notification[name]) for name in fields).encode()
    secret = server.services.settings.platform_secret.encode()
    notification["secureHash"] = hmac.new(secret, message, hashlib.sha256).hexdigest()
    applied = server.call("POST", "/payments/notifications", json=notification)
    assert applied.status_code == 200, applied.text


def test_download_component_serves_the_bytes_with_their_name(server: Server) -> None:
    """downloadComponent: the stored bytes, their media type and an RFC 6266 file name."""
    dossier = draft(server)
    name = "Giấy chứng sinh bản gốc.pdf"
    added = attach(server, dossier["id"], "GCS", upload("sample.pdf", name))
    component_id = added.json()["id"]
    for who in (APPLICANT, OFFICER):
        answer = server.call(
            "GET", f"/dossiers/{dossier['id']}/components/{component_id}/content", who=who
        )
        assert answer.status_code == 200, answer.text
        assert answer.content == document_bytes("sample.pdf")
        assert answer.headers["content-type"] == "application/pdf"
        disposition = answer.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="')
        assert f"filename*=UTF-8''{quote(name, safe='')}" in disposition
    for who in (OTHER_APPLICANT, OTHER_OFFICER):
        answer = server.call(
            "GET", f"/dossiers/{dossier['id']}/components/{component_id}/content", who=who
        )
        assert answer.status_code == 404
    missing = server.call(
        "GET", f"/dossiers/{dossier['id']}/components/no-such-component/content", who=APPLICANT
    )
    assert missing.status_code == 404


# ---- creating and changing a draft ---------------------------------------------------------


def test_create_dossier_lists_every_reason_it_cannot_be_received(server: Server) -> None:
    """An organisation asking an agency that does not receive the procedure: both reasons."""
    answer = create(server, who=ORGANISATION, agency="000.00.00.G09")
    assert reasons(answer) == {
        ("/agencyCode", "agency-not-competent"),
        ("#/header/Authorization", "applicant-type"),
    }
    unknown = server.call(
        "POST",
        "/dossiers",
        who=APPLICANT,
        json={"procedureCode": "9.999999", "agencyCode": "999.99.99.H99", "form": {}},
    )
    assert reasons(unknown) == {
        ("/procedureCode", "unknown-procedure"),
        ("/agencyCode", "unknown-agency"),
    }
    listed = server.call("GET", "/dossiers", who=ORGANISATION)
    assert listed.json()["items"] == []


def test_create_dossier_is_for_applicants_and_needs_a_valid_body(server: Server) -> None:
    """An officer may not create a dossier (403); a body off the contract is 400; no token 401."""
    assert reasons(create(server, who=OFFICER), 403) == set()
    bad = server.call("POST", "/dossiers", who=APPLICANT, json={"procedureCode": PROCEDURE})
    assert reasons(bad, 400) == {("/", "required")}
    assert server.call("POST", "/dossiers", json={}).status_code == 401


def test_create_dossier_replays_the_same_idempotency_key(server: Server) -> None:
    """The same key and body return the first dossier; the same key with another body is 422."""
    headers = {"Idempotency-Key": "create-2025-03-17.1"}
    first = create(server, headers=headers)
    again = create(server, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    listed = server.call("GET", "/dossiers", who=APPLICANT).json()["items"]
    assert len(listed) == 1
    other = create(server, agency=OTHER_AGENCY, headers=headers)
    assert reasons(other) == {("#/header/Idempotency-Key", "idempotency")}


def test_update_dossier_changes_a_draft_only(server: Server) -> None:
    """updateDossier replaces the form and agency of a draft; 422 for an agency off the list."""
    dossier = draft(server)
    path = f"/dossiers/{dossier['id']}"
    changed = server.call(
        "PATCH", path, who=APPLICANT, json={"form": {"copies": 2}, "agencyCode": OTHER_AGENCY}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["form"] == {"copies": 2}
    assert changed.json()["agencyCode"] == OTHER_AGENCY
    assert changed.headers["ETag"] == f'"{changed.json()["version"]}"'
    # The new agency's officers now see it; the old agency's do not.
    assert server.call("GET", path, who=OTHER_OFFICER).status_code == 200
    assert server.call("GET", path, who=OFFICER).status_code == 404
    wrong = server.call("PATCH", path, who=APPLICANT, json={"agencyCode": "000.20.00.H22"})
    assert reasons(wrong) == {("/agencyCode", "agency-not-competent")}
    sent = submitted(server)
    late = server.call("PATCH", f"/dossiers/{sent['id']}", who=APPLICANT, json={"form": {}})
    assert late.status_code == 409
    assert "'submitted'" in late.json()["detail"]


def test_delete_dossier_removes_a_draft_only(server: Server) -> None:
    """deleteDossier: a draft goes (204, then 404); a submitted dossier is kept (409)."""
    dossier = draft(server)
    path = f"/dossiers/{dossier['id']}"
    assert server.call("DELETE", path, who=OTHER_APPLICANT).status_code == 404
    stale = server.call("DELETE", path, who=APPLICANT, headers={"If-Match": '"1"'})
    assert reasons(stale, 412) == set()
    assert server.call("DELETE", path, who=APPLICANT).status_code == 204
    assert server.call("GET", path, who=APPLICANT).status_code == 404
    sent = submitted(server)
    kept = server.call("DELETE", f"/dossiers/{sent['id']}", who=APPLICANT)
    assert kept.status_code == 409
    assert kept.json()["currentStatus"] == "submitted"


def test_stale_if_match_is_412_and_changes_nothing(server: Server) -> None:
    """Every change takes If-Match: a stale ETag is 412, the current one goes through."""
    created = create(server)
    dossier_id = created.json()["id"]
    seen = created.headers["ETag"]
    assert attach(server, dossier_id, "TKKS", headers={"If-Match": seen}).status_code == 201
    stale = attach(server, dossier_id, "GCS", headers={"If-Match": seen})
    assert stale.status_code == 412
    assert stale.headers["ETag"] == '"2"'
    assert [c["componentCode"] for c in read(server, dossier_id)["components"]] == ["TKKS"]
    path = f"/dossiers/{dossier_id}"
    patch = server.call("PATCH", path, who=APPLICANT, json={"form": {}}, headers={"If-Match": seen})
    assert patch.status_code == 412
    tkks = read(server, dossier_id)["components"][0]["id"]
    removal = server.call(
        "DELETE", f"{path}/components/{tkks}", who=APPLICANT, headers={"If-Match": seen}
    )
    assert removal.status_code == 412
    assert attach(server, dossier_id, "GCS", headers={"If-Match": '"2"'}).status_code == 201
    late = act(server, dossier_id, "submission", who=APPLICANT, headers={"If-Match": '"2"'})
    assert late.status_code == 412
    current = read(server, dossier_id)
    ok = act(server, dossier_id, "submission", who=APPLICANT, headers={"If-Match": '"3"'})
    assert ok.status_code == 200, ok.text
    assert current["version"] == 3
    refused = act(server, dossier_id, "acceptance", body={}, headers={"If-Match": '"3"'})
    assert refused.status_code == 412


# ---- components ----------------------------------------------------------------------------


def test_add_component_replaces_the_current_one_of_its_code(server: Server) -> None:
    """A second GCS supersedes the first; both stay downloadable and the history keeps both."""
    dossier = draft(server)
    first = dossier["components"][1]
    replaced = attach(server, dossier["id"], "GCS", upload("sample.jpg"))
    assert replaced.status_code == 201
    assert replaced.json()["supersedes"] == first["id"]
    current = read(server, dossier["id"])["components"]
    assert [c["componentCode"] for c in current] == ["TKKS", "GCS"]
    assert current[1]["id"] == replaced.json()["id"]
    old = server.call(
        "GET", f"/dossiers/{dossier['id']}/components/{first['id']}/content", who=APPLICANT
    )
    assert old.content == document_bytes("sample.png")
    assert old.headers["content-type"] == "image/png"
    change = history(server, dossier["id"])[-1]["changes"][0]
    assert change == {
        "componentCode": "GCS",
        "before": first["file"]["sha256"],
        "after": replaced.json()["file"]["sha256"],
    }


@pytest.mark.parametrize(
    ("file", "pointer", "rule"),
    [
        (upload("sample.pdf", "CON.pdf"), "/file/fileName", "file-name"),
        (upload("sample.pdf", "x.pdf.exe"), "/file/fileName", "file-name"),
        (upload("sample.pdf", ".htaccess"), "/file/fileName", "file-name"),
        (upload("lying.pdf"), "/file/mediaType", "media-type"),
        (upload("empty.pdf"), "/file/mediaType", "media-type"),
        (upload("sample.pdf", "tkks.json", "application/json"), "/file/mediaType", "media-type"),
    ],
    ids=["reserved-name", "double-extension", "dot-file", "lying-type", "not-a-pdf", "wrong-type"],
)
def test_add_component_refuses_a_bad_file_naming_the_field(
    server: Server, file: dict[str, str], pointer: str, rule: str
) -> None:
    """A hostile name, content that is not its declared type, or a type the component refuses."""
    dossier = create(server).json()
    answer = attach(server, dossier["id"], "TKKS", file)
    assert (pointer, rule) in reasons(answer)
    assert read(server, dossier["id"])["components"] == []


HOSTILE_NAMES = json.loads((fixtures_dir() / "documents" / "hostile-names.json").read_text("utf-8"))


def _outside_contract(name: str) -> bool:
    """True when common/file.json's own pattern and length already exclude the name."""
    return not 1 <= len(name) <= 255 or re.search(r"[/\\\x00-\x1f]", name) is not None


@pytest.mark.parametrize(
    "hostile", HOSTILE_NAMES, ids=[entry["reason"].split(":")[0] for entry in HOSTILE_NAMES]
)
def test_add_component_refuses_every_hostile_file_name(
    server: Server, hostile: dict[str, str]
) -> None:
    """Each name of fixtures/documents/hostile-names.json is refused and nothing is attached.

    Names the contract's pattern already excludes are 400; the others pass the contract and
    are 422 naming ``/file/fileName``.
    """
    dossier = create(server).json()
    answer = attach(server, dossier["id"], "TKKS", upload("sample.pdf", hostile["name"]))
    if _outside_contract(hostile["name"]):
        assert answer.status_code == 400, answer.text
    else:
        assert ("/file/fileName", "file-name") in reasons(answer)
    assert read(server, dossier["id"])["components"] == []


def test_add_component_refuses_an_oversized_file(server: Server) -> None:
    """TKKS accepts 5 MB: one byte more is 422 on the content, and nothing is attached."""
    content = b"%PDF-1.7\n" + b"0" * (5_000_001 - 9)
    big = {
        "fileName": "to-khai.pdf",
        "mediaType": "application/pdf",
        "contentBase64": base64.b64encode(content).decode(),
    }
    dossier = create(server).json()
    assert reasons(attach(server, dossier["id"], "TKKS", big)) == {
        ("/file/contentBase64", "file-size")
    }
    assert read(server, dossier["id"])["version"] == 1


def test_add_component_refuses_an_unknown_code_and_a_foreign_repository_item(
    server: Server,
) -> None:
    """A code the procedure does not list, and another owner's Repository item, are 422."""
    dossier = create(server).json()
    assert reasons(attach(server, dossier["id"], "ABC")) == {
        ("/componentCode", "component-unknown")
    }
    theirs = server.call(
        "POST",
        "/repository/items",
        who=OTHER_APPLICANT,
        json={
            "title": "Giấy chứng sinh (bản scan)",
            "file": upload("sample.pdf"),
            "metadata": {"documentType": "Giấy chứng sinh"},
        },
    )
    assert theirs.status_code == 201, theirs.text
    body = {"componentCode": "GCS", "repositoryItemId": theirs.json()["id"]}
    foreign = server.call("POST", f"/dossiers/{dossier['id']}/components", who=APPLICANT, json=body)
    assert reasons(foreign) == {("/repositoryItemId", "repository-item")}


def test_add_component_takes_a_repository_item_of_the_applicant(server: Server) -> None:
    """A Repository reference attaches the item's file; the applicant is not asked twice."""
    mine = server.call(
        "POST",
        "/repository/items",
        who=APPLICANT,
        json={
            "title": "Giấy chứng sinh (bản scan)",
            "file": upload("sample.jpg"),
            "metadata": {"documentType": "Giấy chứng sinh"},
        },
    )
    assert mine.status_code == 201, mine.text
    dossier = create(server).json()
    body = {"componentCode": "GCS", "repositoryItemId": mine.json()["id"]}
    added = server.call("POST", f"/dossiers/{dossier['id']}/components", who=APPLICANT, json=body)
    assert added.status_code == 201, added.text
    assert added.json()["source"] == "repository"
    assert added.json()["file"] == mine.json()["file"]
    content = server.call(
        "GET", f"/dossiers/{dossier['id']}/components/{added.json()['id']}/content", who=OFFICER
    )
    assert content.content == document_bytes("sample.jpg")
    # The e-form of TKKS only takes PDFs: an image item is refused for it.
    body = {"componentCode": "TKKS", "repositoryItemId": mine.json()["id"]}
    wrong = server.call("POST", f"/dossiers/{dossier['id']}/components", who=APPLICANT, json=body)
    assert reasons(wrong) == {("/repositoryItemId", "media-type")}


def test_remove_component_in_draft_and_in_supplement(server: Server) -> None:
    """A draft's component goes; during a supplement only one added since the request."""
    dossier = draft(server)
    tkks = dossier["components"][0]
    path = f"/dossiers/{dossier['id']}/components/{tkks['id']}"
    assert server.call("DELETE", path, who=OTHER_APPLICANT).status_code == 404
    assert server.call("DELETE", path, who=APPLICANT).status_code == 204
    assert server.call("DELETE", path, who=APPLICANT).status_code == 404
    assert history(server, dossier["id"])[-1]["changes"] == [
        {"componentCode": "TKKS", "before": tkks["file"]["sha256"]}
    ]

    sent = submitted(server)
    moved(server, sent["id"], "supplement-request", {"reason": REASON, "componentCodes": ["GCS"]})
    received_gcs = sent["components"][1]
    held = f"/dossiers/{sent['id']}/components/{received_gcs['id']}"
    refused = server.call("DELETE", held, who=APPLICANT)
    assert refused.status_code == 409
    assert refused.json()["currentStatus"] == "supplement-requested"
    replacement = attach(server, sent["id"], "GCS", upload("sample.jpg")).json()
    withdrawn = server.call(
        "DELETE", f"/dossiers/{sent['id']}/components/{replacement['id']}", who=APPLICANT
    )
    assert withdrawn.status_code == 204
    # Withdrawing the replacement brings back what the agency received.
    assert read(server, sent["id"])["components"][1]["id"] == received_gcs["id"]

    other = submitted(server)
    closed = server.call(
        "DELETE",
        f"/dossiers/{other['id']}/components/{other['components'][0]['id']}",
        who=APPLICANT,
    )
    assert closed.status_code == 409
    assert closed.json()["currentStatus"] == "submitted"


# ---- submission ----------------------------------------------------------------------------


def test_submit_dossier_lists_every_reason_and_creates_nothing(server: Server) -> None:
    """The automatic check names every reason at once; the dossier stays a draft, no code."""
    form = sample_form()
    del form["child"]["dateOfBirth"]
    form["copies"] = 99
    created = server.call(
        "POST",
        "/dossiers",
        who=APPLICANT,
        json={"procedureCode": PROCEDURE, "agencyCode": AGENCY, "form": form},
    )
    dossier_id = created.json()["id"]
    answer = act(server, dossier_id, "submission", who=APPLICANT)
    assert reasons(answer) == {
        ("/form/child", "required"),
        ("/form/copies", "maximum"),
        ("/components", "component-missing"),
    }
    missing = [e for e in answer.json()["errors"] if e["rule"] == "component-missing"]
    assert len(missing) == 2  # TKKS and GCS, each named
    after = read(server, dossier_id)
    assert after["status"] == "draft"
    assert after["code"] is None
    assert after["version"] == 1
    assert [e["action"] for e in history(server, dossier_id)] == ["createDossier"]
    # No number was used up: the next dossier of the day is still 0001.
    assert submitted(server)["code"] == f"{AGENCY}-250317-0001"


def test_submit_dossier_refuses_a_cancelled_repository_item(server: Server) -> None:
    """A Repository reference that lost its validity before submission fails the check."""
    first = in_process(server)
    resolved = moved(server, first["id"], "resolution", {"title": "Giấy khai sinh"})
    result_code = resolved["resultCodes"][0]
    items = server.call("GET", "/repository/items", who=APPLICANT).json()["items"]
    item = next(i for i in items if i["kind"] == "result")
    dossier = draft(server)
    body = {"componentCode": "GCS", "repositoryItemId": item["id"]}
    path = f"/dossiers/{dossier['id']}/components"
    assert server.call("POST", path, who=APPLICANT, json=body).status_code == 201
    cancelled = server.call(
        "POST",
        f"/results/{result_code}/cancellation",
        who=OFFICER,
        json={"reason": "Giấy khai sinh cấp sai ngày sinh của trẻ, phải cấp lại."},
    )
    assert cancelled.status_code == 200, cancelled.text
    answer = act(server, dossier["id"], "submission", who=APPLICANT)
    assert reasons(answer) == {("/components/1/repositoryItemId", "repository-item")}


def test_submission_on_saturday_night_counts_from_monday_morning(server: Server) -> None:
    """Sent Saturday 22:40: received at the agency's first working period on Monday."""
    server.clock.set(datetime(2025, 3, 15, 22, 40, tzinfo=VN_TZ))
    dossier = submitted(server)
    assert dossier["submittedAt"] == "2025-03-15T22:40:00+07:00"
    assert dossier["officialReceiptTime"] == "2025-03-17T07:30:00+07:00"
    assert dossier["code"] == f"{AGENCY}-250317-0001"


def test_dossier_codes_are_sequential_per_agency_and_day(server: Server) -> None:
    """0001, 0002, 0003 at one agency; 0001 again at another agency and on the next day."""
    codes = [submitted(server)["code"] for _ in range(3)]
    assert codes == [f"{AGENCY}-250317-{n:04d}" for n in (1, 2, 3)]
    assert submitted(server, agency=OTHER_AGENCY)["code"] == f"{OTHER_AGENCY}-250317-0001"
    server.clock.set(datetime(2025, 3, 18, 10, 0, tzinfo=VN_TZ))
    assert submitted(server)["code"] == f"{AGENCY}-250318-0001"


def test_submit_dossier_replays_the_same_idempotency_key(server: Server) -> None:
    """A retried submission returns the first confirmation; another dossier with the key is 422."""
    dossier = draft(server)
    headers = {"Idempotency-Key": "submit-0001"}
    first = act(server, dossier["id"], "submission", who=APPLICANT, headers=headers)
    again = act(server, dossier["id"], "submission", who=APPLICANT, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    other = draft(server)
    reused = act(server, other["id"], "submission", who=APPLICANT, headers=headers)
    assert reasons(reused) == {("#/header/Idempotency-Key", "idempotency")}
    assert read(server, other["id"])["status"] == "draft"


def test_submit_dossier_raises_the_fees_due_on_submission(server: Server) -> None:
    """Marriage registration owes its copy fee on submission: an obligation with the code."""
    created = create(server, who=OTHER_APPLICANT, procedure="1.000894")
    assert created.status_code == 201, created.text
    dossier_id = created.json()["id"]
    marriage_form = signed_upload()
    assert (
        attach(server, dossier_id, "TKDKKH", marriage_form, who=OTHER_APPLICANT).status_code == 201
    )
    answer = act(server, dossier_id, "submission", who=OTHER_APPLICANT)
    assert answer.status_code == 200, answer.text
    fees = server.call("GET", f"/dossiers/{dossier_id}/fees", who=OTHER_APPLICANT)
    assert fees.status_code == 200, fees.text
    obligations = fees.json()["items"]
    assert [line["code"] for o in obligations for line in o["lines"]] == ["BSTLKH"]
    assert obligations[0]["dossierCode"] == answer.json()["code"]


# ---- reading -------------------------------------------------------------------------------


def test_list_dossiers_shows_each_caller_its_own(server: Server) -> None:
    """Applicants see their own, officers their agency's; filters narrow the page."""
    mine = submitted(server)
    theirs = submitted(server, who=OTHER_APPLICANT, agency=OTHER_AGENCY)
    mine_draft = create(server).json()

    def ids(who: str, query: str = "") -> set[str]:
        answer = server.call("GET", f"/dossiers{query}", who=who)
        assert answer.status_code == 200, answer.text
        return {item["id"] for item in answer.json()["items"]}

    assert ids(APPLICANT) == {mine["id"], mine_draft["id"]}
    assert ids(OTHER_APPLICANT) == {theirs["id"]}
    assert ids(OFFICER) == {mine["id"], mine_draft["id"]}
    assert ids(OTHER_OFFICER) == {theirs["id"]}
    assert ids(OFFICER, "?status=submitted") == {mine["id"]}
    assert ids(OFFICER, f"?code={mine['code']}") == {mine["id"]}
    assert ids(OFFICER, f"?procedureCode={PROCEDURE}") == {mine["id"], mine_draft["id"]}
    assert ids(OFFICER, "?procedureCode=1.000894") == set()
    page = server.call("GET", "/dossiers?limit=1", who=APPLICANT).json()
    assert len(page["items"]) == 1
    rest = server.call("GET", f"/dossiers?limit=1&cursor={page['nextCursor']}", who=APPLICANT)
    assert {page["items"][0]["id"], rest.json()["items"][0]["id"]} == ids(APPLICANT)
    assert server.call("GET", "/dossiers?status=lost", who=APPLICANT).status_code == 400


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_list_dossiers_finds_a_name_in_either_normalisation(server: Server, form: str) -> None:
    """ "Trần Thị Bích Ngọc" typed precomposed or decomposed finds the same dossier."""
    dossier = submitted(server)
    submitted(server, who=OTHER_APPLICANT)
    name = unicodedata.normalize(form, "trần thị bích NGỌC")
    answer = server.call("GET", "/dossiers", who=OFFICER, params={"applicantName": name})
    assert answer.status_code == 200, answer.text
    assert [item["id"] for item in answer.json()["items"]] == [dossier["id"]]
    word = unicodedata.normalize(form, "Ngọc")
    partial = server.call("GET", "/dossiers", who=OFFICER, params={"applicantName": word})
    assert [item["id"] for item in partial.json()["items"]] == [dossier["id"]]
    none = server.call("GET", "/dossiers", who=OFFICER, params={"applicantName": "Lê Văn"})
    assert none.json()["items"] == []


def test_get_dossier_hides_it_from_other_owners_and_agencies(server: Server) -> None:
    """Another applicant and an officer of another agency get 404, as if it did not exist."""
    dossier = submitted(server)
    for suffix in ("", "/history"):
        path = f"/dossiers/{dossier['id']}{suffix}"
        assert server.call("GET", path, who=APPLICANT).status_code == 200
        assert server.call("GET", path, who=OFFICER).status_code == 200
        for who in (OTHER_APPLICANT, OTHER_OFFICER):
            assert reasons(server.call("GET", path, who=who), 404) == set()
        assert server.call("GET", path).status_code == 401
    found = server.call("GET", f"/dossiers/{dossier['id']}", who=OFFICER)
    assert found.headers["ETag"] == f'"{dossier["version"]}"'


def test_other_agency_officer_cannot_act_and_applicant_cannot_act_as_officer(
    server: Server,
) -> None:
    """An officer of another agency gets 404; an applicant calling an officer action gets 403."""
    dossier = submitted(server)
    assert (
        reasons(act(server, dossier["id"], "acceptance", who=OTHER_OFFICER, body={}), 404) == set()
    )
    for suffix, body in (
        ("acceptance", {}),
        ("refusal", {"reason": REASON}),
        ("processing", None),
        ("stop", {"reason": REASON}),
    ):
        assert reasons(act(server, dossier["id"], suffix, who=APPLICANT, body=body), 403) == set()
    assert reasons(act(server, dossier["id"], "withdrawal", body={"reason": REASON}), 403) == set()
    assert read(server, dossier["id"])["status"] == "submitted"


# ---- the officer's moves -------------------------------------------------------------------


def test_refuse_dossier_records_the_reason(server: Server) -> None:
    """A refusal keeps its reason on the dossier and in the history."""
    dossier = submitted(server)
    refused = moved(server, dossier["id"], "refusal", {"reason": REASON})
    assert refused["status"] == "refused"
    assert refused["statusCode"] == 3
    assert refused["refusalReason"] == REASON
    assert history(server, dossier["id"])[-1]["reason"] == REASON
    short = act(server, dossier["id"], "refusal", body={"reason": "Sai."})
    assert short.status_code == 400  # a reason must say what is wrong


def test_supplement_keeps_the_code_and_records_what_it_replaced(server: Server) -> None:
    """Asked before receipt: the supplement replaces GCS, keeps the code, receives the dossier."""
    dossier = submitted(server)
    old_gcs = dossier["components"][1]
    asked = moved(
        server, dossier["id"], "supplement-request", {"reason": REASON, "componentCodes": ["GCS"]}
    )
    assert asked["supplementRequest"]["fromStatus"] == "submitted"
    assert asked["supplementRequest"]["componentCodes"] == ["GCS"]
    incomplete = act(
        server, dossier["id"], "supplement", who=APPLICANT, body={"form": sample_form()}
    )
    assert reasons(incomplete) == {("/components", "supplement-missing")}
    body = {
        "components": [{"componentCode": "GCS", "file": upload("sample.jpg", "gcs-ro-net.jpg")}],
        "note": "Đã chụp lại giấy chứng sinh rõ nét.",
    }
    answer = act(server, dossier["id"], "supplement", who=APPLICANT, body=body)
    assert answer.status_code == 200, answer.text
    supplemented = answer.json()
    assert supplemented["status"] == "received"
    assert supplemented["code"] == dossier["code"]
    assert supplemented["acceptedAt"] == "2025-03-17T09:00:00+07:00"
    assert supplemented["receiptSlip"]["number"] == dossier["code"]
    new_gcs = supplemented["components"][1]
    assert new_gcs["supersedes"] == old_gcs["id"]
    entry = history(server, dossier["id"])[-1]
    assert entry["action"] == "submitSupplement"
    assert (entry["fromStatus"], entry["toStatus"]) == ("supplement-requested", "received")
    assert entry["changes"] == [
        {
            "componentCode": "GCS",
            "before": old_gcs["file"]["sha256"],
            "after": hashlib.sha256(document_bytes("sample.jpg")).hexdigest(),
        }
    ]
    replaced = server.call(
        "GET", f"/dossiers/{dossier['id']}/components/{old_gcs['id']}/content", who=OFFICER
    )
    assert replaced.content == document_bytes("sample.png")


def test_supplement_asked_in_process_returns_to_in_process(server: Server) -> None:
    """A form-only supplement asked during processing: the form is checked, then in-process."""
    dossier = in_process(server)
    moved(server, dossier["id"], "supplement-request", {"reason": REASON, "componentCodes": []})
    broken = sample_form()
    broken["copies"] = "two"
    bad = act(server, dossier["id"], "supplement", who=APPLICANT, body={"form": broken})
    assert reasons(bad) == {("/form/copies", "type")}
    fixed = sample_form()
    fixed["copies"] = 3
    answer = act(server, dossier["id"], "supplement", who=APPLICANT, body={"form": fixed})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "in-process"
    assert answer.json()["form"]["copies"] == 3
    assert answer.json()["acceptedAt"] == dossier["acceptedAt"]


def test_request_supplement_refuses_an_unknown_component(server: Server) -> None:
    """A supplement may only name components of the procedure."""
    dossier = submitted(server)
    answer = act(
        server,
        dossier["id"],
        "supplement-request",
        body={"reason": REASON, "componentCodes": ["GCS", "XYZ"]},
    )
    assert reasons(answer) == {("/componentCodes/1", "component-unknown")}
    assert read(server, dossier["id"])["status"] == "submitted"


def test_issue_fee_notice_refuses_two_lines_with_one_code(server: Server) -> None:
    """Line codes are unique within a notice."""
    dossier = in_process(server)
    line = {"code": "LEPHI", "name": "Lệ phí", "amount": 75000}
    answer = act(server, dossier["id"], "fee-notice", body={"fees": [line, line]})
    assert reasons(answer) == {("/fees/1/code", "duplicate")}
    assert read(server, dossier["id"])["status"] == "in-process"


def test_resolve_dossier_refuses_a_document_that_is_not_a_pdf(server: Server) -> None:
    """The result document must be what it claims, and a PDF."""
    dossier = in_process(server)
    body = {"title": "Giấy khai sinh", "document": upload("lying.pdf")}
    assert ("/document/mediaType", "media-type") in reasons(
        act(server, dossier["id"], "resolution", body=body)
    )
    signed = {"title": "Giấy khai sinh", "document": upload("sample.pdf", "giay-khai-sinh.pdf")}
    resolved = moved(server, dossier["id"], "resolution", signed)
    assert resolved["resultCodes"] == [f"{dossier['code']}-KQ1"]


def test_withdrawal_then_stop(server: Server) -> None:
    """The applicant asks to withdraw; the officer stops processing, both with reasons."""
    dossier = submitted(server)
    withdrawn = act(server, dossier["id"], "withdrawal", who=APPLICANT, body={"reason": REASON})
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["withdrawalReason"] == REASON
    stopped = moved(server, dossier["id"], "stop", {"reason": REASON})
    assert stopped["status"] == "stopped"
    assert stopped["stopReason"] == REASON
    assert stopped["statusCode"] == 8


def test_create_dossier_refuses_an_unpaired_surrogate_with_400(server: Server) -> None:
    """A lone UTF-16 surrogate is no Unicode text (RFC 8259 Sec. 8.2): 400 naming it, not 500."""
    # json.dumps escapes a lone surrogate it is given, so the escape is put in by hand.
    body = {"procedureCode": PROCEDURE, "agencyCode": AGENCY, "form": {"x": "LONE"}}
    raw = json.dumps(body).replace("LONE", "\\ud800")
    answer = server.call(
        "POST",
        "/dossiers",
        who=APPLICANT,
        content=raw.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert "/form/x" in [e["pointer"] for e in answer.json()["errors"]]


@pytest.mark.parametrize(
    "raw",
    [b'{"procedureCode": NaN}', b"[" * 5000 + b"]" * 5000, b'{"form": Infinity}'],
    ids=["nan", "nested-too-deep", "infinity"],
)
def test_create_dossier_refuses_what_is_not_json_with_400(server: Server, raw: bytes) -> None:
    """NaN, Infinity and absurd nesting are not JSON (RFC 8259): a 400 problem, never a 500."""
    answer = server.call(
        "POST",
        "/dossiers",
        who=APPLICANT,
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
