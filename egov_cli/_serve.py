"""``egov-conformance serve``: the reference implementation on uvicorn."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any


def add_serve_command(commands: Any) -> None:
    """Register ``serve``."""
    serve = commands.add_parser(
        "serve",
        help="run the reference implementation",
        description="Run the reference implementation of every interface of the contract.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--db",
        default="sqlite:///egov-reference.sqlite3",
        help="database URL: sqlite:///FILE (default, embedded) or postgresql://…",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes; they share only the database (PostgreSQL suits several; on "
        "SQLite each transaction then takes the write lock first, so they take turns)",
    )
    serve.add_argument(
        "--public-url",
        help="the base URL clients use (default http://HOST:PORT); the token issuer",
    )
    serve.add_argument(
        "--trust-issuer",
        action="append",
        default=[],
        metavar="ISSUER=JWKS_URL",
        help="also accept tokens of this identity provider (repeatable)",
    )
    serve.add_argument(
        "--trust-signing-ca",
        action="append",
        default=[],
        metavar="PEM",
        help="also accept file signatures of signers this certification authority certified "
        "(repeatable; the sandbox CA of fixtures/signing is always trusted)",
    )
    serve.add_argument("--platform-secret", help="secret shared with the payment platform")
    serve.add_argument("--sync-url", help="national portal sync base URL (default: this server)")
    serve.add_argument(
        "--validate-responses",
        action="store_true",
        help="check every response against the contract (slower; for testing)",
    )
    serve.add_argument("--fault", action="append", default=[], help=argparse.SUPPRESS)
    serve.add_argument("--variant", action="append", default=[], help=argparse.SUPPRESS)
    # Testing only: the server's clock starts at this instant (RFC 3339 with an offset) and
    # runs on, so a run can put a submission on a Saturday night at any hour.
    serve.add_argument("--clock-start", type=_instant, help=argparse.SUPPRESS)
    serve.add_argument("--log-level", default="info", help=argparse.SUPPRESS)
    serve.set_defaults(handler=_serve)


def _serve(arguments: argparse.Namespace) -> int:
    from reference_impl.server import run
    from reference_impl.settings import Settings

    trusted = []
    for pair in arguments.trust_issuer:
        issuer, separator, jwks_url = pair.partition("=")
        if not separator or not jwks_url:
            print(f"--trust-issuer wants ISSUER=JWKS_URL, got {pair!r}", file=sys.stderr)
            return 2
        trusted.append((issuer, jwks_url))
    public_url = arguments.public_url or f"http://{arguments.host}:{arguments.port}"
    options: dict[str, Any] = {
        "db_url": arguments.db,
        "public_url": public_url,
        "trusted_issuers": tuple(trusted),
        "sync_url": arguments.sync_url,
        "signing_authorities": tuple(arguments.trust_signing_ca),
        "validate_responses": arguments.validate_responses,
        "faults": frozenset(arguments.fault),
        "variants": frozenset(arguments.variant),
    }
    if arguments.platform_secret:
        options["platform_secret"] = arguments.platform_secret
    if arguments.clock_start is not None:
        shift = arguments.clock_start - datetime.now(UTC)
        options["clock_offset_seconds"] = shift.total_seconds()
    try:
        settings = Settings(**options)
    except ValueError as exc:  # an unknown --fault or --variant: a usage error, not a crash
        print(f"egov-conformance serve: {exc}", file=sys.stderr)
        return 2
    run(settings, arguments.host, arguments.port, arguments.workers, arguments.log_level)
    return 0


def _instant(text: str) -> datetime:
    """``--clock-start``'s value: an RFC 3339 time with its offset."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"wants a time with its offset, like 2026-11-28T22:40:00+07:00; got {text!r}"
        )
    return at
