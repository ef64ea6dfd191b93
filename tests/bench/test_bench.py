"""The bench's own parts that need no server: its e-form, its wrk figures, its guards."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from bench import _wrk
from bench._portal import FORM_BYTES, PROCEDURE, large_form
from egov_contract import fixtures_dir, format_checker, load_document


def test_large_form_is_about_two_kilobytes_and_valid_for_its_procedure() -> None:
    form = large_form()
    size = len(json.dumps(form, ensure_ascii=False, separators=(",", ":")).encode())
    assert FORM_BYTES <= size < FORM_BYTES + 256
    schema = load_document(fixtures_dir() / "forms" / f"{PROCEDURE}.json")
    Draft202012Validator(schema, format_checker=format_checker()).validate(form)


def _line(**counted: float) -> str:
    data = {
        "duration_us": 3_000_000,
        "requests": 300,
        "bytes": 1000,
        "errors": {"connect": 0, "read": 0, "write": 0, "status": 6, "timeout": 0},
        "latency_us": {"mean": 1.0, "p50": 2000, "p90": 3000, "p99": 9000, "max": 12000},
        "counted": {"answered": 0, "ok": 0, "first_us": 0, "last_us": 0, **counted},
    }
    return "Running 3s test\nBENCH_JSON " + json.dumps(data) + "\n"


def test_a_timed_run_counts_non_2xx_answers_as_failures() -> None:
    load = _wrk._parse(_line(), counted=False)
    assert (load.requests, load.ok, load.seconds) == (300, 294, 3.0)
    assert load.rate == pytest.approx(98.0)
    assert (load.p50_ms, load.p99_ms) == (2.0, 9.0)
    assert load.errors == {"status": 6}


def test_a_counted_run_times_first_request_to_last_answer() -> None:
    load = _wrk._parse(
        _line(answered=200, ok=200, first_us=1_000_000, last_us=3_000_000), counted=True
    )
    assert (load.ok, load.seconds, load.rate) == (200, 2.0, 100.0)


def test_wrk_output_without_figures_is_an_error() -> None:
    with pytest.raises(_wrk.BenchError, match="no figures"):
        _wrk._parse("unable to connect\n", counted=False)


def test_the_bench_only_loads_loopback() -> None:
    with pytest.raises(_wrk.BenchError, match=r"only loads 127\.0\.0\.1"):
        _wrk.run_wrk("http://example.com:80")


def test_a_missing_wrk_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bench._wrk.shutil.which", lambda _name: None)
    with pytest.raises(_wrk.BenchError, match="apt-get install -y wrk"):
        _wrk.wrk_path()
