"""Dossiers: from draft to returned result, for applicants and the receiving agency's officers.

Decree 45/2020/ND-CP Art. 9 (prepare and submit), Art. 11 (automatic technical check and
official receipt time), Art. 12 (supplements keep the history and the code), Art. 14 (results);
Decree 137/2024/ND-CP Art. 7 (clear reasons); Circular 01/2018/TT-VPCP Art. 19 (codes). Every
change goes through `dossier_store.save`; every move of the lifecycle through
`dossier_store.move`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from .. import dossier_components as components
from ..accounts import applicant_of, ensure_account
from ..automatic_check import procedure_of, requirement_of, technical_check, unknown_component
from ..clock import rfc3339
from ..dispatch import Context, Reply, Router
from ..dossier_store import (
    actor_of,
    fold_name,
    history_of,
    insert_new,
    load,
    move,
    present,
    save,
    visible_to,
)
from ..etags import check_if_match, etag_of
from ..files import check_upload, file_info, load_blob, store_blob
from ..idempotency import once
from ..ids import new_id, next_dossier_code
from ..pagination import page_of_list, page_of_rows
from ..problems import FieldError, conflict, not_found, unprocessable
from ..tables import dossier_history, dossiers

router = Router()

EDITABLE = frozenset({"draft", "supplement-requested"})
"""Statuses in which the applicant attaches and removes components."""
_SERVED_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})
"""Media types downloadComponent declares; anything else is served as octet-stream."""

# ---- shared helpers ------------------------------------------------------------------------


def _now(ctx: Context) -> str:
    return rfc3339(ctx.services.clock.now())


def _reply(
    ctx: Context, document: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Reply:
    """A dossier response: the API view and its ETag."""
    return Reply(
        status, present(document, ctx.services), {"ETag": etag_of(document), **(headers or {})}
    )


def _load_for_change(ctx: Context, connection: Connection) -> dict[str, Any]:
    """The dossier the request changes: visible to the caller and matching ``If-Match``."""
    document = load(
        connection, ctx.caller, ctx.path["dossierId"], for_update=True, anyone=_any_agency(ctx)
    )
    check_if_match(ctx, document)
    return document


def _any_agency(ctx: Context) -> bool:
    """True when a fault lets this officer past the agency check."""
    return ctx.caller.role == "officer" and ctx.fault("other-agency-officer-acts")


def _target(ctx: Context, document: dict[str, Any], action: str) -> str:
    """Where ``action`` takes the dossier: the lifecycle's answer, unless a fault bends it."""
    status = document["status"]
    if action == "resolveDossier" and status == "received" and ctx.fault("resolve-from-received"):
        return "processed"
    terminal = status in ("refused", "stopped", "returned")
    if action == "requestWithdrawal" and terminal and ctx.fault("withdrawal-from-terminal"):
        return "withdrawal-requested"
    target = move(document, action)
    if action == "stopProcessing" and ctx.fault("stop-leads-to-refused"):
        return "refused"
    if action == "submitSupplement" and ctx.fault("supplement-returns-to-received"):
        return "received"
    return target


def _require_status(document: dict[str, Any], allowed: frozenset[str], action: str) -> None:
    """409 naming the current status when ``action`` is not allowed in it."""
    status = document["status"]
    if status not in allowed:
        raise conflict(
            f"{action} is not allowed while the dossier is {status!r}; it is allowed from: "
            f"{', '.join(sorted(allowed))}.",
            currentStatus=status,
        )


def _refuse(detail: str, errors: list[FieldError]) -> None:
    """422 listing every reason, when there is any."""
    if errors:
        count = len(errors)
        raise unprocessable(f"{count} problem{'s' if count > 1 else ''}: {detail}", errors)


def _owner_of(connection: Connection, dossier_id: str) -> str:
    return str(
        connection.execute(
            select(dossiers.c.owner_key).where(dossiers.c.id == dossier_id)
        ).scalar_one()
    )


def _save(
    ctx: Context,
    connection: Connection,
    document: dict[str, Any],
    action: str,
    source: str,
    **kw: Any,
) -> None:
    """`dossier_store.save` with the caller as the actor."""
    save(
        connection,
        ctx.services,
        document,
        action=action,
        actor=actor_of(connection, ctx.services, ctx.caller),
        from_status=source,
        **kw,
    )


def _transition(
    ctx: Context,
    action: str,
    *,
    prepare: Callable[[Connection, dict[str, Any]], None] | None = None,
    after: Callable[[Connection, dict[str, Any]], None] | None = None,
    reason: str | None = None,
    note: str | None = None,
) -> Reply:
    """Apply one move of the lifecycle: load, If-Match, 409 check, ``prepare``, save, ``after``.

    ``prepare`` sets the fields of the move and may refuse it (422) before anything is saved;
    ``after`` runs the effects that need the saved dossier (fee obligations, Repository items).
    """
    with ctx.transaction() as connection:
        document = _load_for_change(ctx, connection)
        source = document["status"]
        target = _target(ctx, document, action)
        if prepare is not None:
            prepare(connection, document)
        document["status"] = target
        _save(ctx, connection, document, action, source, reason=reason, note=note)
        if after is not None:
            after(connection, document)
        return _reply(ctx, document)


# ---- creating, reading, changing a draft ---------------------------------------------------


def _receivability_errors(ctx: Context, procedure_code: str, agency_code: str) -> list[FieldError]:
    """Why the agency cannot receive this procedure from this caller (empty when it can)."""
    fixtures = ctx.services.fixtures
    errors = []
    procedure = fixtures.procedures.get(procedure_code)
    if procedure is None:
        detail = f"No procedure {procedure_code!r} is in the catalogue."
        errors.append(FieldError("/procedureCode", detail, "unknown-procedure"))
    if agency_code not in fixtures.agencies:
        detail = f"No agency {agency_code!r} exists."
        errors.append(FieldError("/agencyCode", detail, "unknown-agency"))
    elif procedure is not None and agency_code not in procedure["agencyCodes"]:
        detail = (
            f"Agency {agency_code} does not receive procedure {procedure_code}; it is received "
            f"by {', '.join(procedure['agencyCodes'])}."
        )
        errors.append(FieldError("/agencyCode", detail, "agency-not-competent"))
    account_type = ctx.caller.account_type
    if procedure is not None and account_type not in procedure.get(
        "applicantTypes", [account_type]
    ):
        detail = (
            f"Procedure {procedure_code} is for {', '.join(procedure['applicantTypes'])} "
            f"applicants; you are signed in as {account_type}."
        )
        errors.append(FieldError("#/header/Authorization", detail, "applicant-type"))
    return errors


def _applicant(ctx: Context, account: dict[str, Any]) -> dict[str, Any]:
    applicant = applicant_of(account)
    if ctx.fault("applicant-not-prefilled"):  # the vendor asks the applicant to type them
        applicant.pop("personalId", None)
        applicant.pop("taxCode", None)
    return applicant


@router.operation("createDossier")
def create_dossier(ctx: Context) -> Reply:
    """Start a draft owned by the caller; the applicant block comes from the token."""
    with ctx.transaction() as connection:
        return once(ctx, connection, lambda: _create(ctx, connection))


def _create(ctx: Context, connection: Connection) -> Reply:
    body = ctx.body
    errors = _receivability_errors(ctx, body["procedureCode"], body["agencyCode"])
    _refuse("the dossier cannot be created.", errors)
    account, _ = ensure_account(connection, ctx.services, ctx.caller)
    now = _now(ctx)
    document: dict[str, Any] = {
        "id": new_id(),
        "code": None,
        "procedureCode": body["procedureCode"],
        "agencyCode": body["agencyCode"],
        "applicant": _applicant(ctx, account),
        "status": "draft",
        "form": body["form"],
        "components": [],
        "resultCodes": [],
        "version": 1,
        "createdAt": now,
        "updatedAt": now,
    }
    insert_new(connection, ctx.caller.owner_key, document)
    # Creation is not a change, so it does not go through save(); the history still starts here.
    entry = {
        "at": now,
        "action": "createDossier",
        "toStatus": "draft",
        "actor": actor_of(connection, ctx.services, ctx.caller),
    }
    connection.execute(insert(dossier_history).values(dossier_id=document["id"], doc=entry))
    location = f"{ctx.base_url}/dossiers/{document['id']}"
    return _reply(ctx, document, 201, {"Location": location})


@router.operation("listDossiers")
def list_dossiers(ctx: Context) -> Reply:
    """The caller's dossiers (applicant) or its agency's (officer), filtered."""
    query = ctx.query
    conditions: list[Any] = []
    if "status" in query:
        conditions.append(dossiers.c.status == query["status"])
    if "code" in query:
        conditions.append(dossiers.c.code == query["code"])
    if "procedureCode" in query:
        conditions.append(dossiers.c.doc["procedureCode"].as_string() == query["procedureCode"])
    # Both sides are folded the same way, so NFC and NFD spellings of a name meet.
    for word in fold_name(query.get("applicantName", "")).split():
        conditions.append(dossiers.c.name_folded.contains(word, autoescape=True))
    with ctx.transaction() as connection:
        rows, cursor = page_of_rows(
            connection, dossiers, [visible_to(ctx.caller), *conditions], query
        )
    items = [present(dict(row.doc), ctx.services) for row in rows]
    return Reply(body={"items": items, "nextCursor": cursor})


@router.operation("getDossier")
def get_dossier(ctx: Context) -> Reply:
    """One dossier, for its owner or an officer of its agency."""
    anyone = _any_agency(ctx) or (
        ctx.caller.role == "applicant" and ctx.fault("other-applicant-reads-dossier")
    )
    with ctx.transaction() as connection:
        document = load(connection, ctx.caller, ctx.path["dossierId"], anyone=anyone)
    return _reply(ctx, document)


@router.operation("updateDossier")
def update_dossier(ctx: Context) -> Reply:
    """Replace the form or the receiving agency of a draft."""
    with ctx.transaction() as connection:
        document = _load_for_change(ctx, connection)
        if not ctx.fault("edit-after-submission"):
            _require_status(document, frozenset({"draft"}), "updateDossier")
        body = ctx.body
        if "agencyCode" in body:
            errors = _receivability_errors(ctx, document["procedureCode"], body["agencyCode"])
            _refuse("the draft was not changed.", errors)
            document["agencyCode"] = body["agencyCode"]
        if "form" in body:
            document["form"] = body["form"]
        _save(ctx, connection, document, "updateDossier", document["status"])
        return _reply(ctx, document)


@router.operation("deleteDossier")
def delete_dossier(ctx: Context) -> Reply:
    """Delete a draft; a submitted dossier is kept (Decree 45/2020/ND-CP Art. 17)."""
    with ctx.transaction() as connection:
        document = _load_for_change(ctx, connection)
        if not ctx.fault("delete-submitted-dossier"):
            _require_status(document, frozenset({"draft"}), "deleteDossier")
        dossier_id = document["id"]
        components.forget(connection, dossier_id)
        connection.execute(
            delete(dossier_history).where(dossier_history.c.dossier_id == dossier_id)
        )
        connection.execute(delete(dossiers).where(dossiers.c.id == dossier_id))
    return Reply(204)


@router.operation("getDossierHistory")
def get_dossier_history(ctx: Context) -> Reply:
    """The dossier's history, oldest first."""
    with ctx.transaction() as connection:
        document = load(connection, ctx.caller, ctx.path["dossierId"])
        entries = history_of(connection, document["id"])
    return Reply(body=page_of_list(entries, ctx.query))


# ---- components ----------------------------------------------------------------------------


def _build(
    ctx: Context, connection: Connection, document: dict[str, Any], given: Any, pointer: str
) -> tuple[dict[str, Any] | None, list[FieldError]]:
    procedure = procedure_of(ctx.services, document)
    owner_key = ctx.caller.owner_key
    now = _now(ctx)
    return components.build(connection, ctx.services, owner_key, procedure, given, pointer, now)


@router.operation("addComponent")
def add_component(ctx: Context) -> Reply:
    """Attach an uploaded file or a Repository item while draft or supplement-requested."""
    with ctx.transaction() as connection:
        document = _load_for_change(ctx, connection)
        status = document["status"]
        _require_status(document, EDITABLE, "addComponent")
        component, errors = _build(ctx, connection, document, ctx.body, "")
        _refuse("the component was not attached.", errors)
        assert component is not None  # no errors means a component
        change = components.place(connection, document, component, status == "supplement-requested")
        _save(ctx, connection, document, "addComponent", status, changes=[change])
        return Reply(201, component, {"ETag": etag_of(document)})


@router.operation("removeComponent")
def remove_component(ctx: Context) -> Reply:
    """Remove a component; in a supplement only one added since the request."""
    with ctx.transaction() as connection:
        document = _load_for_change(ctx, connection)
        status = document["status"]
        _require_status(document, EDITABLE, "removeComponent")
        component_id = ctx.path["componentId"]
        current = document["components"]
        index = next((i for i, c in enumerate(current) if c["id"] == component_id), None)
        if index is None:
            raise not_found("component", component_id)
        removed = current[index]
        change = {"componentCode": removed["componentCode"], "before": removed["file"]["sha256"]}
        _, pending = components.stored(connection, document["id"], component_id)
        if status == "supplement-requested" and not pending:
            raise conflict(
                f"Component {component_id!r} was received by the agency; while the dossier is "
                f"{status!r} replace it (addComponent with code {removed['componentCode']}) so "
                "that the history keeps it.",
                currentStatus=status,
            )
        if pending and "supersedes" in removed:
            # Withdrawing a replacement brings back what the agency already holds.
            current[index], _ = components.stored(connection, document["id"], removed["supersedes"])
            change["after"] = current[index]["file"]["sha256"]
        else:
            del current[index]
        _save(ctx, connection, document, "removeComponent", status, changes=[change])
        return Reply(204, headers={"ETag": etag_of(document)})


@router.operation("downloadComponent")
def download_component(ctx: Context) -> Reply:
    """The bytes of a component, current or replaced, exactly as stored."""
    with ctx.transaction() as connection:
        document = load(connection, ctx.caller, ctx.path["dossierId"])
        component, _ = components.stored(connection, document["id"], ctx.path["componentId"])
        info = component["file"]
        blob = load_blob(connection, info["sha256"])
    if blob is None:
        raise not_found("file of component", component["id"])
    media_type = info["mediaType"] if info["mediaType"] in _SERVED_TYPES else None
    return Reply(
        200,
        blob[0],
        {"Content-Disposition": components.content_disposition(info["fileName"])},
        media_type=media_type or "application/octet-stream",
    )


# ---- submission ----------------------------------------------------------------------------


@router.operation("submitDossier")
def submit_dossier(ctx: Context) -> Reply:
    """Run the automatic technical check; on success the answer is the automatic confirmation."""
    with ctx.transaction() as connection:
        return once(ctx, connection, lambda: _submit(ctx, connection))


def _submit(ctx: Context, connection: Connection) -> Reply:
    services = ctx.services
    document = _load_for_change(ctx, connection)
    target = move(document, "submitDossier")
    errors = technical_check(connection, services, document, ctx.caller.owner_key)
    _refuse("the dossier stays a draft and has no code.", errors)
    sent = services.clock.now()
    receipt = services.fixtures.calendar.official_receipt_time(
        sent, services.fixtures.working_periods(document["agencyCode"])
    )
    if ctx.fault("receipt-time-not-rolled"):
        receipt = sent
    stamp = _utc if ctx.fault("times-in-utc") else rfc3339
    document.update(
        code=_new_code(ctx, connection, document, receipt),
        submittedAt=stamp(sent),
        officialReceiptTime=stamp(receipt),
        status=target,
    )
    _save(ctx, connection, document, "submitDossier", "draft")
    _raise_fees(connection, ctx, document, _procedure_fees(ctx, document, "on-submission"))
    return _reply(ctx, document)


def _utc(at: datetime) -> str:
    """The ``times-in-utc`` fault's time format."""
    return at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _new_code(
    ctx: Context, connection: Connection, document: dict[str, Any], received: datetime
) -> str:
    """The next dossier code of the receiving unit and day (or a fault's version of it)."""
    agency = document["agencyCode"]
    if not ctx.fault("dossier-code-per-procedure"):
        code = next_dossier_code(connection, agency, received)
    else:  # the counter row is keyed by procedure too, so the units' numbers collide
        counter = f"{agency}|{document['procedureCode']}"
        code = agency + next_dossier_code(connection, counter, received).removeprefix(counter)
    if ctx.fault("dossier-code-unpadded"):
        head, number = code.rsplit("-", 1)
        code = f"{head}-{int(number)}"
    return code


def _procedure_fees(ctx: Context, document: dict[str, Any], due: str) -> list[dict[str, Any]]:
    procedure = procedure_of(ctx.services, document)
    return [
        {"code": fee["code"], "name": fee["name"], "amount": fee["amount"]}
        for fee in procedure["fees"]
        if fee["due"] == due
    ]


def _raise_fees(
    connection: Connection,
    ctx: Context,
    document: dict[str, Any],
    lines: list[dict[str, Any]],
    due: str = "on-submission",
) -> None:
    """Create the fee obligation the applicant pays (Decree 45/2020/ND-CP Art. 13)."""
    if not lines:
        return
    from ..fees import create_obligation  # the payments module builds on dossiers, not back

    create_obligation(connection, ctx.services, document, lines, due)


# ---- the applicant's moves -----------------------------------------------------------------


def _receive(ctx: Context, document: dict[str, Any]) -> None:
    """Confirm receipt: ``acceptedAt``, the appointment date and the receipt slip."""
    services = ctx.services
    now = _now(ctx)
    received_on = datetime.fromisoformat(document["officialReceiptTime"]).date()
    days = procedure_of(services, document)["processingDays"]
    appointment = services.fixtures.calendar.add_working_days(received_on, days).isoformat()
    if ctx.fault("appointment-in-calendar-days"):
        appointment = (received_on + timedelta(days=days)).isoformat()
    document.update(
        acceptedAt=now,
        appointmentDate=appointment,
        receiptSlip={"number": document["code"], "issuedAt": now, "appointmentDate": appointment},
    )


def _apply_supplement(
    ctx: Context, connection: Connection, document: dict[str, Any]
) -> list[FieldError]:
    """Apply the body's components and form; every reason the supplemented dossier fails."""
    body = ctx.body
    errors: list[FieldError] = []
    for index, given in enumerate(body.get("components", [])):
        component, problems = _build(ctx, connection, document, given, f"/components/{index}")
        errors.extend(problems)
        if component is not None:
            components.place(connection, document, component, pending=True)
    if "form" in body:
        document["form"] = body["form"]
    pending = components.pending(connection, document["id"])
    for code in document["supplementRequest"]["componentCodes"]:
        if not any(
            c["componentCode"] == code and c["id"] in pending for c in document["components"]
        ):
            detail = f"The agency asked for component {code!r}; send it with the supplement."
            errors.append(FieldError("/components", detail, "supplement-missing"))
    errors.extend(technical_check(connection, ctx.services, document, ctx.caller.owner_key))
    return errors


@router.operation("submitSupplement")
def submit_supplement(ctx: Context) -> Reply:
    """Send the supplement: same code, history kept, back to received or in-process."""
    with ctx.transaction() as connection:
        document = _load_for_change(ctx, connection)
        target = _target(ctx, document, "submitSupplement")
        errors = _apply_supplement(ctx, connection, document)
        _refuse("the supplement was not accepted; the dossier is unchanged.", errors)
        changes = components.supplement_changes(connection, document)
        components.settle(connection, document["id"])
        if document["supplementRequest"]["fromStatus"] == "submitted":
            _receive(ctx, document)  # asked before receipt: received now
        document["status"] = target
        if ctx.fault("supplement-changes-code"):  # registered again, as if new
            document["code"] = _new_code(ctx, connection, document, ctx.services.clock.now())
        if ctx.fault("supplement-drops-history"):
            changes = []
        _save(
            ctx,
            connection,
            document,
            "submitSupplement",
            "supplement-requested",
            changes=changes,
            note=ctx.body.get("note"),
        )
        return _reply(ctx, document)


@router.operation("requestWithdrawal")
def request_withdrawal(ctx: Context) -> Reply:
    """The applicant asks to withdraw; an officer then stops processing."""
    reason = ctx.body["reason"]

    def prepare(_connection: Connection, document: dict[str, Any]) -> None:
        document["withdrawalReason"] = reason

    return _transition(ctx, "requestWithdrawal", prepare=prepare, reason=reason)


# ---- the officer's moves -------------------------------------------------------------------


@router.operation("acceptDossier")
def accept_dossier(ctx: Context) -> Reply:
    """Confirm receipt: receipt slip and appointment date."""
    note = (ctx.body or {}).get("note")
    return _transition(
        ctx, "acceptDossier", prepare=lambda _c, document: _receive(ctx, document), note=note
    )


@router.operation("refuseDossier")
def refuse_dossier(ctx: Context) -> Reply:
    """Refuse to receive the dossier, with a clear reason."""
    reason = ctx.body.get("reason", "")  # empty only under the refuse-without-reason fault

    def prepare(_connection: Connection, document: dict[str, Any]) -> None:
        document["refusalReason"] = reason

    return _transition(ctx, "refuseDossier", prepare=prepare, reason=reason)


@router.operation("requestSupplement")
def request_supplement(ctx: Context) -> Reply:
    """Ask the applicant to change or add components; the request decides where it returns."""
    body = ctx.body

    def prepare(_connection: Connection, document: dict[str, Any]) -> None:
        procedure = procedure_of(ctx.services, document)
        errors = [
            unknown_component(procedure, code, f"/componentCodes/{index}")
            for index, code in enumerate(body["componentCodes"])
            if requirement_of(procedure, code) is None
        ]
        _refuse("no supplement was requested.", errors)
        document["supplementRequest"] = {
            "reason": body.get("reason", ""),
            "componentCodes": list(body["componentCodes"]),
            "requestedAt": _now(ctx),
            "fromStatus": document["status"],
        }

    return _transition(ctx, "requestSupplement", prepare=prepare, reason=body.get("reason"))


@router.operation("startProcessing")
def start_processing(ctx: Context) -> Reply:
    """Start processing a received dossier."""
    return _transition(ctx, "startProcessing")


@router.operation("issueFeeNotice")
def issue_fee_notice(ctx: Context) -> Reply:
    """Ask for fees; the completed payment moves the dossier back to in-process."""
    body = ctx.body
    lines = [dict(line) for line in body["fees"]]

    def prepare(_connection: Connection, _document: dict[str, Any]) -> None:
        seen: set[str] = set()
        errors = []
        for index, line in enumerate(lines):
            if line["code"] in seen:
                detail = f"Fee code {line['code']!r} appears twice; one line per code."
                errors.append(FieldError(f"/fees/{index}/code", detail, "duplicate"))
            seen.add(line["code"])
        _refuse("no fee notice was issued.", errors)

    def after(connection: Connection, document: dict[str, Any]) -> None:
        _raise_fees(connection, ctx, document, lines, "on-notice")

    return _transition(
        ctx, "issueFeeNotice", prepare=prepare, after=after, reason=body.get("reason")
    )


@router.operation("stopProcessing")
def stop_processing(ctx: Context) -> Reply:
    """Stop processing (withdrawn, or ineligible), with the reason told to the applicant."""
    reason = ctx.body.get("reason", "")  # empty only under the stop-without-reason fault

    def prepare(_connection: Connection, document: dict[str, Any]) -> None:
        document["stopReason"] = reason

    return _transition(ctx, "stopProcessing", prepare=prepare, reason=reason)


@router.operation("resolveDossier")
def resolve_dossier(ctx: Context) -> Reply:
    """Resolve the dossier and issue its signed e-result ``<dossier code>-KQ<n>``."""
    body = ctx.body

    def prepare(connection: Connection, document: dict[str, Any]) -> None:
        from ..results_domain import issue_result  # results build on dossiers, not back

        content: bytes | None = None
        file_name: str | None = None
        if "document" in body:
            upload = body["document"]
            limit = ctx.services.settings.max_file_bytes
            content, errors = check_upload(upload, "/document", limit, ["application/pdf"])
            _refuse("no result was issued.", errors)
            file_name = upload["fileName"]
        result = issue_result(
            connection,
            ctx.services,
            document,
            body["title"],
            body.get("summary"),
            content,
            file_name,
        )
        if not ctx.fault("resolve-forgets-result-code"):
            document["resultCodes"] = [*document.get("resultCodes", []), result["code"]]

    return _transition(ctx, "resolveDossier", prepare=prepare)


@router.operation("deliverResult")
def deliver_result(ctx: Context) -> Reply:
    """Record the delivery and keep the dossier in the applicant's Repository."""
    channel = ctx.body["channel"]

    def prepare(_connection: Connection, document: dict[str, Any]) -> None:
        # The contract has no field for it; an extra field is allowed and keeps it visible.
        document["deliveryChannel"] = channel

    def after(connection: Connection, document: dict[str, Any]) -> None:
        if not ctx.fault("repository-no-processed-dossier"):
            _keep_in_repository(ctx, connection, document)

    return _transition(
        ctx, "deliverResult", prepare=prepare, after=after, note=f"channel: {channel}"
    )


def _json_file(connection: Connection, file_name: str, value: Any) -> dict[str, Any]:
    content = json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8")
    store_blob(connection, content, "application/json")
    return file_info(file_name, "application/json", content)


def _keep_in_repository(ctx: Context, connection: Connection, document: dict[str, Any]) -> None:
    """The processed dossier and its processing history, in the owner's Repository.

    Circular 01/2023/TT-VPCP Art. 24: successfully processed dossiers, and their processing
    history and files. Keyed by the dossier code, so a replay keeps one item of each.
    """
    from ..repository_domain import add_item  # the Repository builds on dossiers, not back

    code = document["code"]
    owner_key = _owner_of(connection, document["id"])
    procedure = procedure_of(ctx.services, document)
    source = {"dossierCode": code, "agencyCode": document["agencyCode"]}
    processed_at = next(
        (
            e["at"]
            for e in history_of(connection, document["id"])
            if e.get("toStatus") == "processed"
        ),
        document["updatedAt"],
    )
    metadata = {
        "procedureCode": document["procedureCode"],
        "procedureName": procedure["name"],
        "dossierId": document["id"],
        "receivedAt": document["officialReceiptTime"],
        "processedAt": processed_at,
        "resultCodes": document["resultCodes"],
        "deliveryChannel": document["deliveryChannel"],
        "components": [
            {
                "componentCode": c["componentCode"],
                "fileName": c["file"]["fileName"],
                "sha256": c["file"]["sha256"],
            }
            for c in document["components"]
        ],
    }
    add_item(
        connection,
        ctx.services,
        owner_key,
        "processed-dossier",
        code,
        f"Hồ sơ {procedure['name'].lower()} {code}",
        source,
        _json_file(connection, f"ho-so-{code}.json", document["form"]),
        metadata,
    )
    history = history_of(connection, document["id"])
    add_item(
        connection,
        ctx.services,
        owner_key,
        "processing-history",
        code,
        f"Lịch sử xử lý hồ sơ {code}",
        source,
        _json_file(connection, f"lich-su-xu-ly-{code}.json", history),
        {
            "procedureCode": document["procedureCode"],
            "dossierId": document["id"],
            "entries": len(history),
        },
    )
