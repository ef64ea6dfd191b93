"""The dossier lifecycle (docs/contract-conventions.md, "Dossier lifecycle"), cell by cell.

Every status a black-box client can bring a dossier to, crossed with every action of the
applicant and the officer: an allowed move answers 200 and leads where the table says
(LIF-02); any other is 409 with a problem naming the current status and changes nothing
(LIF-03). One test id per (status, action) cell, so the report gives a verdict per cell.
Dossiers are made through the API and shared by the module: each status is built once for
the refused moves (rebuilt if a wrong answer moved it), and a dossier an allowed move produced
serves the next cell that needs its new status. Also ETag / If-Match (LIF-04), the NPSP
numbers (LIF-01) and the overdue flag (LIF-05).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from conformance.checks import expect, expect_refused, expect_status, fail
from conformance.client import TargetClient
from conformance.config import TargetConfig
from conformance.invariants import VN, Invariants, parse_date, parse_time
from conformance.outcomes import CheckFailed
from conformance.pytest_plugin import ConformanceRun
from conformance.scenario import REASON, Portal

AT_RECEPTION = "supplement-requested-at-reception"
IN_PROCESSING = "supplement-requested-in-processing"

NPSP = {
    "submitted": 1,
    "received": 2,
    "refused": 3,
    "in-process": 4,
    "supplement-requested": 5,
    "fee-requested": 6,
    "withdrawal-requested": 7,
    "stopped": 8,
    "processed": 9,
    "returned": 10,
}
"""The NPSP status numbers of the conventions' table."""


@dataclass(frozen=True)
class Action:
    """One move a caller asks for: its operation, path suffix, caller and body."""

    operation: str
    suffix: str
    caller: str
    body: Any = None


def actions(portal: Portal) -> dict[str, Action]:
    """Every action of the lifecycle, each with a body the contract accepts."""
    component = required_components(portal)[0]
    fee = {"code": "LEPHI", "name": "Lệ phí giải quyết thủ tục (kiểm thử)", "amount": 10000}
    supplement = {
        "components": [
            {"componentCode": component["code"], "file": portal.document_for(component)}
        ],
        "note": "Đã nộp lại thành phần hồ sơ theo yêu cầu.",
    }
    return {
        a.operation: a
        for a in (
            Action("submitDossier", "submission", "applicantA"),
            Action("acceptDossier", "acceptance", "officer", {}),
            Action("refuseDossier", "refusal", "officer", {"reason": REASON}),
            Action(
                "requestSupplement",
                "supplement-request",
                "officer",
                {"reason": REASON, "componentCodes": [component["code"]]},
            ),
            Action("submitSupplement", "supplement", "applicantA", supplement),
            Action("startProcessing", "processing", "officer", {}),
            Action("issueFeeNotice", "fee-notice", "officer", {"fees": [fee]}),
            Action("requestWithdrawal", "withdrawal", "applicantA", {"reason": REASON}),
            Action("stopProcessing", "stop", "officer", {"reason": REASON}),
            Action(
                "resolveDossier",
                "resolution",
                "officer",
                {"title": "Kết quả giải quyết (kiểm thử)", "summary": "Kiểm thử vòng đời."},
            ),
            Action("deliverResult", "delivery", "officer", {"channel": "electronic"}),
        )
    }


OPERATIONS = (
    "submitDossier",
    "acceptDossier",
    "refuseDossier",
    "requestSupplement",
    "submitSupplement",
    "startProcessing",
    "issueFeeNotice",
    "requestWithdrawal",
    "stopProcessing",
    "resolveDossier",
    "deliverResult",
)

ALLOWED: dict[tuple[str, str], str] = {
    ("draft", "submitDossier"): "submitted",
    ("submitted", "acceptDossier"): "received",
    ("submitted", "refuseDossier"): "refused",
    ("submitted", "requestSupplement"): AT_RECEPTION,
    ("submitted", "requestWithdrawal"): "withdrawal-requested",
    ("received", "refuseDossier"): "refused",
    ("received", "requestSupplement"): AT_RECEPTION,
    ("received", "startProcessing"): "in-process",
    ("received", "requestWithdrawal"): "withdrawal-requested",
    ("in-process", "requestSupplement"): IN_PROCESSING,
    ("in-process", "issueFeeNotice"): "fee-requested",
    ("in-process", "requestWithdrawal"): "withdrawal-requested",
    ("in-process", "stopProcessing"): "stopped",
    ("in-process", "resolveDossier"): "processed",
    (AT_RECEPTION, "submitSupplement"): "received",
    (AT_RECEPTION, "requestWithdrawal"): "withdrawal-requested",
    (IN_PROCESSING, "submitSupplement"): "in-process",
    (IN_PROCESSING, "requestWithdrawal"): "withdrawal-requested",
    ("fee-requested", "requestWithdrawal"): "withdrawal-requested",
    ("withdrawal-requested", "stopProcessing"): "stopped",
    ("processed", "deliverResult"): "returned",
}
"""The conventions' moves, (state, operation) → state; supplement-requested split by origin."""

ROUTE: dict[str, tuple[str, str]] = {
    "submitted": ("draft", "submitDossier"),
    "received": ("submitted", "acceptDossier"),
    "in-process": ("received", "startProcessing"),
    AT_RECEPTION: ("submitted", "requestSupplement"),
    IN_PROCESSING: ("in-process", "requestSupplement"),
    "fee-requested": ("in-process", "issueFeeNotice"),
    "withdrawal-requested": ("submitted", "requestWithdrawal"),
    "refused": ("submitted", "refuseDossier"),
    "stopped": ("withdrawal-requested", "stopProcessing"),
    "processed": ("in-process", "resolveDossier"),
    "returned": ("processed", "deliverResult"),
}
"""The shortest way to each state: the state before it and the move from there."""

STATES = (
    "draft",
    "submitted",
    "received",
    "in-process",
    AT_RECEPTION,
    IN_PROCESSING,
    "fee-requested",
    "withdrawal-requested",
    "refused",
    "stopped",
    "processed",
    "returned",
)


def status_of(state: str) -> str:
    """The ``status`` a dossier in ``state`` shows."""
    return "supplement-requested" if state in (AT_RECEPTION, IN_PROCESSING) else state


def required_components(portal: Portal) -> list[dict[str, Any]]:
    """The primary procedure's required components (a skip when it has none)."""
    found = [c for c in portal.procedure().get("components", []) if c.get("required")]
    if not found:
        pytest.skip("insufficient test data: the primary procedure has no required component")
    return found


# ---- paying a fee notice (the platform's notification, played by the kit) ------------------


def pay_fees(portal: Portal, dossier_id: str, requirement: str) -> None:
    """Pay every unpaid fee of a dossier as the applicant, the kit playing the platform."""
    secret = portal.target.secrets.get("paymentNotification")
    if not secret:
        pytest.skip("the configuration has no secrets.paymentNotification to sign notifications")
    listed = portal.call(
        "GET",
        "payments",
        f"/dossiers/{dossier_id}/fees",
        as_="applicantA",
        params={"status": "unpaid"},
    )
    fees = expect_status(requirement, listed, 200, why="the applicant lists the fees owed")
    owed = [o["id"] for o in (fees or {}).get("items", []) if isinstance(o, dict) and "id" in o]
    expect(requirement, bool(owed), "an unpaid fee obligation", "no obligation listed", listed)
    key = "kit-pay-" + hashlib.sha256(dossier_id.encode()).hexdigest()[:32]
    created = portal.call(
        "POST",
        "payments",
        "/payments",
        as_="applicantA",
        json={"obligationIds": owed},
        headers={"Idempotency-Key": key},
    )
    payment = expect_status(requirement, created, 200, 201, why="a payment request")
    note: dict[str, Any] = {
        "notificationId": f"kit-{payment['transactionId']}"[:128],
        "reference": payment["reference"],
        "transactionId": payment["transactionId"],
        "amount": payment["amount"],
        "currency": "VND",
        "status": "succeeded",
        "paidAt": datetime.now(VN).isoformat(timespec="seconds"),
    }
    # Conventions, "Payment notifications": HMAC-SHA256 of the fields joined by "|".
    signed = "|".join(
        str(note[k])
        for k in ("reference", "transactionId", "amount", "currency", "status", "paidAt")
    )
    note["secureHash"] = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
    applied = portal.call("POST", "payments", "/payments/notifications", json=note)
    expect_status(requirement, applied, 200, why="a verified notification of the payment")


def wait_for_status(
    portal: Portal, dossier_id: str, status: str, seconds: float = 10
) -> dict[str, Any]:
    """The dossier once it shows ``status`` (the contract lets effects of a payment lag)."""
    deadline = time.monotonic() + seconds
    while True:
        dossier = portal.get(dossier_id)
        if dossier.get("status") == status or time.monotonic() > deadline:
            return dossier
        time.sleep(0.5)


# ---- dossiers in every state, made once per module -----------------------------------------


@dataclass
class Dossiers:
    """Dossiers in each lifecycle state, made through the API and reused where fair."""

    portal: Portal
    spare: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)
    broken: dict[str, CheckFailed] = field(default_factory=dict)
    _actions: dict[str, Action] = field(default_factory=dict)

    def act(self, dossier: dict[str, Any], operation: str) -> httpx.Response:
        """Ask for ``operation`` on ``dossier`` as its caller, with a body the contract accepts."""
        if not self._actions:
            self._actions = actions(self.portal)
        action = self._actions[operation]
        if operation == "submitDossier":
            return self.portal.submit(dossier["id"], action.caller)
        return self.portal.act(dossier["id"], action.suffix, action.body, action.caller)

    def fresh(self, state: str) -> dict[str, Any]:
        """A dossier in ``state`` that no other cell uses (a spare one, or a new one)."""
        if self.spare.get(state):
            return self.spare[state].pop()
        if state == "draft":
            return self.portal.draft()
        before, operation = ROUTE[state]
        return self.move(self.fresh(before), before, operation)

    def move(self, dossier: dict[str, Any], state: str, operation: str) -> dict[str, Any]:
        """An allowed move, checked for LIF-02: 200 and the status the table names."""
        target = ALLOWED[(state, operation)]
        answer = self.act(dossier, operation)
        moved: dict[str, Any] = expect_status(
            "LIF-02", answer, 200, why=f"{operation} is allowed from {status_of(state)}"
        )
        expect(
            "LIF-02",
            moved.get("status") == status_of(target),
            f"{operation} from {status_of(state)} leads to {status_of(target)}",
            f"status {moved.get('status')!r}",
            answer,
        )
        return moved

    def keep(self, state: str, dossier: dict[str, Any]) -> None:
        """Offer a dossier an allowed move produced to the next cell that needs ``state``."""
        self.spare.setdefault(state, []).append(dossier)

    def standing(self, state: str) -> dict[str, Any]:
        """The module's dossier in ``state`` for moves that must change nothing."""
        if state in self.broken:
            raise self.broken[state]
        if state not in self.shared:
            try:
                self.shared[state] = self.fresh(state)
            except CheckFailed as problem:
                self.broken[state] = problem
                raise
        return self.shared[state]

    def spoilt(self, state: str) -> None:
        """Forget the standing dossier of ``state``: a wrong answer moved it."""
        self.shared.pop(state, None)


@pytest.fixture(scope="module")
def dossiers(conformance: ConformanceRun, target: TargetConfig, invariants: Invariants) -> Dossiers:
    """The module's dossiers, made through a client whose exchanges are each test's evidence."""
    client: TargetClient = conformance.new_client()
    client.observe(invariants)
    return Dossiers(Portal(client, target))


def _cells(allowed: bool) -> list[Any]:
    cells = []
    # Refused moves are the same from either supplement-requested; one of them is tried.
    for state in STATES if allowed else [s for s in STATES if s != IN_PROCESSING]:
        for operation in OPERATIONS:
            if ((state, operation) in ALLOWED) is allowed:
                cells.append(pytest.param(state, operation, id=f"{state}-{operation}"))
    if allowed:
        cells.append(
            pytest.param(
                "fee-requested",
                "paymentCompleted",
                marks=pytest.mark.capability("payment"),
                id="fee-requested-paymentCompleted",
            )
        )
    return cells


@pytest.mark.requirement("LIF-02")
@pytest.mark.parametrize(("state", "operation"), _cells(allowed=True))
def test_lifecycle_move_allowed_from_a_status_leads_where_the_table_says(
    dossiers: Dossiers, state: str, operation: str
) -> None:
    """An allowed move of the lifecycle succeeds and leads to the status the table names."""
    dossier = dossiers.fresh(state)
    if operation == "paymentCompleted":
        pay_fees(dossiers.portal, dossier["id"], "LIF-02")
        after = wait_for_status(dossiers.portal, dossier["id"], "in-process")
        expect(
            "LIF-02",
            after.get("status") == "in-process",
            "a completed payment of the fee notice moves the dossier back to in-process",
            f"status {after.get('status')!r} after the verified notification",
        )
        return
    moved = dossiers.move(dossier, state, operation)
    target = ALLOWED[(state, operation)]
    after = dossiers.portal.get(dossier["id"])
    expect(
        "LIF-02",
        after.get("status") == status_of(target) and after.get("version") == moved.get("version"),
        f"getDossier to show the move's result: status {status_of(target)}, "
        f"version {moved.get('version')}",
        f"status {after.get('status')!r}, version {after.get('version')!r}",
    )
    expect(
        "LIF-02",
        state == "draft" or after.get("code") == dossier.get("code"),
        f"the dossier keeps its code {dossier.get('code')}",
        f"code {after.get('code')!r}",
    )
    dossiers.keep(target, after)


def _names_status(problem: dict[str, Any], status: str) -> bool:
    """True when a 409 problem says the current status (by name, number or member)."""
    detail = str(problem.get("detail", ""))
    number = NPSP.get(status)
    return (
        status in detail
        or problem.get("currentStatus") == status
        or (number is not None and f"statusCode {number}" in detail)
    )


@pytest.mark.requirement("LIF-03", "LIF-02")
@pytest.mark.parametrize(("state", "operation"), _cells(allowed=False))
def test_lifecycle_move_not_allowed_is_409_and_changes_nothing(
    dossiers: Dossiers, state: str, operation: str
) -> None:
    """A move the lifecycle does not allow from a status is 409 and leaves the dossier as it was."""
    dossier = dossiers.standing(state)
    try:
        refused_and_unchanged(dossiers, dossier, state, operation)
    except CheckFailed:
        dossiers.spoilt(state)  # it may have moved: the next cell of this status gets a new one
        raise


def refused_and_unchanged(
    dossiers: Dossiers, dossier: dict[str, Any], state: str, operation: str
) -> None:
    """The checks of one refused move: 409 naming the status, and the dossier as it was."""
    status = status_of(state)
    answer = dossiers.act(dossier, operation)
    problem = expect_refused(
        "LIF-03", answer, {409}, why=f"{operation} is not allowed while the dossier is {status}"
    )
    expect(
        "LIF-03",
        _names_status(problem, status),
        f"a detail naming the current status {status!r}",
        f"detail {problem.get('detail')!r}",
        answer,
    )
    after = dossiers.portal.get(dossier["id"])
    expect(
        "LIF-03",
        after.get("status") == status and after.get("version") == dossier.get("version"),
        f"the dossier unchanged: status {status}, version {dossier.get('version')}",
        f"status {after.get('status')!r}, version {after.get('version')!r}",
        answer,
    )


@pytest.mark.requirement("LIF-01")
def test_get_dossier_carries_the_npsp_status_number_of_its_status(dossiers: Dossiers) -> None:
    """Every dossier past the draft carries the NPSP number of its status, in reads and lists."""
    for state in STATES:
        if state == "draft":
            continue
        dossier = dossiers.standing(state)
        found = dossiers.portal.get(dossier["id"])
        status = status_of(state)
        expect(
            "LIF-01",
            found.get("statusCode") == NPSP[status],
            f"status {status} with statusCode {NPSP[status]}",
            f"status {found.get('status')!r}, statusCode {found.get('statusCode')!r}",
        )
    listed = dossiers.portal.call(
        "GET", "dossiers", "/dossiers", as_="officer", params={"status": "received", "limit": 100}
    )
    page = expect_status("LIF-01", listed, 200, why="the officer lists received dossiers")
    wrong = [
        (i.get("code"), i.get("statusCode"))
        for i in (page or {}).get("items", [])
        if i.get("status") == "received" and i.get("statusCode") != 2
    ]
    expect(
        "LIF-01",
        not wrong,
        "every received dossier listed with statusCode 2",
        f"listed {wrong[:5]}",
        listed,
    )


# ---- ETag and If-Match -----------------------------------------------------------------------


def _etag(portal: Portal, dossier_id: str) -> tuple[str, dict[str, Any]]:
    found = portal.call("GET", "dossiers", f"/dossiers/{dossier_id}", as_="applicantA")
    body = expect_status("LIF-04", found, 200, why="reading the dossier and its ETag")
    tag = found.headers.get("etag")
    expect("LIF-04", bool(tag), "getDossier returns an ETag", "no ETag header", found)
    return str(tag), body


@pytest.mark.requirement("LIF-04")
def test_stale_if_match_is_412_and_changes_nothing(portal: Portal) -> None:
    """A change sent with an ETag the dossier has moved past is 412; the current ETag works."""
    created = portal.create()
    draft = expect_status("SUB-01", created, 201, why="a draft of a valid e-form")
    path = f"/dossiers/{draft['id']}"
    stale, _ = _etag(portal, draft["id"])
    components = required_components(portal)
    current = stale
    for component in components:
        added = portal.call(
            "POST",
            "dossiers",
            f"{path}/components",
            as_="applicantA",
            headers={"If-Match": current},
            json={"componentCode": component["code"], "file": portal.document_for(component)},
        )
        expect_status("LIF-04", added, 201, why="addComponent with the current ETag")
        current, _ = _etag(portal, draft["id"])
    expect(
        "LIF-04",
        current != stale,
        "an ETag that changes when the dossier changes",
        f"ETag {current} before and after adding components",
    )

    def refused_stale(response: httpx.Response, what: str) -> None:
        expect_refused("LIF-04", response, {412}, why=f"{what} with a stale If-Match")
        tag, now = _etag(portal, draft["id"])
        expect(
            "LIF-04",
            tag == current
            and now.get("status") == before.get("status")
            and now.get("version") == before.get("version")
            and now.get("form") == before.get("form")
            and len(now.get("components", [])) == len(before.get("components", [])),
            f"the dossier unchanged after a stale {what} (version {before.get('version')})",
            f"version {now.get('version')}, status {now.get('status')!r}, ETag {tag}",
            response,
        )

    _, before = _etag(portal, draft["id"])
    changed = portal.call(
        "PATCH", "dossiers", path, as_="applicantA", headers={"If-Match": stale}, json={"form": {}}
    )
    refused_stale(changed, "updateDossier")
    extra = portal.call(
        "POST",
        "dossiers",
        f"{path}/components",
        as_="applicantA",
        headers={"If-Match": stale},
        json={"componentCode": components[0]["code"], "file": portal.document_for(components[0])},
    )
    refused_stale(extra, "addComponent")

    submitted = portal.call(
        "POST", "dossiers", f"{path}/submission", as_="applicantA", headers={"If-Match": current}
    )
    expect_status("LIF-04", submitted, 200, why="submitDossier with the current ETag")
    stale = current
    current, before = _etag(portal, draft["id"])
    accepted = portal.call(
        "POST",
        "dossiers",
        f"{path}/acceptance",
        as_="officer",
        headers={"If-Match": stale},
        json={},
    )
    refused_stale(accepted, "acceptDossier")
    accepted = portal.call(
        "POST",
        "dossiers",
        f"{path}/acceptance",
        as_="officer",
        headers={"If-Match": current},
        json={},
    )
    expect_status("LIF-04", accepted, 200, why="acceptDossier with the current ETag")
    portal.step("LIF-02", draft["id"], "processing", {})
    current, before = _etag(portal, draft["id"])
    for suffix, body in (
        ("supplement-request", {"reason": REASON, "componentCodes": [components[0]["code"]]}),
        ("resolution", {"title": "Kết quả giải quyết (kiểm thử)"}),
    ):
        moved = portal.call(
            "POST",
            "dossiers",
            f"{path}/{suffix}",
            as_="officer",
            headers={"If-Match": stale},
            json=body,
        )
        refused_stale(moved, suffix)


# ---- overdue -------------------------------------------------------------------------------

NEVER_OVERDUE = frozenset({"refused", "stopped", "processed", "returned"})
CLOCK_TOLERANCE = timedelta(minutes=2)
"""How far the target's clock may be from the kit's and still be taken for the same."""


def _target_now(stamp: Any, since: datetime) -> datetime:
    """Now on the target's clock, which wrote ``stamp`` after ``since`` (the kit's clock).

    The kit's clock, unless the stamp shows the target's set elsewhere (a sandbox started at
    another date on purpose): the target flags overdue by its own day, so the kit judges by it.
    """
    now = datetime.now(VN)
    at = parse_time(stamp)
    if at is None or since - CLOCK_TOLERANCE <= at <= now + CLOCK_TOLERANCE:
        return now
    return at.astimezone(VN) + (now - since)  # at most this late: a few seconds, not a day


def _expected_overdue(dossier: dict[str, Any], now: datetime) -> bool | None:
    """Whether the contract calls a dossier overdue at ``now`` (``None``: not decidable now)."""
    if dossier.get("status") in NEVER_OVERDUE:
        return False
    appointment = parse_date(dossier.get("appointmentDate"))
    if appointment is None:
        return False  # no appointment yet (a draft, a dossier not yet received): nothing is late
    today = now.date()
    near_midnight = (now.hour, now.minute) >= (23, 45) or (now.hour, now.minute) <= (0, 15)
    if near_midnight and abs((appointment - today).days) <= 1:
        return None  # the kit's day and the target's may differ for a few minutes
    return appointment < today


@pytest.mark.requirement("LIF-05")
def test_get_dossier_does_not_flag_a_dossier_before_its_appointment(portal: Portal) -> None:
    """A dossier whose appointment date has not passed, or a draft, is not flagged overdue."""
    draft = portal.draft()
    expect(
        "LIF-05",
        draft.get("overdue") is False,
        "a draft is not overdue",
        f"overdue {draft.get('overdue')!r}",
    )
    since = datetime.now(VN)
    received = portal.received()
    expected = _expected_overdue(received, _target_now(received.get("acceptedAt"), since))
    if expected is None:
        pytest.skip("the appointment date is today or tomorrow at midnight: not decidable now")
    expect(
        "LIF-05",
        received.get("overdue") is expected,
        f"overdue {expected} for appointmentDate {received.get('appointmentDate')}",
        f"overdue {received.get('overdue')!r}",
    )


@pytest.mark.requirement("LIF-05")
def test_list_dossiers_flags_exactly_the_dossiers_past_their_appointment(portal: Portal) -> None:
    """Dossiers past their appointment date and still open are overdue; no others are."""
    since = datetime.now(VN)
    now = _target_now(portal.draft(complete=False).get("createdAt"), since)
    today = now.date()
    params: dict[str, Any] = {"limit": 100}
    checked, past = 0, 0
    for _ in range(5):
        listed = portal.call("GET", "dossiers", "/dossiers", as_="officer", params=params)
        page = expect_status("LIF-05", listed, 200, why="the officer lists the agency's dossiers")
        for item in (page or {}).get("items", []):
            expected = _expected_overdue(item, now)
            if expected is None:
                continue
            checked += 1
            past += expected
            if item.get("overdue") is not expected:
                raise fail(
                    "LIF-05",
                    f"overdue {expected} for a {item.get('status')} dossier with "
                    f"appointmentDate {item.get('appointmentDate')} (today {today})",
                    f"dossier {item.get('code')}: overdue {item.get('overdue')!r}",
                    listed,
                )
        if not (page or {}).get("nextCursor"):
            break
        params = {**params, "cursor": page["nextCursor"]}
    if not past:
        pytest.skip(
            "no open dossier past its appointment date is visible, and the kit cannot "
            "move the target's clock to make one (checked "
            f"{checked} dossiers that are not overdue)"
        )
