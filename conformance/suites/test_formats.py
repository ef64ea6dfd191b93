"""Formats of what the target answers (QCVN 102:2016 agency codes; RFC 3339 times with the
+07:00 offset; cursor pagination; every response valid against the schema its operation declares).
"""

from __future__ import annotations

import random
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from conformance.checks import describe, expect, expect_conforms, expect_status, fail
from conformance.client import TargetClient
from conformance.config import TargetConfig
from conformance.invariants import Invariants
from conformance.outcomes import CheckFailed
from conformance.pytest_plugin import ConformanceRun
from conformance.suites.test_isolation import Holdings, example_body, holdings_of, walk
from egov_contract.formats import explain_agency_code

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
"""What any writer of a time starts with; such a string must be a Vietnam RFC 3339 time."""
VIETNAM_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?\+07:00$")
"""common/codes.json#/$defs/dateTime."""
DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EVENTS_DEADLINE_SECONDS = 10.0


@pytest.fixture
def holdings(conformance: ConformanceRun, invariants: Invariants) -> Holdings:
    """applicantA's objects, made once per run."""
    return holdings_of(conformance).observed_by(invariants)


def _get(
    client: TargetClient,
    interface: str,
    path: str,
    as_: str | None,
    requirement: str,
    why: str,
    **params: Any,
) -> tuple[httpx.Response, Any]:
    answer = client.call("GET", interface, path, as_=as_, params=params or None)
    return answer, expect_status(requirement, answer, 200, why=why)


def _available(make: Callable[[], Any]) -> Any:
    """``make()``, or ``None`` when the object cannot be made on this target."""
    try:
        return make()
    except (CheckFailed, pytest.skip.Exception):
        return None


# ---- FMT-03: agency codes --------------------------------------------------------------------


@pytest.mark.requirement("FMT-03")
def test_agency_codes_follow_qcvn_102(
    client: TargetClient, target: TargetConfig, holdings: Holdings
) -> None:
    """Every agency code the target shows is dot-separated groups of digits and capitals, ≤ 35."""
    found: list[tuple[str, Any, httpx.Response]] = []
    agencies = walk("FMT-03", client, "catalogue", "/agencies", None)
    for answer in agencies.answers:
        for agency in (answer.json() or {}).get("items", []):
            found.append(("listAgencies", agency.get("code"), answer))
    one, agency = _get(
        client,
        "catalogue",
        f"/agencies/{target.procedures.agency_code}",
        None,
        "FMT-03",
        "the configured agency",
    )
    found.append(("getAgency", agency.get("code"), one))
    entry, procedure = _get(
        client,
        "catalogue",
        f"/procedures/{target.procedures.primary}",
        None,
        "FMT-03",
        "the primary procedure",
    )
    found += [
        ("getProcedure agencyCodes", code, entry) for code in procedure.get("agencyCodes", [])
    ]
    submitted = _available(holdings.submitted)
    if submitted is not None:
        read, dossier = _get(
            client,
            "dossiers",
            f"/dossiers/{submitted['id']}",
            "applicantA",
            "FMT-03",
            "applicantA's dossier",
        )
        found.append(("getDossier agencyCode", dossier.get("agencyCode"), read))
    wrong = [(where, code, a) for where, code, a in found if explain_agency_code(code)]
    expect("FMT-03", bool(found), "agency codes to check", "none were shown")
    if wrong:
        raise fail(
            "FMT-03",
            "agency codes per QCVN 102:2016 (groups of 0-9 A-Z joined by dots, "
            "at most 35 characters)",
            "; ".join(f"{where}: {explain_agency_code(code)}" for where, code, _ in wrong),
            *(a for _, _, a in wrong[:8]),
        )


# ---- FMT-05: times ---------------------------------------------------------------------------


def _times(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string of a JSON document that is written as a time or a date, with its pointer."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _times(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _times(value, f"{where}/{index}")
    elif isinstance(node, str) and DATE_PREFIX.match(node):
        yield where, node


def _bad_time(value: str) -> bool:
    if TIME.match(value):
        return not VIETNAM_TIME.match(value)
    return not DATE.match(value)


@pytest.mark.requirement("FMT-05")
def test_every_time_in_a_response_carries_the_vietnam_offset(
    client: TargetClient, target: TargetConfig, holdings: Holdings
) -> None:
    """Every time in the target's answers is RFC 3339 with +07:00 and every date YYYY-MM-DD."""
    answers: list[tuple[str, httpx.Response]] = []

    def read(what: str, interface: str, path: str, as_: str) -> None:
        answers.append((what, client.call("GET", interface, path, as_=as_)))

    submitted = holdings.submitted()
    read("getDossier", "dossiers", f"/dossiers/{submitted['id']}", "applicantA")
    read("getDossierHistory", "dossiers", f"/dossiers/{submitted['id']}/history", "applicantA")
    read("listDossiers", "dossiers", "/dossiers", "applicantA")
    resolved = _available(holdings.resolved)
    if resolved is not None:
        read("getDossier (resolved)", "dossiers", f"/dossiers/{resolved['id']}", "applicantA")
        for code in resolved.get("resultCodes") or []:
            read("getResult", "results", f"/results/{code}", "applicantA")
    if target.claims("payment") and (held := _available(holdings.payment)) is not None:
        read("getPayment", "payments", f"/payments/{held['payment']['id']}", "applicantA")
        read("listDossierFees", "payments", f"/dossiers/{held['dossier']['id']}/fees", "applicantA")
        transaction = held["payment"].get("transactionId")
        if transaction and "system" in target.identities and "paymentPlatform" in target.base_urls:
            read(
                "getPlatformPayment",
                "paymentPlatform",
                f"/platform/payment-requests/{transaction}",
                "system",
            )
    if target.claims("events") and "system" in target.identities:
        read("listEvents", "events", "/events", "system")
    if target.claims("repository") and (item := _available(holdings.item)) is not None:
        read("getRepositoryItem", "repository", f"/repository/items/{item['id']}", "applicantA")
    if target.claims("online-requests") and (request := _available(holdings.request)):
        read("getRequest", "requests", f"/requests/{request['id']}", "applicantA")
    read("getMyAccount", "identity", "/accounts/me", "applicantA")
    wrong = []
    seen = 0
    for what, answer in answers:
        if answer.status_code >= 300 or not answer.content:
            continue
        for where, value in _times(answer.json()):
            seen += 1
            if _bad_time(value):
                wrong.append((f"{what} {where}: {value!r}", answer))
    expect(
        "FMT-05",
        seen > 0,
        "times in the answers to check",
        "no time was found",
        *(a for _, a in answers),
    )
    if wrong:
        raise fail(
            "FMT-05",
            "every time RFC 3339 with the +07:00 offset "
            "(2025-03-17T08:15:00+07:00), every date YYYY-MM-DD",
            "; ".join(w for w, _ in wrong)[:900],
            *(a for _, a in wrong[:8]),
        )


# ---- FMT-06: cursor pagination ---------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """A list operation and how the kit calls it."""

    operation: str
    interface: str
    path: str
    identity: str | None
    key: str = "id"
    capability: str | None = None
    prepare: Callable[[Holdings], Any] | None = None


LISTINGS = (
    Listing("listProcedures", "catalogue", "/procedures", None, key="code"),
    Listing("listAgencies", "catalogue", "/agencies", None, key="code"),
    Listing(
        "listDossiers",
        "dossiers",
        "/dossiers",
        "applicantA",
        prepare=lambda h: [h.draft(), h.submitted()],
    ),
    Listing(
        "listResults",
        "results",
        "/results",
        "applicantA",
        key="code",
        prepare=lambda h: h.resolved(),
    ),
    Listing(
        "listRepositoryItems",
        "repository",
        "/repository/items",
        "applicantA",
        capability="repository",
        prepare=lambda h: h.item(),
    ),
    Listing(
        "listRequests",
        "requests",
        "/requests",
        "applicantA",
        capability="online-requests",
        prepare=lambda h: h.request(),
    ),
    Listing(
        "listPayments",
        "payments",
        "/payments",
        "officer",
        capability="payment",
        prepare=lambda h: h.payment(),
    ),
    Listing(
        "listPlatformTransactions",
        "paymentPlatform",
        "/platform/reconciliation",
        "system",
        key="transactionId",
        capability="payment",
        prepare=lambda h: h.payment(),
    ),
)


@pytest.mark.requirement("FMT-06")
@pytest.mark.parametrize("listing", [pytest.param(x, id=x.operation) for x in LISTINGS])
def test_list_pages_by_cursor_and_walks_every_item_once(
    listing: Listing, client: TargetClient, target: TargetConfig, holdings: Holdings
) -> None:
    """A list honours limit; following nextCursor to null yields every item exactly once."""
    if listing.capability and not target.claims(listing.capability):
        pytest.skip(f"capability '{listing.capability}' not claimed by the target")
    if listing.identity and listing.identity not in target.identities:
        pytest.skip(f"the target configuration has no identity {listing.identity!r}")
    if listing.prepare is not None:
        _available(lambda: listing.prepare(holdings))  # type: ignore[misc]
    first = client.call(
        "GET", listing.interface, listing.path, as_=listing.identity, params={"limit": 100}
    )
    if first.status_code == 403 and listing.identity == "system":
        pytest.skip(f"the configured system client may not call {listing.operation} (403)")
    everything = walk("FMT-06", client, listing.interface, listing.path, listing.identity)
    if not everything.complete:
        pytest.skip(f"{listing.operation} holds more than the kit walks in one go")
    ids = [str(item.get(listing.key)) for item in everything.items]
    limit = 2 if len(ids) >= 3 else 1
    paged = walk(
        "FMT-06",
        client,
        listing.interface,
        listing.path,
        listing.identity,
        limit=limit,
        pages=len(ids) + 3,
    )
    oversized = [a for a in paged.answers if len((a.json() or {}).get("items", [])) > limit]
    expect(
        "FMT-06",
        not oversized,
        f"pages of at most limit={limit} items",
        f"a page of {len((oversized[0].json() if oversized else {}).get('items', []))}",
        *oversized[:2],
    )
    walked = Counter(str(item.get(listing.key)) for item in paged.items)
    repeated = sorted(key for key, count in walked.items() if count > 1)
    missing = sorted(set(ids) - set(walked))
    expect(
        "FMT-06",
        paged.complete and not repeated and not missing,
        f"following nextCursor from limit={limit} to null to yield all {len(ids)} items once",
        f"{'reached null' if paged.complete else 'never reached null'}, "
        f"{len(walked)} items walked, repeated {repeated}, missing {missing}",
        *paged.answers[-3:],
    )
    bogus = client.call(
        "GET",
        listing.interface,
        listing.path,
        as_=listing.identity,
        params={"cursor": f"kit{secrets.token_urlsafe(18)}", "limit": limit},
    )
    expect(
        "FMT-06",
        bogus.status_code == 404,
        "HTTP 404 for a cursor the server did not issue (conventions: it names no page)",
        describe(bogus),
        bogus,
    )


@pytest.mark.requirement("FMT-06")
@pytest.mark.capability("events")
def test_event_feed_honours_limit_and_continues_after_its_cursor(
    client: TargetClient, target: TargetConfig, holdings: Holdings
) -> None:
    """The event feed pages by limit; its nextCursor as ``after`` continues without repeats."""
    if "system" not in target.identities:
        pytest.skip("the target configuration has no identity 'system'")
    _available(holdings.submitted)  # a submission is an event of the feed
    deadline = time.monotonic() + EVENTS_DEADLINE_SECONDS
    seen: list[str] = []
    answers: list[httpx.Response] = []
    after: str | None = None
    for _ in range(4):
        params: dict[str, Any] = {"limit": 2, **({"after": after} if after else {})}
        answer = client.call("GET", "events", "/events", as_="system", params=params)
        answers.append(answer)
        page = expect_status("FMT-06", answer, 200, why="the system client pulls the feed")
        items = page.get("items", [])
        expect(
            "FMT-06",
            len(items) <= 2,
            "pages of at most limit=2 events",
            f"{len(items)} events",
            answer,
        )
        seen += [str(event.get("id")) for event in items]
        after = page.get("nextCursor")
        expect(
            "FMT-06",
            bool(after),
            "a nextCursor on every page of the feed (never null)",
            repr(after),
            answer,
        )
        if not items and time.monotonic() > deadline:
            break
    repeated = sorted(k for k, n in Counter(seen).items() if n > 1)
    expect(
        "FMT-06",
        bool(seen) and not repeated,
        "events, none repeated when the feed is followed by its cursor",
        f"{len(seen)} events, repeated {repeated}",
        *answers,
    )


# ---- FMT-07: declared schemas ----------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """A read whose answer FMT-07 judges against its operation's declared schema."""

    operation: str
    request: Callable[[TargetClient, Holdings], httpx.Response]
    capability: str | None = None
    identity: str = "applicantA"


def _synced(client: TargetClient, holdings: Holdings) -> httpx.Response:
    """getSyncedDossier: applicantA's dossier when the target synced it to itself, else a
    snapshot the kit pushes first (of a weekday long past, so that no real dossier has its code).
    """
    mine = client.call(
        "GET", "sync", f"/sync/dossiers/{holdings.submitted()['code']}", as_="system"
    )
    if mine.status_code != 404:
        return mine
    agency = holdings.target.procedures.agency_code
    rng = random.SystemRandom()
    day = date(2001, 1, 1) + timedelta(days=rng.randrange(3650))
    day -= timedelta(days=max(0, day.weekday() - 4))  # a Friday at the latest
    code = f"{agency}-{day:%y%m%d}-{rng.randrange(1, 10000):04d}"
    at = [f"{day.isoformat()}T{clock}+07:00" for clock in ("08:15:00", "09:30:12", "10:02:41")]
    snapshot = {
        **example_body("syncDossier"),
        "dossierCode": code,
        "procedureCode": holdings.target.procedures.primary,
        "agencyCode": agency,
        "submittedAt": at[0],
        "officialReceiptTime": at[0],
        "updatedAt": at[2],
        "history": [
            {"at": at[0], "fromStatus": "draft", "toStatus": "submitted"},
            {"at": at[1], "fromStatus": "submitted", "toStatus": "received"},
            {"at": at[2], "fromStatus": "received", "toStatus": "in-process"},
        ],
    }
    snapshot.pop("appointmentDate", None)
    client.call("PUT", "sync", f"/sync/dossiers/{code}", as_="system", json=snapshot)
    return client.call("GET", "sync", f"/sync/dossiers/{code}", as_="system")


def _my_account(client: TargetClient) -> httpx.Response:
    """getMyAccount of applicantA, registered first (an unregistered applicant is 404)."""
    client.call("POST", "identity", "/accounts", as_="applicantA", json={})
    return client.call("GET", "identity", "/accounts/me", as_="applicantA")


READS = (
    Read(
        "getProcedure",
        lambda c, h: c.call("GET", "catalogue", f"/procedures/{h.target.procedures.primary}"),
    ),
    Read(
        "getDossier",
        lambda c, h: c.call(
            "GET", "dossiers", f"/dossiers/{h.submitted()['id']}", as_="applicantA"
        ),
    ),
    Read("listDossiers", lambda c, h: c.call("GET", "dossiers", "/dossiers", as_="applicantA")),
    Read(
        "getResult",
        lambda c, h: c.call("GET", "results", f"/results/{h.result_code()}", as_="applicantA"),
    ),
    Read(
        "getPayment",
        lambda c, h: c.call(
            "GET", "payments", f"/payments/{h.payment()['payment']['id']}", as_="applicantA"
        ),
        capability="payment",
    ),
    Read(
        "getPlatformPayment",
        lambda c, h: c.call(
            "GET",
            "paymentPlatform",
            f"/platform/payment-requests/{h.payment()['payment']['transactionId']}",
            as_="system",
        ),
        capability="payment",
        identity="system",
    ),
    Read(
        "getRepositoryItem",
        lambda c, h: c.call(
            "GET", "repository", f"/repository/items/{h.item()['id']}", as_="applicantA"
        ),
        capability="repository",
    ),
    Read(
        "getRequest",
        lambda c, h: c.call("GET", "requests", f"/requests/{h.request()['id']}", as_="applicantA"),
        capability="online-requests",
    ),
    Read("getMyAccount", lambda c, h: _my_account(c)),
    Read("getSyncedDossier", _synced, capability="sync", identity="system"),
)


@pytest.mark.requirement("FMT-07")
@pytest.mark.parametrize("read", [pytest.param(r, id=r.operation) for r in READS])
def test_response_matches_the_schema_its_operation_declares(
    read: Read, client: TargetClient, target: TargetConfig, holdings: Holdings
) -> None:
    """The answer has a status the operation declares and a body valid against its schema."""
    if read.capability and not target.claims(read.capability):
        pytest.skip(f"capability '{read.capability}' not claimed by the target")
    if read.identity not in target.identities:
        pytest.skip(f"the target configuration has no identity {read.identity!r}")
    answer = read.request(client, holdings)
    expect_conforms("FMT-07", read.operation, answer)
    if answer.status_code >= 300:
        pytest.skip(
            f"{read.operation} answered HTTP {answer.status_code} (a declared answer, "
            "valid against its schema): the kit saw no 2xx body to check"
        )
