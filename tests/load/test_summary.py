"""The verdict of a run: summary.json, the lines printed, the exit code (0, 1 or 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.load.options import OptionError
from conformance.load.runner import LoadRequest, duration_seconds, run_load
from conformance.load.slo import evaluate, service_levels
from conformance.load.summary import build_summary, exit_code, report_lines, write_report
from tests.reference.live import free_port

from .conftest import DEFAULT_SLO

MEASURED: dict[str, Any] = {
    "target": {"name": "http://127.0.0.1:8000"},
    "shape": "steady",
    "users": 10,
    "durationSeconds": 20.0,
    "workload": {"model": "open", "rate": 5.0, "arrivals": 95, "dropped": 5},
    "operations": {"submitDossier": {"method": "POST", "requests": 40, "failures": 1, "p95": 900}},
    "total": {"requests": 40, "failures": 1},
    "contract": {"sampled": 2, "violationCount": 0, "violations": []},
    "acceptedDossiers": ["d-1", "d-2"],
}


def summary_for(document: dict[str, Any]) -> dict[str, Any]:
    levels = service_levels(document)
    return build_summary(MEASURED, evaluate(levels, MEASURED), "levels.yaml")


def test_every_level_held_exits_0() -> None:
    """Levels the run meets: verdict passed, nothing broken, exit 0."""
    summary = summary_for({"latency": {"submitDossier": {"p95": 1000}}, "errorRatio": 0.05})
    assert summary["verdict"] == "passed"
    assert summary["broken"] == []
    assert exit_code(summary) == 0
    assert report_lines(summary)[-1] == "passed: all 2 service levels held (each in summary.json)"


def test_a_broken_level_exits_1_and_is_named() -> None:
    """One level over its bound: exit 1, and the printed lines say which and by how much."""
    summary = summary_for({"latency": {"submitDossier": {"p95": 500}}, "errorRatio": 0.05})
    assert summary["verdict"] == "failed"
    assert summary["broken"] == ["latency/submitDossier/p95"]
    assert exit_code(summary) == 1
    lines = report_lines(summary)
    assert "BROKEN: p95 latency of submitDossier: 900 ms, expected at most 500 ms" in lines
    assert lines[-1] == "FAILED: 1 of 2 service levels broken: p95 latency of submitDossier"


def test_summary_records_workload_model_totals_and_levels() -> None:
    """Each level with expected, measured and held; the model that ran; the totals."""
    summary = summary_for({"latency": {"submitDossier": {"p95": 1000}}})
    assert summary["workload"]["model"] == "open"
    assert summary["workload"]["arrivalRatio"] == pytest.approx(0.95)
    assert summary["totals"] == {
        "requests": 40,
        "failures": 1,
        "errorRatio": 1 / 40,
        "throughput": 2.0,
        "operations": 1,
    }
    assert summary["levels"] == [
        {
            "level": "latency/submitDossier/p95",
            "title": "p95 latency of submitDossier",
            "expected": {"comparison": "at most", "value": 1000, "unit": "ms"},
            "measured": 900.0,
            "held": True,
        }
    ]
    assert report_lines(summary)[0].startswith("workload: open at 5.0 arrivals/s")


def test_report_files_hold_measurements_accepted_ids_and_summary(tmp_path: Path) -> None:
    """The accepted dossier ids go one a line, for checking each afterwards."""
    summary = summary_for({"errorRatio": 0.05})
    write_report(tmp_path, MEASURED, summary)
    assert (tmp_path / "accepted-dossiers.txt").read_text() == "d-1\nd-2\n"
    assert json.loads((tmp_path / "summary.json").read_text())["acceptedDossiers"]["count"] == 2
    assert json.loads((tmp_path / "measurements.json").read_text())["users"] == 10


def request(tmp_path: Path, **changes: Any) -> LoadRequest:
    options: dict[str, Any] = {
        "target": f"http://127.0.0.1:{free_port()}",
        "slo": DEFAULT_SLO,
        "report_dir": tmp_path / "report",
        "duration": 5,
    }
    return LoadRequest(**{**options, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, "error: cannot reach the target at http://127.0.0.1:"),
        ({"duration": 7200}, "error: --duration 7200 s is over the cap of 3600 s"),
        ({"duration": 20, "max_duration": 10}, "error: --duration 20 s is over the cap of 10 s"),
        ({"workload": "open"}, "error: the open workload needs a positive --rate"),
        ({"mix": "clerk=3"}, "error: the user mix wants ROLE=WEIGHT"),
        ({"shape": "lunch"}, "error: no traffic shape 'lunch'"),
        ({"target": "missing.yaml"}, "error: missing.yaml: no such file"),
    ],
)
def test_configuration_and_connection_problems_exit_2_with_one_sentence(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    """Nothing is started; one line says what is wrong."""
    said: list[str] = []
    assert run_load(request(tmp_path, **changes), said.append) == 2
    assert len(said) == 1
    assert said[0].startswith(message), said
    assert not (tmp_path / "report").exists()


def test_broken_levels_file_exits_2_naming_the_pointer(tmp_path: Path) -> None:
    """The levels file is checked before anything else is contacted."""
    levels = tmp_path / "levels.yaml"
    levels.write_text("errorRatio: 3\n", encoding="utf-8")
    said: list[str] = []
    assert run_load(request(tmp_path, slo=levels), said.append) == 2
    assert said == [f"error: {levels} at /errorRatio: maximum: 3 is greater than the maximum of 1"]


@pytest.mark.parametrize(("text", "seconds"), [("30", 30), ("30s", 30), ("2m", 120), ("1h", 3600)])
def test_duration_takes_seconds_or_a_unit(text: str, seconds: int) -> None:
    """``--duration`` reads like locust's ``-t``."""
    assert duration_seconds(text) == seconds


def test_duration_refuses_nonsense() -> None:
    """Zero, negative or unreadable durations are option errors."""
    for text in ("0", "-5", "soon"):
        with pytest.raises(OptionError):
            duration_seconds(text)
