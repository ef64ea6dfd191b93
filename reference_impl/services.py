"""The server's shared services, built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field

from egov_contract import Contract, contract

from .auth import TokenVerifier
from .background import Background, Job
from .clock import Clock, machine_clock
from .db import Database
from .fault_hooks import TOKEN_FAULTS, LaxTokenVerifier, signature_checks_skipped
from .file_signatures import SignatureVerifier, load_anchors
from .fixtures_data import Fixtures, load_fixtures
from .keys import KeyRing
from .settings import Settings


@dataclass
class Services:
    """Settings, clock, database, keys, token and file-signature verifiers, contract, data."""

    settings: Settings
    clock: Clock
    database: Database
    keys: KeyRing
    verifier: TokenVerifier
    signatures: SignatureVerifier
    contract: Contract
    fixtures: Fixtures
    jobs: list[tuple[float, Job, str]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> Services:
        """Wire every service from the settings."""
        clock = clock or machine_clock(settings.clock_offset_seconds)
        database = Database(settings.db_url)
        keys = KeyRing(database)
        verifier = TokenVerifier(settings.issuer, keys, clock, settings.trusted_issuers)
        if settings.faults & TOKEN_FAULTS:  # mutation testing: a verifier that lets bad tokens in
            verifier = LaxTokenVerifier(
                settings.issuer, keys, clock, settings.trusted_issuers, faults=settings.faults
            )
        return cls(
            settings=settings,
            clock=clock,
            database=database,
            keys=keys,
            verifier=verifier,
            signatures=SignatureVerifier(
                load_anchors(settings.signing_authority_files),
                clock,
                skip=signature_checks_skipped(settings.faults),
            ),
            contract=contract(),
            fixtures=load_fixtures(),
        )

    def add_job(self, interval: float, job: Job, name: str) -> None:
        """Run ``job`` every ``interval`` seconds while the server runs."""
        self.jobs.append((interval, job, name))

    def start_background(self) -> Background:
        """Start every registered job; the caller stops them on shutdown."""
        background = Background()
        for interval, job, name in self.jobs:
            background.every(interval, job, name)
        return background
