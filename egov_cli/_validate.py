"""``egov-conformance validate``: check a document against a schema of the contract."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_validate_command(commands: Any) -> None:
    """Register ``validate``."""
    validate = commands.add_parser(
        "validate",
        help="check a JSON or YAML document against a schema of the contract",
        description="Check a document (a target configuration, a fixture, a dossier body…) "
        "against a schema of the contract. Every error is printed with the file, the JSON "
        "pointer and the rule broken. Exit 0 valid, 1 invalid, 2 unreadable.",
    )
    validate.add_argument("document", type=Path, help="the .json, .yaml or .yml file")
    validate.add_argument(
        "--schema",
        default="target-config.json",
        help="a schema inside schemas/, with an optional pointer, e.g. "
        "'dossier.json#/$defs/createDossierRequest' (default: target-config.json)",
    )
    validate.set_defaults(handler=_validate)


def _validate(arguments: argparse.Namespace) -> int:
    from referencing.exceptions import Unresolvable

    from egov_contract import ContractError, contract, load_document, pointer_of

    try:
        document = load_document(arguments.document)
        validator = contract().schema_validator(arguments.schema)
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    except ContractError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Unresolvable:
        print(f"error: no schema {arguments.schema!r} in the contract's schemas/", file=sys.stderr)
        return 2
    for found in errors:
        pointer = pointer_of(found.absolute_path) or "/"
        print(f"{arguments.document} at {pointer}: {found.validator}: {found.message}")
    if errors:
        print(f"{len(errors)} error(s) against {arguments.schema}", file=sys.stderr)
        return 1
    print(f"{arguments.document}: valid against {arguments.schema}")
    return 0
