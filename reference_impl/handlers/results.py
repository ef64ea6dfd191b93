"""Electronic results: read, download, print, cancel and verify (Decree 45/2020/ND-CP)."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, select

from .. import printout, results_domain
from ..clock import rfc3339
from ..dispatch import Context, Reply, Router
from ..files import load_blob
from ..pagination import page_of_rows
from ..problems import forbidden, not_found
from ..tables import dossiers, results

router = Router()


def _download_headers(file_name: str) -> dict[str, str]:
    # RFC 6266 with the RFC 8187 form, so Vietnamese file names survive.
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(file_name)}"}


def _delivered_on_paper(conn: Connection, result: dict[str, Any]) -> bool:
    dossier = conn.execute(
        select(dossiers.c.doc).where(dossiers.c.id == result["dossierId"])
    ).scalar()
    return dossier is not None and dossier.get("deliveryChannel") == "paper"


@router.operation("listResults")
def list_results(ctx: Context) -> Reply:
    conditions = [results_domain.visible_to(ctx.caller)]
    if dossier_code := ctx.query.get("dossierCode"):
        # A result's code starts with its dossier's code; the column keeps the lookup indexed.
        conditions.append(results.c.code.like(f"{dossier_code}-KQ%"))
    if status := ctx.query.get("status"):
        conditions.append(results.c.status == status)
    with ctx.transaction() as conn:
        rows, cursor = page_of_rows(conn, results, conditions, ctx.query)
    return Reply(body={"items": [row.doc for row in rows], "nextCursor": cursor})


@router.operation("getResult")
def get_result(ctx: Context) -> Reply:
    with ctx.transaction() as conn:
        result = results_domain.load(conn, ctx.caller, ctx.path["resultCode"])
    if result["status"] == "cancelled" and ctx.fault("cancelled-result-gone"):
        raise not_found("result", result["code"])
    return Reply(body=result)


@router.operation("downloadResultDocument")
def download_result_document(ctx: Context) -> Reply:
    with ctx.transaction() as conn:
        result = results_domain.load(conn, ctx.caller, ctx.path["resultCode"])
        found = load_blob(conn, result["document"]["sha256"])
        if ctx.fault("paper-result-not-downloadable"):
            found = None if _delivered_on_paper(conn, result) else found
    if found is None:  # pragma: no cover - blobs are never deleted
        raise not_found("result document", result["code"])
    return Reply(
        body=found[0],
        media_type=results_domain.PDF,
        headers=_download_headers(result["document"]["fileName"]),
    )


@router.operation("cancelResult")
def cancel_result(ctx: Context) -> Reply:
    code = ctx.path["resultCode"]
    with ctx.transaction() as conn:
        agency = conn.execute(select(results.c.agency_code).where(results.c.code == code)).scalar()
        if agency is None:
            raise not_found("result", code)
        if agency != ctx.caller.agency_code:
            raise forbidden(
                f"Result {code} was issued by {agency}; only its officers may cancel it."
            )
        # An empty reason only under the cancel-without-reason fault.
        result = results_domain.cancel_result(
            conn, ctx.services, ctx.caller, code, ctx.body.get("reason", "")
        )
    return Reply(body=result)


@router.operation("getResultPrintout")
def get_result_printout(ctx: Context) -> Reply:
    if ctx.caller.role == "officer" and ctx.fault("printout-hidden-from-officer"):
        raise forbidden("Printouts are for the holder of the result.")
    with ctx.transaction() as conn:
        result = results_domain.load(conn, ctx.caller, ctx.path["resultCode"])
    if ctx.fault("printout-wrong-verification-code"):  # the dossier's digest, not the result's
        wrong = hashlib.sha256(result["dossierCode"].encode()).hexdigest()[:12].upper()
        result = {**result, "verificationCode": wrong, "verificationUrl": f"/verification/{wrong}"}
    now = ctx.services.clock.now()
    pdf = printout.printout(
        result,
        ctx.services.fixtures.agencies.get(result["agencyCode"]),
        ctx.base_url + result["verificationUrl"],
        now,
        rfc3339(now),
    )
    return Reply(
        body=pdf,
        media_type=results_domain.PDF,
        headers={"Content-Disposition": f'inline; filename="ban-in-{result["code"]}.pdf"'},
    )


@router.operation("getResultJwks")
def get_result_jwks(ctx: Context) -> Reply:
    # The agency key signs results and e-copies alike; it exists from start-up, so it is
    # published before the first signature, and a relying party can fetch it at any time.
    jwks = ctx.services.keys.public_jwks(results_domain.SIGNING_PURPOSE)
    return Reply(body=jwks, headers={"Cache-Control": "public, max-age=300"})


@router.operation("verifyResult")
def verify_result(ctx: Context) -> Reply:
    with ctx.transaction() as conn:
        answer = results_domain.verification(conn, ctx.services, ctx.path["verificationCode"])
    # The answer holds for the moment it was given: a cancellation must show at once.
    return Reply(body=answer, headers={"Cache-Control": "no-store"})
