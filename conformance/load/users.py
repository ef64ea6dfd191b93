"""Locust users that behave like the people and systems around a national portal.

Imports locust (and so gevent's monkey-patching): only locustfiles import this module.

Every request goes through the contract's operations and is named by its ``operationId``, so
locust's statistics, the service levels and the contract sampling all group by operation. A
request fails only when its answer is not one the scenario expects; conflicts the contract
foresees (two officers taking the same dossier: 409) are expected answers, not errors.

- `ApplicantUser`: signs in, browses the catalogue, creates a dossier, uploads small PDFs and
  reuses an item of its Data Management Repository, submits, polls the status, pays fees and
  downloads the result.
- `VisitorUser`: reads the public catalogue without signing in.
- `OfficerUser`: an officer of the receiving agency takes submitted dossiers (accept, start
  processing), asks for fees now and then, resolves and delivers results.
- `PlatformUser`: the payment platform: the payer's confirmation at the bank (sandbox) and the
  signed notifications to the portal, including the duplicate deliveries real platforms send.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar
from urllib.parse import urlencode

from locust import task
from locust.contrib.fasthttp import FastHttpUser

from ..identities import TokenSource
from ..outcomes import HarnessError
from .data import (
    CONTEXT_KEY,
    MEDIA_TYPES,
    RunContext,
    now_rfc3339,
    payment_notification,
    run_context,
    sample_form,
    signed_upload,
    upload,
)
from .workload import ArrivalSchedule, think_time

TRACKED_DOSSIERS = 20
"""Dossiers an applicant keeps following; older ones are forgotten."""
FEE_NOTICE_SHARE = 0.25
"""Share of the dossiers an officer resolves that first get a fee notice (payment claimed)."""
LOAD_FEE = {"code": "BSTL", "name": "Phí cấp bản sao trích lục (kiểm thử tải)", "amount": 8000}
RESULT_TITLE = "Kết quả giải quyết thủ tục hành chính (kiểm thử tải)"
TERMINAL = frozenset({"refused", "stopped", "returned"})


@dataclass(frozen=True)
class Reply:
    """An expected answer: its status and, when read, its JSON body (else None)."""

    status: int
    body: Any


def _query(url: str, **parameters: Any) -> str:
    given = {k: v for k, v in parameters.items() if v is not None}
    return f"{url}?{urlencode(given)}" if given else url


class KitUser(FastHttpUser):
    """Common ground: the run context, the workload's pacing, and `call`."""

    abstract = True
    role: ClassVar[str] = ""
    network_timeout = 30.0
    connection_timeout = 10.0

    ctx: RunContext
    account: TokenSource | None = None
    schedule: ArrivalSchedule | None = None

    def on_start(self) -> None:
        """Join the process's run context and, in the open workload, get a timetable."""
        self.ctx = run_context(self.environment)
        pacing = self.ctx.settings.pacing
        self.schedule = ArrivalSchedule(pacing) if pacing else None

    def on_stop(self) -> None:
        """Count the open workload's arrivals that fell due while this user was busy."""
        if self.schedule is not None:
            self.schedule.settle()
            self.ctx.record.arrived(*self.schedule.drain())

    def context(self) -> dict[str, Any]:
        """Hands the run context to the request event, where responses are sampled."""
        return {CONTEXT_KEY: self.ctx}

    def wait_time(self) -> float:
        """Think time (closed workload) or the time until the next arrival (open workload)."""
        if self.schedule is None:
            return think_time(self.ctx.settings.think)
        pause = self.schedule.wait()
        self.ctx.record.arrived(*self.schedule.drain())
        return pause

    def call(
        self,
        method: str,
        url: str,
        operation: str,
        *,
        expect: tuple[int, ...] = (200,),
        payload: Any = None,
        headers: dict[str, str] | None = None,
        signed: bool = True,
        read: bool = False,
    ) -> Reply | None:
        """One request named by its operationId; the `Reply` when the answer is expected.

        ``read``: parse the JSON body for the scenario (a body that is not JSON then fails the
        request). Left unread otherwise: parsing every answer costs a load generator a fifth of
        its core, and the contract sampling checks bodies anyway.
        """
        sent = dict(headers) if headers else {}
        if signed and self.account is not None:
            try:
                sent["Authorization"] = f"Bearer {self.account.token()}"
            except HarnessError as problem:
                self.ctx.record.harness_error(str(problem))
                return None
        with self.client.request(
            method, url, name=operation, json=payload, headers=sent, catch_response=True
        ) as response:
            status = response.status_code
            if status not in expect:
                if status == 401 and self.account is not None:
                    self.account.invalidate()
                response.failure(self._explain(response, expect))
                return None
            document = None
            if read and response.content and "json" in response.headers.get("content-type", ""):
                try:
                    # JSON is UTF-8 (RFC 8259): response.json() would guess the charset first.
                    document = json.loads(response.content)
                except ValueError:
                    response.failure(f"HTTP {status} with a body that is not JSON")
                    return None
            response.success()
            return Reply(status, document)

    @staticmethod
    def _explain(response: Any, expected: tuple[int, ...]) -> str:
        # Kept free of ids and times: locust groups failures by this text.
        if not response.status_code:
            return f"no answer: {type(getattr(response, 'error', None)).__name__}"
        title = ""
        try:
            problem = json.loads(response.content or b"")
            title = f": {problem.get('title', '')}" if isinstance(problem, dict) else ""
        except (ValueError, TypeError):
            pass
        wanted = "/".join(str(code) for code in expected)
        return f"HTTP {response.status_code}, expected {wanted}{title}"


class VisitorUser(KitUser):
    """Reads the public catalogue without signing in, as most of a portal's visitors do."""

    role = "visitor"
    weight = 3

    def on_start(self) -> None:
        """No account: the catalogue is public."""
        super().on_start()
        self.codes: list[str] = [self.ctx.config.procedures.primary]

    @task(4)
    def search_procedures(self) -> None:
        """A search by agency or by words of a name, then one procedure and its e-form."""
        catalogue = self.ctx.urls.catalogue
        query = random.choice(
            [
                {"agencyCode": self.ctx.config.procedures.agency_code},
                {"q": "đăng ký"},
                {"onlineLevel": "full"},
                {},
            ]
        )
        page = self.call(
            "GET",
            _query(f"{catalogue}/procedures", **query),
            "listProcedures",
            signed=False,
            read=True,
        )
        if page and isinstance(page.body, dict):
            self.codes = [
                p["code"] for p in page.body.get("items", []) if "code" in p
            ] or self.codes
        code = random.choice(self.codes)
        self.call("GET", f"{catalogue}/procedures/{code}", "getProcedure", signed=False)
        if random.random() < 0.5:
            self.call(
                "GET", f"{catalogue}/procedures/{code}/form", "getProcedureForm", signed=False
            )

    @task(1)
    def read_agencies(self) -> None:
        """The agencies, one agency's working hours and the year's calendar."""
        catalogue = self.ctx.urls.catalogue
        self.call("GET", f"{catalogue}/agencies", "listAgencies", signed=False)
        agency = self.ctx.config.procedures.agency_code
        self.call("GET", f"{catalogue}/agencies/{agency}", "getAgency", signed=False)
        year = date.today().year
        self.call("GET", f"{catalogue}/calendar/{year}", "getCalendar", signed=False)


class ApplicantUser(KitUser):
    """A citizen who applies online, follows the dossier, pays and fetches the result."""

    role = "applicant"
    weight = 6

    def on_start(self) -> None:
        """Sign in (lazily) and digitise one document into the Repository, to reuse it."""
        super().on_start()
        self.account = self.ctx.applicants.next()
        self.mine: dict[str, str] = {}
        self.paying: dict[str, str] = {}
        self.item: str | None = None
        if self.ctx.claims("repository"):
            self._digitise()

    def _digitise(self) -> None:
        body = {
            "title": "Giấy chứng sinh (bản scan)",
            "file": upload("application/pdf", "giay-chung-sinh.pdf"),
            "metadata": {"documentType": "Giấy chứng sinh", "issuer": "Bệnh viện (kiểm thử tải)"},
        }
        url = f"{self.ctx.urls.repository}/repository/items"
        stored = self.call("POST", url, "addRepositoryItem", expect=(201,), payload=body, read=True)
        if stored and isinstance(stored.body, dict):
            self.item = stored.body.get("id")

    @task(3)
    def apply(self) -> None:
        """Apply for the primary procedure (no fee at submission)."""
        self._apply(self.ctx.config.procedures.primary)

    @task(1)
    def apply_with_fee(self) -> None:
        """Apply for the procedure with a fee and pay it straight away."""
        with_fee = self.ctx.config.procedures.with_fee
        if not (with_fee and self.ctx.claims("payment")):
            self._apply(self.ctx.config.procedures.primary)
            return
        dossier_id = self._apply(with_fee)
        if dossier_id:
            self._pay(dossier_id)

    @task(5)
    def follow_up(self) -> None:
        """Look at one of my dossiers and do what its status asks for."""
        if not self.mine:
            self.call("GET", _query(f"{self.ctx.urls.dossiers}/dossiers", limit=10), "listDossiers")
            return
        dossier_id = random.choice(list(self.mine))
        url = f"{self.ctx.urls.dossiers}/dossiers/{dossier_id}"
        found = self.call("GET", url, "getDossier", read=True)
        if found is None or not isinstance(found.body, dict):
            return
        status = str(found.body.get("status"))
        self.mine[dossier_id] = status
        if random.random() < 0.1:
            self.call("GET", f"{url}/history", "getDossierHistory")
        if dossier_id in self.paying:
            self._check_payment(dossier_id)
        if status == "fee-requested" and dossier_id not in self.paying:
            self._pay(dossier_id)
        elif status in ("processed", "returned"):
            self._download_results(found.body.get("resultCodes") or [])
            del self.mine[dossier_id]
        elif status in TERMINAL:
            del self.mine[dossier_id]

    @task(2)
    def browse(self) -> None:
        """The catalogue, as an applicant reads it before applying."""
        catalogue = self.ctx.urls.catalogue
        agency = self.ctx.config.procedures.agency_code
        self.call(
            "GET",
            _query(f"{catalogue}/procedures", agencyCode=agency),
            "listProcedures",
            signed=False,
        )
        self.call("GET", f"{catalogue}/agencies/{agency}", "getAgency", signed=False)

    @task(1)
    def repository(self) -> None:
        """My Repository: the list, and the document I digitised."""
        if not self.ctx.claims("repository"):
            return
        base = f"{self.ctx.urls.repository}/repository/items"
        self.call("GET", _query(base, limit=10), "listRepositoryItems")
        if self.item and random.random() < 0.3:
            self.call("GET", f"{base}/{self.item}/content", "downloadRepositoryItem")

    # ---- steps ---------------------------------------------------------------------------

    def _apply(self, code: str) -> str | None:
        urls = self.ctx.urls
        procedure = self.call(
            "GET", f"{urls.catalogue}/procedures/{code}", "getProcedure", signed=False, read=True
        )
        if procedure is None or not isinstance(procedure.body, dict):
            return None
        if random.random() < 0.3:
            form_url = f"{urls.catalogue}/procedures/{code}/form"
            self.call("GET", form_url, "getProcedureForm", signed=False)
        body = {
            "procedureCode": code,
            "agencyCode": self.ctx.config.procedures.agency_code,
            "form": sample_form(code) or {},
        }
        created = self.call(
            "POST",
            f"{urls.dossiers}/dossiers",
            "createDossier",
            expect=(201,),
            payload=body,
            read=True,
        )
        if created is None or not isinstance(created.body, dict) or "id" not in created.body:
            return None
        dossier_id = str(created.body["id"])
        if self.account is not None:
            self.ctx.drafts[dossier_id] = self.account
        dossier_url = f"{urls.dossiers}/dossiers/{dossier_id}"
        required = [c for c in procedure.body.get("components", []) if c.get("required")]
        for index, component in enumerate(required):
            part = self._component(component, index)
            added = part and self.call(
                "POST", f"{dossier_url}/components", "addComponent", expect=(201,), payload=part
            )
            if not added:
                return None  # abandoned: the draft is deleted when the run ends
        submitted = self.call(
            "POST",
            f"{dossier_url}/submission",
            "submitDossier",
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        if submitted is None:
            return None
        self.ctx.drafts.pop(dossier_id, None)
        self.mine[dossier_id] = "submitted"
        while len(self.mine) > TRACKED_DOSSIERS:
            del self.mine[next(iter(self.mine))]
        return dossier_id

    def _component(self, component: dict[str, Any], index: int) -> dict[str, Any] | None:
        """The first required component is uploaded; later ones reuse the Repository item."""
        allowed = component.get("mediaTypes") or ["application/pdf"]
        code = component.get("code")
        signature = bool(component.get("signatureRequired"))
        if index > 0 and self.item and "application/pdf" in allowed and not signature:
            return {"componentCode": code, "repositoryItemId": self.item}
        for media_type in MEDIA_TYPES:
            if media_type in allowed:
                if signature:
                    return {
                        "componentCode": code,
                        "file": signed_upload(self.ctx.config, media_type),
                    }
                return {"componentCode": code, "file": upload(media_type)}
        self.ctx.record.harness_error(f"no fixture document fits component {code} ({allowed})")
        return None

    def _pay(self, dossier_id: str) -> None:
        payments = self.ctx.urls.payments
        fees_url = _query(f"{payments}/dossiers/{dossier_id}/fees", status="unpaid")
        fees = self.call("GET", fees_url, "listDossierFees", read=True)
        if fees is None or not isinstance(fees.body, dict):
            return
        unpaid = [o["id"] for o in fees.body.get("items", []) if "id" in o]
        if not unpaid:
            return
        created = self.call(
            "POST",
            f"{payments}/payments",
            "createPaymentRequest",
            expect=(200, 201),
            payload={"obligationIds": unpaid},
            headers={"Idempotency-Key": uuid.uuid4().hex},
            read=True,
        )
        if created is None or not isinstance(created.body, dict):
            return
        payment = created.body
        self.paying[dossier_id] = str(payment.get("id"))
        if self.ctx.settings.mix.get("platform", 0) > 0:
            self.ctx.pending_payments.append(payment)
        elif self.ctx.urls.platform and payment.get("transactionId"):
            PlatformUser.confirm(self, payment)

    def _check_payment(self, dossier_id: str) -> None:
        url = f"{self.ctx.urls.payments}/payments/{self.paying[dossier_id]}"
        payment = self.call("GET", url, "getPayment", read=True)
        if payment is None or not isinstance(payment.body, dict):
            return
        if payment.body.get("status") == "succeeded":
            del self.paying[dossier_id]
            if payment.body.get("receiptAvailable"):
                self.call("GET", f"{url}/receipt", "getPaymentReceipt")
        elif payment.body.get("status") in ("failed", "cancelled"):
            del self.paying[dossier_id]

    def _download_results(self, codes: list[str]) -> None:
        results = self.ctx.urls.results
        if not results:
            return
        for code in codes[:1]:
            found = self.call("GET", f"{results}/results/{code}", "getResult")
            if found is not None:
                self.call("GET", f"{results}/results/{code}/document", "downloadResultDocument")


class OfficerUser(KitUser):
    """An officer of the receiving agency working through the queue of submitted dossiers."""

    role = "officer"
    weight = 2

    def on_start(self) -> None:
        """Sign in (lazily) as one of the agency's officers."""
        super().on_start()
        self.account = self.ctx.officers.next()

    def _pick(self, status: str) -> str | None:
        """A dossier of the agency in ``status``, at random from the first page."""
        url = _query(f"{self.ctx.urls.dossiers}/dossiers", status=status, limit=20)
        page = self.call("GET", url, "listDossiers", read=True)
        if page is None or not isinstance(page.body, dict):
            return None
        ids = [d["id"] for d in page.body.get("items", []) if "id" in d]
        return random.choice(ids) if ids else None

    @task(3)
    def receive(self) -> None:
        """Accept a submitted dossier and start processing it."""
        dossier_id = self._pick("submitted")
        if dossier_id is None:
            return
        url = f"{self.ctx.urls.dossiers}/dossiers/{dossier_id}"
        accepted = self.call(
            "POST", f"{url}/acceptance", "acceptDossier", expect=(200, 409), payload={}
        )
        if accepted is None or accepted.status == 409:
            return  # another officer took it first
        self.ctx.record.accepted.append(dossier_id)
        self.call("POST", f"{url}/processing", "startProcessing", expect=(200, 409), payload={})

    @task(3)
    def resolve(self) -> None:
        """Resolve a dossier in process and deliver the result; sometimes ask for a fee first."""
        dossier_id = self._pick("in-process")
        if dossier_id is None:
            return
        url = f"{self.ctx.urls.dossiers}/dossiers/{dossier_id}"
        if self.ctx.claims("payment") and random.random() < FEE_NOTICE_SHARE:
            fees = self.call(
                "GET",
                f"{self.ctx.urls.payments}/dossiers/{dossier_id}/fees",
                "listDossierFees",
                read=True,
            )
            noticed = fees is not None and any(
                o.get("due") == "on-notice" for o in (fees.body or {}).get("items", [])
            )
            if fees is not None and not noticed:
                notice = {"fees": [LOAD_FEE]}
                self.call(
                    "POST", f"{url}/fee-notice", "issueFeeNotice", expect=(200, 409), payload=notice
                )
                return
        resolved = self.call(
            "POST",
            f"{url}/resolution",
            "resolveDossier",
            expect=(200, 409),
            payload={"title": RESULT_TITLE},
        )
        if resolved is not None and resolved.status == 200:
            body = {"channel": "electronic"}
            self.call("POST", f"{url}/delivery", "deliverResult", expect=(200, 409), payload=body)

    @task(1)
    def review(self) -> None:
        """Read a received dossier and its history, as an officer checks one before acting."""
        dossier_id = self._pick("received")
        if dossier_id is None:
            return
        url = f"{self.ctx.urls.dossiers}/dossiers/{dossier_id}"
        self.call("GET", url, "getDossier")
        self.call("GET", f"{url}/history", "getDossierHistory")


class PlatformUser(KitUser):
    """The payment platform: the payer pays at the bank, the platform notifies the portal."""

    role = "platform"
    weight = 1

    @task
    def deliver(self) -> None:
        """Settle the oldest payment waiting in this process, and deliver its notification."""
        if not self.ctx.pending_payments:
            return
        payment = self.ctx.pending_payments.popleft()
        paid_at = now_rfc3339()
        if self.ctx.urls.platform and payment.get("transactionId"):
            confirmed = self.confirm(self, payment)
            if confirmed is not None and isinstance(confirmed.body, dict):
                paid_at = str(confirmed.body.get("paidAt") or paid_at)
        if self.ctx.platform_secret and self.ctx.urls.payments:
            # The sandbox platform has already notified the portal when the payer confirmed;
            # this is the re-delivery every real platform sends, which must change nothing.
            body = payment_notification(payment, self.ctx.platform_secret, paid_at)
            url = f"{self.ctx.urls.payments}/payments/notifications"
            self.call("POST", url, "receivePaymentNotification", payload=body, signed=False)

    @staticmethod
    def confirm(user: KitUser, payment: dict[str, Any]) -> Reply | None:
        """The payer pays at the bank (the sandbox platform's stand-in for checkout)."""
        url = f"{user.ctx.urls.platform}/platform/payment-requests/{payment['transactionId']}"
        body = {"outcome": "succeeded", "payerName": "Người nộp kiểm thử tải", "bankCode": "VCB"}
        return user.call(
            "POST",
            f"{url}/payer-confirmation",
            "confirmPlatformPayment",
            expect=(200, 409),
            payload=body,
            signed=False,
            read=True,
        )


USER_CLASSES: dict[str, type[KitUser]] = {
    cls.role: cls for cls in (ApplicantUser, VisitorUser, OfficerUser, PlatformUser)
}
"""The user class of every role of the mix."""
