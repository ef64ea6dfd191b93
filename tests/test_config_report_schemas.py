"""The target configuration and report schemas accept their examples and name what is wrong."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError

from egov_contract import contract, load_document, pointer_of, schemas_dir

CONFIG = "target-config.json"
REPORT = "report.json"


def _validator(name: str) -> Draft202012Validator:
    return contract().schema_validator(name)


def _examples(name: str) -> list[Any]:
    examples = load_document(schemas_dir() / name)["examples"]
    assert isinstance(examples, list)
    return examples


def _errors(name: str, instance: Any) -> list[ValidationError]:
    return list(_validator(name).iter_errors(instance))


def _places(errors: list[ValidationError]) -> set[str]:
    """Every JSON pointer an error names, with the missing property appended for `required`."""
    places = set()
    for error in errors:
        where = pointer_of(list(error.absolute_path))
        places.add(where)
        if error.validator == "required" and isinstance(error.validator_value, list):
            for name in error.validator_value:
                if isinstance(error.instance, dict) and name not in error.instance:
                    places.add(f"{where}/{name}")
        for sub in error.context or ():
            places.add(pointer_of(list(sub.absolute_path)))
    return places


@pytest.fixture
def config() -> dict[str, Any]:
    return copy.deepcopy(_examples(CONFIG)[0])


@pytest.fixture
def report() -> dict[str, Any]:
    return copy.deepcopy(_examples(REPORT)[0])


# --- examples --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [CONFIG, REPORT])
def test_examples_validate(name: str) -> None:
    examples = _examples(name)
    assert examples
    for index, example in enumerate(examples):
        problems = [f"{e.json_path}: {e.message}" for e in _errors(name, example)]
        assert not problems, f"examples/{index}: " + "\n".join(problems)


def test_config_examples_cover_one_base_url_and_per_interface_urls() -> None:
    single, per_interface = _examples(CONFIG)[:2]
    assert single["baseUrl"] == "http://127.0.0.1:8000"
    assert "interfaces" not in single
    assert "baseUrl" not in per_interface
    assert len(per_interface["interfaces"]) > 1


def test_the_reference_config_claims_every_profile_and_capability() -> None:
    schema = load_document(schemas_dir() / CONFIG)
    reference = _examples(CONFIG)[0]
    assert set(reference["profiles"]) == set(schema["properties"]["profiles"]["items"]["enum"])
    assert set(reference["capabilities"]) == set(
        schema["properties"]["capabilities"]["items"]["enum"]
    )


# --- invalid configurations ------------------------------------------------------------------


def test_config_without_target_name_is_rejected(config: dict[str, Any]) -> None:
    del config["target"]["name"]
    assert "/target/name" in _places(_errors(CONFIG, config))


def test_identity_with_an_unknown_kind_is_rejected(config: dict[str, Any]) -> None:
    config["identities"]["officer"] = {"kind": "password", "username": "a", "password": "b"}
    assert "/identities/officer/kind" in _places(_errors(CONFIG, config))


def test_identity_missing_a_field_of_its_kind_is_rejected(config: dict[str, Any]) -> None:
    del config["identities"]["system"]["clientSecret"]
    assert "/identities/system/clientSecret" in _places(_errors(CONFIG, config))


def test_waiver_without_expiry_is_rejected(config: dict[str, Any]) -> None:
    waiver = {"requirement": "TXT-02", "justification": "A reason of twenty characters or more."}
    config["waivers"] = [waiver]
    assert "/waivers/0/expires" in _places(_errors(CONFIG, config))


def test_waiver_with_a_short_justification_is_rejected(config: dict[str, Any]) -> None:
    waiver = {"requirement": "TXT-02", "justification": "later", "expires": "2027-01-31"}
    config["waivers"] = [waiver]
    assert "/waivers/0/justification" in _places(_errors(CONFIG, config))


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://127.0.0.1/", "http//x", "not a url"])
def test_bad_base_url_is_rejected(config: dict[str, Any], url: str) -> None:
    config["baseUrl"] = url
    assert "/baseUrl" in _places(_errors(CONFIG, config))


def test_bad_interface_url_is_rejected(config: dict[str, Any]) -> None:
    config["interfaces"] = {"dossiers": "file:///etc/passwd"}
    assert "/interfaces/dossiers" in _places(_errors(CONFIG, config))


def test_config_without_any_url_is_rejected(config: dict[str, Any]) -> None:
    del config["baseUrl"]
    assert _errors(CONFIG, config)


def test_unknown_top_level_key_is_rejected(config: dict[str, Any]) -> None:
    config["baseURL"] = "http://127.0.0.1:8000"
    assert any(e.validator == "additionalProperties" for e in _errors(CONFIG, config))


def test_secret_from_an_env_reference_is_accepted(config: dict[str, Any]) -> None:
    config["identities"]["applicantA"] = {"kind": "static-token", "token": {"env": "EGOV_TOKEN_A"}}
    assert not _errors(CONFIG, config)


def test_bad_env_reference_is_rejected(config: dict[str, Any]) -> None:
    config["secrets"] = {"webhook": {"env": "not a name"}}
    assert "/secrets/webhook/env" in _places(_errors(CONFIG, config))


def test_unknown_capability_is_rejected(config: dict[str, Any]) -> None:
    config["capabilities"] = ["payment", "telepathy"]
    assert "/capabilities/1" in _places(_errors(CONFIG, config))


# --- invalid reports -------------------------------------------------------------------------


def _first_exchange(report: dict[str, Any]) -> dict[str, Any]:
    failure = report["requirements"][0]["tests"][0]["failure"]
    exchange = failure["exchanges"][0]
    assert isinstance(exchange, dict)
    return exchange


def test_report_with_an_unredacted_token_is_rejected(report: dict[str, Any]) -> None:
    exchange = _first_exchange(report)
    exchange["request"]["headers"]["authorization"] = "Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig"
    places = _places(_errors(REPORT, report))
    assert any(p.endswith("/request/headers/authorization") for p in places)


def test_report_with_an_unredacted_secret_in_a_body_is_rejected(report: dict[str, Any]) -> None:
    exchange = _first_exchange(report)
    exchange["response"]["body"] = {"access_token": "eyJhbGciOiJFUzI1NiJ9.e30.sig"}
    assert _errors(REPORT, report)
    exchange["response"]["body"] = {"access_token": "***", "token_type": "Bearer"}
    assert not _errors(REPORT, report)


def test_report_failed_test_needs_its_evidence(report: dict[str, Any]) -> None:
    del report["requirements"][0]["tests"][0]["failure"]
    assert "/requirements/0/tests/0/failure" in _places(_errors(REPORT, report))


def test_report_waived_requirement_needs_the_waiver(report: dict[str, Any]) -> None:
    report["requirements"][1]["outcome"] = "waived"
    assert "/requirements/1/waiver" in _places(_errors(REPORT, report))


def test_report_times_need_an_offset(report: dict[str, Any]) -> None:
    report["startedAt"] = "2026-11-23T09:00:00"
    assert "/startedAt" in _places(_errors(REPORT, report))
    report["startedAt"] = "2026-11-23T02:00:00Z"
    assert not _errors(REPORT, report)


def test_report_verdict_is_one_of_two(report: dict[str, Any]) -> None:
    report["profiles"][0]["verdict"] = "mostly-fine"
    assert "/profiles/0/verdict" in _places(_errors(REPORT, report))
