"""The valid variants of the reference server: each is visible, and each keeps the contract.

Mutation testing runs the conformance suites against every variant and expects them to pass,
so a variant must make a choice a client can see (its probe) while every response stays one
the contract allows: the server checks its replies against the spec (``validate_responses``),
and the tour below checks the problem answers and the statuses the server does not check.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from egov_contract import contract
from reference_impl import variants
from reference_impl.faults import VARIANTS
from reference_impl.tables import deliveries
from reference_impl.variants import VENDOR_FIELD

from .conftest import Server
from .flows import (
    SNAPSHOT_CODE,
    answered_request,
    ask_ecopy,
    build_template,
    cancel,
    deliver,
    delivered,
    events,
    issue_ecopy,
    notification,
    notify,
    pay_at_platform,
    pending_payment,
    receiving,
    repository,
    running,
    stored_item,
    subscribe,
    sync_snapshot,
    system,
)
from .support import ok
from .test_dossiers import AGENCY, APPLICANT, OTHER_APPLICANT, PROCEDURE, create, submitted

Probe = Callable[[Server], bool]
ANSWERED = "vn.gov.egov.request.answered"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("template"))


# ---- what each variant shows ---------------------------------------------------------------


def ids_are_ulids(server: Server) -> bool:
    dossier = ok(create(server), 201)
    return re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", dossier["id"]) is not None


def objects_carry_vendor_fields(server: Server) -> bool:
    procedure = ok(server.client.get(f"/procedures/{PROCEDURE}"))
    page = ok(server.client.get("/procedures", params={"limit": 2}))
    return VENDOR_FIELD in procedure and all(VENDOR_FIELD in item for item in page["items"])


def lists_newest_first(server: Server) -> bool:
    first, second = ok(create(server), 201), ok(create(server), 201)
    listed = ok(server.call("GET", "/dossiers", who=APPLICANT))["items"]
    return [item["id"] for item in listed] == [second["id"], first["id"]]


def cursors_are_sealed(server: Server) -> bool:
    ok(create(server), 201)
    ok(create(server), 201)
    page = ok(server.call("GET", "/dossiers", who=APPLICANT, params={"limit": 1}))
    readable = "eyJhZnRlciI6MX0"  # the default server's cursor after position 1
    foreign = server.call("GET", "/dossiers", who=APPLICANT, params={"cursor": readable})
    return page["nextCursor"].startswith("oc_") and foreign.status_code == 404


def answers_take_time(server: Server) -> bool:
    started = time.monotonic()
    ok(server.client.get("/agencies"))
    return time.monotonic() - started >= 0.05


def others_objects_forbidden(server: Server) -> bool:
    dossier = submitted(server)
    answer = server.call("GET", f"/dossiers/{dossier['id']}", who=OTHER_APPLICANT)
    missing = server.call("GET", "/dossiers/no-such-dossier", who=OTHER_APPLICANT)
    return answer.status_code == 403 and missing.status_code == 404


def deliveries_wait_and_repeat(server: Server) -> bool:
    with receiving() as receiver:
        subscribe(server, receiver.url, [ANSWERED])
        answered_request(server)
        at_once = deliver(server)
        with server.services.database.transaction() as conn:  # as if the second had passed
            conn.execute(update(deliveries).values(next_attempt_at=0))
        deliver(server)
        received = [json.loads(body)["id"] for _, body in receiver.received]
    _, payment = pending_payment(server)
    pay_at_platform(server, payment["transactionId"])
    shown = ok(server.call("GET", f"/payments/{payment['id']}", who=APPLICANT))
    return (
        at_once == 0
        and len(received) == 2 == 2 * len(set(received))
        and (shown["status"] == "pending")
    )


def sequences_skip(server: Server) -> bool:
    codes = [submitted(server)["code"][-4:] for _ in range(2)]
    return codes == ["0001", "0003"]


def vendor_headers(server: Server) -> bool:
    answer = server.client.get("/agencies")
    missing = server.call("GET", "/dossiers/no-such-dossier", who=APPLICANT)
    return all(
        "x-request-id" in r.headers and "server-timing" in r.headers for r in (answer, missing)
    )


def problems_extended(server: Server) -> bool:
    problem = server.call("GET", "/dossiers/no-such-dossier", who=APPLICANT).json()
    trace = problem.get("traceId", "")
    return problem.get("instance") == "/dossiers/no-such-dossier" and len(trace) == 32


PROBES: dict[str, Probe] = {
    "ulid-ids": ids_are_ulids,
    "extra-fields": objects_carry_vendor_fields,
    "reverse-order": lists_newest_first,
    "opaque-cursors": cursors_are_sealed,
    "slow": answers_take_time,
    "forbidden-for-others": others_objects_forbidden,
    "async-delivery": deliveries_wait_and_repeat,
    "sequence-gaps": sequences_skip,
    "extra-headers": vendor_headers,
    "problem-extensions": problems_extended,
}


# ---- a tour of the contract ----------------------------------------------------------------


def _every_page(server: Server, path: str, who: str) -> list[str]:
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        page = ok(server.call("GET", path, who=who, params=params))
        ids += [item["id"] for item in page["items"]]
        if page["nextCursor"] is None:
            return ids
        params["cursor"] = page["nextCursor"]


def tour(server: Server) -> None:
    """Most interfaces, end to end; every step asserts its status."""
    dossier, code = delivered(server)
    assert sorted(_every_page(server, "/dossiers", APPLICANT)) == [dossier["id"]]
    second = submitted(server)
    assert sorted(_every_page(server, "/dossiers", APPLICANT)) == sorted(
        [dossier["id"], second["id"]]
    )
    ok(server.call("GET", f"/dossiers/{dossier['id']}/history", who=APPLICANT))
    result = ok(server.call("GET", f"/results/{code}", who=APPLICANT))
    ok(server.client.get(f"/verification/{result['verificationCode']}"))
    ok(cancel(server, code))
    assert repository(server, "result")[0]["status"] == "cancelled"
    stored_item(server)
    _, payment = pending_payment(server)
    ok(notify(server, notification(server, payment)))
    ecopy = issue_ecopy(server, ask_ecopy(server)["id"])
    ok(server.call("GET", f"/ecopies/{ecopy['id']}", who=APPLICANT))
    answered_request(server)
    assert events(server, "dossier.status-changed")
    subscription = subscribe(server, "https://lienthong.example/egov/events", [ANSWERED])
    ok(server.client.get(f"/subscriptions/{subscription['id']}", headers=system(server)))
    ok(
        server.client.put(
            f"/sync/dossiers/{SNAPSHOT_CODE}", json=sync_snapshot(), headers=system(server)
        ),
        201,
    )
    for path in (
        "/procedures",
        f"/procedures/{PROCEDURE}",
        f"/agencies/{AGENCY}",
        "/calendar/2025",
    ):
        ok(server.client.get(path))
    ok(server.client.get("/.well-known/openid-configuration"))
    ok(server.call("GET", "/accounts/me", who=APPLICANT))
    assert server.call("GET", "/dossiers/no-such-dossier", who=APPLICANT).status_code == 404
    assert server.call("POST", "/dossiers", who=APPLICANT, json={}).status_code == 400
    assert server.call("PUT", "/dossiers", who=APPLICANT, json={}).status_code == 405
    assert server.call("GET", f"/dossiers/{dossier['id']}", who=OTHER_APPLICANT).status_code in (
        403,
        404,
    )


def _checked_tour(server: Server) -> None:
    """The tour, with every problem answer checked against common/problem.json."""
    problem_schema = contract().schema_validator("common/problem.json")
    answers: list[httpx.Response] = []
    server.client.event_hooks["response"].append(answers.append)
    tour(server)
    for answer in answers:
        answer.read()
        assert answer.status_code < 500, answer.text
        if answer.headers.get("content-type", "").startswith("application/problem+json"):
            body = answer.json()
            errors = [e.message for e in problem_schema.iter_errors(body)]
            assert not errors, (answer.request.url, errors)
            assert body["status"] == answer.status_code


# ---- tests ---------------------------------------------------------------------------------


def test_every_variant_has_a_probe() -> None:
    assert sorted(PROBES) == sorted(VARIANTS)
    assert len(VARIANTS) >= 6


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_is_visible(name: str, tmp_path: Path, template: Path) -> None:
    """The probe fails on the default server and passes on the variant."""
    probe = PROBES[name]
    with running(tmp_path / "default", template) as default:
        assert not probe(default), f"the default server already shows {name}"
    with running(tmp_path / "variant", template, variants=frozenset({name})) as server:
        assert probe(server), f"{name} shows nothing its probe sees"


@pytest.fixture
def brisk(monkeypatch: pytest.MonkeyPatch) -> None:
    """``slow`` without the wait: its latency is its probe's business, not the tour's."""
    monkeypatch.setattr(variants, "LATENCY_SECONDS", (0.0, 0.0))


@pytest.mark.usefixtures("brisk")
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_keeps_the_contract(name: str, tmp_path: Path, template: Path) -> None:
    """The tour passes with every reply checked against the spec by the server itself."""
    with running(tmp_path / name, template, variants=frozenset({name})) as server:
        _checked_tour(server)


@pytest.mark.usefixtures("brisk")
def test_all_variants_at_once_keep_the_contract(tmp_path: Path, template: Path) -> None:
    with running(tmp_path / "all", template, variants=frozenset(VARIANTS)) as server:
        _checked_tour(server)


@pytest.mark.parametrize(
    "operation_id",
    [
        "getDossier", "updateDossier", "acceptDossier", "getResult", "cancelResult",
        "getRequest", "getRepositoryItem", "getECopy", "getPayment", "getSubscription",
    ],
)  # fmt: skip
def test_forbidden_for_others_answers_only_declared_statuses(operation_id: str) -> None:
    """Every operation the variant may answer 403 declares a 403 response."""
    found = [op for _, _, _, op in contract().operations() if op["operationId"] == operation_id]
    assert len(found) == 1
    assert "403" in found[0]["responses"]
