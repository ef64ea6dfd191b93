"""The certification bundle: what it holds, what it leaves out, and what its check catches."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from conformance.bundle import MANIFEST, REPORT_FILES, verify_bundle
from conformance.config import CAPABILITIES
from conformance.outcomes import FailureDetail, Outcome, TestOutcome
from conformance.report import build_report, write_reports
from egov_cli import main
from egov_contract import load_catalogue

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SECRETS = {
    "client": "cs-literal-7f3a9d2e41b8c6",
    "token": "static-token-5be1c0ffee",
    "payment": "payment-secret-d00dfeed",
    "password": "url-pass-9a8b7c",
}
CONFIG = f"""\
# The vendor's configuration: literal secrets, and one read from the environment.
target: {{name: Hệ thống một cửa tỉnh Quảng Ninh, vendor: Example JSC}}
baseUrl: http://kit:{SECRETS["password"]}@127.0.0.1:8000
profiles: [repository]
identities:
  applicantA: {{kind: static-token, token: {SECRETS["token"]}}}
  applicantB: {{kind: static-token, token: {{env: EGOV_APPLICANT_B_TOKEN}}}}
  organisation: {{kind: oidc-sandbox, loginHint: "5700101059", clientId: portal,
                 clientSecret: {SECRETS["client"]}, redirectUri: "http://127.0.0.1/callback"}}
  officer: {{kind: client-credentials, clientId: officer, clientSecret: {{env: EGOV_OFFICER}}}}
procedures: {{primary: "1.001193", agencyCode: 000.00.01.H22}}
secrets: {{paymentNotification: {SECRETS["payment"]}}}
"""


def _run_report(config: Path, *, failing: bool = False) -> dict[str, Any]:
    """A report of the repository profile, as if the run used ``config``."""
    catalogue = load_catalogue()
    outcomes = [
        TestOutcome(
            name=f"test_repository.py::test_{row.id.lower().replace('-', '_')}",
            title=f"Checks {row.id}.",
            requirements=(row.id,),
            outcome=Outcome.PASSED,
            duration_ms=12.0,
        )
        for row in catalogue.for_profile("repository")
    ]
    if failing:
        broken = outcomes[0]
        broken.outcome = Outcome.FAILED
        broken.failure = FailureDetail(broken.requirements[0], "a 404", "a 200", "it answered")
    started = datetime(2026, 11, 30, 9, 0, tzinfo=VN)
    return build_report(
        outcomes,
        profiles=["repository"],
        target={
            "name": "Hệ thống một cửa tỉnh Quảng Ninh",
            "baseUrls": {"repository": "http://kit:***@127.0.0.1:8000"},
            "configSha256": hashlib.sha256(config.read_bytes()).hexdigest(),
        },
        capabilities=CAPABILITIES,
        started=started,
        finished=started + timedelta(minutes=3),
        seeds={"run": 4242},
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "target.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def _bundle(tmp_path: Path, config: Path, *, failing: bool = False) -> Path:
    reports = tmp_path / "report"
    write_reports(_run_report(config, failing=failing), reports)
    out = tmp_path / "bundle.zip"
    assert main(["bundle", "--report", str(reports), "--target", str(config),
                 "--out", str(out)]) == 0  # fmt: skip
    return out


def _rewrite(bundle: Path, changes: dict[str, bytes]) -> None:
    """Rewrite entries of the zip (a new name adds a file), keeping the others as they are."""
    with zipfile.ZipFile(bundle) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    contents.update(changes)
    with zipfile.ZipFile(bundle, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)


def _entry(bundle: Path, name: str) -> bytes:
    with zipfile.ZipFile(bundle) as archive:
        return archive.read(name)


def test_an_untouched_bundle_holds_every_file_and_verifies(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _bundle(tmp_path, config)
    printed = capsys.readouterr().out
    digest = hashlib.sha256(_entry(bundle, MANIFEST)).hexdigest()
    assert f"manifest sha256: {digest}" in printed

    manifest = json.loads(_entry(bundle, MANIFEST))
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(listed) == {*REPORT_FILES, "target-config.yaml"}
    for name, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(_entry(bundle, name)).hexdigest()
    assert manifest["certifiable"] is True
    assert manifest["kit"]["name"] == "egov-conformance"
    assert manifest["createdAt"]
    assert manifest["target"]["configSha256"] == hashlib.sha256(config.read_bytes()).hexdigest()

    assert main(["verify-bundle", str(bundle)]) == 0
    assert main(["verify-bundle", str(bundle), "--manifest-sha256", digest]) == 0
    assert verify_bundle(bundle).problems == ()


def test_a_bundle_of_a_run_that_failed_a_must_is_not_certifiable(
    tmp_path: Path, config: Path
) -> None:
    manifest = json.loads(_entry(_bundle(tmp_path, config, failing=True), MANIFEST))
    assert manifest["certifiable"] is False
    assert manifest["profiles"] == [{"name": "repository", "verdict": "not-certifiable"}]


def test_an_edited_report_fails_the_check(tmp_path: Path, config: Path) -> None:
    bundle = _bundle(tmp_path, config, failing=True)
    report = json.loads(_entry(bundle, "report.json"))
    report["profiles"][0]["verdict"] = "certifiable"
    _rewrite(bundle, {"report.json": json.dumps(report).encode()})
    verdict = verify_bundle(bundle)
    assert verdict.code == 1
    assert any(p.startswith("report.json does not have the sha256") for p in verdict.problems)
    assert main(["verify-bundle", str(bundle)]) == 1


def test_an_extra_file_fails_the_check(tmp_path: Path, config: Path) -> None:
    bundle = _bundle(tmp_path, config)
    _rewrite(bundle, {"evidence/extra.txt": b"added after bundling"})
    verdict = verify_bundle(bundle)
    assert verdict.code == 1
    assert verdict.problems == ("evidence/extra.txt is in the bundle but not in the manifest",)


def test_a_rewritten_manifest_passes_alone_and_fails_against_the_recorded_digest(
    tmp_path: Path, config: Path
) -> None:
    """The limit the docs state: only the out-of-band digest catches a consistent rewrite."""
    bundle = _bundle(tmp_path, config, failing=True)
    recorded = hashlib.sha256(_entry(bundle, MANIFEST)).hexdigest()
    junit = _entry(bundle, "junit.xml").replace(b"failures=", b"data-failures=")
    manifest = json.loads(_entry(bundle, MANIFEST))
    for entry in manifest["files"]:
        if entry["path"] == "junit.xml":
            entry["sha256"] = hashlib.sha256(junit).hexdigest()
            entry["bytes"] = len(junit)
    _rewrite(bundle, {"junit.xml": junit, MANIFEST: json.dumps(manifest).encode()})
    assert verify_bundle(bundle).code == 0
    verdict = verify_bundle(bundle, recorded)
    assert verdict.code == 1
    assert "not the" in verdict.problems[-1]


def test_a_manifest_that_contradicts_the_report_fails_the_check(
    tmp_path: Path, config: Path
) -> None:
    bundle = _bundle(tmp_path, config, failing=True)
    manifest = json.loads(_entry(bundle, MANIFEST))
    manifest["certifiable"] = True
    _rewrite(bundle, {MANIFEST: json.dumps(manifest).encode()})
    verdict = verify_bundle(bundle)
    assert verdict.code == 1
    assert verdict.problems == (
        "the manifest's certifiable does not follow from report.json's verdicts",
    )


def test_no_literal_secret_reaches_the_bundle_and_env_references_stay(
    tmp_path: Path, config: Path
) -> None:
    bundle = _bundle(tmp_path, config)
    with zipfile.ZipFile(bundle) as archive:
        everything = b"".join(archive.read(name) for name in archive.namelist())
    for secret in SECRETS.values():
        assert secret.encode() not in everything, secret
    kept = _entry(bundle, "target-config.yaml").decode()
    assert "env: EGOV_APPLICANT_B_TOKEN" in kept
    assert "env: EGOV_OFFICER" in kept
    assert "http://kit:***@127.0.0.1:8000" in kept
    assert kept.count("***") == 4
    manifest = json.loads(_entry(bundle, MANIFEST))
    assert manifest["target"]["redacted"] == [
        "/baseUrl",
        "/identities/applicantA/token",
        "/identities/organisation/clientSecret",
        "/secrets/paymentNotification",
    ]


def test_a_configuration_other_than_the_reports_is_refused(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "report"
    write_reports(_run_report(config), reports)
    other = tmp_path / "other.yaml"
    other.write_text(CONFIG.replace("Example JSC", "Other JSC"), encoding="utf-8")
    code = main(["bundle", "--report", str(reports), "--target", str(other),
                 "--out", str(tmp_path / "b.zip")])  # fmt: skip
    assert code == 2
    assert "not the configuration the report was made with" in capsys.readouterr().err
    assert not (tmp_path / "b.zip").exists()


@pytest.mark.parametrize("content", [b"not a zip at all", None])
def test_an_unreadable_bundle_is_exit_2(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "bundle.zip"
    if content is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("report.json", "{}")  # a zip, but no manifest: not a bundle
    else:
        path.write_bytes(content)
    assert verify_bundle(path).code == 2
    assert main(["verify-bundle", str(path)]) == 2


def test_a_manifest_with_nonsense_where_objects_belong_is_tampered_not_a_crash(
    tmp_path: Path, config: Path
) -> None:
    bundle = _bundle(tmp_path, config)
    manifest = json.loads(_entry(bundle, MANIFEST))
    manifest.update(target="x", report=[1], profiles=None)
    _rewrite(bundle, {MANIFEST: json.dumps(manifest).encode()})
    verdict = verify_bundle(bundle)
    assert verdict.code == 1
    assert len(verdict.problems) == 3
