"""The certification report: grading, verdicts, waivers, secrets and the three formats."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import conformance.report
from conformance.outcomes import (
    Exchange,
    FailureDetail,
    HttpRequest,
    HttpResponse,
    Outcome,
    TestOutcome,
)
from conformance.report import Waiver, build_report, exit_code, write_reports
from egov_contract import (
    BilingualText,
    Catalogue,
    Citation,
    Requirement,
    Source,
    contract,
    load_catalogue,
    specs_dir,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
STARTED = datetime(2026, 11, 23, 9, 0, tzinfo=VN)
FINISHED = STARTED + timedelta(minutes=4, seconds=12, milliseconds=350)
TARGET = {
    "name": "Hệ thống một cửa <b>tỉnh</b>",
    "vendor": "Example JSC",
    "baseUrls": {"dossiers": "http://127.0.0.1:8000"},
    "configSha256": "0" * 64,
}
BEARER = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIwMDEyMDMwMTIzNDUifQ.c2lnbmF0dXJlLXNlY3JldA"
CLIENT_SECRET = "cs-7f3a9d2e41b8c6-topsecret"


def _row(
    ident: str,
    level: str = "MUST",
    profiles: tuple[str, ...] = ("one-stop",),
    capability: str | None = None,
    not_testable: str | None = None,
) -> Requirement:
    return Requirement(
        id=ident,
        title=BilingualText(en=f"{ident} in English", vi=f"{ident} bằng tiếng Việt có dấu"),
        text=BilingualText(en="text", vi="văn bản"),
        level=level,  # type: ignore[arg-type]
        actors=("one-stop",),
        profiles=profiles,
        source=Citation(document="D45", article="11", confirmed=True, article_confirmed=True),
        operations=(),
        capability=capability,
        not_testable=not_testable,
    )


NOT_TESTABLE = "The limit binds the officer's conduct; no black-box test can make one act."
ROWS = (
    _row("RCV-01"),
    _row("RCV-02"),
    _row("RCV-05", not_testable=NOT_TESTABLE),
    _row("RCV-07", level="SHOULD"),
    _row("PAY-01", capability="payment"),
    _row("SEC-01", profiles=("one-stop", "payment-platform")),
    _row("PAY-07", profiles=("payment-platform",)),
)
TESTED = ("RCV-01", "RCV-02", "RCV-07", "PAY-01", "SEC-01", "PAY-07")


@pytest.fixture
def catalogue(tmp_path: Path) -> Catalogue:
    path = tmp_path / "catalogue.yaml"
    path.write_text("version: '1.0.0'\n", encoding="utf-8")
    decree = Source(
        id="D45", kind="decree", title="Decree 45", number="45/2020/ND-CP", issued="2020-04-08"
    )
    return Catalogue("1.0.0", "2026-11-23", (decree,), ROWS, path)


def _exchange(
    body: Any = None, url: str = "http://127.0.0.1:8000/dossiers/d1/submission"
) -> Exchange:
    request = HttpRequest("POST", url, {"Authorization": "Bearer abc", "Accept": "*/*"}, {})
    return Exchange(request, HttpResponse(201, {"content-type": "application/json"}, body), 38.4)


def _test(
    ident: str | Sequence[str],
    outcome: Outcome = Outcome.PASSED,
    *,
    failure: FailureDetail | None = None,
    reason: str | None = None,
    name: str | None = None,
) -> TestOutcome:
    ids = (ident,) if isinstance(ident, str) else tuple(ident)
    return TestOutcome(
        name=name or f"conformance/suites/test_x.py::test_{'_'.join(ids).lower()}_{outcome}",
        title=f"Checks {', '.join(ids)}.",
        requirements=ids,
        outcome=outcome,
        duration_ms=100.4,
        failure=failure,
        reason=reason,
    )


def _failed(
    ident: str, *, exchange: Exchange | None = None, also: Sequence[str] = ()
) -> TestOutcome:
    detail = FailureDetail(
        requirement=ident,
        expected="422 with one errors[] entry per missing component",
        actual="201 Created: the dossier was submitted",
        message=f"{ident}: the automatic check accepted a dossier missing 'TKKS'",
        exchanges=(exchange or _exchange({"id": "d1", "status": "submitted"}),),
        spec_ref="specs/dossiers.yaml#/paths/~1dossiers~1{dossierId}~1submission/post",
    )
    return _test((ident, *also), Outcome.FAILED, failure=detail)


def _passing(*skip: str) -> list[TestOutcome]:
    return [_test(ident) for ident in TESTED if ident not in skip]


def _build(catalogue: Catalogue, outcomes: Sequence[TestOutcome], **options: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "profiles": ["one-stop"],
        "target": TARGET,
        "capabilities": ["payment"],
        "started": STARTED,
        "finished": FINISHED,
        "seeds": {"run": 20261123, "hypothesis": 42, "hypothesisProfile": "ci"},
        "catalogue": catalogue,
    }
    arguments.update(options)
    return build_report(outcomes, **arguments)


def _requirement(report: dict[str, Any], ident: str) -> dict[str, Any]:
    return next(r for r in report["requirements"] if r["id"] == ident)


def _profile(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in report["profiles"] if p["name"] == name)


def _written(report: dict[str, Any], directory: Path) -> dict[str, str]:
    paths = write_reports(report, directory)
    assert set(paths) == {"json", "junit", "html", "html_vi"}
    return {key: path.read_text(encoding="utf-8") for key, path in paths.items()}


def _junit_cases(text: str) -> list[ET.Element]:
    return list(ET.fromstring(text.encode()).iter("testcase"))


# --- the document ----------------------------------------------------------------------------


def test_public_names_are_pinned() -> None:
    names = conformance.report.__all__
    assert names == sorted(names)
    assert names == [
        "Waiver",
        "WaiverLike",
        "build_report",
        "exit_code",
        "render_html",
        "render_junit",
        "write_reports",
    ]
    assert all(hasattr(conformance.report, name) for name in names)


def test_report_validates_against_the_schema_with_the_real_catalogue() -> None:
    profiles = ["one-stop", "national-portal"]
    report = build_report(
        [_test("RCV-01"), _failed("SEC-01")],
        profiles=profiles,
        target=TARGET,
        capabilities=[],
        started=STARTED,
        finished=FINISHED,
        seeds={"run": 1},
    )
    assert list(contract().schema_validator("report.json").iter_errors(report)) == []
    real = load_catalogue()
    expected = [r.id for r in real if {"one-stop", "national-portal"} & set(r.profiles)]
    assert [r["id"] for r in report["requirements"]] == expected
    assert len(expected) == len(set(expected))
    assert report["contract"]["catalogueVersion"] == real.version
    assert {s["name"] for s in report["contract"]["specs"]} >= {"dossiers", "identity"}
    assert report["kit"]["name"] == "egov-conformance"
    dossiers = next(s for s in report["contract"]["specs"] if s["name"] == "dossiers")
    digest = hashlib.sha256((specs_dir() / "dossiers.yaml").read_bytes()).hexdigest()
    assert dossiers["sha256"] == digest
    assert "pytest" in report["environment"]["dependencies"]
    assert _requirement(report, "SEC-01")["source"] == real.cite("SEC-01")


def test_times_are_rfc3339_on_vietnam_time_and_duration_is_the_run(catalogue: Catalogue) -> None:
    report = _build(catalogue, [], started=STARTED.astimezone(UTC), finished=FINISHED)
    assert report["startedAt"] == "2026-11-23T09:00:00.000+07:00"
    assert report["finishedAt"] == "2026-11-23T09:04:12.350+07:00"
    assert report["summary"]["durationMs"] == 252350


def test_a_report_the_schema_refuses_is_a_value_error_naming_the_pointer(
    catalogue: Catalogue,
) -> None:
    with pytest.raises(ValueError, match=r"/seeds/run"):
        _build(catalogue, [], seeds={"run": -1})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"profiles": []}, "at least one profile"),
        ({"profiles": ["nowhere"]}, "unknown profile"),
        ({"finished": STARTED - timedelta(seconds=1)}, "before it started"),
    ],
)
def test_bad_arguments_are_refused(
    catalogue: Catalogue, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _build(catalogue, [], **options)


def test_a_waiver_without_a_real_justification_is_refused() -> None:
    with pytest.raises(ValueError, match="20"):
        Waiver("RCV-01", "because", date(2027, 1, 1))


# --- grading ---------------------------------------------------------------------------------


def test_failure_evidence_is_attached_to_the_requirement_it_broke(catalogue: Catalogue) -> None:
    report = _build(catalogue, [_failed("RCV-01", also=["RCV-02"])])
    broken = _requirement(report, "RCV-01")
    assert broken["outcome"] == "failed"
    failure = broken["tests"][0]["failure"]
    assert failure["expected"] == "422 with one errors[] entry per missing component"
    assert failure["exchanges"][0]["response"]["status"] == 201
    assert failure["specRef"].startswith("specs/dossiers.yaml#")
    # The same test's other requirement was not reached: skipped, never passed, never failed.
    other = _requirement(report, "RCV-02")
    assert other["outcome"] == "skipped"
    assert other["tests"][0]["skipReason"] == "stopped at an earlier failure of RCV-01"
    assert "failure" not in other["tests"][0]
    assert report["summary"]["failedMust"] == ["RCV-01"]


def test_a_should_that_fails_is_a_warning_and_does_not_block(catalogue: Catalogue) -> None:
    report = _build(catalogue, [*_passing("RCV-07"), _failed("RCV-07")])
    assert _requirement(report, "RCV-07")["outcome"] == "warning"
    assert _requirement(report, "RCV-07")["tests"][0]["outcome"] == "warning"
    assert _profile(report, "one-stop")["verdict"] == "certifiable"
    assert _profile(report, "one-stop")["counts"]["warning"] == 1


@pytest.mark.parametrize(
    ("outcomes", "worst"),
    [
        ([Outcome.PASSED, Outcome.SKIPPED], "passed"),
        ([Outcome.SKIPPED, Outcome.ERROR, Outcome.PASSED], "error"),
        ([Outcome.ERROR, Outcome.FAILED], "failed"),
        ([Outcome.SKIPPED, Outcome.SKIPPED], "skipped"),
    ],
)
def test_a_requirement_takes_its_worst_test(
    catalogue: Catalogue, outcomes: list[Outcome], worst: str
) -> None:
    tests = []
    for index, outcome in enumerate(outcomes):
        if outcome is Outcome.FAILED:
            tests.append(_failed("RCV-01"))
        else:
            reason = "precondition not met" if outcome is not Outcome.PASSED else None
            tests.append(_test("RCV-01", outcome, reason=reason, name=f"t.py::test_{index}"))
    result = _requirement(_build(catalogue, tests), "RCV-01")
    assert result["outcome"] == worst
    assert result["durationMs"] == 100 * len(outcomes)
    assert [t["outcome"] for t in result["tests"]] == [o.value for o in outcomes]


def test_a_skip_carries_its_reason_and_is_never_counted_passed(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    reason = "the target offers no procedure with an optional component"
    report = _build(
        catalogue, [*_passing("RCV-01"), _test("RCV-01", Outcome.SKIPPED, reason=reason)]
    )
    skipped = _requirement(report, "RCV-01")
    assert (skipped["outcome"], skipped["reason"]) == ("skipped", reason)
    assert skipped["tests"][0]["skipReason"] == reason
    counts = _profile(report, "one-stop")["counts"]
    assert counts["passed"] == len(TESTED) - 2  # PAY-07 is not of one-stop, RCV-01 skipped
    assert counts["skipped"] == 1
    # A MUST skipped for a precondition does not certify.
    assert _profile(report, "one-stop")["blocking"] == ["RCV-01"]
    files = _written(report, tmp_path)
    skips = [
        c.find("skipped") for c in _junit_cases(files["junit"]) if "RCV-01" in c.get("name", "")
    ]
    assert [s.get("message") for s in skips if s is not None] == [reason]
    assert reason in files["html"]


def test_an_error_is_the_kits_and_blocks_with_its_reason(catalogue: Catalogue) -> None:
    error = _test("RCV-01", Outcome.ERROR, reason="httpx.ConnectTimeout: timed out")
    report = _build(catalogue, [*_passing("RCV-01"), error])
    result = _requirement(report, "RCV-01")
    assert (result["outcome"], result["reason"]) == ("error", "httpx.ConnectTimeout: timed out")
    assert _profile(report, "one-stop")["blocking"] == ["RCV-01"]
    assert report["summary"]["failedMust"] == []


@pytest.mark.parametrize(
    "tests",
    [[], [_test("PAY-01", Outcome.SKIPPED, reason="no fee")], [_failed("PAY-01")]],
    ids=["no-test", "skipped-test", "stray-failed-test"],
)
def test_a_capability_not_claimed_is_skipped_whatever_its_tests(
    catalogue: Catalogue, tmp_path: Path, tests: list[TestOutcome]
) -> None:
    report = _build(catalogue, [*_passing("PAY-01"), *tests], capabilities=[])
    result = _requirement(report, "PAY-01")
    reason = "capability 'payment' not claimed by the target"
    assert (result["outcome"], result["reason"]) == ("skipped", reason)
    assert len(result["tests"]) == len(tests)
    assert _profile(report, "one-stop")["verdict"] == "certifiable"
    assert report["summary"]["failedMust"] == []
    junit = _written(report, tmp_path)["junit"]
    cases = [c for c in _junit_cases(junit) if "PAY-01" in c.get("name", "")]
    # In JUnit too: skipped, never failed; a test that skipped itself keeps its own reason.
    own = [t.reason for t in tests if t.outcome is Outcome.SKIPPED]
    assert [c.findall("skipped")[0].get("message") for c in cases] == (own or [reason])
    assert all(c.find("failure") is None for c in cases)


def test_a_test_cannot_claim_a_requirements_outcome(catalogue: Catalogue) -> None:
    with pytest.raises(ValueError, match="waived and not-tested are a requirement's"):
        _build(catalogue, [_test("RCV-01", Outcome.WAIVED)])


def test_untested_requirements_say_why(catalogue: Catalogue) -> None:
    report = _build(catalogue, [_test("RCV-01")])
    by_design = _requirement(report, "RCV-05")
    assert (by_design["outcome"], by_design["reason"]) == ("not-tested", NOT_TESTABLE)
    missing = _requirement(report, "RCV-02")
    assert (missing["outcome"], missing["reason"]) == (
        "not-tested",
        "no test of this kit covers it",
    )
    assert report["summary"]["notTested"] == 5  # RCV-02, RCV-05, RCV-07, SEC-01, PAY-01
    coverage = {row["requirement"]: row for row in report["coverage"]}
    assert coverage["RCV-01"]["tests"] == 1
    assert coverage["RCV-05"] == {
        "requirement": "RCV-05",
        "level": "MUST",
        "tests": 0,
        "notTestable": NOT_TESTABLE,
    }
    assert "RCV-02" in _profile(report, "one-stop")["blocking"]
    assert "RCV-05" not in _profile(report, "one-stop")["blocking"]


def test_verdict_certifiable_only_when_no_must_stands_in_the_way(catalogue: Catalogue) -> None:
    profiles = ["one-stop", "payment-platform"]
    good = _build(catalogue, _passing(), profiles=profiles)
    assert [p["verdict"] for p in good["profiles"]] == ["certifiable", "certifiable"]
    assert "blocking" not in good["profiles"][0]
    assert exit_code(good) == 0
    bad = _build(catalogue, [*_passing("PAY-07"), _failed("PAY-07")], profiles=profiles)
    assert _profile(bad, "one-stop")["verdict"] == "certifiable"
    assert _profile(bad, "payment-platform") == {
        "name": "payment-platform",
        "verdict": "not-certifiable",
        "counts": {"passed": 1, "failed": 1, "warning": 0, "skipped": 0, "waived": 0, "error": 0},
        "blocking": ["PAY-07"],
    }
    assert exit_code(bad) == 1
    assert exit_code({"profiles": []}) == 1


@pytest.mark.parametrize(
    ("today", "outcome", "verdict"),
    [
        (date(2027, 3, 31), "waived", "certifiable"),  # the expiry day still counts
        (date(2027, 4, 1), "failed", "not-certifiable"),
    ],
)
def test_a_waiver_applies_until_it_expires(
    catalogue: Catalogue, today: date, outcome: str, verdict: str
) -> None:
    waiver = Waiver(
        "RCV-01",
        "The fix ships in release 4.3; the provincial office accepted the delay.",
        date(2027, 3, 31),
        approved_by="Văn phòng UBND tỉnh",
    )
    report = _build(
        catalogue, [*_passing("RCV-01"), _failed("RCV-01")], waivers=[waiver], today=today
    )
    result = _requirement(report, "RCV-01")
    assert result["outcome"] == outcome
    assert _profile(report, "one-stop")["verdict"] == verdict
    if outcome == "waived":
        assert result["waiver"] == {
            "justification": waiver.justification,
            "expires": "2027-03-31",
            "approvedBy": "Văn phòng UBND tỉnh",
        }
        assert _profile(report, "one-stop")["counts"]["waived"] == 1
        assert "failure" in result["tests"][0]  # the evidence stays on record
    else:
        assert "waiver" not in result
        assert "expired on 2027-03-31" in result["reason"]


@dataclass(frozen=True)
class _ConfigWaiver:
    """The shape of the configuration's own waiver class, which is not `Waiver`."""

    requirement: str
    justification: str
    expires: date
    approved_by: str | None = None


def test_any_object_with_a_waivers_fields_is_a_waiver(catalogue: Catalogue) -> None:
    waiver = _ConfigWaiver("RCV-01", "Accepted by the province until 4.3.", date(2027, 1, 1))
    report = _build(catalogue, [_failed("RCV-01")], waivers=[waiver])
    assert _requirement(report, "RCV-01")["waiver"] == {
        "justification": "Accepted by the province until 4.3.",
        "expires": "2027-01-01",
    }


@pytest.mark.parametrize(
    ("expires", "outcome"), [(date(2026, 11, 23), "waived"), (date(2026, 11, 22), "failed")]
)
def test_waivers_are_judged_on_the_day_the_run_finished_in_vietnam(
    catalogue: Catalogue, expires: date, outcome: str
) -> None:
    waiver = Waiver("RCV-01", "Accepted by the province until the next release.", expires)
    # 23:30 UTC on the 22nd is already the 23rd in Vietnam.
    finished = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    report = _build(
        catalogue,
        [_failed("RCV-01")],
        waivers=[waiver],
        started=finished - timedelta(minutes=5),
        finished=finished,
    )
    assert _requirement(report, "RCV-01")["outcome"] == outcome


# --- the three formats -----------------------------------------------------------------------


def test_failure_evidence_appears_in_all_three_formats(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    url = "http://127.0.0.1:8000/dossiers/d5f0c3a2/submission"
    files = _written(
        _build(catalogue, [_failed("RCV-01", exchange=_exchange({"id": "d5f0c3a2"}, url))]),
        tmp_path,
    )
    for key, text in files.items():
        assert "422 with one errors[] entry per missing component" in text, key
        assert "201 Created: the dossier was submitted" in text, key
        assert url in text, key
    assert (
        json.loads(files["json"])["requirements"][0]["tests"][0]["failure"]["exchanges"][0][
            "response"
        ]["status"]
        == 201
    )
    case = next(c for c in _junit_cases(files["junit"]) if c.find("failure") is not None)
    assert case.get("name", "").startswith("RCV-01 ")
    assert "system-out" in {child.tag for child in case}
    assert "201" in (case.findtext("system-out") or "")
    for page in (files["html"], files["html_vi"]):
        assert "→ 201" in page
    assert "Expected" in files["html"]
    assert "Kết quả mong đợi" in files["html_vi"]


def test_secrets_never_reach_any_output(catalogue: Catalogue, tmp_path: Path) -> None:
    request = HttpRequest(
        "post",
        f"http://127.0.0.1:8000/identity/token?access_token={BEARER}&procedure=1.000948",
        {"Authorization": f"Bearer {BEARER}", "Cookie": f"sid={BEARER}", "X-Api-Key": "k-123"},
        {"grant_type": "client_credentials", "client": {"client_secret": CLIENT_SECRET}},
    )
    response = HttpResponse(
        200,
        {"Set-Cookie": f"sid={BEARER}; HttpOnly"},
        {"access_token": BEARER, "secureHash": "ab12cd", "code": "000.00.01.H22-261123-0001"},
    )
    echoed = HttpResponse(200, {}, f"grant_type=client_credentials&client_secret={CLIENT_SECRET}")
    detail = FailureDetail(
        requirement="SEC-01",
        expected="401 without a token",
        actual=f"200, the server echoed Authorization: Bearer {BEARER}",
        message="SEC-01: accepted",
        exchanges=(Exchange(request, response, 12), Exchange(request, echoed, 3)),
    )
    target = {**TARGET, "baseUrls": {"identity": "https://conf:pw-9f8e7d@sso.example/"}}
    report = _build(catalogue, [_test("SEC-01", Outcome.FAILED, failure=detail)], target=target)
    files = _written(report, tmp_path)
    for key, text in files.items():
        for secret in (BEARER, CLIENT_SECRET, "k-123", "pw-9f8e7d"):
            assert secret not in text, f"{secret} leaked into {key}"
    exchange = _requirement(report, "SEC-01")["tests"][0]["failure"]["exchanges"][0]
    assert exchange["request"]["headers"]["authorization"] == "Bearer ***"
    assert exchange["request"]["body"]["client"]["client_secret"] == "***"
    assert exchange["request"]["url"].endswith("access_token=***&procedure=1.000948")
    # Evidence that is not a credential stays: the payment HMAC, the dossier code.
    assert exchange["response"]["body"]["secureHash"] == "ab12cd"
    assert exchange["response"]["body"]["code"] == "000.00.01.H22-261123-0001"


def test_html_escapes_hostile_content(catalogue: Catalogue, tmp_path: Path) -> None:
    hostile = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
    exchange = _exchange({"message": hostile}, url=f"http://127.0.0.1:8000/x?q={hostile}")
    files = _written(_build(catalogue, [_failed("RCV-01", exchange=exchange)]), tmp_path)
    for key in ("html", "html_vi"):
        page = files[key]
        assert "<script" not in page.lower()
        assert "<img" not in page.lower()
        assert "&lt;script&gt;" in page
        assert "<b>tỉnh</b>" not in page
        assert "&lt;b&gt;tỉnh&lt;/b&gt;" in page
        # Self-contained: no stylesheet, script or image fetched from anywhere.
        assert "<link" not in page
        assert "src=" not in page.replace("src=x", "")
        assert "Content-Security-Policy" in page
    assert ET.fromstring(files["junit"].encode()) is not None


def test_the_vietnamese_page_speaks_vietnamese(catalogue: Catalogue, tmp_path: Path) -> None:
    files = _written(
        _build(catalogue, [*_passing("RCV-01"), _failed("RCV-01")], capabilities=[]), tmp_path
    )
    vi, en = files["html_vi"], files["html"]
    assert '<html lang="vi">' in vi
    assert '<html lang="en">' in en
    assert "Chưa đủ điều kiện chứng nhận" in vi
    assert "Not certifiable" in en
    for label in ("Đạt", "Không đạt", "Bỏ qua", "Chưa kiểm thử"):
        assert label in vi
    assert "RCV-01 bằng tiếng Việt có dấu" in vi
    assert "RCV-01 bằng tiếng Việt" not in en
    assert "không đăng ký năng lực &#x27;payment&#x27;" in vi
    assert "not claimed by the target" in en
    assert "not claimed by the target" not in vi
    cited = {r["id"]: r for r in json.loads(files["json"])["requirements"]}["RCV-01"]
    assert cited["sourceVi"] == catalogue.cite_vi("RCV-01")
    assert cited["sourceVi"] in vi
    assert cited["source"] in en
    assert cited["source"] not in vi


def test_junit_parses_and_counts_failures_errors_and_skips(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    tests = [
        _failed("RCV-01", also=["RCV-02"]),
        _failed("RCV-07"),
        _test("SEC-01", Outcome.ERROR, reason="connection refused"),
        _test("PAY-01"),
    ]
    files = _written(_build(catalogue, tests), tmp_path)
    root = ET.fromstring(files["junit"].encode())
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["RCV", "PAY", "SEC"]
    cases = _junit_cases(files["junit"])
    # RCV-01, RCV-02, RCV-05 (not tested), RCV-07, PAY-01, SEC-01: one case each.
    assert len(cases) == 6
    assert root.get("tests") == "6"
    failures = [c for c in cases if c.find("failure") is not None]
    assert [c.get("classname") for c in failures] == ["RCV.RCV-01", "RCV.RCV-07"]
    assert [c.findall("failure")[0].get("type") for c in failures] == ["failed", "warning"]
    assert root.get("failures") == "2"
    assert root.get("errors") == "1"
    assert root.get("skipped") == "2"
    assert sum(int(s.get("failures", "0")) for s in suites) == 2
    error = next(c for c in cases if c.find("error") is not None)
    assert error.get("name", "").startswith("SEC-01 ")
    assert error.findall("error")[0].get("message") == "connection refused"


def test_junit_survives_control_characters_from_the_target(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    exchange = _exchange("binary\x00garbage\x1b[31m")
    files = _written(_build(catalogue, [_failed("RCV-01", exchange=exchange)]), tmp_path)
    out = "".join(c.findtext("system-out") or "" for c in _junit_cases(files["junit"]))
    assert "binary\\x00garbage\\x1b[31m" in out


def test_redaction_keeps_what_is_evidence(catalogue: Catalogue) -> None:
    challenge = 'Bearer realm="egov", error="invalid_token", error_description="expired"'
    callback = HttpRequest(
        "GET", "http://127.0.0.1:8765/callback?code=auth-code-123&state=s1", {}, None
    )
    search = HttpRequest("GET", "http://user:pw-123@127.0.0.1:8000/dossiers?code=H22-1", {}, None)
    refused = HttpResponse(401, {"WWW-Authenticate": challenge}, None)
    detail = FailureDetail(
        requirement="SEC-01",
        expected="200",
        actual="401",
        message="refused",
        exchanges=(Exchange(callback, refused, 1), Exchange(search, None, 5000)),
    )
    report = _build(catalogue, [_test("SEC-01", Outcome.FAILED, failure=detail)])
    first, second = _requirement(report, "SEC-01")["tests"][0]["failure"]["exchanges"]
    assert first["response"]["headers"] == {"www-authenticate": challenge}
    assert first["request"]["url"] == "http://127.0.0.1:8765/callback?code=***&state=s1"
    assert second["request"]["url"] == "http://user:***@127.0.0.1:8000/dossiers?code=H22-1"
    assert "response" not in second
