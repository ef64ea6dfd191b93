"""The simulators the kit plays for a target: host, webhook receiver, NPSP sync, notified portal."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from conformance.config import sandbox_target
from conformance.outcomes import HarnessError
from conformance.simulators import (
    OnDemand,
    SimulatorHost,
    Simulators,
    secure_hash,
    start,
    webhook_signature,
)

SECRET = "kit-webhook-secret-0123456789"
PLATFORM_SECRET = "sandbox-payment-secret-change-me"
EVENT = {
    "specversion": "1.0",
    "id": "evt-1",
    "source": "https://portal.example",
    "type": "vn.gov.egov.result.cancelled",
    "subject": "000.00.01.H22-250317-0042-KQ1",
    "time": "2025-04-02T09:05:00+07:00",
    "datacontenttype": "application/json",
    "data": {"resultCode": "000.00.01.H22-250317-0042-KQ1"},
}
SNAPSHOT = {
    "dossierCode": "000.00.01.H22-250317-0042",
    "procedureCode": "1.001193",
    "agencyCode": "000.00.01.H22",
    "status": "submitted",
    "statusCode": 1,
    "applicant": {"type": "individual", "name": "Nguyễn Văn An", "personalId": "001203012345"},
    "submittedAt": "2025-03-17T08:15:00+07:00",
    "officialReceiptTime": "2025-03-17T08:15:00+07:00",
    "updatedAt": "2025-03-17T08:15:00+07:00",
    "history": [
        {"at": "2025-03-17T08:15:00+07:00", "fromStatus": "draft", "toStatus": "submitted"}
    ],
}


@pytest.fixture
def sims() -> Iterator[Simulators]:
    running = start(sandbox_target("http://127.0.0.1:9"))
    try:
        yield running
    finally:
        running.stop()


def post_event(url: str, body: bytes, signature: str) -> httpx.Response:
    headers = {
        "Content-Type": "application/cloudevents+json",
        "Webhook-Id": "evt-1",
        "Webhook-Signature": signature,
    }
    return httpx.post(url, content=body, headers=headers, timeout=5)


# ---- the host --------------------------------------------------------------------------------


def test_host_listens_on_loopback_on_a_free_port_and_releases_it(sims: Simulators) -> None:
    host = sims.host
    assert host.base_url == f"http://127.0.0.1:{host.port}"
    assert not sims.fixed_address
    port = host.port
    host.stop()
    assert not host.running
    with socket.socket() as probe:  # the port is free again
        probe.bind(("127.0.0.1", port))
    host.stop()  # a second stop is harmless


def test_host_public_url_overrides_the_listening_address() -> None:
    config = replace(
        sandbox_target("http://127.0.0.1:9"), simulator_public_url="https://sim.example/"
    )
    running = start(config)
    try:
        assert running.host.base_url == "https://sim.example"
        assert running.fixed_address
        token = running.events.open(SECRET)
        assert running.events.url(token) == f"https://sim.example/events/{token}"
        assert running.npsp.base_url == "https://sim.example"
    finally:
        running.stop()


def test_host_refuses_a_port_in_use_with_a_harness_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        host = SimulatorHost("127.0.0.1", taken.getsockname()[1])
        host._mounts = []
        with pytest.raises(HarnessError, match=r"simulators\.port"):
            host.start()


def test_host_cannot_mount_once_serving(sims: Simulators) -> None:
    with pytest.raises(HarnessError, match="mount first"):
        sims.host.mount("/late", [])


def test_on_demand_starts_once_on_first_use_and_stops() -> None:
    simulators = OnDemand(sandbox_target("http://127.0.0.1:9"))
    assert not simulators.started
    first = simulators()
    try:
        assert simulators.started
        assert simulators() is first
        assert first.host.running
        discovery = f"{first.identity.issuer}/.well-known/openid-configuration"
        assert httpx.get(discovery, timeout=5).json()["issuer"] == first.identity.issuer
    finally:
        simulators.stop()
    assert not first.host.running
    assert not simulators.started
    simulators.stop()  # a second stop is harmless


# ---- the event receiver ----------------------------------------------------------------------


def test_event_receiver_keeps_a_signed_delivery_and_acknowledges_it(sims: Simulators) -> None:
    token = sims.events.open(SECRET)
    body = json.dumps(EVENT).encode()
    answer = post_event(sims.events.url(token), body, webhook_signature(SECRET, body))
    assert answer.status_code == 204
    found = sims.events.wait_for(token, lambda e: True, timeout=1)
    assert found is not None
    assert found.signature_valid
    assert (found.id, found.type, found.body) == ("evt-1", EVENT["type"], body)
    assert found.data == EVENT["data"]
    assert found.headers["webhook-id"] == "evt-1"


def test_event_receiver_refuses_a_bad_signature_but_keeps_the_delivery(sims: Simulators) -> None:
    token = sims.events.open(SECRET)
    body = json.dumps(EVENT).encode()
    forged = webhook_signature("another-secret-0123456789", body)
    assert post_event(sims.events.url(token), body, forged).status_code == 401
    assert post_event(sims.events.url(token), body, "").status_code == 401
    received = sims.events.received(token)
    assert [e.signature_valid for e in received] == [False, False]


def test_event_receiver_checks_the_signature_over_the_raw_bytes(sims: Simulators) -> None:
    token = sims.events.open(SECRET)
    body = json.dumps(EVENT).encode()
    reformatted = json.dumps(EVENT, indent=2).encode()  # same JSON, other bytes
    answer = post_event(sims.events.url(token), reformatted, webhook_signature(SECRET, body))
    assert answer.status_code == 401


def test_event_receiver_keeps_inboxes_apart_and_forgets_closed_ones(sims: Simulators) -> None:
    first, second = sims.events.open(SECRET), sims.events.open("second-secret-0123456789")
    assert first != second
    body = json.dumps(EVENT).encode()
    post_event(sims.events.url(first), body, webhook_signature(SECRET, body))
    assert sims.events.received(second) == []
    sims.events.close(first)
    answer = post_event(sims.events.url(first), body, webhook_signature(SECRET, body))
    assert answer.status_code == 404
    assert sims.events.received(first) == []


def test_event_receiver_wait_is_bounded_and_wakes_on_arrival(sims: Simulators) -> None:
    token = sims.events.open(SECRET)
    started = time.monotonic()
    assert sims.events.wait_for(token, lambda e: True, timeout=0.2) is None
    assert time.monotonic() - started < 1.0

    body = json.dumps(EVENT).encode()

    def later() -> None:
        time.sleep(0.2)
        post_event(sims.events.url(token), body, webhook_signature(SECRET, body))

    sender = threading.Thread(target=later)
    sender.start()
    found = sims.events.wait_for(
        token, lambda e: e.id == "evt-1", timeout=5, event_type=EVENT["type"]
    )
    sender.join()
    assert found is not None
    assert sims.events.wait_for(token, lambda e: True, timeout=0.1, event_type="other") is None


def test_event_receiver_keeps_a_body_that_is_not_json(sims: Simulators) -> None:
    token = sims.events.open(SECRET)
    answer = post_event(sims.events.url(token), b"not json", webhook_signature(SECRET, b"not json"))
    assert answer.status_code == 204
    (found,) = sims.events.received(token)
    assert (found.event, found.type, found.id, found.data) == (None, None, None, {})


# ---- the NPSP --------------------------------------------------------------------------------


def test_npsp_stores_a_dossier_first_then_updates_it(sims: Simulators) -> None:
    url = f"{sims.npsp.base_url}/sync/dossiers/{SNAPSHOT['dossierCode']}"
    headers = {"Authorization": "Bearer x"}
    first = httpx.put(url, json=SNAPSHOT, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["receivedAt"].endswith("+07:00")
    assert httpx.put(url, json=SNAPSHOT, headers=headers).status_code == 200
    held = httpx.get(url)
    assert held.status_code == 200
    assert held.json()["status"] == "submitted"
    (push, _) = sims.npsp.pushes("dossier")
    assert (push.key, push.errors, push.authorized, push.method) == (
        SNAPSHOT["dossierCode"],
        (),
        True,
        "PUT",
    )
    assert sims.npsp.held("dossier", SNAPSHOT["dossierCode"]) == held.json()


def test_npsp_records_an_invalid_push_with_its_errors(sims: Simulators) -> None:
    url = f"{sims.npsp.base_url}/sync/dossiers/{SNAPSHOT['dossierCode']}"
    broken = {**SNAPSHOT, "statusCode": 2}
    answer = httpx.put(url, json=broken)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    (push,) = sims.npsp.pushes()
    assert push.errors
    assert not push.authorized
    other = {**SNAPSHOT, "dossierCode": "000.00.01.H22-250317-0043"}
    assert httpx.put(url, json=other).status_code == 422
    assert httpx.put(url, content=b"{").status_code == 400
    assert sims.npsp.held("dossier", SNAPSHOT["dossierCode"]) is None
    assert httpx.get(url).status_code == 404


def test_npsp_records_results_and_payments_and_wakes_a_waiter(sims: Simulators) -> None:
    result = {
        "resultCode": f"{SNAPSHOT['dossierCode']}-KQ1",
        "dossierCode": SNAPSHOT["dossierCode"],
        "agencyCode": "000.00.01.H22",
        "status": "valid",
        "issuedAt": "2025-03-18T15:20:00+07:00",
    }
    base = sims.npsp.base_url
    assert httpx.put(f"{base}/sync/results/{result['resultCode']}", json=result).status_code == 201
    payment = {
        "reference": "PAY-250319-000042",
        "dossierCode": SNAPSHOT["dossierCode"],
        "amount": 75000,
        "currency": "VND",
        "status": "succeeded",
        "paidAt": "2025-03-19T14:07:33+07:00",
        "transactionId": "PG1",
    }
    assert httpx.post(f"{base}/sync/payments", json=payment).status_code == 201
    assert httpx.post(f"{base}/sync/payments", json=payment).status_code == 200
    found = sims.npsp.wait_for(lambda p: p.kind == "payment", timeout=1)
    assert found is not None
    assert found.key == "PG1"
    assert [p.kind for p in sims.npsp.pushes()] == ["result", "payment", "payment"]
    assert sims.npsp.wait_for(lambda p: p.kind == "other", timeout=0.1) is None


# ---- the notified portal ---------------------------------------------------------------------


def notification(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "notificationId": "ntf-1",
        "reference": "PAY-250320-000157",
        "transactionId": "PG2503200000157",
        "amount": 75000,
        "currency": "VND",
        "status": "succeeded",
        "paidAt": "2025-03-20T10:07:45+07:00",
    }
    body["secureHash"] = secure_hash(PLATFORM_SECRET, body)
    body.update(changes)
    return body


def test_secure_hash_is_the_contract_hmac() -> None:
    # The spec's example: the fields of specs/payments.yaml keyed with its sandbox secret.
    body = notification()
    assert secure_hash("sandbox-paygov-shared-secret", body) == (
        "a118aa829af83d93ec2b6c028451a134d64cbde0b0aee4b51108b5af3bfeebb4"
    )


def test_portal_receiver_applies_a_valid_notification(sims: Simulators) -> None:
    token = sims.portal.open(PLATFORM_SECRET)
    answer = httpx.post(sims.portal.url(token), json=notification())
    assert answer.status_code == 200
    assert answer.json()["status"] == "applied"
    found = sims.portal.wait_for(token, timeout=1)
    assert found is not None
    assert found.hash_valid


def test_portal_receiver_refuses_a_bad_hash_and_keeps_it(sims: Simulators) -> None:
    token = sims.portal.open(PLATFORM_SECRET)
    assert httpx.post(sims.portal.url(token), json=notification(amount=1)).status_code == 401
    assert httpx.post(sims.portal.url(token), content=b"[").status_code == 401
    assert [n.hash_valid for n in sims.portal.received(token)] == [False, False]
    assert httpx.post(sims.portal.url("unknown"), json=notification()).status_code == 404
    assert sims.portal.wait_for(token, lambda n: n.hash_valid, timeout=0.1) is None
