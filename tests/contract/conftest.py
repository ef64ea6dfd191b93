from __future__ import annotations

from pathlib import Path

import pytest

from egov_contract import Contract, contract, schemas_dir, specs_dir

SPEC_FILES = sorted(specs_dir().glob("*.yaml"))
SCHEMA_FILES = sorted(schemas_dir().rglob("*.json"))


@pytest.fixture(scope="session")
def the_contract() -> Contract:
    return contract()


def spec_ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]
