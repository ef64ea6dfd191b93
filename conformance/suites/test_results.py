"""Electronic results: issue, signature, return and Repository (Decree 45/2020/ND-CP Art. 14)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from conformance.checks import expect, expect_conforms, expect_status
from conformance.scenario import Portal
from egov_contract.formats import explain_result_code

from ._s3_support import (
    download,
    expect_tamper_detected,
    find_in_pages,
    key_set,
    verify_jws,
)


@pytest.mark.requirement("RES-01", "FMT-04")
def test_resolve_dossier_issues_an_e_result_coded_after_the_dossier(
    portal: Portal, returned_result: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """Resolving a dossier issues its e-result, coded <dossier code>-KQ1, listed on the dossier."""
    # The agency has issued another result first (returned_result), so a number counted per
    # agency rather than per dossier shows as KQ2 or more.
    dossier = portal.in_process()
    body = {"title": "Giấy khai sinh", "summary": "Kết quả giải quyết hồ sơ (kiểm thử)."}
    answer = portal.act(dossier["id"], "resolution", body)
    resolved = expect_status("RES-01", answer, 200, why="resolveDossier on a dossier in process")
    expect(
        "RES-01",
        resolved.get("status") == "processed",
        "the dossier becomes processed",
        f"status {resolved.get('status')!r}",
        answer,
    )
    read = portal.get(dossier["id"])
    codes = read.get("resultCodes") or []
    expect(
        "RES-01",
        bool(codes),
        "the processed dossier lists its result code (resultCodes)",
        f"resultCodes {codes!r}",
    )
    code = str(codes[0])
    expected = f"{dossier['code']}-KQ1"
    expect(
        "FMT-04",
        explain_result_code(code) is None,
        "a result code <dossier code>-KQ<n> (Decree 45/2020/ND-CP Art. 14)",
        f"{code!r}: {explain_result_code(code)}",
    )
    expect(
        "FMT-04",
        code == expected,
        f"the dossier's first result numbered from 1 within the dossier: {expected}",
        code,
    )
    got = portal.call("GET", "results", f"/results/{code}", as_="applicantA")
    result = expect_conforms("RES-01", "getResult", got)
    expect(
        "RES-01",
        result.get("code") == code and result.get("dossierCode") == dossier["code"],
        f"the result {code} of dossier {dossier['code']}",
        f"code {result.get('code')!r}, dossierCode {result.get('dossierCode')!r}",
        got,
    )
    expect(
        "RES-01",
        result.get("status") == "valid",
        "a new result is valid",
        f"status {result.get('status')!r}",
        got,
    )


@pytest.mark.requirement("RES-02")
def test_get_result_signature_binds_the_document_and_verifies_with_the_published_keys(
    portal: Portal, returned_result: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """The e-result's signature verifies with getResultJwks and binds the document's digest."""
    _, result = returned_result
    keys_answer = portal.call("GET", "results", "/results-jwks")
    keys = key_set("RES-02", keys_answer, "getResultJwks")
    _, payload = verify_jws(
        "RES-02", result.get("signature"), keys, "the result's signature", keys_answer
    )
    for name, field in (("code", "code"), ("dossierCode", "dossierCode"), ("issuedAt", "issuedAt")):
        expect(
            "RES-02",
            payload.get(name) == result.get(field),
            f"the signed payload's {name} equals the result's ({result.get(field)!r})",
            f"{name} {payload.get(name)!r}",
        )
    document = result.get("document") or {}
    expect(
        "RES-02",
        payload.get("documentSha256") == document.get("sha256"),
        "the signed documentSha256 equals the result's document.sha256",
        f"signed {payload.get('documentSha256')!r}, document {document.get('sha256')!r}",
    )
    expect_tamper_detected("RES-02", result["signature"], keys, "the result's signature")
    content = download(portal, "RES-02", "results", f"/results/{result['code']}/document")
    digest = hashlib.sha256(content.content).hexdigest()
    expect(
        "RES-02",
        digest == payload.get("documentSha256"),
        "the downloaded document hashes to the signed documentSha256",
        f"SHA-256 of the {len(content.content)} bytes served: {digest}",
        content,
    )
    checked = portal.call("GET", "results", f"/verification/{result['verificationCode']}")
    verification = expect_conforms("RES-02", "verifyResult", checked)
    expect(
        "RES-02",
        verification.get("valid") is True
        and verification.get("integrity") == "intact"
        and verification.get("resultCode") == result["code"]
        and verification.get("documentSha256") == document.get("sha256"),
        "public verification confirms the result: valid, integrity intact, same code and digest",
        f"valid {verification.get('valid')!r}, integrity "
        f"{verification.get('integrity')!r}, resultCode {verification.get('resultCode')!r}, "
        f"documentSha256 {verification.get('documentSha256')!r}",
        checked,
    )


@pytest.mark.requirement("RES-03")
def test_deliver_result_returns_it_electronically_to_the_applicant(
    portal: Portal, returned_result: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """The applicant lists, reads and downloads the delivered result; the dossier is returned."""
    dossier, result = returned_result
    code = result["code"]
    after = portal.get(dossier["id"])
    expect(
        "RES-03",
        after.get("status") == "returned",
        "the dossier is 'result returned'",
        f"status {after.get('status')!r}",
    )
    listed = find_in_pages(
        "RES-03",
        portal.client,
        "results",
        "/results",
        lambda item: item.get("code") == code,
        as_="applicantA",
        params={"dossierCode": dossier["code"]},
    )
    expect(
        "RES-03",
        listed is not None,
        f"listResults shows the applicant's result {code}",
        "it is not in the applicant's list",
    )
    read = portal.call("GET", "results", f"/results/{code}", as_="applicantA")
    body = expect_conforms("RES-03", "getResult", read)
    content = download(portal, "RES-03", "results", f"/results/{code}/document")
    digest = hashlib.sha256(content.content).hexdigest()
    expect(
        "RES-03",
        digest == (body.get("document") or {}).get("sha256"),
        "the applicant downloads the result document whose digest the result states",
        f"SHA-256 {digest}",
        content,
    )


@pytest.mark.requirement("RES-04")
def test_deliver_result_places_it_in_the_applicants_repository(
    portal: Portal, returned_result: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """The delivered e-result is in the applicant's Repository under its code, same document."""
    _, result = returned_result
    code = result["code"]
    item = find_in_pages(
        "RES-04",
        portal.client,
        "repository",
        "/repository/items",
        lambda i: (i.get("source") or {}).get("resultCode") == code,
        as_="applicantA",
        params={"kind": "result"},
    )
    expect(
        "RES-04",
        item is not None,
        f"a Repository item of kind result whose source.resultCode is {code}",
        "no such item in the holder's Repository",
    )
    sha = (result.get("document") or {}).get("sha256")
    file_info = (item or {}).get("file") or {}
    expect(
        "RES-04",
        file_info.get("sha256") == sha,
        f"the item's file is the result document (sha256 {sha})",
        f"file {file_info!r}",
    )
    content = download(
        portal, "RES-04", "repository", f"/repository/items/{(item or {}).get('id')}/content"
    )
    expect(
        "RES-04",
        hashlib.sha256(content.content).hexdigest() == sha,
        "the Repository serves the result document byte for byte",
        f"SHA-256 {hashlib.sha256(content.content).hexdigest()}",
        content,
    )
