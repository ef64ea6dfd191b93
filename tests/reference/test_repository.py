"""The Data Management Repository (Decree 45/2020/ND-CP Art. 16, 17; Circular 01/2023 Art. 24)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from sqlalchemy import func, select

from reference_impl import repository_domain
from reference_impl.tables import repository_items

from .conftest import Server
from .test_results import (
    CITIZEN,
    OFFICER,
    ORGANISATION,
    OTHER_CITIZEN,
    assert_problem,
    cancel,
    issue,
)

PDF = b"%PDF-1.7\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\ntrailer\n<</Root 1 0 R>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def upload(
    content: bytes = PDF, media_type: str = "application/pdf", name: str = "can-cuoc.pdf"
) -> dict[str, Any]:
    return {
        "title": "Căn cước công dân (bản scan)",
        "file": {
            "fileName": name,
            "mediaType": media_type,
            "contentBase64": base64.b64encode(content).decode(),
        },
        "metadata": {"documentType": "Căn cước công dân", "issuedOn": "2021-08-14"},
    }


def add(server: Server, who: str = CITIZEN, **kwargs: Any) -> Any:
    return server.call("POST", "/repository/items", who=who, json=upload(**kwargs))


def items(server: Server, who: str, **params: Any) -> list[dict[str, Any]]:
    response = server.call("GET", "/repository/items", who=who, params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_list_repository_items_always_holds_the_owner_identity(server: Server) -> None:
    first = items(server, CITIZEN)
    assert [item["kind"] for item in first] == ["owner-identity"]
    identity = first[0]
    assert identity["source"] == {}
    assert identity["metadata"]["personalId"] == CITIZEN
    assert identity["metadata"]["name"] == "Nguyễn Văn An"
    assert "file" not in identity
    assert items(server, CITIZEN) == first  # written once, not on every listing
    organisation = items(server, ORGANISATION)
    assert organisation[0]["metadata"]["taxCode"] == ORGANISATION
    assert organisation[0]["id"] != identity["id"]


def test_add_repository_item_stores_a_digitised_document(server: Server) -> None:
    response = add(server)
    assert response.status_code == 201, response.text
    item = response.json()
    assert response.headers["location"] == f"/repository/items/{item['id']}"
    assert item["kind"] == "digitised-document"
    assert item["status"] == "valid"
    assert item["source"] == {}
    assert item["metadata"] == {"documentType": "Căn cước công dân", "issuedOn": "2021-08-14"}
    assert item["file"] == {
        "fileName": "can-cuoc.pdf",
        "mediaType": "application/pdf",
        "size": len(PDF),
        "sha256": hashlib.sha256(PDF).hexdigest(),
    }
    fetched = server.call("GET", response.headers["location"], who=CITIZEN)
    assert fetched.json() == item
    content = server.call("GET", f"/repository/items/{item['id']}/content", who=CITIZEN)
    assert content.status_code == 200
    assert content.content == PDF
    assert content.headers["content-type"] == "application/pdf"


def test_add_repository_item_accepts_png_and_keeps_two_uploads_apart(server: Server) -> None:
    png = add(server, content=PNG, media_type="image/png", name="scan.png").json()
    again = add(server, content=PNG, media_type="image/png", name="scan.png").json()
    assert png["id"] != again["id"]
    content = server.call("GET", f"/repository/items/{png['id']}/content", who=CITIZEN)
    assert content.headers["content-type"] == "image/png"
    assert content.content == PNG


def test_list_repository_items_filters_by_kind_and_pages(server: Server) -> None:
    added = [add(server).json()["id"] for _ in range(3)]
    assert [i["id"] for i in items(server, CITIZEN, kind="digitised-document")] == added
    assert [i["kind"] for i in items(server, CITIZEN, kind="owner-identity")] == ["owner-identity"]
    assert items(server, CITIZEN, kind="ecopy") == []
    first = server.call("GET", "/repository/items", who=CITIZEN, params={"limit": 2}).json()
    second = server.call(
        "GET", "/repository/items", who=CITIZEN, params={"limit": 2, "cursor": first["nextCursor"]}
    ).json()
    assert len(first["items"]) == 2
    assert [i["id"] for i in first["items"] + second["items"]][1:] == added
    assert second["nextCursor"] is None


def test_add_repository_item_refuses_a_lying_content_type(server: Server) -> None:
    response = add(server, content=PNG, media_type="application/pdf")
    body = assert_problem(response, 422, "/file/mediaType")
    assert "image/png" in body["errors"][0]["detail"]
    assert items(server, CITIZEN, kind="digitised-document") == []


def test_add_repository_item_refuses_other_types_size_and_names(server: Server) -> None:
    xml = b"<?xml version='1.0'?><a/>"
    assert_problem(add(server, content=xml, media_type="application/xml"), 422, "/file/mediaType")
    big = b"%PDF-" + b"0" * 10_000_000
    assert_problem(add(server, content=big), 422, "/file/contentBase64")
    assert_problem(add(server, name="virus.exe"), 422, "/file/fileName")
    body = upload()
    body["file"]["contentBase64"] = "%%%%"
    response = server.call("POST", "/repository/items", who=CITIZEN, json=body)
    assert_problem(response, 422, "/file/contentBase64")


def test_add_repository_item_validates_the_body(server: Server) -> None:
    body = upload()
    del body["metadata"]["documentType"]
    body["kind"] = "result"
    response = server.call("POST", "/repository/items", who=CITIZEN, json=body)
    problem = assert_problem(response, 400)
    pointers = {e["pointer"] for e in problem["errors"]}
    assert "/metadata" in pointers or "/metadata/documentType" in pointers
    response = server.call("POST", "/repository/items", who=CITIZEN)
    assert_problem(response, 400)


def test_repository_is_private_to_its_owner(server: Server) -> None:
    mine = add(server).json()
    for who in (OTHER_CITIZEN, ORGANISATION):
        assert_problem(server.call("GET", f"/repository/items/{mine['id']}", who=who), 404)
        response = server.call("GET", f"/repository/items/{mine['id']}/content", who=who)
        assert_problem(response, 404)
        assert mine["id"] not in [i["id"] for i in items(server, who)]
    organisation_item = add(server, who=ORGANISATION).json()
    response = server.call("GET", f"/repository/items/{organisation_item['id']}", who=CITIZEN)
    assert_problem(response, 404)
    own = server.call("GET", f"/repository/items/{organisation_item['id']}", who=ORGANISATION)
    assert own.status_code == 200


def test_repository_refuses_officers_systems_and_anonymous_callers(server: Server) -> None:
    item = add(server).json()
    for path in ("/repository/items", f"/repository/items/{item['id']}"):
        assert_problem(server.call("GET", path, who=OFFICER), 403)
        assert_problem(server.call("GET", path), 401)
    assert_problem(server.call("POST", "/repository/items", who=OFFICER, json=upload()), 403)
    system = next(iter(server.services.fixtures.systems))
    headers = {"Authorization": f"Bearer {server.system_token(system)}"}
    assert_problem(server.call("GET", "/repository/items", headers=headers), 403)


def test_get_repository_item_errors(server: Server) -> None:
    assert_problem(server.call("GET", "/repository/items/rp-missing", who=CITIZEN), 404)
    assert_problem(server.call("GET", "/repository/items/bad%20id", who=CITIZEN), 400)
    response = server.call("GET", "/repository/items", who=CITIZEN, params={"kind": "photo"})
    assert_problem(response, 400, "#/query/kind")


def test_download_repository_item_without_a_file_is_404(server: Server) -> None:
    identity = items(server, CITIZEN)[0]
    response = server.call("GET", f"/repository/items/{identity['id']}/content", who=CITIZEN)
    body = assert_problem(response, 404)
    assert "has no file" in body["detail"]
    assert_problem(server.call("GET", "/repository/items/rp-x/content", who=CITIZEN), 404)


def test_result_item_is_written_and_cancelled_with_the_result(server: Server) -> None:
    result = issue(server)
    (item,) = items(server, CITIZEN, kind="result")
    assert item["source"]["resultCode"] == result["code"]
    assert item["metadata"]["verificationCode"] == result["verificationCode"]
    content = server.call("GET", f"/repository/items/{item['id']}/content", who=CITIZEN)
    assert hashlib.sha256(content.content).hexdigest() == result["document"]["sha256"]
    assert items(server, OTHER_CITIZEN, kind="result") == []

    cancelled = cancel(server, result["code"]).json()
    fetched = server.call("GET", f"/repository/items/{item['id']}", who=CITIZEN).json()
    assert fetched["status"] == "cancelled"
    assert fetched["cancelledAt"] == cancelled["cancelledAt"]
    assert fetched["updatedAt"] == cancelled["cancelledAt"]
    served = server.call("GET", f"/repository/items/{item['id']}/content", who=CITIZEN)
    assert served.status_code == 200


def test_add_item_is_idempotent_on_owner_kind_and_source(server: Server) -> None:
    services = server.services
    arguments = ("individual:" + CITIZEN, "ecopy", "ec-1", "Bản sao", {"ecopyId": "ec-1"}, None, {})
    with services.database.transaction() as conn:
        first = repository_domain.add_item(conn, services, *arguments)
        second = repository_domain.add_item(conn, services, *arguments)
        other_owner = repository_domain.add_item(
            conn, services, "individual:" + OTHER_CITIZEN, *arguments[1:]
        )
        count = conn.execute(
            select(func.count())
            .select_from(repository_items)
            .where(repository_items.c.kind == "ecopy")
        ).scalar_one()
    assert first == second
    assert other_owner["id"] != first["id"]
    assert count == 2


def test_mark_cancelled_of_a_missing_item_does_nothing(server: Server) -> None:
    services = server.services
    with services.database.transaction() as conn:
        repository_domain.mark_cancelled(
            conn,
            services,
            "individual:" + CITIZEN,
            "result",
            "nothing",
            "2025-03-17T09:00:00+07:00",
        )
        count = conn.execute(select(func.count()).select_from(repository_items)).scalar_one()
    assert count == 0
