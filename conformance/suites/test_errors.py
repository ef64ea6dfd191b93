"""Errors (RFC 9457 problem details; RFC 9110 Sec. 15; the contract's "Requests and responses").

Every error is ``application/problem+json``; a request off the contract is 400 naming each
failing field by JSON Pointer; request bodies are closed; no input is a reason for a 5xx; status
codes mean what HTTP says; a retry with the same ``Idempotency-Key`` is safe; and an error never
shows the server's insides. Uploads that lie about their type, are too big or carry a hostile
name are refused.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest

from conformance.checks import (
    body_of,
    describe,
    expect,
    expect_problem_body,
    expect_refused,
    expect_status,
    fail,
)
from conformance.client import EXCHANGE_KEY, TargetClient
from conformance.config import TargetConfig
from conformance.invariants import Invariants
from conformance.outcomes import CheckFailed, Exchange
from conformance.pytest_plugin import ConformanceRun
from conformance.scenario import Portal, document_bytes, upload
from conformance.suites.test_isolation import Holdings, example_body, holdings_of, walk
from egov_contract import fixtures_dir

UNKNOWN_FIELD = "kitUnexpectedField"
LEAK_MARKERS = (
    "Traceback (most recent call last)",
    'File "',
    '.py", line',
    "sqlalchemy",
    "SQLAlchemy",
    "psycopg",
    "sqlite3",
    "Exception",
    "at java.",
    "at org.",
    "/site-packages/",
    "node_modules",
    "stack trace",
)
"""What a stack trace, a driver's error or a framework's debug page gives away."""
TEN_MB = 10 * 1000 * 1000
"""The contract's limit per file after decoding ("Decisions written down": 10 MB)."""


@pytest.fixture
def holdings(conformance: ConformanceRun, invariants: Invariants) -> Holdings:
    """applicantA's objects, made once per run."""
    return holdings_of(conformance).observed_by(invariants)


def _pointers(problem: dict[str, Any]) -> list[str]:
    """The pointers of a problem's errors[], without a URI fragment's leading ``#``."""
    named = [e.get("pointer") for e in problem.get("errors", []) if isinstance(e, dict)]
    return [str(p).removeprefix("#") for p in named if isinstance(p, str)]


def _json(
    client: TargetClient,
    method: str,
    interface: str,
    path: str,
    raw: bytes,
    as_: str = "applicantA",
    media: str = "application/json",
) -> httpx.Response:
    """A request whose body is exactly ``raw``."""
    return client.call(
        method, interface, path, as_=as_, content=raw, headers={"Content-Type": media}
    )


def _needs(
    target: TargetConfig,
    *,
    capability: str | None = None,
    identity: str | None = None,
    interface: str | None = None,
) -> None:
    if capability and not target.claims(capability):
        pytest.skip(f"capability '{capability}' not claimed by the target")
    if identity and identity not in target.identities:
        pytest.skip(f"the target configuration has no identity {identity!r}")
    if interface and interface not in target.base_urls:
        pytest.skip(f"the target configuration has no base URL for the {interface} interface")


# ---- provoked errors (ERR-01, ERR-04, the leak check) ----------------------------------------


@dataclass
class Provoked:
    """Error answers of several operations, provoked in the ways a client errs."""

    answers: list[tuple[str, httpx.Response]] = field(default_factory=list)

    def add(self, what: str, answer: httpx.Response) -> None:
        """Keep one answer."""
        self.answers.append((what, answer))


def provoke(client: TargetClient, target: TargetConfig) -> Provoked:
    """One request per kind of client error, on the operations ERR-01 names."""
    found = Provoked()
    agency = target.procedures.agency_code
    none = f"kit-none-{secrets.token_hex(6)}"
    found.add("getDossier without a token", client.call("GET", "dossiers", f"/dossiers/{none}"))
    found.add(
        "getDossier of nothing",
        client.call("GET", "dossiers", f"/dossiers/{none}", as_="applicantA"),
    )
    found.add(
        "createDossier by an officer",
        client.call(
            "POST",
            "dossiers",
            "/dossiers",
            as_="officer",
            json={"procedureCode": target.procedures.primary, "agencyCode": agency, "form": {}},
        ),
    )
    found.add(
        "createDossier off the contract",
        client.call(
            "POST",
            "dossiers",
            "/dossiers",
            as_="applicantA",
            json={"procedureCode": 12345, "agencyCode": "khong hop le", "form": []},
        ),
    )
    found.add(
        "createDossier with unreadable JSON",
        _json(client, "POST", "dossiers", "/dossiers", b'{"procedureCode": '),
    )
    found.add(
        "createDossier of an unknown procedure",
        client.call(
            "POST",
            "dossiers",
            "/dossiers",
            as_="applicantA",
            json={"procedureCode": "9.999999", "agencyCode": agency, "form": {}},
        ),
    )
    found.add(
        "createDossier as text/plain",
        _json(client, "POST", "dossiers", "/dossiers", b"procedureCode=1", media="text/plain"),
    )
    found.add(
        "PUT on /dossiers", client.call("PUT", "dossiers", "/dossiers", as_="applicantA", json={})
    )
    found.add(
        "submitDossier of nothing",
        client.call("POST", "dossiers", f"/dossiers/{none}/submission", as_="applicantA"),
    )
    found.add(
        "getResult of nothing",
        client.call("GET", "results", f"/results/{agency}-250317-9999-KQ9", as_="applicantA"),
    )
    found.add(
        "getResult with a malformed code",
        client.call("GET", "results", "/results/not-a-result-code", as_="applicantA"),
    )
    if target.claims("payment"):
        found.add(
            "createPaymentRequest without Idempotency-Key",
            client.call(
                "POST", "payments", "/payments", as_="applicantA", json={"obligationIds": [none]}
            ),
        )
        if "system" in target.identities and "paymentPlatform" in target.base_urls:
            found.add(
                "createPlatformPayment off the contract",
                client.call(
                    "POST",
                    "paymentPlatform",
                    "/platform/payment-requests",
                    as_="system",
                    json={"reference": 5},
                    headers={"Idempotency-Key": f"kit-{none}"},
                ),
            )
    if target.claims("repository"):
        found.add(
            "getRepositoryItem of nothing",
            client.call("GET", "repository", f"/repository/items/{none}", as_="applicantA"),
        )
        found.add(
            "addRepositoryItem off the contract",
            client.call(
                "POST", "repository", "/repository/items", as_="applicantA", json={"title": ""}
            ),
        )
    if target.claims("online-requests"):
        found.add(
            "submitRequest off the contract",
            client.call(
                "POST",
                "requests",
                "/requests",
                as_="applicantA",
                json={"agencyCode": agency, "subject": "x", "content": "x", "category": "gossip"},
            ),
        )
    if target.claims("sync") and "sync" in target.base_urls:
        found.add(
            "syncDossier by an applicant",
            client.call(
                "PUT",
                "sync",
                f"/sync/dossiers/{agency}-250317-9999",
                as_="applicantA",
                json=example_body("syncDossier"),
            ),
        )
    return found


@pytest.mark.requirement("ERR-01")
def test_every_error_is_a_problem_details_document(
    client: TargetClient, target: TargetConfig
) -> None:
    """Every 4xx and 5xx answer is application/problem+json: type, title, status, detail."""
    provoked = provoke(client, target)
    wrong = []
    errors = [(what, a) for what, a in provoked.answers if a.status_code >= 400]
    for what, answer in errors:
        try:
            expect_problem_body("ERR-01", answer)
        except CheckFailed as problem:
            wrong.append((what, answer, problem.actual))
    expect(
        "ERR-01",
        len(errors) >= 5,
        "at least five of the provoked requests to be errors",
        f"{len(errors)} were",
        *(a for _, a in provoked.answers),
    )
    if wrong:
        raise fail(
            "ERR-01",
            "an RFC 9457 problem (application/problem+json: type, title, status = the HTTP "
            "status, detail) for every error",
            "; ".join(f"{what}: {actual[:160]}" for what, _, actual in wrong),
            *(answer for _, answer, _ in wrong),
        )


@pytest.mark.requirement("ERR-01")
def test_error_answers_reveal_no_internal_detail(
    client: TargetClient, target: TargetConfig
) -> None:
    """No error answer shows a stack trace, a file path, a database driver or an exception."""
    provoked = provoke(client, target)
    provoked.add(
        "addComponent of nothing with a NUL in the name",
        client.call(
            "POST",
            "dossiers",
            "/dossiers/kit-none/components",
            as_="applicantA",
            json={"componentCode": "X", "file": upload(file_name="a\u0000b.pdf")},
        ),
    )
    provoked.add(
        "listDossiers with a huge limit",
        client.call("GET", "dossiers", "/dossiers", as_="applicantA", params={"limit": "9" * 400}),
    )
    leaks = []
    for what, answer in provoked.answers:
        if answer.status_code < 400:
            continue
        shown = answer.text + " ".join(answer.headers.values())
        found = [marker for marker in LEAK_MARKERS if marker in shown]
        if found:
            leaks.append((what, answer, found))
    if leaks:
        raise fail(
            "ERR-01",
            "error answers in words a person can act on, without the server's internals",
            "; ".join(f"{what}: shows {found}" for what, _, found in leaks),
            *(answer for _, answer, _ in leaks),
        )


# ---- ERR-02: 400 naming every field ----------------------------------------------------------


@dataclass(frozen=True)
class Broken:
    """A request that breaks the contract in known fields."""

    operation: str
    send: Callable[[TargetClient, Holdings], httpx.Response]
    pointers: tuple[str, ...]
    capability: str | None = None
    identity: str | None = None
    interface: str | None = None


def _draft_path(holdings: Holdings) -> str:
    return f"/dossiers/{holdings.draft()['id']}"


BROKEN = (
    Broken(
        "createDossier",
        lambda c, h: c.call(
            "POST",
            "dossiers",
            "/dossiers",
            as_="applicantA",
            json={"procedureCode": 12345, "agencyCode": "khong hop le", "form": {}},
        ),
        ("/procedureCode", "/agencyCode"),
    ),
    Broken(
        "updateDossier",
        lambda c, h: c.call(
            "PATCH",
            "dossiers",
            _draft_path(h),
            as_="applicantA",
            json={"form": "không phải đối tượng", "agencyCode": 7},
        ),
        ("/form", "/agencyCode"),
    ),
    Broken(
        "listDossiers",
        lambda c, h: c.call(
            "GET", "dossiers", "/dossiers", as_="applicantA", params={"status": "lost", "limit": 0}
        ),
        ("/query/status", "/query/limit"),
    ),
    Broken(
        "createPaymentRequest",
        lambda c, h: c.call(
            "POST",
            "payments",
            "/payments",
            as_="applicantA",
            json={"obligationIds": "fee-1", "returnUrl": 5},
            headers={"Idempotency-Key": f"kit-{secrets.token_hex(6)}"},
        ),
        ("/obligationIds", "/returnUrl"),
        capability="payment",
    ),
    Broken(
        "createPlatformPayment",
        lambda c, h: c.call(
            "POST",
            "paymentPlatform",
            "/platform/payment-requests",
            as_="system",
            json={**example_body("createPlatformPayment"), "reference": 5, "amount": "nhiều"},
            headers={"Idempotency-Key": f"kit-{secrets.token_hex(6)}"},
        ),
        ("/reference", "/amount"),
        capability="payment",
        identity="system",
        interface="paymentPlatform",
    ),
    Broken(
        "addRepositoryItem",
        lambda c, h: c.call(
            "POST",
            "repository",
            "/repository/items",
            as_="applicantA",
            json={
                "title": 5,
                "file": {**upload(), "contentBase64": 7},
                "metadata": {"documentType": "Căn cước công dân"},
            },
        ),
        ("/title", "/file/contentBase64"),
        capability="repository",
    ),
    Broken(
        "submitRequest",
        lambda c, h: c.call(
            "POST",
            "requests",
            "/requests",
            as_="applicantA",
            json={
                "agencyCode": "khong hop le",
                "subject": "Hỏi về hồ sơ",
                "content": "Nội dung",
                "category": "gossip",
            },
        ),
        ("/agencyCode", "/category"),
        capability="online-requests",
    ),
    Broken(
        "syncDossier",
        lambda c, h: c.call(
            "PUT",
            "sync",
            f"/sync/dossiers/{h.target.procedures.agency_code}-250317-9999",
            as_="system",
            json={**example_body("syncDossier"), "statusCode": "một", "agencyCode": 7},
        ),
        ("/statusCode", "/agencyCode"),
        capability="sync",
        identity="system",
        interface="sync",
    ),
)


@pytest.mark.requirement("ERR-02")
@pytest.mark.parametrize("case", [pytest.param(b, id=b.operation) for b in BROKEN])
def test_request_off_the_contract_is_400_naming_every_field(
    case: Broken, client: TargetClient, target: TargetConfig, holdings: Holdings
) -> None:
    """A request breaking the contract in two fields is 400 naming both by JSON Pointer."""
    _needs(target, capability=case.capability, identity=case.identity, interface=case.interface)
    answer = case.send(client, holdings)
    if answer.status_code == 403 and case.identity == "system":
        pytest.skip(f"the configured system client may not call {case.operation} at all (403)")
    problem = expect_refused("ERR-02", answer, {400}, why=f"{case.operation} off the contract")
    named = _pointers(problem)
    missing = [p for p in case.pointers if p not in named]
    expect(
        "ERR-02",
        not missing,
        f"errors[] to name every failing field: {list(case.pointers)}",
        f"errors[] names {named or 'no field'}",
        answer,
    )


@pytest.mark.requirement("ERR-02")
def test_unreadable_json_is_400(client: TargetClient) -> None:
    """A body that is not JSON at all is a 400 problem, not a server error."""
    answer = _json(client, "POST", "dossiers", "/dossiers", b'{"procedureCode": "1.0')
    problem = expect_refused("ERR-02", answer, {400}, why="the body is not valid JSON")
    expect(
        "ERR-02",
        bool(problem.get("errors")),
        "errors[] with an entry for the unreadable body",
        "no errors[]",
        answer,
    )


# ---- ERR-03: closed request bodies ------------------------------------------------------------


@dataclass(frozen=True)
class Valid:
    """A valid request body of an operation, to which the kit adds an unknown field."""

    operation: str
    method: str
    interface: str
    path: Callable[[Holdings], str]
    body: Callable[[Holdings], dict[str, Any]]
    identity: str = "applicantA"
    capability: str | None = None
    key: bool = False


VALID = (
    Valid(
        "createDossier",
        "POST",
        "dossiers",
        lambda h: "/dossiers",
        lambda h: {
            "procedureCode": h.target.procedures.primary,
            "agencyCode": h.target.procedures.agency_code,
            "form": {},
        },
    ),
    Valid("updateDossier", "PATCH", "dossiers", _draft_path, lambda h: {"form": {}}),
    Valid(
        "createPaymentRequest",
        "POST",
        "payments",
        lambda h: "/payments",
        lambda h: {"obligationIds": ["kit-none-obligation"]},
        capability="payment",
        key=True,
    ),
    Valid(
        "createPlatformPayment",
        "POST",
        "paymentPlatform",
        lambda h: "/platform/payment-requests",
        lambda h: example_body("createPlatformPayment"),
        identity="system",
        capability="payment",
        key=True,
    ),
    Valid(
        "addRepositoryItem",
        "POST",
        "repository",
        lambda h: "/repository/items",
        lambda h: {
            "title": "Giấy chứng sinh (bản scan)",
            "file": upload(),
            "metadata": {"documentType": "Giấy chứng sinh"},
        },
        capability="repository",
    ),
    Valid(
        "submitRequest",
        "POST",
        "requests",
        lambda h: "/requests",
        lambda h: {
            "agencyCode": h.target.procedures.agency_code,
            "subject": "Hỏi về lệ phí",
            "content": "Lệ phí đăng ký khai sinh là bao nhiêu?",
            "category": "question",
        },
        capability="online-requests",
    ),
)


@pytest.mark.requirement("ERR-03")
@pytest.mark.parametrize("case", [pytest.param(v, id=v.operation) for v in VALID])
def test_request_body_with_an_unknown_field_is_400_naming_it(
    case: Valid, client: TargetClient, target: TargetConfig, holdings: Holdings
) -> None:
    """A field the schema does not define is refused with 400 naming it, never ignored."""
    _needs(target, capability=case.capability, identity=case.identity, interface=case.interface)
    body = {**case.body(holdings), UNKNOWN_FIELD: "giá trị lạ"}
    headers = {"Idempotency-Key": f"kit-{secrets.token_hex(6)}"} if case.key else {}
    answer = client.call(
        case.method,
        case.interface,
        case.path(holdings),
        as_=case.identity,
        json=body,
        headers=headers,
    )
    if answer.status_code == 403 and case.identity == "system":
        pytest.skip(f"the configured system client may not call {case.operation} at all (403)")
    problem = expect_refused("ERR-03", answer, {400}, why=f"{UNKNOWN_FIELD} is not in the schema")
    entries = [e for e in problem.get("errors", []) if isinstance(e, dict)]
    named = [e for e in entries if UNKNOWN_FIELD in f"{e.get('pointer')} {e.get('detail')}"]
    expect(
        "ERR-03",
        bool(named),
        f"errors[] to name the unknown field {UNKNOWN_FIELD}",
        f"errors[] is {entries}"[:400],
        answer,
    )


# ---- ERR-04: no input makes the server fail --------------------------------------------------


HOSTILE_IDENTITY = "applicantB"
"""Whose drafts the hostile bodies create: not applicantA, whose objects the other suites use."""


def _hostile_requests(
    client: TargetClient, target: TargetConfig
) -> list[tuple[str, httpx.Response]]:
    agency = target.procedures.agency_code
    dossier = f'{{"procedureCode": "{target.procedures.primary}", "agencyCode": "{agency}", '
    nested = '{"a": ' * 64 + "1" + "}" * 64
    raw: list[tuple[str, bytes, str]] = [
        ("unreadable JSON", b'{"procedureCode": ', "application/json"),
        ("a JSON array", b"[]", "application/json"),
        ("JSON null", b"null", "application/json"),
        ("bytes that are not UTF-8", b"\xff\xfe\x00{", "application/json"),
        ("UTF-16 JSON", (dossier + '"form": {}}').encode("utf-16"), "application/json"),
        (
            "a number of 400 digits",
            (dossier + '"form": {"n": 1' + "0" * 400 + "}}").encode(),
            "application/json",
        ),
        (
            "a deeply nested form",
            (dossier + '"form": ' + nested + "}").encode(),
            "application/json",
        ),
        ("NaN", (dossier + '"form": {"n": NaN}}').encode(), "application/json"),
        (
            "a 200 kB string",
            (dossier + '"form": {"s": "' + "ệ" * 100_000 + '"}}').encode(),
            "application/json",
        ),
        (
            "a charset that is not UTF-8",
            (dossier + '"form": {"tên": "Nguyễn"}}').encode(),
            "application/json; charset=iso-8859-1",
        ),
    ]
    answers = []
    for what, raw_body, media in raw:
        answer = _json(client, "POST", "dossiers", "/dossiers", raw_body, HOSTILE_IDENTITY, media)
        answers.append((f"createDossier with {what}", answer))
    gets = [
        ("dossiers", "/dossiers", {"limit": "1e309"}),
        ("dossiers", "/dossiers", {"limit": "-1", "cursor": "x" * 5000}),
        ("dossiers", "/dossiers", {"cursor": "ệ\u0000"}),
        ("dossiers", "/dossiers", {"status": "\u0000"}),
        ("dossiers", "/dossiers/%00", None),
        ("dossiers", "/dossiers/" + "a" * 3000, None),
        ("dossiers", "/dossiers/..%2F..%2Fetc%2Fpasswd", None),
        ("results", "/results/not-a-code", None),
        ("results", "/results", {"dossierCode": "'; DROP TABLE dossiers; --"}),
        ("catalogue", "/procedures", {"q": "' OR 1=1 --", "limit": "abc"}),
    ]
    for interface, path, params in gets:
        answer = client.call("GET", interface, path, as_=HOSTILE_IDENTITY, params=params)
        answers.append((f"GET {path[:40]} {params or ''}"[:90], answer))
    body = {"procedureCode": target.procedures.primary, "agencyCode": agency, "form": {}}
    for extra in (
        {"Idempotency-Key": "bad key with spaces"},
        {"Idempotency-Key": "k" * 300},
        {"If-Match": "\x7fgarbage"},
    ):
        answer = client.call(
            "POST", "dossiers", "/dossiers", as_=HOSTILE_IDENTITY, headers=extra, json=body
        )
        answers.append((f"createDossier with header {sorted(extra)}", answer))
    for token in ("a" * 9000, "a.b.c", "e30.e30.e30", "eyJhbGciOiJub25lIn0..."):
        answer = client.call("GET", "dossiers", "/dossiers", token=token)
        answers.append((f"listDossiers with the token {token[:12]}…", answer))
    return answers


def _remove_created(client: TargetClient, answers: list[tuple[str, httpx.Response]]) -> None:
    """Delete the drafts hostile bodies created, so that no later test meets them."""
    for _, answer in answers:
        body = body_of(answer)
        if answer.status_code == 201 and isinstance(body, dict) and body.get("id"):
            client.call("DELETE", "dossiers", f"/dossiers/{body['id']}", as_=HOSTILE_IDENTITY)


@pytest.mark.requirement("ERR-04")
def test_hostile_input_never_causes_a_server_error(
    client: TargetClient, target: TargetConfig
) -> None:
    """Malformed bodies, odd parameters, long paths and broken headers never get a 5xx."""
    _needs(target, identity=HOSTILE_IDENTITY)
    answers = _hostile_requests(client, target)
    _remove_created(client, answers)
    failed = [(what, a) for what, a in answers if a.status_code >= 500]
    if failed:
        raise fail(
            "ERR-04",
            "a 4xx (or a success) for every malformed request, never a 5xx",
            "; ".join(f"{what}: {describe(a)[:120]}" for what, a in failed),
            *(a for _, a in failed),
        )


def _printable_evidence(client: TargetClient, answer: httpx.Response) -> None:
    """Keep the exchange of ``answer`` as evidence with lone surrogates written as escapes.

    A lone surrogate is no Unicode text: it cannot be written as UTF-8 into a report, so the
    kit keeps such a body as the JSON text that carried it (``\\ud800``).
    """

    def printable(body: Any) -> Any:
        try:
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(body)
        return body

    exchange = answer.extensions.get(EXCHANGE_KEY)
    if not isinstance(exchange, Exchange):
        return
    response = exchange.response
    safe = replace(
        exchange,
        request=replace(exchange.request, body=printable(exchange.request.body)),
        response=replace(response, body=printable(response.body)) if response else None,
    )
    answer.extensions[EXCHANGE_KEY] = safe
    kept = client.recorder.exchanges
    for index, seen in enumerate(kept):
        if seen is exchange:
            kept[index] = safe


@pytest.mark.requirement("ERR-04")
def test_json_with_an_unpaired_surrogate_is_not_a_server_error(
    client: TargetClient, target: TargetConfig
) -> None:
    """A JSON string escape of half a surrogate pair in a form is bad input, never a 5xx."""
    _needs(target, identity=HOSTILE_IDENTITY)
    portal = Portal(client, target)
    draft = expect_status("SUB-01", portal.create(HOSTILE_IDENTITY), 201, why="a new draft")
    path = f"/dossiers/{draft['id']}"
    try:
        answer = _json(
            client, "PATCH", "dossiers", path, b'{"form": {"t": "\\ud800"}}', HOSTILE_IDENTITY
        )
        _printable_evidence(client, answer)
        read = client.call("GET", "dossiers", path, as_=HOSTILE_IDENTITY)
        _printable_evidence(client, read)
    finally:  # a server that stored the string anyway must not hand it to later tests
        client.call("DELETE", "dossiers", path, as_=HOSTILE_IDENTITY)
    expect(
        "ERR-04",
        answer.status_code < 500,
        "a 4xx for a string that is no Unicode text (RFC 8259 Sec. 8.2), never a 5xx",
        describe(answer),
        answer,
    )
    expect(
        "ERR-04",
        read.status_code < 500,
        "the draft still readable after that request",
        describe(read),
        read,
    )


# ---- ERR-05: status codes mean what HTTP says ------------------------------------------------


@pytest.mark.requirement("ERR-05")
def test_unknown_object_is_404(client: TargetClient, target: TargetConfig) -> None:
    """An object that does not exist is 404 on every interface."""
    none = f"kit-none-{secrets.token_hex(6)}"
    calls = [
        ("getDossier", "dossiers", f"/dossiers/{none}", "applicantA"),
        (
            "getResult",
            "results",
            f"/results/{target.procedures.agency_code}-250317-9999-KQ9",
            "applicantA",
        ),
    ]
    if target.claims("repository"):
        calls.append(("getRepositoryItem", "repository", f"/repository/items/{none}", "applicantA"))
    if target.claims("payment") and "system" in target.identities:
        calls.append(
            (
                "getPlatformPayment",
                "paymentPlatform",
                f"/platform/payment-requests/{none}",
                "system",
            )
        )
    wrong = []
    for operation, interface, path, identity in calls:
        if interface not in target.base_urls:
            continue
        answer = client.call("GET", interface, path, as_=identity)
        if answer.status_code != 404:
            wrong.append((operation, answer))
    if wrong:
        raise fail(
            "ERR-05",
            "HTTP 404 for an object that does not exist",
            "; ".join(f"{op}: {describe(a)[:140]}" for op, a in wrong),
            *(a for _, a in wrong),
        )


@pytest.mark.requirement("ERR-05")
def test_unsupported_method_is_405_with_allow(client: TargetClient, holdings: Holdings) -> None:
    """A method the path does not support is 405 with an Allow header of those it does."""
    code = f"{holdings.target.procedures.agency_code}-250317-9999-KQ9"
    calls = [
        (
            "dossiers",
            f"/dossiers/kit-none-{secrets.token_hex(4)}",
            "PUT",
            {"GET", "PATCH", "DELETE"},
        ),
        ("catalogue", "/procedures", "DELETE", {"GET"}),
        ("results", f"/results/{code}", "POST", {"GET"}),
    ]
    wrong = []
    for interface, path, method, supported in calls:
        answer = client.call(method, interface, path, as_="applicantA", json={})
        allow = {m.strip().upper() for m in answer.headers.get("allow", "").split(",") if m.strip()}
        if answer.status_code != 405 or not supported <= allow or method in allow:
            wrong.append((f"{method} {path}", answer, allow))
    if wrong:
        raise fail(
            "ERR-05",
            "HTTP 405 with an Allow header naming the path's methods (RFC 9110 Sec. 15.5.6)",
            "; ".join(
                f"{what}: HTTP {a.status_code}, Allow {sorted(allow) or 'absent'}"
                for what, a, allow in wrong
            ),
            *(a for _, a, _ in wrong),
        )


@pytest.mark.requirement("ERR-05")
def test_unsupported_media_type_is_415(client: TargetClient, target: TargetConfig) -> None:
    """A request body in a media type the operation does not take is 415."""
    calls = [("dossiers", "/dossiers", b"procedureCode=1.001193", "text/plain")]
    if target.claims("repository"):
        calls.append(
            ("repository", "/repository/items", b"<item><title>x</title></item>", "application/xml")
        )
    wrong = []
    for interface, path, raw, media in calls:
        answer = _json(client, "POST", interface, path, raw, media=media)
        if answer.status_code != 415:
            wrong.append((f"POST {path} as {media}", answer))
    if wrong:
        raise fail(
            "ERR-05",
            "HTTP 415 for a body the operation does not take",
            "; ".join(f"{what}: {describe(a)[:140]}" for what, a in wrong),
            *(a for _, a in wrong),
        )


# ---- ERR-06: Idempotency-Key -----------------------------------------------------------------


def _key() -> str:
    return f"kit-idem-{secrets.token_hex(8)}"


def _own_ids(client: TargetClient, interface: str, path: str, identity: str) -> set[str]:
    found = walk("ERR-06", client, interface, path, identity)
    if not found.complete:
        pytest.skip(f"{identity}'s {path} is too long for the kit to count what a retry creates")
    return {str(item.get("id")) for item in found.items}


def _replayed(first: httpx.Response, again: httpx.Response, what: str) -> Any:
    """Fail unless the retry answered what the first request did; the first body."""
    body = body_of(first)
    same = (
        again.status_code == first.status_code
        and isinstance(body, dict)
        and (body_of(again) or {}).get("id") == body.get("id")
    )
    expect(
        "ERR-06",
        same,
        f"the retry of {what} with the same key and body to return the first "
        f"answer (HTTP {first.status_code}, id {(body or {}).get('id')!r})",
        lambda: describe(again),
        first,
        again,
    )
    return body


def _reused(answer: httpx.Response, what: str) -> None:
    expect_refused("ERR-06", answer, {422}, why=f"the key of {what} reused with another body")


@pytest.mark.requirement("ERR-06")
def test_create_dossier_retry_with_the_same_key_creates_one_dossier(
    client: TargetClient, target: TargetConfig
) -> None:
    """createDossier retried with its Idempotency-Key returns the first dossier, no second."""
    before = _own_ids(client, "dossiers", "/dossiers", "applicantA")
    key = {"Idempotency-Key": _key()}
    body = {
        "procedureCode": target.procedures.primary,
        "agencyCode": target.procedures.agency_code,
        "form": {},
    }
    first = client.call("POST", "dossiers", "/dossiers", as_="applicantA", json=body, headers=key)
    expect_status("ERR-06", first, 201, why="a new draft")
    again = client.call("POST", "dossiers", "/dossiers", as_="applicantA", json=body, headers=key)
    dossier = _replayed(first, again, "createDossier")
    created = _own_ids(client, "dossiers", "/dossiers", "applicantA") - before
    expect(
        "ERR-06",
        created == {dossier["id"]},
        "exactly one new dossier after the retry",
        f"new dossiers {sorted(created)}",
    )
    other = client.call(
        "POST",
        "dossiers",
        "/dossiers",
        as_="applicantA",
        headers=key,
        json={**body, "form": {"copies": 2}},
    )
    _reused(other, "createDossier")


@pytest.mark.requirement("ERR-06")
def test_submit_dossier_retry_with_the_same_key_submits_once(
    client: TargetClient, target: TargetConfig
) -> None:
    """submitDossier retried with its Idempotency-Key returns the first confirmation."""
    portal = Portal(client, target)
    draft = portal.draft()
    key = {"Idempotency-Key": _key()}
    path = f"/dossiers/{draft['id']}/submission"
    first = client.call("POST", "dossiers", path, as_="applicantA", headers=key)
    confirmed = expect_status("ERR-06", first, 200, why="the complete draft is submitted")
    again = client.call("POST", "dossiers", path, as_="applicantA", headers=key)
    expect(
        "ERR-06",
        again.status_code == first.status_code
        and (body_of(again) or {}).get("code") == confirmed.get("code"),
        f"the retry to return the first confirmation (HTTP 200, code {confirmed.get('code')})",
        describe(again),
        first,
        again,
    )
    history = walk("ERR-06", client, "dossiers", f"/dossiers/{draft['id']}/history", "applicantA")
    submissions = [e for e in history.items if e.get("action") == "submitDossier"]
    expect(
        "ERR-06",
        len(submissions) == 1,
        "one submitDossier entry in the dossier's history",
        f"{len(submissions)} entries",
        *history.answers,
    )


@pytest.mark.requirement("ERR-06")
@pytest.mark.capability("online-requests")
def test_submit_request_retry_with_the_same_key_creates_one_request(
    client: TargetClient, target: TargetConfig
) -> None:
    """submitRequest retried with its Idempotency-Key returns the first request, no second."""
    before = _own_ids(client, "requests", "/requests", "applicantA")
    key = {"Idempotency-Key": _key()}
    body = {
        "agencyCode": target.procedures.agency_code,
        "category": "question",
        "subject": f"Hỏi về lệ phí khai sinh ({key['Idempotency-Key']})",
        "content": "Đăng ký khai sinh đúng hạn có phải nộp lệ phí không?",
    }
    first = client.call("POST", "requests", "/requests", as_="applicantA", json=body, headers=key)
    expect_status("ERR-06", first, 201, why="a new online request")
    again = client.call("POST", "requests", "/requests", as_="applicantA", json=body, headers=key)
    request = _replayed(first, again, "submitRequest")
    created = _own_ids(client, "requests", "/requests", "applicantA") - before
    expect(
        "ERR-06",
        created == {request["id"]},
        "exactly one new request after the retry",
        f"new requests {sorted(created)}",
    )
    other = client.call(
        "POST",
        "requests",
        "/requests",
        as_="applicantA",
        headers=key,
        json={**body, "content": "Một câu hỏi khác hẳn."},
    )
    _reused(other, "submitRequest")


@pytest.mark.requirement("ERR-06")
@pytest.mark.capability("ecopies")
def test_request_ecopy_retry_with_the_same_key_returns_the_first_request(
    client: TargetClient, target: TargetConfig
) -> None:
    """requestECopy retried with its Idempotency-Key returns the first e-copy request."""
    key = {"Idempotency-Key": _key()}
    body = {**example_body("requestECopy"), "agencyCode": target.procedures.agency_code}
    first = client.call("POST", "ecopies", "/ecopies", as_="applicantA", json=body, headers=key)
    expect_status("ERR-06", first, 201, why="a new e-copy request")
    again = client.call("POST", "ecopies", "/ecopies", as_="applicantA", json=body, headers=key)
    _replayed(first, again, "requestECopy")
    changed = {**body, "documentType": "marriage-certificate"}
    _reused(
        client.call("POST", "ecopies", "/ecopies", as_="applicantA", json=changed, headers=key),
        "requestECopy",
    )


@pytest.mark.requirement("ERR-06")
@pytest.mark.capability("payment")
def test_create_payment_request_retry_with_the_same_key_returns_the_first_payment(
    client: TargetClient, holdings: Holdings
) -> None:
    """createPaymentRequest retried with its key returns the first payment."""
    _, unpaid = holdings.fee_obligations()
    key = {"Idempotency-Key": _key()}
    body = {"obligationIds": [o["id"] for o in unpaid]}
    first = client.call("POST", "payments", "/payments", as_="applicantA", json=body, headers=key)
    expect_status("ERR-06", first, 201, 200, why="a payment request for the fees")
    again = client.call("POST", "payments", "/payments", as_="applicantA", json=body, headers=key)
    _replayed(first, again, "createPaymentRequest")
    changed = {**body, "returnUrl": "https://dichvucong.example.vn/thanh-toan/xong"}
    _reused(
        client.call("POST", "payments", "/payments", as_="applicantA", json=changed, headers=key),
        "createPaymentRequest",
    )


@pytest.mark.requirement("ERR-06")
@pytest.mark.capability("payment")
def test_create_platform_payment_retry_with_the_same_key_returns_the_first_transaction(
    client: TargetClient, target: TargetConfig
) -> None:
    """createPlatformPayment retried with its key returns the first transaction."""
    _needs(target, identity="system", interface="paymentPlatform")
    key = {"Idempotency-Key": _key()}
    body = {
        **example_body("createPlatformPayment"),
        "reference": f"KIT-{secrets.token_hex(6).upper()}",
        "merchantCode": target.procedures.agency_code,
    }
    path = "/platform/payment-requests"
    first = client.call("POST", "paymentPlatform", path, as_="system", json=body, headers=key)
    if first.status_code == 403:
        pytest.skip("the configured system client collects for no merchant of this agency (403)")
    created = expect_status("ERR-06", first, 201, why="a new platform transaction")
    again = client.call("POST", "paymentPlatform", path, as_="system", json=body, headers=key)
    expect(
        "ERR-06",
        again.status_code in (200, 201)
        and (body_of(again) or {}).get("transactionId") == created.get("transactionId"),
        f"the retry to return transaction {created.get('transactionId')}",
        describe(again),
        first,
        again,
    )
    changed = {**body, "description": "Một mô tả khác"}
    _reused(
        client.call("POST", "paymentPlatform", path, as_="system", json=changed, headers=key),
        "createPlatformPayment",
    )


# ---- uploads that must be refused ------------------------------------------------------------


HOSTILE_NAMES = json.loads((fixtures_dir() / "documents" / "hostile-names.json").read_text("utf-8"))


def _outside_the_pattern(name: str) -> bool:
    """True when common/file.json's own fileName rule (length, no / \\ or controls) excludes it."""
    return (
        not 1 <= len(name) <= 255
        or any(ch in name for ch in "/\\")
        or any(ord(ch) < 0x20 for ch in name)
    )


def _first_component(portal: Portal) -> str:
    components = portal.procedure().get("components") or []
    if not components:
        pytest.skip("insufficient test data: the primary procedure has no component")
    return str(components[0]["code"])


@pytest.mark.requirement("RCV-02")
def test_add_component_refuses_a_file_that_lies_about_its_type(
    client: TargetClient, target: TargetConfig
) -> None:
    """A file declared application/pdf whose bytes are a PNG is refused (422), not attached."""
    portal = Portal(client, target)
    dossier = expect_status("SUB-01", portal.create(), 201, why="a new draft")
    answer = portal.attach(dossier["id"], _first_component(portal), upload("lying.pdf"))
    problem = expect_refused("RCV-02", answer, {422}, why="the bytes are not a PDF")
    named = _pointers(problem)
    expect(
        "RCV-02",
        any(p.startswith("/file") for p in named),
        "errors[] to name the file (/file/mediaType or /file/contentBase64)",
        f"errors[] names {named}",
        answer,
    )
    expect(
        "RCV-02",
        not portal.get(dossier["id"]).get("components"),
        "nothing attached after the refusal",
        "a component was attached",
    )


@pytest.mark.requirement("ERR-02", "ERR-04")
def test_add_component_refuses_every_hostile_file_name(
    client: TargetClient, target: TargetConfig
) -> None:
    """Path traversal, device names, control characters and disguised extensions are refused."""
    portal = Portal(client, target)
    dossier = expect_status("SUB-01", portal.create(), 201, why="a new draft")
    code = _first_component(portal)
    accepted, off_contract, failed = [], [], []
    for entry in HOSTILE_NAMES:
        name = entry["name"]
        answer = portal.attach(dossier["id"], code, upload("sample.pdf", file_name=name))
        if answer.status_code >= 500:
            failed.append((name, answer))
        elif _outside_the_pattern(name):
            if answer.status_code != 400 or "/file/fileName" not in _pointers(
                body_of(answer) or {}
            ):
                off_contract.append((name, answer))
        elif answer.status_code not in (400, 422):
            accepted.append((name, answer))
    expect(
        "ERR-04",
        not failed,
        "no hostile file name to cause a server error",
        "; ".join(f"{n!r}: HTTP {a.status_code}" for n, a in failed),
        *(a for _, a in failed),
    )
    expect(
        "ERR-02",
        not off_contract,
        "HTTP 400 naming the file (/file/fileName) for names common/file.json's pattern excludes",
        "; ".join(f"{n!r}: {describe(a)[:100]}" for n, a in off_contract),
        *(a for _, a in off_contract),
    )
    expect(
        "ERR-04",
        not accepted,
        "every hostile name refused (400 or 422): the upload takes plain file names only "
        "(common/file.json)",
        "; ".join(f"{entry!r}: HTTP {a.status_code}" for entry, a in accepted),
        *(a for _, a in accepted),
    )
    kept = portal.get(dossier["id"]).get("components") or []
    expect(
        "ERR-04",
        not kept,
        "no component attached under a hostile name",
        f"attached: {[c.get('file', {}).get('fileName') for c in kept]}",
    )


@pytest.mark.requirement("ERR-04")
def test_oversized_files_are_refused(client: TargetClient, target: TargetConfig) -> None:
    """A file over the component's size limit, or over 10 MB, is refused; nothing is stored."""
    portal = Portal(client, target)
    component = (portal.procedure().get("components") or [None])[0]
    if component is None:
        pytest.skip("insufficient test data: the primary procedure has no component")
    limit = min(int(component.get("maxBytes") or TEN_MB), TEN_MB)
    content = document_bytes("sample.pdf") + b"0" * (limit + 1 - len(document_bytes("sample.pdf")))
    big = upload("sample.pdf", content=content)
    dossier = expect_status("SUB-01", portal.create(), 201, why="a new draft")
    answer = portal.attach(dossier["id"], component["code"], big)
    expect(
        "ERR-04",
        answer.status_code in (400, 413, 422),
        f"a refusal (422, or 413) of a {limit + 1}-byte file where {limit} is the limit",
        describe(answer),
        answer,
    )
    expect(
        "ERR-04",
        not portal.get(dossier["id"]).get("components"),
        "nothing attached after the refusal",
        "a component was attached",
    )
    if target.claims("repository"):
        huge = upload("sample.pdf", content=content + b"0" * (TEN_MB - limit))
        stored = client.call(
            "POST",
            "repository",
            "/repository/items",
            as_="applicantA",
            json={
                "title": "Tệp quá lớn (kiểm thử)",
                "file": huge,
                "metadata": {"documentType": "Tệp quá lớn"},
            },
        )
        expect(
            "ERR-04",
            stored.status_code in (400, 413, 422),
            f"a refusal (422, or 413) of a {TEN_MB + 1}-byte file in the Repository",
            describe(stored),
            stored,
        )
