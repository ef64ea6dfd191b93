"""The engine end to end: exit codes, evidence in every report format, skips, secrets.

The suites run as the vendor runs them, ``egov-conformance run`` in a child process, against a
reference server on loopback, healthy or with one deliberate fault switched on.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.config import SANDBOX_SYSTEM
from tests.reference.live import LiveServer, free_port

pytestmark = pytest.mark.slow

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")


def kit(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``egov-conformance`` as a vendor types it."""
    return subprocess.run(
        [sys.executable, "-m", "egov_cli", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def faulty(tmp_path: Path) -> Iterator[LiveServer]:
    """A reference server that accepts incomplete dossiers (breaks RCV-01)."""
    server = LiveServer(
        f"sqlite:///{tmp_path / 'ref.sqlite3'}",
        tmp_path / "server.log",
        "--fault",
        "accept-incomplete-dossier",
    ).start()
    yield server
    server.stop()


def test_a_server_that_is_down_is_a_set_up_problem_in_one_sentence() -> None:
    done = kit("run", "--target", f"http://127.0.0.1:{free_port()}", "--quiet")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    message = done.stderr.strip()
    assert message.count("\n") == 0, message
    assert "does not answer" in message


def test_an_invalid_configuration_names_the_field(tmp_path: Path) -> None:
    config = tmp_path / "target.yaml"
    config.write_text("target: {name: X}\nbaseUrl: not-a-url\n", encoding="utf-8")
    done = kit("run", "--target", str(config))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "/baseUrl" in done.stderr
    assert "/identities" in done.stderr or "identities" in done.stderr


def test_a_broken_requirement_fails_with_its_evidence_in_all_three_reports(
    faulty: LiveServer, tmp_path: Path
) -> None:
    report_dir = tmp_path / "report"
    done = kit("run", "--target", faulty.base_url, "--requirement", "RCV-01",
               "--report", str(report_dir), "--quiet")  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr

    report = json.loads((report_dir / "report.json").read_text("utf-8"))
    row = next(r for r in report["requirements"] if r["id"] == "RCV-01")
    assert row["outcome"] == "failed"
    assert "Decree 45/2020/ND-CP" in row["source"]
    failed = [t for t in row["tests"] if t["outcome"] == "failed"]
    assert failed
    failure = failed[0]["failure"]
    assert failure["expected"]
    assert failure["actual"]
    exchange = failure["exchanges"][0]
    assert exchange["request"]["url"].startswith(faulty.base_url)
    assert exchange["request"]["url"].endswith("/submission")
    assert exchange["response"]["status"] == 200

    junit = ET.parse(report_dir / "junit.xml").getroot()
    failures = [c for c in junit.iter("testcase") if c.find("failure") is not None]
    assert any("RCV-01" in (c.get("name") or "") for c in failures)
    assert any("/submission" in ET.tostring(c, encoding="unicode") for c in failures)

    for page in ("report.html", "report.vi.html"):
        html = (report_dir / page).read_text("utf-8")
        assert "RCV-01" in html
        assert "/submission" in html
    assert "Không đạt" in (report_dir / "report.vi.html").read_text("utf-8")


def test_no_report_ever_holds_a_token_or_a_client_secret(
    faulty: LiveServer, tmp_path: Path
) -> None:
    report_dir = tmp_path / "report"
    kit("run", "--target", faulty.base_url, "--requirement", "RCV-01", "--requirement",
        "RCV-03", "--report", str(report_dir), "--quiet")  # fmt: skip
    written = sorted(report_dir.iterdir())
    assert {p.name for p in written} >= {"report.json", "junit.xml", "report.html"}
    for path in written:
        text = path.read_text("utf-8")
        assert not JWT.search(text), f"a JWT in {path.name}"
        assert SANDBOX_SYSTEM[1] not in text
        assert "Bearer ***" in text or "authorization" not in text.lower()


def test_an_unclaimed_capability_is_skipped_with_its_reason_never_passed(
    faulty: LiveServer, tmp_path: Path
) -> None:
    config = tmp_path / "target.yaml"
    config.write_text(
        f"""
target: {{name: Portal without e-copies}}
baseUrl: {faulty.base_url}
capabilities: []
identities:
  applicantA: {{kind: oidc-sandbox, loginHint: "079190012345", clientId: conformance-harness,
               redirectUri: "http://127.0.0.1/callback"}}
  applicantB: {{kind: oidc-sandbox, loginHint: "001203012345", clientId: conformance-harness,
               redirectUri: "http://127.0.0.1/callback"}}
  organisation: {{kind: oidc-sandbox, loginHint: "5700101059", clientId: conformance-harness,
                 redirectUri: "http://127.0.0.1/callback"}}
  officer: {{kind: oidc-sandbox, loginHint: canbo.h22.honghai.01, clientId: conformance-harness,
            redirectUri: "http://127.0.0.1/callback"}}
procedures: {{primary: "1.001193", agencyCode: 000.00.01.H22}}
""",
        encoding="utf-8",
    )
    report_dir = tmp_path / "report"
    kit("run", "--target", str(config), "--profile", "national-portal", "--requirement",
        "CPY-01", "--report", str(report_dir), "--quiet")  # fmt: skip
    report = json.loads((report_dir / "report.json").read_text("utf-8"))
    row = next(r for r in report["requirements"] if r["id"] == "CPY-01")
    assert row["outcome"] == "skipped"
    assert "not claimed" in row["reason"]
    assert all(t["outcome"] == "skipped" for t in row["tests"])
