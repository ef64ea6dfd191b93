"""The contract of the kit as data: specs, schemas, requirements, fixtures and format rules.

Both `reference_impl` and `conformance` read the contract through this package, and neither
imports the other.
"""

from ._documents import load_document, pointer_of
from ._errors import ContractError
from ._paths import contract_root, fixtures_dir, requirements_dir, schemas_dir, specs_dir
from ._registry import SCHEMA_BASE, Contract, contract, format_checker
from .requirements import (
    BilingualText,
    Catalogue,
    Citation,
    Requirement,
    Source,
    load_catalogue,
)

__all__ = [
    "BilingualText",
    "Catalogue",
    "Citation",
    "Contract",
    "ContractError",
    "Requirement",
    "SCHEMA_BASE",
    "Source",
    "contract",
    "contract_root",
    "fixtures_dir",
    "format_checker",
    "load_catalogue",
    "load_document",
    "pointer_of",
    "requirements_dir",
    "schemas_dir",
    "specs_dir",
]
