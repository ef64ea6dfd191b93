"""Events for other state systems: CloudEvents, signed webhooks, the feed (Decision 31/2021/QD-TTg
Art. 30(3); specs/events.yaml)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from conformance.checks import expect, expect_refused, expect_status, fail
from conformance.client import TargetClient
from conformance.config import TargetConfig
from conformance.scenario import Portal
from conformance.simulators import ReceivedEvent, Simulators
from egov_contract import contract

from ._s3_support import (
    REASON,
    expect_delivered,
    notification,
    notify,
    pending_payment,
    resolved_result,
    subscribe,
    subscribed,
)

STATUS = "vn.gov.egov.dossier.status-changed"
PAID = "vn.gov.egov.payment.completed"
ISSUED = "vn.gov.egov.result.issued"
CANCELLED = "vn.gov.egov.result.cancelled"
SCHEMAS = {
    STATUS: "dossierStatusChanged",
    PAID: "paymentCompleted",
    ISSUED: "resultIssued",
    CANCELLED: "resultCancelled",
}
_QUIET_SECONDS = 1.0
"""How long after a control subscription got an event the kit waits for a stray delivery."""


def schema_errors(event: Any, event_type: str) -> list[str]:
    """What the contract finds wrong with a CloudEvent of ``event_type``."""
    validator = contract().schema_validator(f"event.json#/$defs/{SCHEMAS[event_type]}")
    return [
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(event)
    ]


def status_change(code: str, to_status: str) -> Any:
    """A predicate: the status-changed event of dossier ``code`` to ``to_status``."""
    return lambda e: e.data.get("dossierCode") == code and e.data.get("toStatus") == to_status


def feed_events(
    client: TargetClient, requirement: str, event_type: str, subject: str, max_pages: int = 50
) -> list[dict[str, Any]]:
    """The events of ``event_type`` about ``subject`` in the pull feed (oldest first).

    The feed starts at the oldest event kept and cannot be entered at "now", so it is walked
    from the start; a feed too long to walk is a skip, not a verdict.
    """
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"type": event_type, "limit": 100}
    for _ in range(max_pages):
        answer = client.call("GET", "events", "/events", as_="system", params=params)
        page = expect_status(requirement, answer, 200, why="a state system reads the event feed")
        items = page.get("items") or []
        found.extend(e for e in items if isinstance(e, dict) and e.get("subject") == subject)
        if not items or not page.get("nextCursor"):
            return found
        params = {**params, "after": page["nextCursor"]}
    pytest.skip(
        f"the event feed holds more than {max_pages * 100} {event_type} events before this "
        "test's: the kit does not walk that far to compare webhook and feed ids"
    )


@pytest.mark.requirement("EVT-01")
def test_list_events_and_webhooks_carry_cloudevents_with_stable_ids(
    portal: Portal, client: TargetClient, target: TargetConfig, simulators: Simulators
) -> None:
    """Each event is a CloudEvents 1.0 envelope with its own id, the same in webhook and feed."""
    with subscribed("EVT-01", client, target, simulators, [STATUS]) as inbox:
        dossier = portal.received()
        code = dossier["code"]
        portal.step("EVT-01", dossier["id"], "processing", {})
        for to_status in ("received", "in-process"):
            expect_delivered(
                "EVT-01",
                inbox.wait(STATUS, status_change(code, to_status)),
                f"the {STATUS} event of {code} to {to_status}",
                inbox,
            )
        ours = [e for e in inbox.received() if e.data.get("dossierCode") == code]
    by_id: dict[tuple[str, str], list[ReceivedEvent]] = {}
    for delivery in ours:
        errors = schema_errors(delivery.event, STATUS)
        expect(
            "EVT-01",
            not errors,
            "a CloudEvents 1.0 envelope valid against event.json#/$defs/dossierStatusChanged",
            "; ".join(errors[:3]),
        )
        expect(
            "EVT-01",
            delivery.headers.get("webhook-id") == delivery.id,
            "Webhook-Id is the event's id",
            f"Webhook-Id {delivery.headers.get('webhook-id')!r}, id {delivery.id!r}",
        )
        by_id.setdefault((str(delivery.event.get("source")), str(delivery.id)), []).append(delivery)
    for (source, event_id), deliveries in by_id.items():
        bodies = {json.dumps(d.event, sort_keys=True) for d in deliveries}
        expect(
            "EVT-01",
            len(bodies) == 1,
            f"one event per (source, id); {source} {event_id} is "
            "only ever delivered with the same content",
            f"{len(bodies)} different events share the id {event_id}",
        )
    moves = {d.data.get("toStatus"): d.id for d in ours}
    expect(
        "EVT-01",
        len(set(moves.values())) == len(moves),
        "a different id for each status change",
        f"ids by new status: {moves}",
    )
    feed = feed_events(client, "EVT-01", STATUS, code)
    feed_ids = {e.get("data", {}).get("toStatus"): e.get("id") for e in feed}
    for to_status in ("received", "in-process"):
        expect(
            "EVT-01",
            feed_ids.get(to_status) == moves.get(to_status),
            f"the feed carries the event to {to_status} with the id delivered "
            f"({moves.get(to_status)})",
            f"feed id {feed_ids.get(to_status)!r}",
        )


@pytest.mark.requirement("EVT-02")
def test_create_subscription_receives_every_cross_system_change(
    portal: Portal, client: TargetClient, target: TargetConfig, simulators: Simulators
) -> None:
    """A status change, a payment, a result issued and a result cancelled each make their event."""
    types = [STATUS, ISSUED, CANCELLED] + ([PAID] if target.claims("payment") else [])
    secret = target.secrets.get("paymentNotification")
    with subscribed("EVT-02", client, target, simulators, types) as inbox:
        expected: list[tuple[str, Any, str]] = []
        if target.claims("payment") and secret:
            dossier, payment = pending_payment(portal)
            answer = notify(portal, notification(payment, secret))
            expect_status("EVT-02", answer, 200, why="the platform's notification is applied")
            reference = payment["reference"]
            expected.append(
                (PAID, lambda e: e.data.get("reference") == reference, f"the payment {reference}")
            )
            portal.step(
                "EVT-02",
                dossier["id"],
                "resolution",
                {"title": "Giấy khai sinh", "summary": "Kết quả (kiểm thử)."},
            )
            codes = portal.get(dossier["id"]).get("resultCodes") or []
            expect("EVT-02", bool(codes), "the processed dossier lists its result", repr(codes))
            result = {"code": codes[0]}
        else:
            dossier, result = resolved_result(portal, "EVT-02")
        code, result_code = dossier["code"], result["code"]
        cancel = portal.call(
            "POST",
            "results",
            f"/results/{result_code}/cancellation",
            as_="officer",
            json={"reason": REASON},
        )
        expect_status("EVT-02", cancel, 200, why="the issuing agency cancels the result")
        expected += [
            (STATUS, status_change(code, "received"), f"dossier {code} received"),
            (STATUS, status_change(code, "processed"), f"dossier {code} processed"),
            (ISSUED, lambda e: e.data.get("resultCode") == result_code, f"result {result_code}"),
            (
                CANCELLED,
                lambda e: e.data.get("resultCode") == result_code,
                f"the cancellation of {result_code}",
            ),
        ]
        for event_type, predicate, what in expected:
            found = expect_delivered(
                "EVT-02",
                inbox.wait(event_type, predicate),
                f"the {event_type} event of {what}",
                inbox,
            )
            errors = schema_errors(found.event, event_type)
            expect(
                "EVT-02",
                not errors,
                f"a {event_type} event valid against the contract",
                "; ".join(errors[:3]),
            )


@pytest.mark.requirement("EVT-03")
def test_webhook_delivery_is_signed_with_the_subscription_secret(
    portal: Portal, client: TargetClient, target: TargetConfig, simulators: Simulators
) -> None:
    """Every webhook delivery carries Webhook-Signature, the HMAC of its body under the secret."""
    with subscribed("EVT-03", client, target, simulators, [STATUS]) as inbox:
        dossier = portal.submitted()
        portal.step("EVT-03", dossier["id"], "acceptance", {})
        found = inbox.wait(STATUS, status_change(dossier["code"], "received"))
        expect_delivered("EVT-03", found, f"the {STATUS} event of {dossier['code']}", inbox)
        media = (found.headers.get("content-type", "") if found else "").split(";")[0].strip()
        expect(
            "EVT-03",
            media == "application/cloudevents+json",
            "a structured-mode CloudEvent (application/cloudevents+json)",
            repr(media),
        )
        for delivery in inbox.received():
            expect(
                "EVT-03",
                delivery.signature_valid,
                "every delivery signed with the secret",
                f"a delivery of {delivery.type} whose Webhook-Signature does not verify",
            )


@pytest.mark.requirement("EVT-03")
def test_delete_subscription_ends_it_and_its_deliveries(
    portal: Portal, client: TargetClient, target: TargetConfig, simulators: Simulators
) -> None:
    """A deleted subscription reads as 404 and receives nothing more."""
    ended = subscribe("EVT-03", client, target, simulators, [STATUS])
    path = f"/subscriptions/{ended.subscription['id']}"
    try:
        got = client.call("GET", "events", path, as_="system")
        expect_status("EVT-03", got, 200, why="the system reads its subscription")
        gone = client.call("DELETE", "events", path, as_="system")
        expect_status("EVT-03", gone, 204, why="the system ends its subscription")
        expect_refused(
            "EVT-03",
            client.call("GET", "events", path, as_="system"),
            {404},
            why="an ended subscription no longer exists",
        )
        with subscribed("EVT-03", client, target, simulators, [STATUS]) as control:
            dossier = portal.submitted()
            portal.step("EVT-03", dossier["id"], "acceptance", {})
            arrived = control.wait(STATUS, status_change(dossier["code"], "received"))
            expect_delivered(
                "EVT-03",
                arrived,
                f"the {STATUS} event of {dossier['code']} at a live subscription",
                control,
            )
            # The live subscription got it: give a stray delivery to the ended one a moment more.
            time.sleep(_QUIET_SECONDS)
        stray = [e for e in ended.received() if e.data.get("dossierCode") == dossier["code"]]
        if stray:
            raise fail(
                "EVT-03",
                "no delivery to a deleted subscription",
                f"{len(stray)} deliveries of {dossier['code']} after the deletion",
            )
    finally:
        simulators.events.close(ended.token)
