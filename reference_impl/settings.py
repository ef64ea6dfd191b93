"""The server's settings: read once, frozen."""

from __future__ import annotations

from dataclasses import dataclass, field

from egov_contract import fixtures_dir

from .faults import check_names


@dataclass(frozen=True)
class Settings:
    """Everything the reference server is configured with.

    Attributes:
        db_url: SQLAlchemy URL; ``sqlite:///path`` (the default, embedded) or ``postgresql://…``.
        public_url: the base URL clients reach the server at; the token issuer and the links
            the server hands out are built on it.
        trusted_issuers: other identity providers whose tokens are accepted, as
            ``(issuer, jwks_url)`` pairs (the conformance harness's identity simulator).
        platform_url: base URL of the payment platform; the server's own sandbox by default.
        platform_secret: the secret shared with the payment platform for notification hashes.
        sync_url: where the one-stop role pushes dossiers, results and payments (NPSP sync);
            ``None`` pushes to the server's own sync endpoints.
        validate_responses: check every response against the spec (tests turn this on).
        signing_authorities: PEM files of further certification authorities whose signers'
            file signatures are accepted; the sandbox CA of fixtures/signing always is.
        outbox_interval_seconds: how often queued events and pushes are sent; 0 sends none
            automatically (tests then drive ``events.Deliverer.run_once`` themselves).
        clock_offset_seconds: how far the server's clock is ahead of the machine's (negative:
            behind; ``serve --clock-start``, for testing). Every time the server stamps or
            judges (receipts, appointments, tokens, payments, events) follows it; the outbox's
            retry timing and the HTTP ``Date`` header stay on the machine's clock.
        faults: names of deliberate faults to switch on (mutation testing only; see
            `faults.FAULTS`).
        variants: names of valid variants to switch on (see `faults.VARIANTS`).

    Raises:
        ValueError: a fault or variant name is unknown; the message lists the valid ones.
    """

    db_url: str = "sqlite:///egov-reference.sqlite3"
    public_url: str = "http://127.0.0.1:8000"
    trusted_issuers: tuple[tuple[str, str], ...] = ()
    platform_url: str | None = None
    platform_secret: str = "sandbox-payment-secret-change-me"
    sync_url: str | None = None
    validate_responses: bool = False
    signing_authorities: tuple[str, ...] = ()
    max_file_bytes: int = 10_000_000
    token_lifetime_seconds: int = 3600
    outbox_interval_seconds: float = 0.2
    clock_offset_seconds: float = 0.0
    faults: frozenset[str] = field(default_factory=frozenset)
    variants: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # A list from a command line or JSON is as good as a set; a typo is not.
        object.__setattr__(self, "faults", frozenset(self.faults))
        object.__setattr__(self, "variants", frozenset(self.variants))
        object.__setattr__(self, "signing_authorities", tuple(self.signing_authorities))
        check_names(self.faults, self.variants)

    @property
    def issuer(self) -> str:
        """The sandbox identity provider's issuer identifier."""
        return self.public_url.rstrip("/")

    @property
    def signing_authority_files(self) -> tuple[str, ...]:
        """Every PEM file of trusted signing authorities: the sandbox CA first."""
        return (str(fixtures_dir() / "signing" / "sandbox-ca.pem"), *self.signing_authorities)

    def has_fault(self, name: str) -> bool:
        """True when the deliberate fault ``name`` is switched on."""
        return name in self.faults

    def has_variant(self, name: str) -> bool:
        """True when the valid variant ``name`` is switched on."""
        return name in self.variants
