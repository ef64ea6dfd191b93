"""Waivers end to end, and ``replay``: one test of a report, run again, ends as it did.

One reference server with two faults (RCV-01 and RCV-08 broken) and one run from a
configuration file that waives RCV-01 until 2099 and RCV-08 until a date long past: the first
failure shows as ``waived`` (never ``passed``), the second is not excused. The failed tests of
that report then replay as failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.config import sandbox_target
from conformance.replay import ReplayError, recorded_target
from egov_cli import main
from tests.reference.live import LiveServer

SANDBOX = 'clientId: conformance-harness, redirectUri: "http://127.0.0.1/callback"'
CONFIG = f"""\
target: {{name: Portal with two faults}}
baseUrl: {{url}}
profiles: [one-stop]
identities:
  applicantA: {{kind: oidc-sandbox, loginHint: "079190012345", {SANDBOX}}}
  applicantB: {{kind: oidc-sandbox, loginHint: "001203012345", {SANDBOX}}}
  organisation: {{kind: oidc-sandbox, loginHint: "5700101059", {SANDBOX}}}
  officer: {{kind: oidc-sandbox, loginHint: canbo.h22.honghai.01, {SANDBOX}}}
procedures: {{primary: "1.001193", agencyCode: 000.00.01.H22}}
waivers:
  - requirement: RCV-01
    justification: The automatic check is replaced in release 5 by the provincial validator.
    expires: "2099-12-31"
    approvedBy: Văn phòng UBND tỉnh Quảng Ninh
  - requirement: RCV-08
    justification: Refusal reasons were to be enforced by the end of the pilot in 2019.
    expires: "2020-01-01"
"""


def kit(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``egov-conformance`` as a vendor types it."""
    return subprocess.run([sys.executable, "-m", "egov_cli", *arguments],
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@dataclass(frozen=True)
class WaivedRun:
    """The run from the configuration with waivers, against the faulty server."""

    server: LiveServer
    config: Path
    report_path: Path
    report: dict[str, Any]
    exit_code: int
    output: str

    def row(self, requirement: str) -> dict[str, Any]:
        return next(r for r in self.report["requirements"] if r["id"] == requirement)

    def failed_test(self, requirement: str) -> str:
        return next(t["name"] for t in self.row(requirement)["tests"] if t["outcome"] == "failed")


@pytest.fixture(scope="module")
def waived_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WaivedRun]:
    work = tmp_path_factory.mktemp("waivers")
    server = LiveServer(f"sqlite:///{work / 'ref.sqlite3'}", work / "server.log",
                        "--fault", "accept-incomplete-dossier",
                        "--fault", "refuse-without-reason").start(120)  # fmt: skip
    config = work / "target.yaml"
    config.write_text(CONFIG.replace("{url}", server.base_url), encoding="utf-8")
    report_dir = work / "report"
    done = kit("run", "--target", str(config), "--requirement", "RCV-01", "--requirement",
               "RCV-08", "--report", str(report_dir), "--quiet")  # fmt: skip
    report_path = report_dir / "report.json"
    report = json.loads(report_path.read_text("utf-8"))
    yield WaivedRun(server, config, report_path, report, done.returncode,
                    done.stdout + done.stderr)  # fmt: skip
    server.stop()


@pytest.mark.slow
def test_a_waived_failure_shows_as_waived_never_passed(waived_run: WaivedRun) -> None:
    row = waived_run.row("RCV-01")
    assert row["outcome"] == "waived", waived_run.output[-3000:]
    assert row["reason"] == "failed but waived until 2099-12-31"
    assert row["waiver"] == {
        "justification": "The automatic check is replaced in release 5 by the provincial "
        "validator.",
        "expires": "2099-12-31",
        "approvedBy": "Văn phòng UBND tỉnh Quảng Ninh",
    }
    assert "failed" in {t["outcome"] for t in row["tests"]}
    assert "RCV-01" not in waived_run.report["summary"]["failedMust"]


@pytest.mark.slow
def test_an_expired_waiver_is_not_applied(waived_run: WaivedRun) -> None:
    row = waived_run.row("RCV-08")
    assert row["outcome"] == "failed"
    assert row["reason"] == "the waiver expired on 2020-01-01 and was not applied"
    assert "waiver" not in row
    assert waived_run.report["summary"]["failedMust"] == ["RCV-08"]
    assert waived_run.exit_code == 1, waived_run.output[-3000:]


@pytest.mark.slow
def test_a_failed_test_replays_as_failed(waived_run: WaivedRun) -> None:
    node = waived_run.failed_test("RCV-08")
    done = kit("replay", "--report", str(waived_run.report_path), "--test", node,
               "--target", str(waived_run.config), "--quiet")  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith(f"FAILED {node} (as recorded)\n  RCV-08: expected ")


@pytest.mark.slow
def test_a_waived_failure_replays_failed_and_exits_as_run_does(waived_run: WaivedRun) -> None:
    node = waived_run.failed_test("RCV-01")
    done = kit("replay", "--report", str(waived_run.report_path), "--test", node,
               "--target", str(waived_run.config), "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"FAILED {node} (as recorded)")
    assert "waived: RCV-01 until 2099-12-31" in done.stdout


@pytest.mark.slow
def test_a_bare_url_report_replays_against_its_own_url(
    waived_run: WaivedRun, tmp_path: Path
) -> None:
    url = waived_run.server.base_url
    report = dict(waived_run.report)
    report["target"] = {**report["target"], "baseUrls": {"dossiers": url, "identity": url},
                        "configSha256": sandbox_target(url).sha256}  # fmt: skip
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    node = waived_run.failed_test("RCV-08")
    done = kit("replay", "--report", str(path), "--test", node, "--quiet")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith(f"FAILED {node} (as recorded)")


# ---- what replay refuses, without a target -----------------------------------------------


def _report(tmp_path: Path, target: dict[str, Any]) -> Path:
    report = {
        "target": target,
        "profiles": [{"name": "one-stop", "verdict": "not-certifiable"}],
        "seeds": {"run": 7},
        "requirements": [
            {"id": "RCV-01", "outcome": "failed", "tests": [
                {"name": "test_reception.py::test_x", "outcome": "failed", "durationMs": 1}]},
        ],
    }  # fmt: skip
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def test_a_report_from_a_configuration_file_needs_the_file_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = {"name": "X", "baseUrls": {"dossiers": "https://a.example"}, "configSha256": "0" * 64}
    path = _report(tmp_path, target)
    assert main(["replay", "--report", str(path), "--test", "test_reception.py::test_x"]) == 2
    assert "give the same file with --target" in capsys.readouterr().err


def test_a_test_the_report_does_not_hold_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _report(tmp_path, {"name": "X", "baseUrls": {}, "configSha256": "0" * 64})
    assert main(["replay", "--report", str(tmp_path), "--test", "test_nope.py::test_y"]) == 2
    assert "the report has no test 'test_nope.py::test_y'" in capsys.readouterr().err
    assert path.is_file()


def test_an_unreadable_report_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "report.json"
    path.write_text("{not json", encoding="utf-8")
    assert main(["replay", "--report", str(path), "--test", "t.py::t"]) == 2
    assert "not a readable report.json" in capsys.readouterr().err


def test_the_sandbox_url_is_recognised_by_its_digest() -> None:
    url = "http://127.0.0.1:8000"
    target = {"baseUrls": {"dossiers": url}, "configSha256": sandbox_target(url).sha256}
    assert recorded_target({"target": target}) == url
    with pytest.raises(ReplayError):
        recorded_target({"target": {**target, "configSha256": "1" * 64}})
