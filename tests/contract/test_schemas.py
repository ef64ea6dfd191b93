"""Every JSON Schema is valid 2020-12, named by its place, and resolves offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from egov_contract import SCHEMA_BASE, Contract, load_document, pointer_of, schemas_dir

from ._walk import refs, walk
from .conftest import SCHEMA_FILES


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(schemas_dir())) for p in paths]


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_ids(SCHEMA_FILES))
def test_schema_is_valid_against_the_2020_12_metaschema(path: Path) -> None:
    schema = load_document(path)
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_ids(SCHEMA_FILES))
def test_schema_id_mirrors_its_path(path: Path) -> None:
    schema = load_document(path)
    assert schema["$id"] == SCHEMA_BASE + path.relative_to(schemas_dir()).as_posix()


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_ids(SCHEMA_FILES))
def test_every_ref_in_schema_resolves_offline(path: Path, the_contract: Contract) -> None:
    schema = load_document(path)
    resolver = the_contract.registry.resolver(base_uri=schema["$id"])
    for pointer, ref in refs(schema):
        try:
            resolver.lookup(ref)
        except Exception as exc:
            pytest.fail(f"{path.name} at {pointer}: $ref {ref!r} does not resolve: {exc}")


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_ids(SCHEMA_FILES))
def test_examples_inside_schemas_validate(path: Path, the_contract: Contract) -> None:
    """A schema's own ``examples`` keyword holds values valid against that schema."""
    schema = load_document(path)
    failures = []
    for where, node in walk(schema):
        if not isinstance(node, dict) or not isinstance(node.get("examples"), list):
            continue
        if where and where[-1] == "properties":
            continue  # a property that happens to be called "examples"
        validator = the_contract.validator(f"{schema['$id']}#{pointer_of(where)}")
        for index, example in enumerate(node["examples"]):
            for error in validator.iter_errors(example):
                failures.append(f"{pointer_of(where)}/examples/{index}: {error.message}")
    assert not failures, "\n".join(failures)
