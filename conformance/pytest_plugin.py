"""The pytest plugin: target options, requirement markers, profile selection, graded outcomes.

Registered as the ``pytest11`` entry point ``egov_conformance``, so a vendor can run the suites
inside its own pytest and CI (``pytest --pyargs conformance.suites --target target.yaml``). It
does nothing unless ``--target`` is given, so it never disturbs anyone else's tests.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from egov_contract import Catalogue, load_catalogue

from .client import Recorder, TargetClient
from .config import PROFILES, ConfigError, TargetConfig, load_target
from .identities import TokenSource, token_source
from .outcomes import CheckFailed, FailureDetail, HarnessError, Outcome, TestOutcome

if TYPE_CHECKING:
    from .simulators import OnDemand, Simulators

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_KEY = pytest.StashKey["ConformanceRun"]()


@dataclass
class ConformanceRun:
    """The state of one run: the target, its identities, and what each test found."""

    target: TargetConfig
    profiles: tuple[str, ...]
    catalogue: Catalogue
    tokens: dict[str, TokenSource]
    quiet: bool = False
    report_dir: Path | None = None
    seed: int = 0
    started: datetime = field(default_factory=lambda: datetime.now(VN_TZ))
    outcomes: list[TestOutcome] = field(default_factory=list)
    recorder: Recorder = field(default_factory=Recorder)
    report: dict[str, Any] | None = None
    total: int = 0
    _clients: list[TargetClient] = field(default_factory=list)
    _simulators: OnDemand | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def simulators(self) -> Simulators:
        """The counterparts the kit plays, started on first use and stopped by `close`."""
        with self._lock:
            if self._simulators is None:
                from .simulators import OnDemand  # uvicorn and starlette only for a run

                self._simulators = OnDemand(self.target)
        return self._simulators()

    def requirement_ids(self) -> frozenset[str]:
        """The ids of every requirement of the chosen profiles."""
        return frozenset(r.id for p in self.profiles for r in self.catalogue.for_profile(p))

    def new_client(self) -> TargetClient:
        """A client of the target that records into this run's recorder."""
        client = TargetClient(self.target, self.tokens, self.recorder)
        self._clients.append(client)
        return client

    def close(self) -> None:
        """Close every connection pool."""
        for client in self._clients:
            client.close()
        if self._simulators is not None:
            self._simulators.stop()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The kit's options."""
    group = parser.getgroup("egov-conformance", "conformance of an e-government system")
    group.addoption("--target", help="target configuration file, or a base URL (sandbox layout)")
    group.addoption(
        "--profile",
        action="append",
        default=[],
        choices=[*PROFILES, "all"],
        help="certification profile to run (repeatable; default: the configuration's, or all)",
    )
    group.addoption("--egov-report", help="directory for report.json, JUnit XML and HTML")
    group.addoption(
        "--egov-requirement",
        action="append",
        default=[],
        help="run only the tests of this requirement id (repeatable)",
    )
    group.addoption("--egov-quiet", action="store_true", help="no progress lines")
    group.addoption("--egov-seed", type=int, default=None, help="seed of generated data")


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers; set up the run when ``--target`` is given."""
    config.addinivalue_line(
        "markers", "requirement(*ids): the catalogue requirements this test checks"
    )
    config.addinivalue_line(
        "markers", "capability(name): the optional feature this test needs the target to claim"
    )
    value = config.getoption("--target", None)
    if not value:
        return
    try:
        target = load_target(value)
    except ConfigError as problem:
        raise pytest.UsageError(str(problem)) from None
    profiles = selected_profiles(config.getoption("--profile"), target)
    seed = config.getoption("--egov-seed")
    report = config.getoption("--egov-report")
    run = config.stash[_KEY] = ConformanceRun(
        target=target,
        profiles=profiles,
        catalogue=load_catalogue(),
        tokens={},
        quiet=config.getoption("--egov-quiet"),
        report_dir=Path(report) if report else None,
        seed=seed if seed is not None else int(time.time()) % 1_000_000,
    )
    for name, identity in target.identities.items():
        run.tokens[name] = token_source(identity, target, lambda: run.simulators().identity)


def selected_profiles(chosen: Sequence[str], target: TargetConfig) -> tuple[str, ...]:
    """The profiles to run: those chosen, else the configuration's, else all."""
    if "all" in chosen or (not chosen and not target.profiles):
        return PROFILES
    return tuple(p for p in PROFILES if p in (chosen or target.profiles))


def conformance_run(config: pytest.Config) -> ConformanceRun | None:
    """The run of this pytest session, or ``None`` when ``--target`` was not given."""
    return config.stash.get(_KEY, None)


def requirements_of(item: pytest.Item) -> tuple[str, ...]:
    """The requirement ids an item's markers name."""
    ids: list[str] = []
    for mark in item.iter_markers("requirement"):
        ids.extend(str(arg) for arg in mark.args)
    return tuple(dict.fromkeys(ids))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the tests of the chosen profiles; skip what needs an unclaimed capability."""
    run = conformance_run(config)
    if run is None:
        return
    unmarked = [item.nodeid for item in items if not requirements_of(item)]
    if unmarked:
        raise pytest.UsageError(
            "every conformance test must name its requirements with "
            f"@pytest.mark.requirement(...); these do not: {', '.join(unmarked)}"
        )
    wanted = run.requirement_ids()
    only = set(config.getoption("--egov-requirement"))
    known = frozenset(r.id for r in run.catalogue)
    unknown = sorted(r for i in items for r in requirements_of(i) if r not in known)
    if unknown:
        raise pytest.UsageError(f"tests name requirements not in the catalogue: {unknown}")
    kept, dropped = [], []
    for item in items:
        ids = set(requirements_of(item))
        if ids & wanted and (not only or ids & only):
            kept.append(item)
        else:
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    for item in items:
        missing = [c for c in _capabilities(item, run) if not run.target.claims(c)]
        if missing:
            item.add_marker(
                pytest.mark.skip(reason=f"capability '{missing[0]}' not claimed by the target")
            )
    run.total = len(items)


def _capabilities(item: pytest.Item, run: ConformanceRun) -> list[str]:
    named = [str(m.args[0]) for m in item.iter_markers("capability") if m.args]
    for requirement in requirements_of(item):
        capability = run.catalogue.by_id(requirement).capability
        if capability:
            named.append(capability)
    return list(dict.fromkeys(named))


@pytest.fixture(scope="session")
def conformance(request: pytest.FixtureRequest) -> ConformanceRun:
    """The run: target, profiles, catalogue, tokens."""
    run = conformance_run(request.config)
    if run is None:
        pytest.skip("no --target given: the conformance suites need a system under test")
    return run


@pytest.fixture(scope="session")
def target(conformance: ConformanceRun) -> TargetConfig:
    """The target configuration."""
    return conformance.target


@pytest.fixture
def client(conformance: ConformanceRun) -> TargetClient:
    """A client of the target; its exchanges are this test's evidence."""
    return conformance.new_client()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Turn each test into a graded `TestOutcome`."""
    report: pytest.TestReport = yield
    run = conformance_run(item.config)
    if run is None or (report.when == "teardown" and report.passed):
        return report
    if report.when == "call" or report.failed or report.skipped:
        if any(o.name == item.nodeid for o in run.outcomes):
            return report
        outcome = _grade(item, report, call, run)
        run.outcomes.append(outcome)
        _progress(item, run, outcome)
    return report


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Each test's evidence starts empty."""
    run = conformance_run(item.config)
    if run is not None:
        run.recorder.clear()


def _grade(
    item: pytest.Item, report: pytest.TestReport, call: pytest.CallInfo[None], run: ConformanceRun
) -> TestOutcome:
    doc = getattr(getattr(item, "function", None), "__doc__", None) or item.name
    title = doc.strip().splitlines()[0]
    callspec = getattr(item, "callspec", None)
    if callspec is not None:  # which case of a parametrised test
        title = f"{title} [{callspec.id}]"
    outcome = TestOutcome(
        name=item.nodeid,
        title=title,
        requirements=requirements_of(item),
        outcome=Outcome.PASSED,
        duration_ms=report.duration * 1000,
        exchanges=list(run.recorder.exchanges),
    )
    if report.skipped:
        outcome.outcome = Outcome.SKIPPED
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        outcome.reason = reason.removeprefix("Skipped: ") or "skipped"
        return outcome
    if report.passed:
        return outcome
    error = call.excinfo.value if call.excinfo is not None else None
    # A broken requirement is the target's, whether a test or a fixture of it found it.
    if isinstance(error, CheckFailed) and report.when in ("setup", "call"):
        outcome.outcome = Outcome.FAILED
        outcome.failure = FailureDetail(
            requirement=error.requirement,
            expected=error.expected,
            actual=error.actual,
            message=error.message,
            exchanges=error.exchanges or tuple(run.recorder.exchanges[-3:]),
            spec_ref=error.spec_ref,
        )
        return outcome
    outcome.outcome = Outcome.ERROR
    if isinstance(error, HarnessError | httpx.HTTPError):
        outcome.reason = f"the kit could not reach a verdict: {error}"
    elif isinstance(error, AssertionError):
        outcome.reason = f"a check of the kit itself failed (a bug of the suite): {error}"
    else:
        kind = type(error).__name__ if error is not None else "unknown"
        outcome.reason = f"the kit failed during {report.when} ({kind}): {error}"
    return outcome


_MARKS = {
    Outcome.PASSED: "pass",
    Outcome.FAILED: "FAIL",
    Outcome.SKIPPED: "skip",
    Outcome.ERROR: "ERROR",
}


def _progress(item: pytest.Item, run: ConformanceRun, outcome: TestOutcome) -> None:
    if run.quiet:
        return
    done = len(run.outcomes)
    ids = ",".join(outcome.requirements)
    mark = _MARKS.get(outcome.outcome, outcome.outcome.value)
    line = f"[{done:>3}/{run.total}] {mark:<5} {ids:<16} {outcome.title}"
    if outcome.failure is not None:
        line += f"\n          expected {outcome.failure.expected}; got {outcome.failure.actual}"
    elif outcome.reason and outcome.outcome is not Outcome.PASSED:
        line += f"\n          {outcome.reason}"
    print(line[:2000], file=sys.stderr, flush=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Build the report and write it where ``--egov-report`` says."""
    run = conformance_run(session.config)
    if run is None:
        return
    from .report import build_report, write_reports

    run.report = build_report(
        run.outcomes,
        profiles=run.profiles,
        target=run.target.report_target(),
        capabilities=run.target.capabilities,
        started=run.started,
        finished=datetime.now(VN_TZ),
        seeds={"run": run.seed},
        waivers=run.target.waivers,
        catalogue=run.catalogue,
    )
    if run.report_dir is not None:
        write_reports(run.report, run.report_dir)
    run.close()
