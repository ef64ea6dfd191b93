"""Legally valid e-copies, from the register or certified from paper (Decree 45/2020 Art. 10)."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from conformance.checks import expect, expect_conforms, expect_refused, expect_status
from conformance.scenario import Portal, document_bytes, upload

from ._s3_support import download, key_set, verify_jws

REGISTER = {"book": "01/2003", "entryNumber": "125", "year": 2003}


def from_register(portal: Portal) -> dict[str, Any]:
    """A request for an e-copy of a birth registration kept by the configured agency."""
    return {
        "kind": "from-register",
        "documentType": "birth-certificate",
        "agencyCode": portal.agency,
        "register": dict(REGISTER),
    }


def certified_copy(portal: Portal) -> dict[str, Any]:
    """A request to certify the scan of a paper diploma."""
    return {
        "kind": "certified-copy",
        "documentType": "diploma",
        "documentName": "Bằng tốt nghiệp đại học",
        "agencyCode": portal.agency,
        "original": upload("sample.pdf", file_name="bang-tot-nghiep.pdf"),
    }


def requested(portal: Portal, requirement: str, body: dict[str, Any]) -> dict[str, Any]:
    """``requestECopy`` as applicantA (201, status requested)."""
    answer = portal.call("POST", "ecopies", "/ecopies", as_="applicantA", json=body)
    ecopy = expect_conforms(requirement, "requestECopy", answer)
    expect_status(requirement, answer, 201, why="an applicant asks the agency for an e-copy")
    expect(
        requirement,
        ecopy.get("status") == "requested",
        "a new request is requested",
        f"status {ecopy.get('status')!r}",
        answer,
    )
    result: dict[str, Any] = ecopy
    return result


def issue(portal: Portal, ecopy_id: str) -> httpx.Response:
    """The agency's officer issues the requested e-copy."""
    return portal.call(
        "POST",
        "ecopies",
        f"/ecopies/{ecopy_id}/certification",
        as_="officer",
        json={"decision": "issue"},
    )


def read(portal: Portal, requirement: str, ecopy_id: str) -> dict[str, Any]:
    """``getECopy`` as the applicant, valid against the contract."""
    answer = portal.call("GET", "ecopies", f"/ecopies/{ecopy_id}", as_="applicantA")
    body: dict[str, Any] = expect_conforms(requirement, "getECopy", answer)
    expect_status(requirement, answer, 200, why="the applicant reads their e-copy request")
    return body


def expect_downloadable(portal: Portal, requirement: str, ecopy: dict[str, Any]) -> bytes:
    """The issued copy's file, matching its stated digest and media type."""
    served = download(portal, requirement, "ecopies", f"/ecopies/{ecopy['id']}/content")
    info = ecopy.get("file") or {}
    digest = hashlib.sha256(served.content).hexdigest()
    media = served.headers.get("content-type", "").split(";")[0].strip()
    expect(
        requirement,
        digest == info.get("sha256") and media == info.get("mediaType"),
        f"the e-copy's file: sha256 {info.get('sha256')}, {info.get('mediaType')}",
        f"sha256 {digest}, {media!r}",
        served,
    )
    return served.content


@pytest.mark.requirement("CPY-01")
def test_request_ecopy_from_the_register_is_issued_and_downloadable(portal: Portal) -> None:
    """An e-copy from the original register, once issued, can be read and downloaded."""
    ecopy = requested(portal, "CPY-01", from_register(portal))
    decided = issue(portal, ecopy["id"])
    expect_status("CPY-01", decided, 200, why="the agency's officer issues the e-copy")
    issued = read(portal, "CPY-01", ecopy["id"])
    expect(
        "CPY-01",
        issued.get("status") == "issued" and bool(issued.get("file")),
        "the request reads as issued, with its file",
        f"status {issued.get('status')!r}",
    )
    expect_downloadable(portal, "CPY-01", issued)


@pytest.mark.requirement("CPY-02")
def test_certified_copy_of_a_scan_is_certified_then_downloadable(portal: Portal) -> None:
    """The scan of a paper original is certified by an officer, then downloaded by the applicant."""
    scan = document_bytes("sample.pdf")
    ecopy = requested(portal, "CPY-02", certified_copy(portal))
    original = ecopy.get("original") or {}
    expect(
        "CPY-02",
        original.get("sha256") == hashlib.sha256(scan).hexdigest(),
        "the request keeps the scan sent (original.sha256)",
        repr(original),
    )
    early = portal.call("GET", "ecopies", f"/ecopies/{ecopy['id']}/content", as_="applicantA")
    expect_refused("CPY-02", early, {409}, why="nothing to download before it is certified")
    decided = issue(portal, ecopy["id"])
    expect_status("CPY-02", decided, 200, why="the agency's officer certifies the scan")
    issued = read(portal, "CPY-02", ecopy["id"])
    expect(
        "CPY-02",
        issued.get("status") == "issued",
        "the request reads as issued once certified",
        f"status {issued.get('status')!r}",
    )
    expect_downloadable(portal, "CPY-02", issued)


@pytest.mark.requirement("CPY-03")
def test_issued_ecopy_carries_the_agencys_signature_over_its_file(portal: Portal) -> None:
    """The issued e-copy's signature verifies with the agency's published keys, binding its file."""
    ecopy = requested(portal, "CPY-03", from_register(portal))
    expect_status("CPY-03", issue(portal, ecopy["id"]), 200, why="the officer issues it")
    issued = read(portal, "CPY-03", ecopy["id"])
    content = expect_downloadable(portal, "CPY-03", issued)
    keys_answer = portal.call("GET", "results", "/results-jwks")
    if keys_answer.status_code == 404:
        # The set is published once a first result is signed; issue one so that it exists.
        portal.resolved()
        keys_answer = portal.call("GET", "results", "/results-jwks")
    keys = key_set("CPY-03", keys_answer, "getResultJwks (the agency's published keys)")
    _, claims = verify_jws(
        "CPY-03", issued.get("signature"), keys, "the e-copy's signature", keys_answer
    )
    digest = hashlib.sha256(content).hexdigest()
    expect(
        "CPY-03",
        (claims.get("ecopyId"), claims.get("fileSha256"), claims.get("agencyCode"))
        == (ecopy["id"], digest, portal.agency),
        f"signed claims naming e-copy {ecopy['id']}, file sha256 {digest}, agency {portal.agency}",
        repr(claims),
    )
