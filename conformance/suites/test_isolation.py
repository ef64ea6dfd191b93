"""Tenant isolation: nobody reaches another owner's data (broken object-level authorisation is
API1 of the OWASP API Security Top 10, 2023; Decree 45/2020/ND-CP Art. 16 gives each account
its own Repository).

The suite is one matrix, one test id per cell: who tries (another applicant, an organisation,
an officer of another agency, a system client) × what (reads, writes, lists, searches,
downloads, payments, withdrawals, repository items) × whose object (applicantA's, or the
organisation's for the reverse direction). Direct access must be 403 or 404 (the conventions let
a server hide that the object exists) and never carry the object; a list or a search must not
contain it; a refused write must leave the object as it was.

`Holdings` (the objects of applicantA every cell aims at, made once per run on first use) is
shared with the security suite, which fills the path parameters of every protected operation
with them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest

from conformance.checks import describe, expect, expect_status, operation_index
from conformance.client import TargetClient
from conformance.config import TargetConfig
from conformance.invariants import Invariants
from conformance.pytest_plugin import ConformanceRun
from conformance.scenario import Portal, document_bytes, file_for, sample_form, upload
from egov_contract import contract

T = TypeVar("T")
HIDDEN = (403, 404)
"""Another owner's object: 403, or 404 so as not to reveal it exists (conventions)."""
REASON = "Gia đình đã nộp hồ sơ tại cơ quan khác; đề nghị rút hồ sơ (kiểm thử cách ly dữ liệu)."
PAGE_LIMIT = 100
MAX_PAGES = 10


# ---- the objects of applicantA ---------------------------------------------------------------


class Holdings:
    """What applicantA (and the organisation, for the reverse direction) owns, made on first use.

    Each object is made once per run by whichever test first needs it, so its steps are that
    test's evidence; a step that fails, or a precondition the target cannot meet, is remembered
    and given to every later test that needs the same object.
    """

    def __init__(self, run: ConformanceRun) -> None:
        self.run = run
        self.target = run.target
        self.client = run.new_client()
        self.portal = Portal(self.client, run.target)
        self.tag = secrets.token_hex(4)
        self._made: dict[str, Any] = {}
        self._observed = False

    def observed_by(self, invariants: Invariants) -> Holdings:
        """Let the invariants see every answer the holdings' steps get (once)."""
        if not self._observed:
            self.client.observe(invariants)
            self._observed = True
        return self

    def _once(self, name: str, make: Callable[[], T]) -> T:
        if name not in self._made:
            try:
                self._made[name] = make()
            except (Exception, pytest.skip.Exception) as problem:
                self._made[name] = problem
                raise
        found = self._made[name]
        if isinstance(found, BaseException):
            raise found
        result: T = found
        return result

    def call(self, method: str, interface: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request through the holdings' recording client."""
        return self.client.call(method, interface, path, **kwargs)

    # ---- dossiers and results --------------------------------------------------------------

    def draft(self) -> dict[str, Any]:
        """A complete draft of applicantA with its components."""
        return self._once("draft", lambda: self.portal.draft("applicantA"))

    def component(self) -> dict[str, Any]:
        """The first component of the draft."""
        components = self.draft().get("components") or []
        expect(
            "SUB-01", bool(components), "the complete draft to list its components", "no components"
        )
        return dict(components[0])

    def submitted(self) -> dict[str, Any]:
        """A dossier of applicantA that passed the automatic check (status 1)."""
        return self._once("submitted", lambda: self.portal.submitted("applicantA"))

    def resolved(self) -> dict[str, Any]:
        """A dossier of applicantA with its e-result issued (status 9)."""
        return self._once("resolved", lambda: self.portal.resolved("applicantA"))

    def result_code(self) -> str:
        """The code of the e-result of the resolved dossier."""
        codes = self.resolved().get("resultCodes") or []
        expect(
            "RES-01",
            bool(codes),
            "a resolved dossier to list the code of its result",
            f"resultCodes {codes!r}",
        )
        return str(codes[0])

    def result(self) -> dict[str, Any]:
        """The e-result as its holder reads it."""

        def read() -> dict[str, Any]:
            answer = self.call("GET", "results", f"/results/{self.result_code()}", as_="applicantA")
            body: dict[str, Any] = expect_status("RES-03", answer, 200, why="the holder's result")
            return body

        return self._once("result", read)

    # ---- payments ----------------------------------------------------------------------------

    def payment(self) -> dict[str, Any]:
        """A pending payment of applicantA: ``dossier``, ``obligations`` and ``payment``."""
        return self._once("payment", self._make_payment)

    def _make_payment(self) -> dict[str, Any]:
        dossier, unpaid = self.fee_obligations()
        answer = self.call(
            "POST",
            "payments",
            "/payments",
            as_="applicantA",
            json={"obligationIds": [o["id"] for o in unpaid]},
            headers={"Idempotency-Key": f"kit-{self.tag}-pay"},
        )
        payment = expect_status("PAY-02", answer, 201, 200, why="a payment request for the fees")
        return {"dossier": dossier, "obligations": unpaid, "payment": payment}

    def fee_obligations(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A new submitted dossier of applicantA with unpaid fees, and those fees."""
        procedure = self.target.procedures.with_fee
        if not procedure:
            pytest.skip("insufficient test data: the configuration names no procedure with a fee")
        dossier = self.portal.submitted("applicantA", procedure)
        unpaid = self._unpaid(dossier["id"])
        if not unpaid:  # no fee due on submission: the officer raises one
            self.portal.step("RCV-06", dossier["id"], "acceptance", {})
            self.portal.step("LIF-02", dossier["id"], "processing", {})
            fee = {"code": "LEPHI", "name": "Lệ phí giải quyết hồ sơ (kiểm thử)", "amount": 10000}
            self.portal.step("PAY-01", dossier["id"], "fee-notice", {"fees": [fee]})
            unpaid = self._unpaid(dossier["id"])
        expect("PAY-01", bool(unpaid), "an unpaid fee obligation on the dossier", "none")
        return dossier, unpaid

    def foreign_payment(self) -> dict[str, Any]:
        """A pending payment of applicantA to another agency than the configured one.

        Its platform transaction has another merchant: one a system client of the configured
        agency's province may well not collect for. Another province's agency comes first.
        """

        def make() -> dict[str, Any]:
            procedure = self.target.procedures.with_fee
            if not procedure:
                pytest.skip(
                    "insufficient test data: the configuration names no procedure with a fee"
                )
            own = self.target.procedures.agency_code
            others = [
                a for a in self.portal.procedure(procedure).get("agencyCodes", []) if a != own
            ]
            if not others:
                pytest.skip(f"insufficient test data: procedure {procedure} has one agency only")
            province = own.rsplit(".", 1)[-1]
            agency = sorted(others, key=lambda a: a.rsplit(".", 1)[-1] == province)[0]
            dossier = self.portal.draft("applicantA", procedure, agencyCode=agency)
            answer = self.portal.submit(dossier["id"])
            expect_status("RCV-03", answer, 200, 201, 202, why="a complete dossier is received")
            unpaid = self._unpaid(dossier["id"])
            if not unpaid:
                pytest.skip(
                    f"no fee is due on submission at {agency}; raising one needs an officer "
                    "of that agency, whom the configuration does not name"
                )
            paid = self.call(
                "POST",
                "payments",
                "/payments",
                as_="applicantA",
                json={"obligationIds": [o["id"] for o in unpaid]},
                headers={"Idempotency-Key": f"kit-{self.tag}-pay-foreign"},
            )
            payment = expect_status("PAY-02", paid, 201, 200, why=f"a payment to {agency}")
            return {"dossier": dossier, "obligations": unpaid, "payment": payment, "agency": agency}

        return self._once("foreign-payment", make)

    def _unpaid(self, dossier_id: str) -> list[dict[str, Any]]:
        answer = self.call(
            "GET",
            "payments",
            f"/dossiers/{dossier_id}/fees",
            as_="applicantA",
            params={"status": "unpaid"},
        )
        body = expect_status("PAY-01", answer, 200, why="the owner lists the dossier's fees")
        return list(body.get("items", [])) if isinstance(body, dict) else []

    # ---- e-copies, requests, the Repository, notifications, subscriptions -------------------

    def ecopy(self) -> dict[str, Any]:
        """An e-copy request of applicantA, addressed to the configured agency."""

        def make() -> dict[str, Any]:
            body = {
                **example_body("requestECopy"),
                "agencyCode": self.target.procedures.agency_code,
            }
            answer = self.call("POST", "ecopies", "/ecopies", as_="applicantA", json=body)
            made: dict[str, Any] = expect_status("CPY-01", answer, 201, why="an e-copy request")
            return made

        return self._once("ecopy", make)

    def request(self) -> dict[str, Any]:
        """An online request of applicantA to the configured agency; its subject is unique."""

        def make() -> dict[str, Any]:
            body = {
                "agencyCode": self.target.procedures.agency_code,
                "subject": f"Hỏi về giấy tờ đăng ký khai sinh (kiểm thử {self.tag})",
                "content": "Con tôi sinh tại nhà, không có giấy chứng sinh. Tôi cần nộp giấy tờ "
                "gì thay thế? (câu hỏi của bộ công cụ đánh giá sự phù hợp)",
                "category": "question",
            }
            answer = self.call("POST", "requests", "/requests", as_="applicantA", json=body)
            made: dict[str, Any] = expect_status("REQ-01", answer, 201, why="an online request")
            return made

        return self._once("request", make)

    def item(self) -> dict[str, Any]:
        """A digitised document in applicantA's Repository; its title is unique."""

        def make() -> dict[str, Any]:
            body = {
                "title": f"Căn cước công dân (bản scan, kiểm thử {self.tag})",
                "file": upload("sample.pdf", file_name="can-cuoc-cong-dan.pdf"),
                "metadata": {"documentType": "Căn cước công dân"},
            }
            answer = self.call(
                "POST", "repository", "/repository/items", as_="applicantA", json=body
            )
            made: dict[str, Any] = expect_status("REP-02", answer, 201, why="a digitised document")
            return made

        return self._once("item", make)

    def notification_ids(self) -> set[str]:
        """The ids of applicantA's notifications (after a submission, there is at least one)."""

        def make() -> set[str]:
            register(self.client, "applicantA")
            self.submitted()
            found = walk(
                "NTF-01", self.client, "identity", "/accounts/me/notifications", "applicantA"
            )
            return {str(n.get("id")) for n in found.items}

        return self._once("notifications", make)

    def subscription(self) -> dict[str, Any]:
        """An event subscription of the system client to a rare event type."""

        def make() -> dict[str, Any]:
            body = {
                "callbackUrl": "https://subscriber.invalid/egov/events",
                "types": ["vn.gov.egov.result.cancelled"],
                "secret": secrets.token_urlsafe(24),
            }
            answer = self.call("POST", "events", "/subscriptions", as_="system", json=body)
            made: dict[str, Any] = expect_status("EVT-03", answer, 201, why="a subscription")
            return made

        return self._once("subscription", make)

    # ---- the reverse direction: an organisation's dossier -----------------------------------

    def organisation_procedure(self) -> tuple[str, str]:
        """A configured procedure organisations may apply for, and an agency receiving it."""

        def find() -> tuple[str, str]:
            procedures = self.target.procedures
            for code in (procedures.primary, procedures.with_fee, procedures.partly_online):
                if not code:
                    continue
                entry = self.portal.procedure(code)
                if "organisation" in entry.get("applicantTypes", ["organisation"]):
                    agencies = entry.get("agencyCodes") or [procedures.agency_code]
                    agency = procedures.agency_code
                    return code, agency if agency in agencies else str(agencies[0])
            pytest.skip("insufficient test data: no configured procedure accepts organisations")

        return self._once("organisation-procedure", find)

    def organisation_draft(self, fresh: bool = False) -> dict[str, Any]:
        """A draft of the organisation with one component (a new one when ``fresh``)."""

        def make() -> dict[str, Any]:
            code, agency = self.organisation_procedure()
            created = self.portal.create("organisation", code, agencyCode=agency)
            dossier = expect_status("SUB-01", created, 201, why="an organisation's draft")
            component = next(iter(self.portal.procedure(code).get("components", [])), None)
            if component is not None:
                added = self.portal.attach(
                    dossier["id"],
                    component["code"],
                    self.portal.document_for(component),
                    "organisation",
                )
                expect_status("SUB-01", added, 201, why=f"component {component['code']}")
            return self.portal.get(dossier["id"], "organisation")

        return make() if fresh else self._once("organisation-draft", make)


_current: Holdings | None = None


def holdings_of(run: ConformanceRun) -> Holdings:
    """The holdings of this run (one per run, shared by every suite module)."""
    global _current  # one cache per process, replaced when a new run starts
    if _current is None or _current.run is not run:
        _current = Holdings(run)
    return _current


@pytest.fixture
def holdings(conformance: ConformanceRun, invariants: Invariants) -> Holdings:
    """applicantA's objects, made once per run."""
    return holdings_of(conformance).observed_by(invariants)


# ---- helpers shared with other suites --------------------------------------------------------


def example_body(operation_id: str) -> dict[str, Any]:
    """The first example of the operation's request body in the spec."""

    spec, pointer = operation_index()[operation_id]
    node: Any = contract().specs[spec]
    for part in pointer.strip("/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    content = node["requestBody"]["content"]
    examples = next(iter(content.values())).get("examples", {})
    return dict(next(iter(examples.values()))["value"])


def register(client: TargetClient, identity: str) -> None:
    """Make sure ``identity`` has an account (its notifications are listed only then)."""
    answer = client.call("POST", "identity", "/accounts", as_=identity, json={})
    expect_status("ACC-02", answer, 200, 201, why=f"{identity} registers an account")


@dataclass
class Walk:
    """The items of a list walked by cursor, with the answers, and whether it reached the end."""

    items: list[dict[str, Any]]
    answers: list[httpx.Response]
    complete: bool


def walk(
    requirement: str,
    client: TargetClient,
    interface: str,
    path: str,
    as_: str | None,
    params: dict[str, Any] | None = None,
    *,
    limit: int = PAGE_LIMIT,
    pages: int = MAX_PAGES,
) -> Walk:
    """Every item of a list, following ``nextCursor`` for at most ``pages`` pages."""
    found = Walk([], [], False)
    query: dict[str, Any] = {**(params or {}), "limit": limit}
    for _ in range(pages):
        answer = client.call("GET", interface, path, as_=as_, params=query)
        found.answers.append(answer)
        body = expect_status(requirement, answer, 200, why=f"{as_ or 'anyone'} lists {path}")
        expect(
            requirement,
            isinstance(body, dict) and isinstance(body.get("items"), list),
            "a page {items, nextCursor}",
            describe(answer),
            answer,
        )
        found.items.extend(i for i in body["items"] if isinstance(i, dict))
        cursor = body.get("nextCursor")
        if not cursor:
            found.complete = True
            break
        query = {**query, "cursor": cursor}
    return found


# ---- the checks a cell makes -----------------------------------------------------------------


def hidden(
    requirement: str,
    answer: httpx.Response,
    what: str,
    *,
    secret: str | None = None,
    content: bytes | None = None,
) -> None:
    """Fail unless ``answer`` refuses another owner's object (403/404) and leaks nothing."""
    expect(
        requirement,
        answer.status_code in HIDDEN,
        f"HTTP 403 or 404 for {what}: the object is not the caller's to reach",
        lambda: describe(answer),
        answer,
    )
    leaked = (secret is not None and secret in answer.text) or (
        content is not None and content in answer.content
    )
    expect(
        requirement,
        not leaked,
        f"the refusal of {what} to carry none of its content",
        lambda: describe(answer),
        answer,
    )


def absent(requirement: str, found: Walk, ids: set[str], what: str, key: str = "id") -> None:
    """Fail when a walked list contains one of ``ids``; skip when it could not be walked."""
    seen = {str(item.get(key)) for item in found.items} & ids
    expect(
        requirement,
        not seen,
        f"the list never to contain {what} of another owner",
        f"it contains {sorted(seen)}",
        *found.answers,
    )
    if not found.complete:
        pytest.skip(
            f"the list is longer than {MAX_PAGES} pages of {PAGE_LIMIT}; the kit walked only those"
        )


@dataclass(frozen=True)
class Cell:
    """One cell of the matrix: ``role`` tries ``action`` on ``thing`` of ``owner``."""

    role: str
    action: str
    thing: str
    requirement: str
    owner: str = "applicantA"
    capability: str | None = None

    @property
    def id(self) -> str:
        """The test id: role-action-thing, with the owner when it is not applicantA."""
        owner = "" if self.owner == "applicantA" else f"{self.owner}-"
        return f"{self.role}-{self.action}-{owner}{self.thing}"


@dataclass
class Attempt:
    """What a cell's check needs: the objects, the client of the test, the cell."""

    holdings: Holdings
    client: TargetClient
    cell: Cell

    @property
    def role(self) -> str:
        """The identity that tries."""
        return self.cell.role

    @property
    def requirement(self) -> str:
        """The requirement the cell speaks for."""
        return self.cell.requirement

    def call(self, method: str, interface: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request as the cell's role."""
        return self.client.call(method, interface, path, as_=self.role, **kwargs)

    def owner_sees(self, dossier_id: str, owner: str = "applicantA") -> dict[str, Any]:
        """The dossier as its owner reads it now."""
        answer = self.client.call("GET", "dossiers", f"/dossiers/{dossier_id}", as_=owner)
        body: dict[str, Any] = expect_status(
            self.requirement, answer, 200, why="the owner still reads the dossier"
        )
        return body


Check = Callable[[Attempt], None]
CHECKS: dict[tuple[str, str], Check] = {}


def check(action: str, thing: str) -> Callable[[Check], Check]:
    """Register the check of cells doing ``action`` on ``thing``."""

    def register_check(function: Check) -> Check:
        CHECKS[(action, thing)] = function
        return function

    return register_check


def _owner_dossier(a: Attempt) -> dict[str, Any]:
    if a.cell.owner == "organisation":
        return a.holdings.organisation_draft()
    return a.holdings.submitted() if a.role == "officerOtherAgency" else a.holdings.draft()


def _owner_secret(a: Attempt, dossier: dict[str, Any]) -> str | None:
    applicant = dossier.get("applicant") or {}
    secret = applicant.get("personalId") or applicant.get("taxCode")
    return str(secret) if secret else None


@check("reads", "dossier")
def _reads_dossier(a: Attempt) -> None:
    dossier = _owner_dossier(a)
    secret = _owner_secret(a, dossier)
    for suffix in ("", "/history"):
        answer = a.call("GET", "dossiers", f"/dossiers/{dossier['id']}{suffix}")
        hidden(a.requirement, answer, f"GET /dossiers/{{id}}{suffix}", secret=secret)


@check("writes", "dossier")
def _writes_dossier(a: Attempt) -> None:
    owner = a.cell.owner
    if owner == "organisation":
        dossier = a.holdings.organisation_draft(fresh=True)
    else:
        dossier = a.holdings.portal.draft("applicantA")
    path = f"/dossiers/{dossier['id']}"
    components = dossier.get("components") or []
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("PATCH", path, {"json": {"form": sample_form(dossier["procedureCode"])}}),
        (
            "POST",
            f"{path}/components",
            {
                "json": {
                    "componentCode": (components[0]["componentCode"] if components else "X"),
                    "file": upload("sample.pdf"),
                }
            },
        ),
        ("POST", f"{path}/submission", {}),
        ("DELETE", path, {}),
    ]
    if components:
        attempts.insert(2, ("DELETE", f"{path}/components/{components[0]['id']}", {}))
    for method, target_path, options in attempts:
        hidden(
            a.requirement,
            a.call(method, "dossiers", target_path, **options),
            f"{method} {target_path.replace(dossier['id'], '{id}')}",
        )
    after = a.owner_sees(dossier["id"], owner)
    same = (
        after.get("version"),
        after.get("status"),
        [c.get("id") for c in after.get("components") or []],
    ) == (dossier.get("version"), dossier.get("status"), [c.get("id") for c in components])
    expect(
        a.requirement,
        same,
        "the refused writes to leave the owner's draft as it was",
        f"version {dossier.get('version')} → {after.get('version')}, status "
        f"{after.get('status')!r}, components {len(components)} → "
        f"{len(after.get('components') or [])}",
    )


@check("lists", "dossier")
def _lists_dossier(a: Attempt) -> None:
    if a.cell.owner == "organisation":
        ids = {a.holdings.organisation_draft()["id"]}
    elif a.role == "officerOtherAgency":
        ids = {a.holdings.submitted()["id"], a.holdings.draft()["id"]}
    else:
        ids = {a.holdings.draft()["id"], a.holdings.submitted()["id"]}
    found = walk(a.requirement, a.client, "dossiers", "/dossiers", a.role)
    absent(a.requirement, found, ids, "a dossier")


@check("searches", "dossier")
def _searches_dossier(a: Attempt) -> None:
    dossier = a.holdings.submitted()
    name = (dossier.get("applicant") or {}).get("name")
    searches: list[dict[str, Any]] = [{"code": dossier["code"]}]
    if name:
        searches.append({"applicantName": name})
    for query in searches:
        found = walk(a.requirement, a.client, "dossiers", "/dossiers", a.role, query)
        absent(a.requirement, found, {dossier["id"]}, f"a dossier (search {sorted(query)})")


@check("downloads", "component")
def _downloads_component(a: Attempt) -> None:
    dossier = _owner_dossier(a)
    components = dossier.get("components") or []
    if not components:
        pytest.skip("insufficient test data: the dossier has no component to download")
    component = components[0]
    path = f"/dossiers/{dossier['id']}/components/{component['id']}/content"
    content = document_bytes(file_for({"mediaTypes": [component["file"]["mediaType"]]}))
    hidden(a.requirement, a.call("GET", "dossiers", path), "a component's file", content=content)


@check("withdraws", "dossier")
def _withdraws_dossier(a: Attempt) -> None:
    dossier = a.holdings.submitted()
    before = a.owner_sees(dossier["id"])
    answer = a.call(
        "POST", "dossiers", f"/dossiers/{dossier['id']}/withdrawal", json={"reason": REASON}
    )
    hidden(a.requirement, answer, "requestWithdrawal")
    after = a.owner_sees(dossier["id"])
    expect(
        a.requirement,
        after.get("status") == before.get("status"),
        f"the dossier to stay {before.get('status')!r}",
        f"status {after.get('status')!r}",
    )


@check("acts", "dossier")
def _acts_dossier(a: Attempt) -> None:
    dossier = a.holdings.submitted()
    before = a.owner_sees(dossier["id"])
    answer = a.call("POST", "dossiers", f"/dossiers/{dossier['id']}/acceptance", json={})
    hidden(a.requirement, answer, "acceptDossier of another agency's dossier")
    after = a.owner_sees(dossier["id"])
    expect(
        a.requirement,
        after.get("status") == before.get("status"),
        f"the dossier to stay {before.get('status')!r}",
        f"status {after.get('status')!r}",
    )


@check("reads", "result")
def _reads_result(a: Attempt) -> None:
    result = a.holdings.result()
    answer = a.call("GET", "results", f"/results/{result['code']}")
    hidden(
        a.requirement, answer, "getResult", secret=str(result.get("verificationCode") or "") or None
    )


@check("downloads", "result")
def _downloads_result(a: Attempt) -> None:
    code = a.holdings.result_code()
    answer = a.call("GET", "results", f"/results/{code}/document")
    hidden(a.requirement, answer, "downloadResultDocument", content=b"%PDF-")


@check("writes", "result")
def _writes_result(a: Attempt) -> None:
    code = a.holdings.result_code()
    answer = a.call(
        "POST",
        "results",
        f"/results/{code}/cancellation",
        json={"reason": "Cấp sai thông tin trên giấy khai sinh (kiểm thử cách ly)."},
    )
    hidden(a.requirement, answer, "cancelResult of another agency's result")
    seen = a.client.call("GET", "results", f"/results/{code}", as_="applicantA")
    body = expect_status(a.requirement, seen, 200, why="the holder still reads the result")
    expect(
        a.requirement,
        body.get("status") == "valid",
        "the result to stay valid",
        f"status {body.get('status')!r}",
        seen,
    )


@check("lists", "result")
def _lists_result(a: Attempt) -> None:
    code = a.holdings.result_code()
    found = walk(a.requirement, a.client, "results", "/results", a.role)
    absent(a.requirement, found, {code}, "a result", key="code")


@check("searches", "result")
def _searches_result(a: Attempt) -> None:
    dossier_code = a.holdings.resolved()["code"]
    code = a.holdings.result_code()
    found = walk(
        a.requirement, a.client, "results", "/results", a.role, {"dossierCode": dossier_code}
    )
    absent(a.requirement, found, {code}, "a result (search by dossierCode)", key="code")


@check("pays", "payment")
def _pays_payment(a: Attempt) -> None:
    held = a.holdings.payment()
    payment = held["payment"]
    secret = str(payment.get("transactionId") or payment.get("reference") or "") or None
    for suffix in ("", "/receipt"):
        answer = a.call("GET", "payments", f"/payments/{payment['id']}{suffix}")
        hidden(a.requirement, answer, f"GET /payments/{{id}}{suffix}", secret=secret)
    fees = a.call("GET", "payments", f"/dossiers/{held['dossier']['id']}/fees")
    hidden(a.requirement, fees, "listDossierFees", secret=str(held["obligations"][0]["id"]))
    if a.role == "officerOtherAgency":
        return  # officers do not pay
    answer = a.call(
        "POST",
        "payments",
        "/payments",
        json={"obligationIds": [o["id"] for o in held["obligations"]]},
        headers={"Idempotency-Key": f"kit-{secrets.token_hex(6)}"},
    )
    expect(
        a.requirement,
        answer.status_code in (403, 404, 422),
        "a payment request for another owner's fees to be refused (403, 404 or 422)",
        lambda: describe(answer),
        answer,
    )


@check("reads", "ecopy")
def _reads_ecopy(a: Attempt) -> None:
    ecopy = a.holdings.ecopy()
    for suffix in ("", "/content"):
        answer = a.call("GET", "ecopies", f"/ecopies/{ecopy['id']}{suffix}")
        hidden(a.requirement, answer, f"GET /ecopies/{{id}}{suffix}")


@check("reads", "request")
def _reads_request(a: Attempt) -> None:
    request = a.holdings.request()
    answer = a.call("GET", "requests", f"/requests/{request['id']}")
    hidden(a.requirement, answer, "getRequest", secret=a.holdings.tag)


@check("lists", "request")
def _lists_request(a: Attempt) -> None:
    request = a.holdings.request()
    absent(
        a.requirement,
        walk(a.requirement, a.client, "requests", "/requests", a.role),
        {request["id"]},
        "an online request",
    )


@check("lists", "notifications")
def _lists_notifications(a: Attempt) -> None:
    theirs = a.holdings.notification_ids()
    if not theirs:
        pytest.skip("applicantA has no notification to hide (see NTF-01)")
    register(a.client, a.role)
    found = walk(a.requirement, a.client, "identity", "/accounts/me/notifications", a.role)
    absent(a.requirement, found, theirs, "a notification")


@check("reads", "repository-item")
def _reads_item(a: Attempt) -> None:
    item = a.holdings.item()
    hidden(
        a.requirement,
        a.call("GET", "repository", f"/repository/items/{item['id']}"),
        "getRepositoryItem",
        secret=a.holdings.tag,
    )


@check("downloads", "repository-item")
def _downloads_item(a: Attempt) -> None:
    item = a.holdings.item()
    answer = a.call("GET", "repository", f"/repository/items/{item['id']}/content")
    hidden(a.requirement, answer, "downloadRepositoryItem", content=document_bytes("sample.pdf"))


@check("lists", "repository-item")
def _lists_item(a: Attempt) -> None:
    item = a.holdings.item()
    found = walk(a.requirement, a.client, "repository", "/repository/items", a.role)
    absent(a.requirement, found, {item["id"]}, "a Repository item")


@check("reads", "platform-transaction")
def _reads_transaction(a: Attempt) -> None:
    payment = a.holdings.foreign_payment()["payment"]
    transaction = payment.get("transactionId")
    if not transaction:
        pytest.skip("the payment names no platform transaction")
    # The client's own reconciliation says which transactions are its merchants': one it does
    # not list there is another client's, and getPlatformPayment must not show it either.
    listing = a.client.call(
        "GET",
        "paymentPlatform",
        "/platform/reconciliation",
        as_=a.role,
        params={"limit": PAGE_LIMIT},
    )
    if listing.status_code == 200:
        found = walk(a.requirement, a.client, "paymentPlatform", "/platform/reconciliation", a.role)
        if any(i.get("transactionId") == transaction for i in found.items):
            pytest.skip(
                "the configured system client collects for that agency too: the "
                "transaction is its own to read"
            )
        if not found.complete:
            pytest.skip("the system client's reconciliation is too long to walk")
    answer = a.call("GET", "paymentPlatform", f"/platform/payment-requests/{transaction}")
    hidden(
        a.requirement,
        answer,
        "getPlatformPayment of a merchant the client does not collect "
        "for (its reconciliation does not list it)",
        secret=str(payment.get("reference")),
    )


# ---- the matrix ------------------------------------------------------------------------------


def _cells() -> Iterator[Cell]:
    for role in ("applicantB", "organisation"):
        for action, thing in (
            ("reads", "dossier"),
            ("writes", "dossier"),
            ("lists", "dossier"),
            ("searches", "dossier"),
            ("downloads", "component"),
            ("withdraws", "dossier"),
            ("reads", "result"),
            ("downloads", "result"),
            ("lists", "result"),
            ("searches", "result"),
            ("lists", "notifications"),
        ):
            yield Cell(role, action, thing, "SEC-04")
        yield Cell(role, "pays", "payment", "SEC-04", capability="payment")
        yield Cell(role, "reads", "ecopy", "SEC-04", capability="ecopies")
        yield Cell(role, "reads", "request", "SEC-04", capability="online-requests")
        yield Cell(role, "lists", "request", "SEC-04", capability="online-requests")
        for action in ("reads", "downloads", "lists"):
            yield Cell(role, action, "repository-item", "SEC-05")
    for action, thing in (
        ("reads", "dossier"),
        ("acts", "dossier"),
        ("lists", "dossier"),
        ("searches", "dossier"),
        ("downloads", "component"),
        ("reads", "result"),
        ("writes", "result"),
        ("downloads", "result"),
        ("lists", "result"),
        ("searches", "result"),
    ):
        yield Cell("officerOtherAgency", action, thing, "SEC-06")
    yield Cell("officerOtherAgency", "pays", "payment", "SEC-06", capability="payment")
    yield Cell("officerOtherAgency", "reads", "request", "SEC-06", capability="online-requests")
    yield Cell("officerOtherAgency", "lists", "request", "SEC-06", capability="online-requests")
    for action, thing in (
        ("reads", "dossier"),
        ("writes", "dossier"),
        ("lists", "dossier"),
        ("downloads", "component"),
    ):
        yield Cell("applicantA", action, thing, "SEC-04", owner="organisation")
    yield Cell("system", "reads", "platform-transaction", "SEC-04", capability="payment")


def _param(cell: Cell) -> Any:
    marks = [pytest.mark.requirement(cell.requirement)]
    if cell.capability:
        marks.append(pytest.mark.capability(cell.capability))
    return pytest.param(cell, id=cell.id, marks=marks)


@pytest.mark.parametrize("cell", [_param(cell) for cell in _cells()])
def test_isolation_matrix(
    cell: Cell, holdings: Holdings, client: TargetClient, target: TargetConfig
) -> None:
    """Another owner's object is never reached: 403 or 404, never listed, never changed."""
    for identity in {cell.role, cell.owner}:
        if identity not in target.identities:
            pytest.skip(f"the target configuration has no identity {identity!r}")
    CHECKS[(cell.action, cell.thing)](Attempt(holdings, client, cell))
