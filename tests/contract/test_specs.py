"""Every OpenAPI document is valid 3.1, follows the conventions, and its examples hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from egov_contract import Contract, contract_root, load_document

from ._walk import media_examples, refs
from .conftest import SPEC_FILES, spec_ids

CONVENTIONS = contract_root() / "docs" / "contract-conventions.md"
ROLES = {"public", "applicant", "officer", "system", "platform"}
METHODS = {"get", "put", "post", "delete", "patch"}


def _operations(spec: dict) -> list[tuple[str, str, dict]]:
    return [
        (method, path, op)
        for path, item in spec.get("paths", {}).items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_there_are_specs() -> None:
    assert len(SPEC_FILES) >= 9, [p.name for p in SPEC_FILES]


@pytest.mark.parametrize("path", SPEC_FILES, ids=spec_ids(SPEC_FILES))
def test_spec_is_valid_openapi_3_1(path: Path) -> None:
    spec, base_uri = read_from_filename(str(path))
    assert spec["openapi"].startswith("3.1.")
    validate(spec, base_uri=base_uri)


@pytest.mark.parametrize("path", SPEC_FILES, ids=spec_ids(SPEC_FILES))
def test_every_ref_in_spec_resolves_offline(path: Path, the_contract: Contract) -> None:
    resolver = the_contract.registry.resolver(base_uri=the_contract.spec_uri(path.stem))
    spec = the_contract.specs[path.stem]
    for pointer, ref in refs(spec):
        try:
            resolver.lookup(ref)
        except Exception as exc:  # the failure message is what matters here
            pytest.fail(f"{path.name} at {pointer}: $ref {ref!r} does not resolve: {exc}")


@pytest.mark.parametrize("path", SPEC_FILES, ids=spec_ids(SPEC_FILES))
def test_every_example_in_spec_validates(path: Path, the_contract: Contract) -> None:
    spec = the_contract.specs[path.stem]
    failures = []
    count = 0
    for schema_pointer, example_pointer, value in media_examples(spec):
        count += 1
        validator = the_contract.spec_validator(path.stem, schema_pointer)
        for error in validator.iter_errors(value):
            failures.append(f"{example_pointer}: {error.json_path}: {error.message}")
    assert not failures, "\n".join(failures)
    assert count > 0, f"{path.name} has no examples"


@pytest.mark.parametrize("path", SPEC_FILES, ids=spec_ids(SPEC_FILES))
def test_operations_follow_the_conventions(path: Path, the_contract: Contract) -> None:
    spec = the_contract.specs[path.stem]
    problems = []
    for method, route, op in _operations(spec):
        where = f"{method.upper()} {route}"
        for key in ("operationId", "summary", "tags", "x-egov-roles", "responses"):
            if key not in op:
                problems.append(f"{where}: no {key}")
        roles = set(op.get("x-egov-roles", []))
        if not roles <= ROLES:
            problems.append(f"{where}: unknown roles {sorted(roles - ROLES)}")
        # ``platform`` calls authenticate by the body's HMAC, not by a bearer token.
        public = roles <= {"public", "platform"}
        security = op.get("security", spec.get("security"))
        if public and security not in ([], [{}]):
            problems.append(f"{where}: public operation must declare security: []")
        if not public and not security:
            problems.append(f"{where}: protected operation declares no security")
        if not public and "401" not in op.get("responses", {}):
            problems.append(f"{where}: protected operation has no 401 response")
        if op.get("requestBody") and "400" not in op.get("responses", {}):
            problems.append(f"{where}: operation with a body has no 400 response")
        for status, response in op.get("responses", {}).items():
            if status.startswith(("4", "5")):
                response = _deref(spec, response)
                if "application/problem+json" not in response.get("content", {}):
                    problems.append(f"{where}: {status} is not application/problem+json")
    assert not problems, "\n".join(problems)


def _deref(spec: dict, node: dict) -> dict:
    """Follow local ``#/...`` references until a real object is reached."""
    while "$ref" in node and node["$ref"].startswith("#/"):
        target = spec
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _table() -> list[tuple[str, str, str, str]]:
    rows = []
    row = re.compile(r"^\| (\S+) \| (GET|POST|PUT|PATCH|DELETE) (\S+) \| (\w+) \|")
    for line in CONVENTIONS.read_text(encoding="utf-8").splitlines():
        match = row.match(line)
        if match:
            rows.append(match.groups())
    return rows


def test_specs_implement_exactly_the_operation_table(the_contract: Contract) -> None:
    wanted = {(s, m.lower(), p, o) for s, m, p, o in _table()}
    assert len(wanted) > 60
    found = {
        (name, method, route, op.get("operationId"))
        for name, spec in the_contract.specs.items()
        for method, route, op in _operations(spec)
    }
    missing = sorted(wanted - found)
    extra = sorted(found - wanted)
    assert not missing, f"in the table but in no spec: {missing}"
    assert not extra, f"in a spec but not in the table: {extra}"


def test_operation_ids_are_unique_across_specs(the_contract: Contract) -> None:
    seen: dict[str, str] = {}
    for name, spec in the_contract.specs.items():
        for _method, _route, op in _operations(spec):
            op_id = op["operationId"]
            assert op_id not in seen, f"{op_id} is in both {seen[op_id]} and {name}"
            seen[op_id] = name


def test_spec_files_parse_as_yaml() -> None:
    for path in SPEC_FILES:
        assert isinstance(load_document(path), dict)
