"""The registry of deliberate faults and valid variants, for mutation testing of the suites.

A *fault* is a realistic bug a vendor could ship; the conformance suites run against a server
with one fault switched on must fail the requirement it names. A *variant* is another choice
the contract leaves open; the suites must still pass against it. Both are switched on at
start-up (``Settings.faults``, ``Settings.variants``; ``serve --fault``, ``serve --variant``).
This module is data only, so `settings` can validate names without importing the server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Fault:
    """A deliberate bug, the requirement it violates and where it shows."""

    name: str
    requirement: str
    interface: str
    description: str


@dataclass(frozen=True)
class Variant:
    """An allowed choice the reference server does not make by default."""

    name: str
    description: str


def _faults(*rows: tuple[str, str, str, str]) -> Mapping[str, Fault]:
    table = {
        name: Fault(name, requirement, interface, text)
        for name, requirement, interface, text in rows
    }
    if len(table) != len(rows):
        raise ValueError("two faults share a name")
    return MappingProxyType(table)


FAULTS: Mapping[str, Fault] = _faults(
    # ---- identity ---------------------------------------------------------------------------
    ("accept-expired-token", "SEC-02", "identity",
     "Accepts a correctly signed bearer token after its exp has passed."),
    ("accept-future-token", "SEC-02", "identity",
     "Accepts a correctly signed bearer token whose iat is an hour ahead of the server's clock."),
    ("accept-wrong-audience", "SEC-02", "identity",
     "Accepts a correctly signed bearer token whose aud is not egov-portal."),
    ("accept-forged-signature", "SEC-02", "identity",
     "Accepts a token naming the trusted issuer whose signature does not verify."),
    ("register-organisation-as-individual", "ACC-02", "identity",
     "Registers an organisation's account with type individual."),
    ("account-identity-overwritable", "ACC-03", "identity",
     "updateMyAccount accepts personalId, taxCode and type in the body and overwrites them."),
    ("identity-jwks-stale-key", "ACC-05", "identity",
     "The identity JWKS publishes another key than the one that signs the tokens."),
    # ---- catalogue --------------------------------------------------------------------------
    ("online-notice-missing", "CAT-01", "catalogue",
     "Partly online procedures are published without notFullyOnlineReason."),
    ("form-not-published", "CAT-03", "catalogue",
     "getProcedureForm answers 404 for every procedure offered online."),
    ("search-ignores-nfd", "TXT-02", "catalogue",
     "listProcedures' q matches precomposed (NFC) words only, not their NFD spelling."),
    ("procedures-last-page-lost", "FMT-06", "catalogue",
     "listProcedures answers nextCursor null after the first page although items remain."),
    ("agency-code-lowercase", "FMT-03", "catalogue",
     "listAgencies and getAgency return agency codes in lower case."),
    # ---- dossiers: submission and the automatic check ---------------------------------------
    ("accept-incomplete-dossier", "RCV-01", "dossiers",
     "The automatic check does not look for missing required components."),
    ("first-reason-only", "RCV-01", "dossiers",
     "The automatic check refuses a dossier with its first reason only."),
    ("skip-content-sniffing", "RCV-02", "dossiers",
     "A component file is taken for its declared media type without reading its bytes."),
    ("receipt-time-not-rolled", "RCV-04", "dossiers",
     "The official receipt time is the sending time even outside working hours or days."),
    ("times-in-utc", "FMT-05", "dossiers",
     "submittedAt and officialReceiptTime are written in UTC with a Z offset."),
    ("appointment-in-calendar-days", "RCV-07", "dossiers",
     "The appointment date counts calendar days, so it can fall on a weekend or holiday."),
    ("dossier-code-unpadded", "FMT-01", "dossiers",
     "The sequence of a dossier code is not zero-padded to 4 digits (…-250317-1)."),
    ("dossier-code-per-procedure", "FMT-02", "dossiers",
     "The code sequence counts per procedure, so two procedures of one unit and day share codes."),
    ("applicant-not-prefilled", "SUB-03", "dossiers",
     "A new dossier's applicant block lacks the personal ID number and tax code of the token."),
    ("signature-not-checked", "SUB-05", "dossiers",
     "A component that must be signed is accepted with no signature at all."),
    ("signature-chain-not-checked", "SUB-05", "dossiers",
     "A file signature is accepted from a signer no trusted authority certified."),
    ("signature-digest-not-checked", "SUB-05", "dossiers",
     "A file signature made over another file is accepted."),
    ("delete-submitted-dossier", "SUB-06", "dossiers",
     "deleteDossier removes a submitted dossier (204) instead of answering 409."),
    ("file-name-nfd", "TXT-01", "dossiers",
     "Component file names are stored and returned NFD-normalised instead of as sent."),
    # ---- dossiers: the lifecycle ------------------------------------------------------------
    ("resolve-from-received", "LIF-03", "dossiers",
     "resolveDossier succeeds on a received dossier (200) instead of answering 409."),
    ("withdrawal-from-terminal", "LIF-03", "dossiers",
     "requestWithdrawal succeeds on a refused, stopped or returned dossier."),
    ("stop-leads-to-refused", "LIF-02", "dossiers",
     "stopProcessing moves the dossier to refused (3) instead of stopped (8)."),
    ("ignore-if-match", "LIF-04", "dossiers",
     "A stale If-Match is ignored: the change is applied instead of answering 412."),
    ("refuse-without-reason", "RCV-08", "dossiers",
     "refuseDossier accepts a body without a reason and refuses the dossier."),
    ("stop-without-reason", "WDR-03", "dossiers",
     "stopProcessing accepts a body without a reason and stops the dossier."),
    ("supplement-request-without-reason", "SUP-01", "dossiers",
     "requestSupplement accepts a body without a reason."),
    ("supplement-returns-to-received", "SUP-02", "dossiers",
     "A supplement asked during processing returns the dossier to received, not in-process."),
    ("supplement-changes-code", "SUP-03", "dossiers",
     "A supplemented dossier is given a new dossier code."),
    ("supplement-drops-history", "SUP-04", "dossiers",
     "The history entry of a supplement does not record which components it changed."),
    ("edit-after-submission", "SUP-05", "dossiers",
     "updateDossier changes the form of a submitted dossier instead of answering 409."),
    # ---- dossiers: access and notifications -------------------------------------------------
    ("other-applicant-reads-dossier", "SEC-04", "dossiers",
     "getDossier shows any applicant's dossier to any other applicant."),
    ("applicant-calls-officer-action", "SEC-03", "dossiers",
     "The officer actions of the dossiers interface accept an applicant's token."),
    ("other-agency-officer-acts", "SEC-06", "dossiers",
     "An officer of any agency reads and acts on a dossier addressed to another agency."),
    ("no-submission-notification", "NTF-01", "dossiers",
     "A successful submission sends the applicant no notification."),
    ("notification-without-reason", "NTF-02", "dossiers",
     "Notifications of refusals, supplement requests and stops leave out the reason."),
    # ---- every interface (shown on the dossiers interface's operations) ---------------------
    ("malformed-json-500", "ERR-04", "dossiers",
     "A request body that is not valid JSON is answered 500 with a stack trace, on every path."),
    ("problem-as-plain-json", "ERR-01", "dossiers",
     "Errors are sent as application/json {error, message} instead of problem+json."),
    ("errors-without-pointers", "ERR-02", "dossiers",
     "400 problems carry no errors[] naming the failing fields."),
    ("accept-unknown-fields", "ERR-03", "dossiers",
     "Unknown top-level body fields of createDossier, updateDossier, submitRequest, "
     "addRepositoryItem and createPaymentRequest are silently accepted instead of a 400."),
    ("no-allow-on-405", "ERR-05", "dossiers",
     "405 answers carry no Allow header."),
    # ---- ecopies ----------------------------------------------------------------------------
    ("ecopy-visible-to-others", "SEC-04", "ecopies",
     "getECopy shows any applicant's e-copy request to any other applicant."),
    ("ecopy-register-copy-missing", "CPY-01", "ecopies",
     "An e-copy issued from the register has no stored file: downloadECopy answers 404."),
    ("certification-not-saved", "CPY-02", "ecopies",
     "certifyECopy answers issued but does not save it: the copy stays requested."),
    ("ecopy-signed-unpublished-key", "CPY-03", "ecopies",
     "E-copies are signed with a key the results JWKS does not publish."),
    # ---- payments ---------------------------------------------------------------------------
    ("payment-bad-hash-accepted", "SEC-07", "payments",
     "A payment notification is applied whatever its secureHash."),
    ("payment-replay-applied-twice", "PAY-05", "payments",
     "A second delivery of an applied notification is applied again: acknowledged applied, "
     "notified, announced and pushed twice."),
    ("payment-wrong-amount-accepted", "PAY-05", "payments",
     "A notification whose amount differs from the payment request is applied."),
    ("payment-idempotency-ignored", "PAY-03", "payments",
     "createPaymentRequest ignores Idempotency-Key: a repeat creates a second payment."),
    ("receipt-hidden-from-officer", "PAY-06", "payments",
     "getPaymentReceipt answers 404 to the agency's officers; only the payer gets it."),
    ("dossier-not-resumed-after-payment", "PAY-04", "payments",
     "A paid fee notice leaves the dossier fee-requested instead of moving it to in-process."),
    ("money-as-string", "FMT-07", "payments",
     "getPayment returns the amount as a string of digits instead of an integer."),
    # ---- payment-platform -------------------------------------------------------------------
    ("platform-receipt-wrong-key", "PAY-09", "payment-platform",
     "E-receipts are signed with a key the platform JWKS does not publish."),
    ("platform-idempotency-ignored", "PAY-07", "payment-platform",
     "createPlatformPayment ignores Idempotency-Key: a repeat is refused as a reused reference."),
    ("platform-plain-sha256-hash", "PAY-08", "payment-platform",
     "The platform's secureHash is a plain SHA-256 of the fields and the secret, not an HMAC."),
    ("platform-reveals-other-merchants", "SEC-04", "payment-platform",
     "getPlatformPayment shows any transaction to any system client."),
    # ---- results ----------------------------------------------------------------------------
    ("result-number-per-agency", "FMT-04", "results",
     "The n of <dossier code>-KQ<n> counts the agency's results, not the dossier's."),
    ("result-signed-unpublished-key", "RES-02", "results",
     "E-results are signed with a key the results JWKS does not publish."),
    ("resolve-forgets-result-code", "RES-01", "results",
     "A resolved dossier does not list the code of the result issued for it."),
    ("cancel-without-reason", "CAN-01", "results",
     "cancelResult accepts a body without a reason."),
    ("cancelled-result-gone", "CAN-02", "results",
     "A cancelled result is no longer retrievable: getResult answers 404."),
    ("verification-valid-after-cancel", "CAN-05", "results",
     "verifyResult still reports a cancelled result as valid."),
    ("printout-wrong-verification-code", "PRN-03", "results",
     "The printout carries a verification code that verifyResult does not know."),
    ("printout-hidden-from-officer", "PRN-01", "results",
     "getResultPrintout answers 403 to the officers of the issuing agency."),
    ("paper-result-not-downloadable", "PRN-05", "results",
     "The document of a result delivered on paper cannot be downloaded (404)."),
    ("no-result-notification", "NTF-03", "results",
     "The applicant is not notified of the result of their dossier."),
    # ---- repository -------------------------------------------------------------------------
    ("repository-lacks-result", "RES-04", "repository",
     "Issued e-results are not placed in the holder's Repository."),
    ("repository-cross-owner", "SEC-05", "repository",
     "getRepositoryItem and downloadRepositoryItem serve any owner's item to anyone."),
    ("repository-file-truncated", "REP-02", "repository",
     "downloadRepositoryItem drops the last byte of the stored file."),
    ("repository-no-processed-dossier", "REP-03", "repository",
     "A returned dossier and its history are not placed in the Repository."),
    ("repository-not-marked-cancelled", "CAN-03", "repository",
     "Cancelling a result leaves its Repository item valid."),
    ("repository-new-account-404", "REP-01", "repository",
     "listRepositoryItems answers 404 until the owner has stored something."),
    ("repository-title-nfd", "TXT-01", "repository",
     "Repository item titles are stored and returned NFD-normalised instead of as sent."),
    # ---- requests ---------------------------------------------------------------------------
    ("request-refusal-without-reason", "REQ-02", "requests",
     "refuseRequest accepts a body without a reason."),
    ("request-notify-choice-ignored", "REQ-04", "requests",
     "A requester who asked to be told by post is notified electronically, and nothing is posted."),
    ("request-answer-not-notified", "REQ-03", "requests",
     "A resolved request is not notified to the requester."),
    ("request-idempotency-ignored", "ERR-06", "requests",
     "submitRequest ignores Idempotency-Key: a repeat creates a second request."),
    ("request-visible-to-others", "SEC-04", "requests",
     "getRequest shows any applicant's request to any other applicant."),
    # ---- events -----------------------------------------------------------------------------
    ("events-skip-status-change", "EVT-02", "events",
     "Dossier status changes produce no dossier.status-changed event."),
    ("webhook-unkeyed-signature", "EVT-03", "events",
     "Webhook-Signature is a plain SHA-256 of the body, not its HMAC under the secret."),
    ("deleted-subscription-kept", "EVT-03", "events",
     "deleteSubscription answers 204 but the subscription stays readable and subscribed."),
    ("skip-result-cancelled-event", "CAN-04", "events",
     "A cancellation publishes no result.cancelled event."),
    ("redelivery-new-event-id", "EVT-01", "events",
     "Each webhook delivery stamps a fresh event id, unlike the feed and earlier deliveries."),
    # ---- sync -------------------------------------------------------------------------------
    ("sync-push-missing", "EVT-04", "sync",
     "The one-stop role never pushes dossier snapshots to the NPSP."),
    ("sync-repeat-conflicts", "EVT-06", "sync",
     "Repeating the same syncDossier PUT is answered 409 instead of 200."),
    ("synced-dossier-stale", "EVT-05", "sync",
     "A newer syncDossier snapshot is acknowledged but getSyncedDossier keeps the first one."),
)  # fmt: skip
"""Every deliberate fault, by name."""

_CONVENTIONS = "docs/contract-conventions.md"

VARIANTS: Mapping[str, Variant] = MappingProxyType(
    {
        variant.name: variant
        for variant in (
            Variant(
                "ulid-ids",
                "Server-chosen ids are 26-character ULIDs instead of UUIDs: common/codes.json "
                "#/$defs/id fixes no format and clients must treat ids as opaque strings.",
            ),
            Variant(
                "extra-fields",
                "Every JSON object response carries vendor fields the contract does not list: "
                f"{_CONVENTIONS}, Requests and responses: servers may add response fields; "
                "clients must ignore them.",
            ),
            Variant(
                "reverse-order",
                "Lists whose operation fixes no order come newest first: "
                f"{_CONVENTIONS}, Pagination: order is the server's choice unless the operation "
                "says otherwise.",
            ),
            Variant(
                "opaque-cursors",
                "Cursors are sealed tokens (a random nonce, the masked position, an HMAC tag) "
                "instead of readable positions: "
                f"{_CONVENTIONS}, Pagination: cursors are opaque.",
            ),
            Variant(
                "slow",
                "Every response waits 50 to 150 ms: the contract sets no response time, and "
                "clients must not depend on one.",
            ),
            Variant(
                "forbidden-for-others",
                "Another owner's object is answered 403 instead of 404: "
                f"{_CONVENTIONS}, Requests and responses: 403 for someone else's object, which "
                "implementations MAY answer 404 instead.",
            ),
            Variant(
                "async-delivery",
                "Webhooks, NPSP pushes and payment notifications leave the outbox a second or "
                "more after the change, never at once, and each webhook is sent twice: "
                "specs/events.yaml, delivery is at least once, retried from a durable outbox, "
                "and subscribers de-duplicate by event id.",
            ),
            Variant(
                "sequence-gaps",
                "Dossier code sequences advance by 2 (0001, 0003, …): FMT-02 asks numbers "
                "unique per unit and day, not contiguous (Circular 01/2018/TT-VPCP Art. 19).",
            ),
            Variant(
                "extra-headers",
                "Every response carries vendor headers (X-Request-Id, Server-Timing, "
                "X-Powered-By): recipients ignore header fields they do not recognise "
                "(RFC 9110, Field Names), and the contract forbids none.",
            ),
            Variant(
                "problem-extensions",
                "Problem details carry extension members (instance, traceId): RFC 9457 "
                f"Sec. 3.2 allows them and {_CONVENTIONS} asks only for type, title, status "
                "and detail.",
            ),
        )
    }
)
"""Every valid variant, by name."""


def check_names(faults: Iterable[str], variants: Iterable[str]) -> None:
    """Raise ValueError naming every unknown fault or variant and listing the valid names."""
    problems = []
    unknown_faults = sorted(set(faults) - set(FAULTS))
    if unknown_faults:
        problems.append(
            f"unknown fault {', '.join(map(repr, unknown_faults))}; "
            f"valid faults: {', '.join(sorted(FAULTS))}"
        )
    unknown_variants = sorted(set(variants) - set(VARIANTS))
    if unknown_variants:
        problems.append(
            f"unknown variant {', '.join(map(repr, unknown_variants))}; "
            f"valid variants: {', '.join(sorted(VARIANTS))}"
        )
    if problems:
        raise ValueError(". ".join(problems))
