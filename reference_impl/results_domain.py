"""Electronic results: issue, cancel, verify (Decree 45/2020/ND-CP Art. 14, 15, 18).

A result is signed with the agency key over ``{code, dossierCode, documentSha256, issuedAt}``
(header ``typ: egov-result+jws``); ``getResultJwks`` publishes the public key. Issuing and
cancelling write the result, the holder's Repository item, the event, the notification and
the NPSP sync in the caller's transaction, so they all happen or none does.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from joserfc import jws
from joserfc.errors import JoseError
from sqlalchemy import Connection, func, insert, select, update

from . import ids, printout, repository_domain, variants
from .auth import Principal
from .clock import rfc3339
from .events import emit, enqueue_push, notify
from .files import file_info, load_blob, sniff, store_blob
from .problems import conflict, not_found
from .signing import sign_json
from .tables import dossiers, results

if TYPE_CHECKING:
    from .services import Services

SIGNATURE_TYPE = "egov-result+jws"
SIGNING_PURPOSE = "agency"
REPOSITORY_KIND = "result"
PDF = "application/pdf"


def verification_path(code: str) -> str:
    """The ``verifyResult`` path of a verification code."""
    return f"/verification/{code}"


def _owner_of(connection: Connection, dossier: dict[str, Any]) -> str:
    owner = connection.execute(
        select(dossiers.c.owner_key).where(dossiers.c.id == dossier["id"])
    ).scalar()
    if owner is None:
        raise RuntimeError(f"dossier {dossier['id']} is not stored; store it before issuing")
    return str(owner)


def _next_code(services: Services, connection: Connection, dossier: dict[str, Any]) -> str:
    counted = results.c.dossier_id == dossier["id"]
    if services.settings.has_fault("result-number-per-agency"):
        counted = results.c.agency_code == dossier["agencyCode"]
    issued = connection.execute(select(func.count()).select_from(results).where(counted))
    return f"{dossier['code']}-KQ{issued.scalar_one() + 1}"


def _unused_verification_code(connection: Connection) -> str:
    # 36^12 codes make a clash unlikely; checking keeps the unique column from failing the
    # whole resolution if one happens anyway.
    while True:
        code = ids.verification_code()
        taken = connection.execute(
            select(results.c.code).where(results.c.verification_code == code)
        ).first()
        if taken is None:
            return code


def _document(
    services: Services,
    dossier: dict[str, Any],
    code: str,
    title: str,
    summary: str | None,
    issued_at: str,
) -> bytes:
    return printout.result_document(
        created=services.clock.now(),
        code=code,
        dossier_code=dossier["code"],
        agency=services.fixtures.agencies.get(dossier["agencyCode"]),
        agency_code=dossier["agencyCode"],
        holder_name=dossier["applicant"]["name"],
        title=title,
        summary=summary,
        issued_at=issued_at,
    )


def signature_payload(result: dict[str, Any]) -> dict[str, str]:
    """What the signature binds: the result's identity and its document's digest."""
    return {
        "code": result["code"],
        "dossierCode": result["dossierCode"],
        "documentSha256": result["document"]["sha256"],
        "issuedAt": result["issuedAt"],
    }


def issue_result(
    connection: Connection,
    services: Services,
    dossier: dict[str, Any],
    title: str,
    summary: str | None,
    document: bytes | None,
    file_name: str | None,
) -> dict[str, Any]:
    """Issue the signed e-result of a resolved dossier (Decree 45/2020/ND-CP Art. 14).

    Args:
        connection: the caller's transaction; everything is written in it.
        services: the server's services.
        dossier: the stored dossier (with ``code``), already resolved.
        title: what the result is.
        summary: a short account of the outcome, or ``None``.
        document: the PDF the agency uploaded (already checked), or ``None`` to render one.
        file_name: the uploaded file's name, or ``None`` for a name derived from the code.

    Returns:
        The result, as ``getResult`` shows it.
    """
    code = _next_code(services, connection, dossier)
    issued_at = rfc3339(services.clock.now())
    if document is None:
        document = _document(services, dossier, code, title, summary, issued_at)
    if sniff(document) != PDF:
        raise ValueError("a result document must be a PDF; check the upload before issuing")
    store_blob(connection, document, PDF)
    applicant = dossier["applicant"]
    result: dict[str, Any] = {
        "code": code,
        "dossierId": dossier["id"],
        "dossierCode": dossier["code"],
        "procedureCode": dossier["procedureCode"],
        "agencyCode": dossier["agencyCode"],
        "title": title,
        "status": "valid",
        "issuedAt": issued_at,
        "document": file_info(file_name or f"ket-qua-{code}.pdf", PDF, document),
        "verificationCode": _unused_verification_code(connection),
        "holder": {"accountId": applicant["accountId"], "name": applicant["name"]},
    }
    if summary:
        result["summary"] = summary
    result["verificationUrl"] = verification_path(result["verificationCode"])
    # The fault signs with the platform key, which the results JWKS does not publish.
    unpublished = services.settings.has_fault("result-signed-unpublished-key")
    result["signature"] = sign_json(
        services.keys,
        "platform" if unpublished else SIGNING_PURPOSE,
        signature_payload(result),
        typ=SIGNATURE_TYPE,
    )
    owner_key = _owner_of(connection, dossier)
    connection.execute(
        insert(results).values(
            code=code,
            dossier_id=dossier["id"],
            owner_key=owner_key,
            agency_code=dossier["agencyCode"],
            verification_code=result["verificationCode"],
            status="valid",
            doc=result,
        )
    )
    if not services.settings.has_fault("repository-lacks-result"):
        _store_in_repository(connection, services, owner_key, result)
    _announce_issue(connection, services, owner_key, result)
    return result


def _store_in_repository(
    connection: Connection, services: Services, owner_key: str, result: dict[str, Any]
) -> None:
    repository_domain.add_item(
        connection,
        services,
        owner_key,
        REPOSITORY_KIND,
        result["code"],
        result["title"],
        {
            "dossierCode": result["dossierCode"],
            "resultCode": result["code"],
            "agencyCode": result["agencyCode"],
        },
        result["document"],
        {"procedureCode": result["procedureCode"], "verificationCode": result["verificationCode"]},
    )


def _announce_issue(
    connection: Connection, services: Services, owner_key: str, result: dict[str, Any]
) -> None:
    emit(
        connection,
        services,
        "result.issued",
        result["code"],
        {
            "resultCode": result["code"],
            "dossierCode": result["dossierCode"],
            "agencyCode": result["agencyCode"],
            "issuedAt": result["issuedAt"],
            "verificationCode": result["verificationCode"],
        },
    )
    if not services.settings.has_fault("no-result-notification"):
        notify(
            connection,
            services,
            owner_key,
            "result-issued",
            f"Kết quả {result['code']}",
            f"Đã có kết quả giải quyết hồ sơ {result['dossierCode']}: {result['title']}. "
            f"Mã xác thực: {result['verificationCode']}.",
            {"resultCode": result["code"], "dossierId": result["dossierId"]},
        )
    _push_sync(connection, services, result, "valid")


def _push_sync(
    connection: Connection, services: Services, result: dict[str, Any], state: str
) -> None:
    """Queue the result's state for the NPSP (sync.json ``resultSync``)."""
    body = {
        "resultCode": result["code"],
        "dossierCode": result["dossierCode"],
        "agencyCode": result["agencyCode"],
        "status": result["status"],
        "issuedAt": result["issuedAt"],
    }
    if result["status"] == "cancelled":
        body["cancelledAt"] = result["cancelledAt"]
        body["cancellationReason"] = result["cancellationReason"]
    base = (services.settings.sync_url or services.settings.public_url).rstrip("/")
    enqueue_push(
        connection,
        "npsp-sync",
        f"result:{result['code']}:{state}",
        f"{base}/sync/results/{result['code']}",
        "PUT",
        body,
    )


def visible_to(principal: Principal) -> Any:
    """The SQL condition for the results a caller may see: its own, or its agency's."""
    if principal.role == "officer":
        return results.c.agency_code == (principal.agency_code or "")
    return results.c.owner_key == principal.owner_key


def load(
    connection: Connection, principal: Principal, code: str, *, for_update: bool = False
) -> dict[str, Any]:
    """A result the caller may see, else 404 (another's result does not reveal it exists)."""
    statement = select(results.c.doc).where(results.c.code == code, visible_to(principal))
    if for_update:
        statement = statement.with_for_update()
    found = connection.execute(statement).scalar()
    if found is None:
        exists = select(results.c.code).where(results.c.code == code)
        raise variants.hidden(connection, exists, "result", code)
    return dict(found)


def cancel_result(
    connection: Connection, services: Services, principal: Principal, code: str, reason: str
) -> dict[str, Any]:
    """Cancel a result's validity (Decree 45/2020/ND-CP Art. 15), everywhere at one moment."""
    result = load(connection, principal, code, for_update=True)
    if result["status"] == "cancelled":
        raise conflict(
            f"Result {code} is already cancelled (since {result['cancelledAt']}); "
            "a cancellation cannot be repeated or undone."
        )
    at = rfc3339(services.clock.now())
    result.update(status="cancelled", cancelledAt=at, cancellationReason=reason)
    changed = connection.execute(
        update(results)
        .where(results.c.code == code, results.c.status == "valid")
        .values(status="cancelled", doc=result)
    )
    if changed.rowcount != 1:  # a concurrent cancellation won (databases without row locks)
        raise conflict(f"Result {code} is already cancelled.")
    owner_key = connection.execute(
        select(results.c.owner_key).where(results.c.code == code)
    ).scalar_one()
    if not services.settings.has_fault("repository-not-marked-cancelled"):
        repository_domain.mark_cancelled(
            connection, services, owner_key, REPOSITORY_KIND, code, at, reason=reason
        )
    _announce_cancellation(connection, services, owner_key, result)
    return result


def _announce_cancellation(
    connection: Connection, services: Services, owner_key: str, result: dict[str, Any]
) -> None:
    if not services.settings.has_fault("skip-result-cancelled-event"):
        emit(
            connection,
            services,
            "result.cancelled",
            result["code"],
            {
                "resultCode": result["code"],
                "dossierCode": result["dossierCode"],
                "agencyCode": result["agencyCode"],
                "cancelledAt": result["cancelledAt"],
                "reason": result["cancellationReason"],
            },
        )
    notify(
        connection,
        services,
        owner_key,
        "result-cancelled",
        f"Kết quả {result['code']} bị hủy hiệu lực",
        f"Kết quả {result['code']} ({result['title']}) đã bị hủy hiệu lực lúc "
        f"{result['cancelledAt']}. Lý do: {result['cancellationReason']}",
        {"resultCode": result["code"], "dossierId": result["dossierId"]},
        reason=result["cancellationReason"],
    )
    _push_sync(connection, services, result, "cancelled")


def signature_holds(services: Services, result: dict[str, Any]) -> bool:
    """True when the stored signature verifies with the published key and binds this result."""
    try:
        verified = jws.deserialize_compact(
            result["signature"], services.keys.key_set(SIGNING_PURPOSE)
        )
        payload = json.loads(verified.payload)
    except (JoseError, ValueError):
        return False
    if verified.protected.get("typ") != SIGNATURE_TYPE or not isinstance(payload, dict):
        return False
    return payload == signature_payload(result)


def document_holds(connection: Connection, result: dict[str, Any]) -> bool:
    """True when the stored document still hashes to the digest the signature binds."""
    found = load_blob(connection, result["document"]["sha256"])
    return (
        found is not None and hashlib.sha256(found[0]).hexdigest() == result["document"]["sha256"]
    )


def verification(
    connection: Connection, services: Services, verification_code: str
) -> dict[str, Any]:
    """The public answer about a verification code (Decree 45/2020/ND-CP Art. 15, 18(2))."""
    found = connection.execute(
        select(results.c.doc).where(results.c.verification_code == verification_code)
    ).scalar()
    if found is None:
        raise not_found("verification code", verification_code)
    result = dict(found)
    # A record altered after signing must not be vouched for, whatever its status says.
    intact = signature_holds(services, result) and document_holds(connection, result)
    # The fault answers from the record as issued, which never learns of a cancellation.
    status = "valid" if services.settings.has_fault("verification-valid-after-cancel") else None
    status = status or result["status"]
    answer: dict[str, Any] = {
        "verificationCode": verification_code,
        "resultCode": result["code"],
        "valid": intact and status == "valid",
        "status": status,
        "integrity": "intact" if intact else "broken",
        "issuedAt": result["issuedAt"],
        "agencyCode": result["agencyCode"],
        "title": result["title"],
        "documentSha256": result["document"]["sha256"],
        "checkedAt": rfc3339(services.clock.now()),
    }
    if status == "cancelled":
        answer["cancelledAt"] = result["cancelledAt"]
    return answer
