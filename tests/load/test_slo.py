"""Service-level files: the schema names the JSON pointer of each error; levels hold or break."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.load.slo import SloError, evaluate, load_service_levels, service_levels
from egov_contract import contract

from .conftest import DEFAULT_SLO


def measured(**operations: dict[str, Any]) -> dict[str, Any]:
    """Measurements of a 10-second closed run with the given operations."""
    requests = sum(int(op.get("requests", 0)) for op in operations.values())
    return {
        "durationSeconds": 10.0,
        "workload": {"model": "closed"},
        "operations": operations,
        "total": {"requests": requests, "failures": 0},
        "contract": {"sampled": 3, "violationCount": 0},
    }


def test_default_levels_file_is_valid() -> None:
    """load/slo.yaml, the levels people start from, passes its schema."""
    levels = load_service_levels(DEFAULT_SLO)
    assert levels.latency["submitDossier"]["p95"] == 2000
    assert levels.error_ratio == 0.01
    assert levels.max_violations == 0


def test_schema_examples_and_default_validate_with_the_contract_validator() -> None:
    """The schema is reached through the contract's registry by its $id."""
    validator = contract().schema_validator("slo.json")
    assert list(validator.iter_errors({"errorRatio": 0.05})) == []


@pytest.mark.parametrize(
    ("document", "pointer", "rule"),
    [
        (
            {"latency": {"listProcedures": {"p95": -1}}},
            "/latency/listProcedures/p95",
            "exclusiveMinimum",
        ),
        (
            {"latency": {"getProcedure": {"p96": 100}}},
            "/latency/getProcedure",
            "additionalProperties",
        ),
        ({"latency": {"Not-An-Operation": {"p95": 100}}}, "/latency", "pattern"),
        ({"errorRatio": 2}, "/errorRatio", "maximum"),
        ({"minThroughput": "fast"}, "/minThroughput", "type"),
        ({"maxContractViolations": 0.5}, "/maxContractViolations", "type"),
        ({"latencies": {}}, "/", "additionalProperties"),
        ({}, "/", "minProperties"),
    ],
)
def test_invalid_levels_file_names_the_json_pointer(
    tmp_path: Path, document: dict[str, Any], pointer: str, rule: str
) -> None:
    """Each error names the file, the pointer inside it and the rule broken."""
    path = tmp_path / "levels.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(SloError) as raised:
        load_service_levels(path)
    assert f"{path} at {pointer}: {rule}:" in str(raised.value)


def test_unreadable_levels_file_is_an_slo_error(tmp_path: Path) -> None:
    """A YAML syntax error is reported with its place, not as a traceback."""
    path = tmp_path / "levels.yaml"
    path.write_text("latency: {p95: [", encoding="utf-8")
    with pytest.raises(SloError, match="yaml-syntax"):
        load_service_levels(path)


def test_latency_level_holds_at_the_bound_and_breaks_above_it() -> None:
    """``p95: 100`` holds for 100 ms and breaks for 101 ms."""
    levels = service_levels({"latency": {"getAgency": {"p95": 100}, "getCalendar": {"p95": 100}}})
    judged = evaluate(
        levels,
        measured(
            getAgency={"requests": 5, "p95": 100},
            getCalendar={"requests": 5, "p95": 101},
        ),
    )
    assert [(level.name, level.held) for level in judged] == [
        ("latency/getAgency/p95", True),
        ("latency/getCalendar/p95", False),
    ]


def test_wildcard_applies_to_every_exercised_operation_without_its_own_entry() -> None:
    """``*`` covers what ran; an explicit entry wins over it; what never ran is not judged by it."""
    levels = service_levels({"latency": {"*": {"p99": 500}, "getAgency": {"p99": 50}}})
    judged = evaluate(
        levels,
        measured(
            getAgency={"requests": 2, "p99": 40},
            listAgencies={"requests": 3, "p99": 600},
            getCalendar={"requests": 0},
        ),
    )
    assert {(level.name, level.held) for level in judged} == {
        ("latency/getAgency/p99", True),
        ("latency/listAgencies/p99", False),
    }


def test_named_operation_that_never_ran_breaks_with_a_note() -> None:
    """A level that was not measured did not hold."""
    judged = evaluate(service_levels({"latency": {"submitDossier": {"p95": 2000}}}), measured())
    assert len(judged) == 1
    assert judged[0].held is False
    assert judged[0].measured is None
    assert judged[0].note == "the run made no request of this operation"


def test_error_ratio_throughput_and_violations() -> None:
    """The run-wide levels: failures over requests, requests per second, contract violations."""
    levels = service_levels({"errorRatio": 0.1, "minThroughput": 2, "maxContractViolations": 0})
    run = measured(getAgency={"requests": 30, "p95": 1})
    run["total"]["failures"] = 4
    run["contract"]["violationCount"] = 1
    judged = {level.name: level for level in evaluate(levels, run)}
    assert judged["errorRatio"].measured == pytest.approx(4 / 30)
    assert judged["errorRatio"].held is False
    assert judged["minThroughput"].measured == pytest.approx(3.0)
    assert judged["minThroughput"].held is True
    assert judged["maxContractViolations"].held is False


def test_arrival_ratio_is_judged_in_the_open_workload_only() -> None:
    """Dropped arrivals break ``minArrivalRatio``; the closed workload has no timetable."""
    levels = service_levels({"minArrivalRatio": 0.9})
    run = measured(getAgency={"requests": 1, "p95": 1})
    assert evaluate(levels, run) == []
    run["workload"] = {"model": "open", "rate": 5, "arrivals": 80, "dropped": 20}
    (level,) = evaluate(levels, run)
    assert (level.name, level.measured, level.held) == ("minArrivalRatio", 0.8, False)
