"""What the load users need from the target and the fixtures, set up once per process.

Accounts: against the reference sandbox (a bare base URL) every fixture citizen signs in (60 of
them, `fixtures/citizens.json`) and every fixture officer of the receiving agency; against a
vendor's configuration only its configured identities exist, so users share them. Tokens come
from `conformance.identities` and are fetched lazily, outside locust's statistics, then reused
until shortly before they expire.

Clean-up: drafts a user created and had not submitted when the run stopped are deleted (the
contract lets an applicant delete a draft, nothing else), within a few seconds at most.

No locust import: this module only uses httpx, which gevent makes cooperative in a locust
process, and is imported by the CLI's pre-flight check too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

import httpx

from egov_contract import fixtures_dir

from ..config import ConfigError, Identity, TargetConfig, load_target
from ..identities import TokenSource, token_source
from ..outcomes import HarnessError
from ..signatures import signed, signer_of
from .options import LoadSettings
from .record import RunRecord
from .sampling import Sampler

VN_TZ = timezone(timedelta(hours=7))
CLEAN_UP_SECONDS = 3.0
"""The most time clean-up may add after a run."""
PENDING_PAYMENTS = 1000
"""Payments waiting for the platform's notification that a process remembers (oldest go)."""
MEDIA_TYPES = {
    "application/pdf": "sample.pdf",
    "image/png": "sample.png",
    "image/jpeg": "sample.jpg",
}
"""The small real files of `fixtures/documents` by the media type they are."""
CONTEXT_KEY = "egov_run"
"""Where a request event's ``context`` carries the user's `RunContext` (for sampling)."""
NOTIFICATION_FIELDS = ("reference", "transactionId", "amount", "currency", "status", "paidAt")


class LoadSetupError(RuntimeError):
    """The target cannot take a load run as configured; the message is one sentence."""


@dataclass(frozen=True)
class Urls:
    """Base URLs of the interfaces the users call (None where the target has none)."""

    catalogue: str
    dossiers: str
    payments: str | None
    platform: str | None
    results: str | None
    repository: str | None

    @classmethod
    def of(cls, config: TargetConfig) -> Urls:
        """The URLs of ``config``."""
        found = config.base_urls
        return cls(
            catalogue=config.base_url("catalogue"),
            dossiers=config.base_url("dossiers"),
            payments=found.get("payments"),
            platform=found.get("paymentPlatform"),
            results=found.get("results"),
            repository=found.get("repository"),
        )


@cache
def upload(media_type: str, file_name: str | None = None) -> dict[str, str]:
    """A fixture document of ``media_type`` as an inline upload (base64, cached)."""
    name = MEDIA_TYPES[media_type]
    content = (fixtures_dir() / "documents" / name).read_bytes()
    return {
        "fileName": file_name or name,
        "mediaType": media_type,
        "contentBase64": base64.b64encode(content).decode("ascii"),
    }


_SIGNED: dict[tuple[str, tuple[str, str] | None], dict[str, str]] = {}


def signed_upload(config: TargetConfig, media_type: str) -> dict[str, str]:
    """`upload` with the configured signer's signature, made once per signer and media type."""
    key = (media_type, config.signer_files)
    if key not in _SIGNED:
        file = upload(media_type)
        _SIGNED[key] = signed(file, signer_of(config))
    return _SIGNED[key]


@cache
def sample_form(procedure: str) -> dict[str, Any] | None:
    """The filled-in e-form of a fixture procedure, or None when the fixtures have none."""
    path = fixtures_dir() / "forms" / f"{procedure}.sample.json"
    if not path.is_file():
        return None
    return dict(json.loads(path.read_text("utf-8")))


def now_rfc3339() -> str:
    """The current time with the ``+07:00`` offset the contract uses."""
    return datetime.now(VN_TZ).replace(microsecond=0).isoformat()


def payment_notification(payment: dict[str, Any], secret: str, paid_at: str) -> dict[str, Any]:
    """The platform's ``succeeded`` notification of ``payment`` with its ``secureHash``.

    Conventions, "Payment notifications": the lowercase hex HMAC-SHA256 of the fields joined
    by ``|``, keyed with the secret the platform and the portal share.
    """
    body: dict[str, Any] = {
        "notificationId": f"load-{payment['transactionId']}-{time.monotonic_ns()}",
        "reference": payment["reference"],
        "transactionId": payment["transactionId"],
        "amount": payment["amount"],
        "currency": payment.get("currency", "VND"),
        "status": "succeeded",
        "paidAt": paid_at,
    }
    message = "|".join(str(body[name]) for name in NOTIFICATION_FIELDS).encode("utf-8")
    body["secureHash"] = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return body


def _with_hint(identity: Identity, name: str, hint: str) -> Identity:
    return Identity(name, identity.kind, {**identity.settings, "loginHint": hint})


def applicant_identities(config: TargetConfig) -> list[Identity]:
    """Who applies: every fixture citizen in the sandbox, else the configured applicants."""
    configured = [
        config.identities[n] for n in ("applicantA", "applicantB") if n in config.identities
    ]
    if not configured:
        raise LoadSetupError(f"{config.source} configures no applicant (identities.applicantA)")
    if not config.sandbox or configured[0].kind != "oidc-sandbox":
        return configured
    citizens = json.loads((fixtures_dir() / "citizens.json").read_text("utf-8"))
    return [
        _with_hint(configured[0], f"citizen {c['personalId']}", c["personalId"]) for c in citizens
    ]


def officer_identities(config: TargetConfig) -> list[Identity]:
    """Who receives: the sandbox's officers of the receiving agency, else the configured one."""
    officer = config.identities.get("officer")
    if officer is None:
        raise LoadSetupError(f"{config.source} configures no officer (identities.officer)")
    if not config.sandbox or officer.kind != "oidc-sandbox":
        return [officer]
    officers = json.loads((fixtures_dir() / "officers.json").read_text("utf-8"))
    agency = config.procedures.agency_code
    found = [o["username"] for o in officers if o["agencyCode"] == agency]
    return [_with_hint(officer, f"officer {u}", u) for u in found] or [officer]


@dataclass
class Accounts:
    """Token sources handed out round robin, so users spread over the accounts."""

    sources: list[TokenSource]
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    def next(self) -> TokenSource:
        """The next account's token source."""
        return self.sources[next(self._turn) % len(self.sources)]


@dataclass
class RunContext:
    """Everything the users of one process share for the run."""

    settings: LoadSettings
    config: TargetConfig
    urls: Urls
    applicants: Accounts
    officers: Accounts
    record: RunRecord
    platform_secret: str | None
    pending_payments: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=PENDING_PAYMENTS)
    )
    drafts: dict[str, TokenSource] = field(default_factory=dict)

    def claims(self, capability: str) -> bool:
        """True when the target claims an optional feature (and has its interface)."""
        needs = {"payment": self.urls.payments, "repository": self.urls.repository}
        return self.config.claims(capability) and needs.get(capability, "") is not None

    def clean_up(self, budget: float = CLEAN_UP_SECONDS) -> tuple[int, int]:
        """Delete drafts left by users stopped mid-way; ``(deleted, left)`` within ``budget``."""
        deadline = time.monotonic() + budget
        deleted = 0
        with httpx.Client(timeout=httpx.Timeout(2.0)) as client:
            for dossier_id, source in list(self.drafts.items()):
                if time.monotonic() >= deadline:
                    break
                try:
                    answer = client.delete(
                        f"{self.urls.dossiers}/dossiers/{dossier_id}",
                        headers={"Authorization": f"Bearer {source.token()}"},
                    )
                except (httpx.HTTPError, HarnessError):
                    continue
                if answer.status_code in (204, 404):
                    deleted += 1
                    del self.drafts[dossier_id]
        return deleted, len(self.drafts)


def build_context(settings: LoadSettings, offset: int = 0) -> RunContext:
    """The context of one load-generating process; ``offset`` spreads workers over accounts."""
    try:
        config = load_target(settings.target)
        urls = Urls.of(config)
    except ConfigError as problem:
        raise LoadSetupError(str(problem)) from None
    applicants = [token_source(i, config) for i in applicant_identities(config)]
    officers = [token_source(i, config) for i in officer_identities(config)]
    shift = offset % len(applicants)
    return RunContext(
        settings=settings,
        config=config,
        urls=urls,
        applicants=Accounts(applicants[shift:] + applicants[:shift]),
        officers=Accounts(officers),
        record=RunRecord(Sampler(settings.sample_every)),
        platform_secret=config.secrets.get("paymentNotification"),
    )


_CONTEXTS: dict[int, RunContext] = {}
"""The run context of each locust `Environment` in this process (one, in practice)."""


def run_context(environment: Any) -> RunContext:
    """The context of ``environment``'s run, built on first use from its parsed options.

    A worker asks for it once the master's spawn message has brought the ``--egov-*``
    options; its index shifts the accounts so workers do not all start with the same citizen.
    """
    key = id(environment)
    if key not in _CONTEXTS:
        settings = LoadSettings.from_options(environment.parsed_options, environment.host)
        offset = int(getattr(environment.runner, "worker_index", 0) or 0) * 7
        _CONTEXTS[key] = build_context(settings, offset)
    return _CONTEXTS[key]


def known_context(environment: Any) -> RunContext | None:
    """The context of ``environment`` if a user or a hook has built it, else None."""
    return _CONTEXTS.get(id(environment))


def preflight(config: TargetConfig, timeout: float = 10.0) -> None:
    """Check, before any load, that the target answers and the first accounts can sign in.

    Raises `LoadSetupError` with one sentence naming what failed and where.
    """
    used = [*applicant_identities(config), *officer_identities(config)]
    minted = sorted({i.name for i in used if i.kind == "kit-issuer"})
    if minted:
        raise LoadSetupError(
            f"{', '.join(minted)} of {config.source} is kind kit-issuer, whose tokens the kit's "
            "identity provider mints during a conformance run; a load run starts no simulators: "
            "give the load configuration another kind (oidc-sandbox, client-credentials, "
            "static-token or token-command)"
        )
    primary = config.procedures.primary
    url = f"{config.base_url('catalogue')}/procedures/{primary}"
    try:
        answer = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as problem:
        raise LoadSetupError(f"cannot reach the target at {url}: {problem}") from None
    if answer.status_code != 200:
        raise LoadSetupError(
            f"{url} answered HTTP {answer.status_code}; the primary procedure {primary} must "
            "be readable in the target's catalogue"
        )
    for procedure in (primary, config.procedures.with_fee):
        if procedure and sample_form(procedure) is None:
            raise LoadSetupError(
                f"no filled-in form for procedure {procedure} (fixtures/forms/{procedure}"
                ".sample.json); configure procedures of the fixtures for a load run"
            )
    for identity in (applicant_identities(config)[0], officer_identities(config)[0]):
        try:
            token_source(identity, config).token()
        except HarnessError as problem:
            raise LoadSetupError(f"cannot sign in as {identity.name}: {problem}") from None
