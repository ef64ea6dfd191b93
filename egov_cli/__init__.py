"""The ``egov-conformance`` command: the one place that knows both the server and the suites.

``serve`` starts the reference implementation; the conformance commands live in `conformance`.
The two packages never import each other; this dispatcher imports each lazily.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._demo import add_demo_command
from ._load import add_load_command
from ._run import add_run_command
from ._serve import add_serve_command
from ._validate import add_validate_command

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="egov-conformance",
        description="Conformance, interoperability and load tests for Vietnam's electronic "
        "administrative procedures (Decree 45/2020/ND-CP, Decree 137/2024/ND-CP).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_demo_command(commands)
    add_load_command(commands)
    add_run_command(commands)
    from conformance.cli import add_certification_commands  # lazily, like every command here

    add_certification_commands(commands)  # doctor, replay, bundle, verify-bundle
    add_serve_command(commands)
    add_validate_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 failed, 2 usage or set-up)."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    code: int = arguments.handler(arguments)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
