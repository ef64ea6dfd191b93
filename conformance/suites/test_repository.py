"""The Data Management Repository (Decree 45/2020/ND-CP Art. 16-17; Circular 01/2023 Art. 24)."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from conformance.checks import expect, expect_conforms, expect_status
from conformance.config import TargetConfig
from conformance.scenario import Portal, document_bytes, file_for, upload

from ._s3_support import download, find_in_pages

METADATA = {
    "documentType": "Căn cước công dân",
    "issuer": "Cục Cảnh sát quản lý hành chính về trật tự xã hội",
    "issuedOn": "2021-08-14",
    "documentNumber": "079190012345",
}


def add_document(
    portal: Portal, name: str = "sample.pdf", as_: str = "applicantA"
) -> httpx.Response:
    """``addRepositoryItem``: a digitised document with its metadata."""
    body = {
        "title": "Căn cước công dân (bản scan, bộ công cụ kiểm thử)",
        "file": upload(name),
        "metadata": METADATA,
    }
    return portal.call("POST", "repository", "/repository/items", as_=as_, json=body)


def item_of(
    portal: Portal,
    requirement: str,
    kind: str,
    source_key: str,
    value: str,
    as_: str = "applicantA",
) -> dict[str, Any] | None:
    """The owner's item of ``kind`` whose ``source[source_key]`` is ``value``."""
    return find_in_pages(
        requirement,
        portal.client,
        "repository",
        "/repository/items",
        lambda i: (i.get("source") or {}).get(source_key) == value,
        as_=as_,
        params={"kind": kind},
    )


@pytest.mark.requirement("REP-01")
def test_list_repository_items_answers_for_every_account(portal: Portal) -> None:
    """Every applicant account, even one registered a moment ago, lists its Repository."""
    for who in ("applicantA", "applicantB", "organisation"):
        portal.register(who, requirement="REP-01")
        answer = portal.call("GET", "repository", "/repository/items", as_=who)
        page = expect_conforms("REP-01", "listRepositoryItems", answer)
        expect_status("REP-01", answer, 200, why=f"the Repository of {who} exists from the start")
        expect(
            "REP-01",
            isinstance(page.get("items"), list),
            "a page of items",
            repr(page)[:200],
            answer,
        )


@pytest.mark.requirement("REP-02")
def test_add_repository_item_gives_back_the_same_document_and_metadata(portal: Portal) -> None:
    """A digitised document stored with its metadata is read back and downloaded byte for byte."""
    content = document_bytes("sample.pdf")
    answer = add_document(portal)
    item = expect_conforms("REP-02", "addRepositoryItem", answer)
    expect_status("REP-02", answer, 201, why="the owner stores a digitised document")
    digest = hashlib.sha256(content).hexdigest()
    file_info = item.get("file") or {}
    expect(
        "REP-02",
        file_info.get("sha256") == digest and file_info.get("size") == len(content),
        f"the stored file described as sent: sha256 {digest}, {len(content)} bytes",
        repr(file_info),
        answer,
    )
    kept = {key: (item.get("metadata") or {}).get(key) for key in METADATA}
    expect("REP-02", kept == METADATA, f"the metadata as given: {METADATA}", repr(kept), answer)
    read = portal.call("GET", "repository", f"/repository/items/{item['id']}", as_="applicantA")
    again = expect_conforms("REP-02", "getRepositoryItem", read)
    expect(
        "REP-02",
        (again.get("id"), again.get("kind"), (again.get("file") or {}).get("sha256"))
        == (item["id"], "digitised-document", digest),
        "the same digitised-document item read back",
        repr(again)[:300],
        read,
    )
    served = download(portal, "REP-02", "repository", f"/repository/items/{item['id']}/content")
    expect(
        "REP-02",
        served.content == content,
        f"the file byte for byte ({len(content)} bytes, sha256 {digest})",
        f"{len(served.content)} bytes, sha256 {hashlib.sha256(served.content).hexdigest()}",
        served,
    )


@pytest.mark.requirement("REP-03")
def test_deliver_result_keeps_the_processed_dossier_and_its_history(
    portal: Portal, returned_result: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """After the result is returned, the Repository holds the processed dossier and its history."""
    dossier, _ = returned_result
    code = dossier["code"]
    for kind in ("processed-dossier", "processing-history"):
        item = item_of(portal, "REP-03", kind, "dossierCode", code)
        expect(
            "REP-03",
            item is not None,
            f"a Repository item of kind {kind} whose source.dossierCode is {code}",
            "none in the owner's Repository",
        )
        expect(
            "REP-03",
            (item or {}).get("source", {}).get("agencyCode") == dossier["agencyCode"],
            f"its source names the agency {dossier['agencyCode']}",
            f"source {(item or {}).get('source')!r}",
        )


@pytest.mark.requirement("REP-03")
@pytest.mark.capability("ecopies")
def test_certify_ecopy_keeps_the_ecopy_in_the_repository(portal: Portal) -> None:
    """After an e-copy is issued, the applicant's Repository holds it with the same file."""
    body = {
        "kind": "from-register",
        "documentType": "birth-certificate",
        "agencyCode": portal.agency,
        "register": {"book": "01/2003", "entryNumber": "125", "year": 2003},
    }
    asked = portal.call("POST", "ecopies", "/ecopies", as_="applicantA", json=body)
    ecopy = expect_status("REP-03", asked, 201, why="an e-copy from the register is requested")
    decided = portal.call(
        "POST",
        "ecopies",
        f"/ecopies/{ecopy['id']}/certification",
        as_="officer",
        json={"decision": "issue"},
    )
    issued = expect_status("REP-03", decided, 200, why="the agency's officer issues it")
    item = item_of(portal, "REP-03", "ecopy", "ecopyId", ecopy["id"])
    expect(
        "REP-03",
        item is not None,
        f"a Repository item of kind ecopy whose source.ecopyId is {ecopy['id']}",
        "none",
    )
    expect(
        "REP-03",
        (item or {}).get("id") == issued.get("repositoryItemId"),
        "the e-copy's repositoryItemId names that item",
        f"repositoryItemId {issued.get('repositoryItemId')!r}, item {(item or {}).get('id')!r}",
    )
    sha = (issued.get("file") or {}).get("sha256")
    expect(
        "REP-03",
        ((item or {}).get("file") or {}).get("sha256") == sha,
        f"the item keeps the e-copy's file (sha256 {sha})",
        repr((item or {}).get("file")),
    )


@pytest.mark.requirement("REP-04")
def test_list_repository_items_shows_owner_kind_title_origin_and_metadata(
    portal: Portal, target: TargetConfig
) -> None:
    """Items are the signed-in owner's, each with kind, title, origin and metadata."""
    stored = expect_status("REP-04", add_document(portal), 201, why="the owner stores a document")
    mine = find_in_pages(
        "REP-04",
        portal.client,
        "repository",
        "/repository/items",
        lambda i: i.get("id") == stored["id"],
        as_="applicantA",
        params={"kind": "digitised-document"},
    )
    expect("REP-04", mine is not None, f"the owner's listing shows item {stored['id']}", "absent")
    expect(
        "REP-04",
        (mine or {}).get("source") == {}
        and (mine or {}).get("metadata", {}).get("documentType") == METADATA["documentType"],
        "a document the owner added: empty source (the owner), its documentType",
        f"source {(mine or {}).get('source')!r}, metadata {(mine or {}).get('metadata')!r}",
    )
    answer = portal.call(
        "GET", "repository", "/repository/items", as_="applicantA", params={"limit": 100}
    )
    page = expect_conforms("REP-04", "listRepositoryItems", answer)
    for item in page["items"]:
        expect(
            "REP-04",
            bool(item.get("kind"))
            and bool(item.get("title"))
            and isinstance(item.get("source"), dict)
            and isinstance(item.get("metadata"), dict),
            "every item with kind, title, source (origin) and metadata",
            repr(item)[:300],
            answer,
        )
    for other in ("applicantB", "organisation"):
        if other not in target.identities:
            continue
        seen = find_in_pages(
            "REP-04",
            portal.client,
            "repository",
            "/repository/items",
            lambda i: i.get("id") == stored["id"],
            as_=other,
            params={"kind": "digitised-document"},
        )
        expect(
            "REP-04",
            seen is None,
            f"{other}'s Repository does not list applicantA's item",
            f"item {stored['id']} is listed for {other}",
        )


@pytest.mark.requirement("STO-02")
def test_download_component_and_result_give_back_the_stored_bytes_after_the_end(
    portal: Portal, target: TargetConfig, returned_result: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """Component files and the result document come back as stored after the dossier ends."""
    dossier, result = returned_result
    ended = portal.get(dossier["id"])
    expect(
        "STO-02",
        ended.get("status") == "returned",
        "a dossier that has ended (returned)",
        f"status {ended.get('status')!r}",
    )
    for component in ended.get("components", []):
        info = component.get("file") or {}
        path = f"/dossiers/{dossier['id']}/components/{component['id']}/content"
        served = download(portal, "STO-02", "dossiers", path)
        digest = hashlib.sha256(served.content).hexdigest()
        expect(
            "STO-02",
            digest == info.get("sha256") and len(served.content) == info.get("size"),
            f"component {component.get('componentCode')} as stored: sha256 "
            f"{info.get('sha256')}, {info.get('size')} bytes",
            f"sha256 {digest}, {len(served.content)} bytes",
            served,
        )
    spec = portal.procedure().get("components", [])
    sent = {c["code"]: document_bytes(file_for(c)) for c in spec if c.get("required")}
    for component in ended.get("components", []):
        original = sent.get(component.get("componentCode"))
        if original is not None:
            expect(
                "STO-02",
                (component.get("file") or {}).get("sha256") == hashlib.sha256(original).hexdigest(),
                f"component {component['componentCode']} kept in its original format, the "
                "bytes the applicant uploaded",
                repr(component.get("file")),
            )
    document = download(portal, "STO-02", "results", f"/results/{result['code']}/document")
    expect(
        "STO-02",
        hashlib.sha256(document.content).hexdigest()
        == (result.get("document") or {}).get("sha256"),
        "the result document matches the digest the result states",
        f"sha256 {hashlib.sha256(document.content).hexdigest()}",
        document,
    )
    if target.claims("repository"):
        png = document_bytes("sample.png")
        stored = expect_status(
            "STO-02", add_document(portal, "sample.png"), 201, why="a PNG scan is stored"
        )
        served = download(
            portal, "STO-02", "repository", f"/repository/items/{stored['id']}/content"
        )
        media = served.headers.get("content-type", "").split(";")[0].strip()
        expect(
            "STO-02",
            served.content == png and media == "image/png",
            "the PNG back byte for byte, served as image/png",
            f"{len(served.content)} bytes as {media!r}",
            served,
        )
