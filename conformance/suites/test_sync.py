"""Synchronisation with the National Public Service Portal (Decision 31/2021/QD-TTg Art. 30(3)).

The one-stop profile (EVT-04) is seen from the NPSP's side: the kit's NPSP simulator receives
what the target pushes, which needs the target configured to push there. The national-portal
profile (EVT-05, EVT-06) is the NPSP itself: the kit pushes to it as a one-stop system would.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from conformance.checks import expect, expect_conforms, expect_status, fail
from conformance.config import TargetConfig
from conformance.scenario import Portal
from conformance.simulators import Simulators, SyncPush

from ._s3_support import (
    EVENT_WAIT_SECONDS,
    REASON,
    VN_TZ,
    contract_fields,
    notification,
    notify,
    pending_payment,
    require_identity,
)

APPLICANT = {"type": "individual", "name": "Nguyễn Văn An", "personalId": "001203012345"}


def stamp(moment: datetime) -> str:
    """RFC 3339 with +07:00, to the second."""
    return moment.astimezone(VN_TZ).isoformat(timespec="seconds")


def fresh_code(agency: str) -> str:
    """A dossier code no real dossier has: a day long past, a random sequence.

    The NPSP under test also holds what real one-stop systems pushed (the reference sandbox
    pushes its own dossiers to itself), so the kit keeps to days no run of it is on.
    """
    rng = random.SystemRandom()
    day = datetime(2001, 1, 1) + timedelta(days=rng.randrange(3650))
    return f"{agency}-{day:%y%m%d}-{rng.randrange(1, 10000):04d}"


def snapshot(
    agency: str, procedure: str, code: str, moves: list[str], start: datetime
) -> dict[str, Any]:
    """A dossier snapshot whose history makes the moves ``moves`` (statuses after draft), one
    an hour from ``start``; a longer history is a newer snapshot of the same dossier."""
    codes = {"submitted": 1, "received": 2, "in-process": 4, "processed": 9, "returned": 10}
    history, previous = [], "draft"
    for index, status in enumerate(moves):
        history.append(
            {
                "at": stamp(start + timedelta(hours=index)),
                "fromStatus": previous,
                "toStatus": status,
            }
        )
        previous = status
    return {
        "dossierCode": code,
        "procedureCode": procedure,
        "agencyCode": agency,
        "status": moves[-1],
        "statusCode": codes[moves[-1]],
        "applicant": APPLICANT,
        "submittedAt": history[0]["at"],
        "officialReceiptTime": history[0]["at"],
        "updatedAt": history[-1]["at"],
        "history": history,
    }


def push_dossier(portal: Portal, body: dict[str, Any]) -> httpx.Response:
    """``syncDossier`` as the kit's `system` identity; a skip when it may not push there."""
    answer = portal.call(
        "PUT", "sync", f"/sync/dossiers/{body['dossierCode']}", as_="system", json=body
    )
    if answer.status_code == 403:
        pytest.skip(
            f"the configured `system` identity may not push dossiers of agency "
            f"{body['agencyCode']} (403); configure a one-stop system client that "
            "serves it"
        )
    return answer


def held(portal: Portal, requirement: str, code: str) -> dict[str, Any]:
    """``getSyncedDossier``: what the NPSP holds now."""
    answer = portal.call("GET", "sync", f"/sync/dossiers/{code}", as_="system")
    body: dict[str, Any] = expect_conforms(requirement, "getSyncedDossier", answer)
    expect_status(requirement, answer, 200, why="the NPSP holds the dossier pushed")
    return body


def result_of(code: str, agency: str, **changes: Any) -> dict[str, Any]:
    """A ``resultSync`` of the dossier's first result."""
    body = {
        "resultCode": f"{code}-KQ1",
        "dossierCode": code,
        "agencyCode": agency,
        "status": "valid",
        "issuedAt": stamp(datetime.now(VN_TZ) - timedelta(minutes=30)),
    }
    body.update(changes)
    return body


def unchanged(definition: str, first: dict[str, Any], second: dict[str, Any]) -> bool:
    """The same stored state (the NPSP's receivedAt of the first push included)."""
    ref = f"sync.json#/$defs/{definition}"
    return contract_fields(ref, first) == contract_fields(ref, second)


@pytest.mark.requirement("EVT-05")
def test_sync_dossier_is_accepted_and_shows_the_latest_status(
    portal: Portal, target: TargetConfig
) -> None:
    """The NPSP accepts a pushed dossier, its result and payment, and shows the latest status."""
    require_identity(target, "system", "one-stop systems push to the NPSP as state systems")
    code = fresh_code(portal.agency)
    procedure = target.procedures.primary
    start = datetime.now(VN_TZ).replace(microsecond=0) - timedelta(hours=6)
    first = snapshot(portal.agency, procedure, code, ["submitted", "received"], start)
    answer = push_dossier(portal, first)
    expect_conforms("EVT-05", "syncDossier", answer)
    expect_status("EVT-05", answer, 201, 200, why="the NPSP stores a pushed dossier")
    now = held(portal, "EVT-05", code)
    expect(
        "EVT-05",
        (now.get("status"), now.get("history")) == ("received", first["history"]),
        "the snapshot as pushed: status received and its history",
        f"status {now.get('status')!r}, history {now.get('history')!r}"[:400],
    )
    moves = ["submitted", "received", "in-process", "processed"]
    later = snapshot(portal.agency, procedure, code, moves, start)
    answer = push_dossier(portal, later)
    expect_status("EVT-05", answer, 200, why="a newer snapshot of a dossier the NPSP holds")
    now = held(portal, "EVT-05", code)
    expect(
        "EVT-05",
        (now.get("status"), now.get("statusCode"), now.get("updatedAt"))
        == ("processed", 9, later["updatedAt"]),
        f"the latest status: processed, as of {later['updatedAt']}",
        f"status {now.get('status')!r}, updatedAt {now.get('updatedAt')!r}",
    )
    result = result_of(code, portal.agency)
    pushed = portal.call(
        "PUT", "sync", f"/sync/results/{result['resultCode']}", as_="system", json=result
    )
    stored = expect_conforms("EVT-05", "syncResult", pushed)
    expect_status("EVT-05", pushed, 201, 200, why="the NPSP stores the dossier's result")
    expect(
        "EVT-05",
        (stored.get("resultCode"), stored.get("status")) == (result["resultCode"], "valid"),
        f"the result {result['resultCode']} held as valid",
        repr(stored)[:300],
        pushed,
    )
    payment = {
        "reference": f"KIT-{code[-11:].replace('-', '')}",
        "dossierCode": code,
        "amount": 8000,
        "currency": "VND",
        "status": "succeeded",
        "paidAt": stamp(datetime.now(VN_TZ) - timedelta(hours=1)),
        "transactionId": f"KIT{code.replace('.', '').replace('-', '')}",
    }
    paid = portal.call("POST", "sync", "/sync/payments", as_="system", json=payment)
    expect_conforms("EVT-05", "syncPayment", paid)
    expect_status("EVT-05", paid, 201, 200, why="the NPSP stores the dossier's payment")


@pytest.mark.requirement("EVT-06")
def test_sync_repeated_leaves_the_npsp_as_one_push_did(
    portal: Portal, target: TargetConfig
) -> None:
    """Pushing the same dossier or result twice leaves the NPSP as pushing it once."""
    require_identity(target, "system", "one-stop systems push to the NPSP as state systems")
    code = fresh_code(portal.agency)
    start = datetime.now(VN_TZ).replace(microsecond=0) - timedelta(hours=6)
    body = snapshot(
        portal.agency, target.procedures.primary, code, ["submitted", "received"], start
    )
    expect_status("EVT-06", push_dossier(portal, body), 201, 200, why="the first push")
    once = held(portal, "EVT-06", code)
    again = push_dossier(portal, body)
    expect_status("EVT-06", again, 200, why="the same snapshot again is harmless")
    expect(
        "EVT-06",
        unchanged("syncedDossier", once, held(portal, "EVT-06", code)),
        f"the NPSP holds what it held after one push: {once}"[:400],
        "the stored dossier changed",
    )
    result = result_of(
        code,
        portal.agency,
        status="cancelled",
        cancelledAt=stamp(datetime.now(VN_TZ)),
        cancellationReason=REASON,
    )
    path = f"/sync/results/{result['resultCode']}"
    first = portal.call("PUT", "sync", path, as_="system", json=result)
    stored = expect_status("EVT-06", first, 201, 200, why="the first push of the result")
    second = portal.call("PUT", "sync", path, as_="system", json=result)
    repeated = expect_status("EVT-06", second, 200, why="the same result again is harmless")
    expect(
        "EVT-06",
        unchanged("syncedResult", stored, repeated),
        f"the result held as after one push: {stored}",
        repr(repeated)[:400],
        second,
    )


@pytest.mark.requirement("EVT-04")
def test_sync_push_reaches_the_npsp_for_each_move_payment_and_result(
    portal: Portal, target: TargetConfig, simulators: Simulators
) -> None:
    """The target pushes the dossier when received, each later move, its payment and its result."""
    if not simulators.fixed_address:
        pytest.skip(
            "the target pushes to an NPSP the kit cannot see: fix simulators.port (or "
            "publicBaseUrl) in the configuration and set the target's NPSP sync URL to "
            "the kit's simulator (its paths start with /sync)"
        )
    npsp = simulators.npsp
    secret = target.secrets.get("paymentNotification")
    with_payment = target.claims("payment") and bool(secret)
    if with_payment:
        dossier, payment = pending_payment(portal)
        applied = notify(portal, notification(payment, str(secret)))
        expect_status("EVT-04", applied, 200, why="the platform's notification is applied")
    else:
        dossier = portal.in_process()
    code = dossier["code"]
    portal.step(
        "EVT-04",
        dossier["id"],
        "resolution",
        {"title": "Giấy khai sinh", "summary": "Kết quả (kiểm thử)."},
    )
    result_code = (portal.get(dossier["id"]).get("resultCodes") or [f"{code}-KQ1"])[0]
    cancel = portal.call(
        "POST",
        "results",
        f"/results/{result_code}/cancellation",
        as_="officer",
        json={"reason": REASON},
    )
    expect_status("EVT-04", cancel, 200, why="the issuing agency cancels the result")

    def arrived(what: str, predicate: Any) -> SyncPush:
        push = npsp.wait_for(predicate, timeout=EVENT_WAIT_SECONDS)
        if push is None:
            seen = [(p.kind, p.key, (p.body or {}).get("status")) for p in npsp.pushes()][-10:]
            raise fail(
                "EVT-04",
                f"{what} pushed to the NPSP within {EVENT_WAIT_SECONDS:.0f} s",
                f"no such push; last pushes seen: {seen}",
            )
        expect(
            "EVT-04",
            not push.errors and push.authorized,
            f"{what}: a push the contract accepts, with a bearer token",
            f"{push.errors or 'no bearer token'}",
        )
        return push

    def dossier_at(status: str) -> Any:
        return lambda p: (
            p.kind == "dossier"
            and p.key == code
            and any(entry.get("toStatus") == status for entry in (p.body or {}).get("history", []))
        )

    arrived(f"dossier {code} when received", dossier_at("received"))
    arrived(f"dossier {code} in process", dossier_at("in-process"))
    arrived(f"dossier {code} processed", dossier_at("processed"))
    if with_payment:
        arrived(
            f"the payment {payment['reference']}",
            lambda p: (
                p.kind == "payment" and (p.body or {}).get("reference") == payment["reference"]
            ),
        )
    arrived(f"the result {result_code}", lambda p: p.kind == "result" and p.key == result_code)
    arrived(
        f"the cancellation of {result_code}",
        lambda p: (
            p.kind == "result"
            and p.key == result_code
            and (p.body or {}).get("status") == "cancelled"
        ),
    )
