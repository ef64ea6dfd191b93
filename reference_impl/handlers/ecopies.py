"""Legally valid e-copies: from the original register, or certified from a paper original.

Decree 45/2020/ND-CP Art. 10: an applicant asks the competent agency; an officer of that agency
issues the copy (signed with the agency key over the file's SHA-256) or refuses it with a reason
(Decree 137/2024/ND-CP Art. 7). An issued copy is placed in the applicant's Data Management
Repository (Art. 16; Circular 01/2023/TT-VPCP Art. 24).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fpdf import FPDF
from sqlalchemy import Connection, Row, insert, select, update

from .. import printout, repository_domain, variants
from ..clock import rfc3339
from ..dispatch import Context, Reply, Router
from ..files import check_upload, file_info, load_blob, store_blob
from ..idempotency import once
from ..ids import new_id
from ..problems import FieldError, conflict, forbidden, not_found, unprocessable
from ..signing import sign_json
from ..tables import ecopies

router = Router()

ORIGINAL_MEDIA_TYPES = ["application/pdf", "image/png", "image/jpeg"]
"""What a scan of a paper original may be."""
MAX_ORIGINAL_BYTES = 10_000_000
SIGNING_PURPOSE = "agency"
SIGNATURE_TYPE = "egov-ecopy+jws"
REPOSITORY_KIND = "ecopy"
PDF = "application/pdf"
DOCUMENT_LABELS = {
    "birth-certificate": "Giấy khai sinh",
    "death-certificate": "Giấy chứng tử",
    "marriage-certificate": "Giấy chứng nhận kết hôn",
    "household-registration": "Sổ hộ khẩu",
    "land-use-certificate": "Giấy chứng nhận quyền sử dụng đất",
    "diploma": "Văn bằng",
    "other": "Giấy tờ",
}


# ---- asking --------------------------------------------------------------------------------


@router.operation("requestECopy")
def request_ecopy(ctx: Context) -> Reply:
    """Ask an agency for an e-copy; it starts ``requested``."""
    with ctx.transaction() as conn:
        return once(ctx, conn, lambda: _request(ctx, conn))


def _request(ctx: Context, conn: Connection) -> Reply:
    body = ctx.body
    errors, content = _request_errors(ctx)
    if errors:
        raise unprocessable("The e-copy request was refused; nothing was stored.", errors)
    document: dict[str, Any] = {
        "id": f"ec-{new_id()}",
        "kind": body["kind"],
        "documentType": body["documentType"],
        "agencyCode": body["agencyCode"],
        "status": "requested",
        "requestedAt": rfc3339(ctx.services.clock.now()),
    }
    if "documentName" in body:
        document["documentName"] = body["documentName"]
    if body["kind"] == "from-register":
        document["register"] = dict(body["register"])
    elif content is not None:
        original = body["original"]
        store_blob(conn, content, original["mediaType"])
        document["original"] = file_info(original["fileName"], original["mediaType"], content)
    conn.execute(
        insert(ecopies).values(
            id=document["id"],
            owner_key=ctx.caller.owner_key,
            agency_code=document["agencyCode"],
            status="requested",
            doc=document,
        )
    )
    return Reply(201, document, {"Location": f"/ecopies/{document['id']}"})


def _request_errors(ctx: Context) -> tuple[list[FieldError], bytes | None]:
    """Every reason to refuse the request, and the decoded scan of a certified copy."""
    body = ctx.body
    errors = []
    if body["agencyCode"] not in ctx.services.fixtures.agencies:
        detail = f"No agency {body['agencyCode']!r} exists."
        errors.append(FieldError("/agencyCode", detail, "unknown-agency"))
    if body["kind"] == "from-register":
        # The sandbox register holds every entry up to this year; none can be from the future.
        this_year = ctx.services.clock.now().year
        if body["register"]["year"] > this_year:
            detail = f"The register has no entries of {body['register']['year']} yet ({this_year})."
            errors.append(FieldError("/register/year", detail, "register-entry"))
        return errors, None
    limit = min(MAX_ORIGINAL_BYTES, ctx.services.settings.max_file_bytes)
    content, upload_errors = check_upload(
        body["original"], "/original", limit, ORIGINAL_MEDIA_TYPES
    )
    return errors + upload_errors, content


# ---- reading -------------------------------------------------------------------------------


def _visible(ctx: Context, conn: Connection, ecopy_id: str) -> Row[Any, Any]:
    """A request of the caller (applicant) or addressed to the caller's agency, else 404."""
    principal = ctx.caller
    if principal.role == "officer":
        allowed = ecopies.c.agency_code == (principal.agency_code or "")
    elif ctx.fault("ecopy-visible-to-others"):
        allowed = ecopies.c.id.is_not(None)
    else:
        allowed = ecopies.c.owner_key == principal.owner_key
    row = conn.execute(
        select(ecopies.c.owner_key, ecopies.c.doc).where(ecopies.c.id == ecopy_id, allowed)
    ).first()
    if row is None:
        exists = select(ecopies.c.id).where(ecopies.c.id == ecopy_id)
        raise variants.hidden(conn, exists, "e-copy request", ecopy_id)
    return row


@router.operation("getECopy")
def get_ecopy(ctx: Context) -> Reply:
    """The request and, once issued, the copy's file, signature and Repository item."""
    with ctx.transaction() as conn:
        row = _visible(ctx, conn, ctx.path["ecopyId"])
    return Reply(body=row.doc)


@router.operation("downloadECopy")
def download_ecopy(ctx: Context) -> Reply:
    """The bytes of an issued copy; 409 before it is issued."""
    with ctx.transaction() as conn:
        document = dict(_visible(ctx, conn, ctx.path["ecopyId"]).doc)
        if document["status"] != "issued":
            raise conflict(
                f"E-copy {document['id']} is {document['status']}; only an issued copy has a "
                "file to download.",
                currentStatus=document["status"],
            )
        info = document["file"]
        blob = load_blob(conn, info["sha256"])
    if blob is None:
        raise not_found("file of e-copy", document["id"])
    return Reply(
        body=blob[0],
        media_type=info["mediaType"],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(info['fileName'])}"},
    )


# ---- the agency's decision -----------------------------------------------------------------


@router.operation("certifyECopy")
def certify_ecopy(ctx: Context) -> Reply:
    """Issue or refuse a requested copy; only an officer of the agency addressed decides."""
    ecopy_id = ctx.path["ecopyId"]
    with ctx.transaction() as conn:
        row = conn.execute(
            select(ecopies.c.owner_key, ecopies.c.doc)
            .where(ecopies.c.id == ecopy_id)
            .with_for_update()
        ).first()
        if row is None:
            raise not_found("e-copy request", ecopy_id)
        document = dict(row.doc)
        if ctx.caller.agency_code != document["agencyCode"]:
            raise forbidden(
                f"E-copy {ecopy_id} is addressed to {document['agencyCode']}; an officer of "
                f"{ctx.caller.agency_code} may not decide it."
            )
        if document["status"] != "requested":
            raise conflict(
                f"E-copy {ecopy_id} is already {document['status']}; only a requested copy "
                "can be issued or refused.",
                currentStatus=document["status"],
            )
        if ctx.body["decision"] == "refuse":
            document.update(status="refused", refusalReason=ctx.body["reason"])
        else:
            _issue(conn, ctx, row.owner_key, document)
        if not ctx.fault("certification-not-saved"):
            conn.execute(
                update(ecopies)
                .where(ecopies.c.id == ecopy_id)
                .values(status=document["status"], doc=document)
            )
    return Reply(body=document)


def _issue(conn: Connection, ctx: Context, owner_key: str, document: dict[str, Any]) -> None:
    """Make the copy's file, sign it, and place it in the applicant's Repository."""
    services = ctx.services
    issued = services.clock.now()
    document.update(status="issued", issuedAt=rfc3339(issued))
    if document["kind"] == "from-register":
        content, media_type = _register_copy(ctx, document, issued), PDF
        name = _slug(f"ban-sao-{document['documentType']}-{_entry_label(document)}") + ".pdf"
    else:
        original = document["original"]
        blob = load_blob(conn, original["sha256"])
        if blob is None:  # pragma: no cover - the scan is stored with the request
            raise not_found("scan of e-copy", document["id"])
        content, media_type = blob
        name = f"ban-sao-chung-thuc-{original['fileName']}"
    if document["kind"] != "from-register" or not ctx.fault("ecopy-register-copy-missing"):
        store_blob(conn, content, media_type)
    document["file"] = file_info(name, media_type, content)
    # The fault signs with the platform key, which the results JWKS does not publish.
    purpose = "platform" if ctx.fault("ecopy-signed-unpublished-key") else SIGNING_PURPOSE
    document["signature"] = sign_json(
        services.keys, purpose, signature_claims(document), typ=SIGNATURE_TYPE
    )
    item = repository_domain.add_item(
        conn,
        services,
        owner_key,
        REPOSITORY_KIND,
        document["id"],
        _title(document),
        {"ecopyId": document["id"], "agencyCode": document["agencyCode"]},
        document["file"],
        _item_metadata(document),
    )
    document["repositoryItemId"] = item["id"]


def signature_claims(document: dict[str, Any]) -> dict[str, Any]:
    """What the agency's signature binds (ecopy.json, signatureClaims)."""
    return {
        "ecopyId": document["id"],
        "kind": document["kind"],
        "documentType": document["documentType"],
        "agencyCode": document["agencyCode"],
        "issuedAt": document["issuedAt"],
        "fileSha256": document["file"]["sha256"],
    }


def _title(document: dict[str, Any]) -> str:
    name = document.get("documentName") or DOCUMENT_LABELS[document["documentType"]]
    how = "từ sổ gốc" if document["kind"] == "from-register" else "chứng thực từ bản chính"
    return f"Bản sao điện tử {how}: {name}"


def _item_metadata(document: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "documentType": document["documentType"],
        "kind": document["kind"],
        "issuedAt": document["issuedAt"],
        "signature": document["signature"],
    }
    if "register" in document:
        metadata["register"] = document["register"]
    if "documentName" in document:
        metadata["documentName"] = document["documentName"]
    return metadata


def _entry_label(document: dict[str, Any]) -> str:
    register = document["register"]
    return f"{register['entryNumber']}-{register['year']}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-")


def _register_copy(ctx: Context, document: dict[str, Any], issued: datetime) -> bytes:
    """The copy of a register entry, as a PDF (the sandbox register holds no scans)."""
    agency = ctx.services.fixtures.agencies.get(document["agencyCode"])
    register = document["register"]
    label = document.get("documentName") or DOCUMENT_LABELS[document["documentType"]]
    lines = [
        (f"{agency['name'] if agency else ''} ({document['agencyCode']})", 11),
        ("BẢN SAO ĐIỆN TỬ TỪ SỔ GỐC", 15),
        (label, 13),
        (
            f"Quyển số: {register['book']} — Số: {register['entryNumber']} — "
            f"Năm đăng ký: {register['year']}",
            11,
        ),
        (f"Mã yêu cầu: {document['id']}", 10),
        (f"Thời điểm cấp: {document['issuedAt']}", 10),
        (printout.SYSTEM_NAME, 9),
    ]
    pdf = FPDF(format="A4")
    pdf.set_creation_date(issued)
    pdf.set_title(f"Bản sao {label}")
    pdf.add_font("DejaVu", "", str(printout.FONT_DIR / "DejaVuSans.ttf"))
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    for text, size in lines:
        pdf.set_font("DejaVu", "", size)
        pdf.multi_cell(0, size * 0.55, text, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)
    return bytes(pdf.output())
