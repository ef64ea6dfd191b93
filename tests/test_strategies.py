"""Strategies built from the contract's schemas draw documents those schemas accept."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egov_contract import ContractError, contract, pointer_of
from egov_contract.formats import is_personal_id
from egov_contract.strategies import bundle_schema, from_contract_schema

# Whole documents are large, slow draws (objects get arbitrary extra members): a fifth of the
# profile's effort, and generation speed is not what these tests are about.
DOCUMENTS = settings(
    max_examples=max(10, settings.default.max_examples // 5),
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)
REFS = [
    "common/codes.json#/$defs/personalId",
    "common/codes.json#/$defs/taxCode",
    "common/codes.json#/$defs/dossierCode",
    "agency.json#/$defs/agency",
    "agency.json#/$defs/calendar",
    "procedure.json#/$defs/procedure",
    "procedure.json",
    "subject.json#/$defs/citizen",
    "subject.json#/$defs/organisation",
    "subject.json#/$defs/officer",
    "subject.json#/$defs/system",
]


def _refs_in(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs_in(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs_in(value)]
    return []


@pytest.mark.parametrize("ref", REFS)
@DOCUMENTS
@given(data=st.data())
def test_from_contract_schema_draws_documents_the_schema_accepts(
    ref: str, data: st.DataObject
) -> None:
    document = data.draw(from_contract_schema(ref))
    validator = contract().schema_validator(ref)
    errors = [
        f"{pointer_of(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)
    ]
    assert errors == []


@pytest.mark.parametrize("ref", REFS)
def test_bundle_schema_leaves_no_reference_behind(ref: str) -> None:
    bundled = bundle_schema(ref)
    assert _refs_in(bundled) == []
    assert bundled["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_bundle_schema_keeps_properties_named_like_keywords() -> None:
    # The e-form schema has a property called "$schema": a name, not a keyword to drop.
    bundled = bundle_schema("procedure.json#/$defs/eForm")
    assert "$schema" in bundled["properties"]


def test_bundle_schema_inlines_the_target_of_each_reference() -> None:
    bundled = bundle_schema("subject.json#/$defs/citizen")
    assert bundled["properties"]["personalId"]["format"] == "vn-personal-id"
    assert bundled["properties"]["phone"]["pattern"].startswith("^(\\+84|0)")


def test_bundle_schema_names_a_reference_that_does_not_resolve() -> None:
    with pytest.raises(ContractError, match=r"nowhere\.json"):
        bundle_schema("nowhere.json#/$defs/x")


@DOCUMENTS
@given(citizen=from_contract_schema("subject.json#/$defs/citizen"))
def test_drawn_citizens_carry_valid_custom_formats(citizen: dict[str, Any]) -> None:
    assert is_personal_id(citizen["personalId"])
