"""Schema-level testing of every operation of the chosen profiles with schemathesis (upstream CLI).

One test per spec. Schemathesis generates valid and invalid requests from the spec's schemas
and applies all its checks: no 5xx (ERR-04), every status, media type, header and body as the
operation declares (FMT-07), schema-violating requests rejected and schema-valid ones not
refused with 400 (ERR-02). Each operation gets a token of a role its ``x-egov-roles`` lists.

Effort is a named profile, ``EGOV_EFFORT`` (or ``HYPOTHESIS_PROFILE``): ``dev``, ``ci`` (the
default) or ``thorough`` (see `conformance.schemathesis_run.EFFORTS`). The run's seed is the
kit's (``egov-conformance run --seed N`` replays it) and every failure names it.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.checks import fail
from conformance.client import TargetClient
from conformance.config import SPEC_OF_INTERFACE
from conformance.outcomes import HarnessError
from conformance.pytest_plugin import ConformanceRun
from conformance.schemathesis_run import (
    Batch,
    Effort,
    Failure,
    Job,
    cli_arguments,
    effort_from_environment,
    write_config,
)
from egov_contract import contract, specs_dir

SPECS = sorted(path.stem for path in specs_dir().glob("*.yaml"))
INTERFACE_OF_SPEC = {spec: interface for interface, spec in SPEC_OF_INTERFACE.items()}
ROLE_IDENTITIES = {"applicant": "applicantA", "officer": "officer", "system": "system"}
REQUIREMENT_OF_CODE = {
    "ST101": "ERR-04",
    "ST102": "ERR-04",
    "ST201": "ERR-02",
    "ST202": "ERR-02",
    "ST203": "ERR-02",
}
"""Schemathesis failure codes and the requirement each breaks; every other code is FMT-07."""
SEVERITY = ("ERR-04", "FMT-07", "ERR-02")
"""When a spec fails several ways, the failure names the first of these it broke."""
TIMEOUTS = {"dev": 300.0, "ci": 300.0, "thorough": 1800.0}
SHOWN_FAILURES = 4


@dataclass(frozen=True)
class Plan:
    """What the run hands schemathesis: the started batch, its effort and seed, and the specs
    left out with the reason why."""

    batch: Batch
    effort: Effort
    seed: int
    left_out: dict[str, str]


def _in_scope(run: ConformanceRun, spec: str) -> tuple[list[str], str | None]:
    """The operations of ``spec`` to test, or the reason there are none."""
    target = run.target
    if INTERFACE_OF_SPEC[spec] not in target.base_urls:
        return [], f"the configuration gives no base URL for the {spec} interface"
    in_profiles = {
        op for p in run.profiles for r in run.catalogue.for_profile(p) for op in r.operations
    }
    chosen = []
    for name, _method, _path, operation in contract().operations():
        capability = operation.get("x-egov-capability")
        if (
            name == spec
            and operation["operationId"] in in_profiles
            and (capability is None or target.claims(capability))
        ):
            chosen.append(operation["operationId"])
    if not chosen:
        return [], f"no operation of {spec} belongs to the chosen profiles and claimed capabilities"
    return chosen, None


@pytest.fixture(scope="module")
def plan(conformance: ConformanceRun, request: pytest.FixtureRequest) -> Iterator[Plan]:
    """Every spec in scope handed to schemathesis workers at once; stopped and cleaned after."""
    try:
        effort = effort_from_environment()
    except ValueError as problem:
        raise HarnessError(str(problem)) from None
    tokens = {
        role: conformance.tokens[identity].token()
        for role, identity in ROLE_IDENTITIES.items()
        if identity in conformance.tokens
    }
    work = Path(tempfile.mkdtemp(prefix="egov-schemathesis-"))  # 0700: it holds bearer tokens
    jobs, left_out = [], {}
    for spec in SPECS:
        operations, reason = _in_scope(conformance, spec)
        if reason:
            left_out[spec] = reason
            continue
        config, junit = work / f"{spec}.toml", work / f"{spec}.junit.xml"
        write_config(config, spec, tokens)
        arguments = cli_arguments(
            spec,
            conformance.target.base_url(INTERFACE_OF_SPEC[spec]),
            config,
            junit,
            max_examples=effort.max_examples,
            phases=effort.phases,
            seed=conformance.seed,
            operations=operations,
        )
        jobs.append(
            Job(
                spec,
                tuple(arguments),
                junit,
                work / f"{spec}.out",
                work / f"{spec}.result.json",
                weight=len(operations),
            )
        )
    if not conformance.quiet:
        _say(
            request,
            f"schemathesis: effort {effort.name} ({effort.max_examples} examples, "
            f"{'+'.join(effort.phases)}), seed {conformance.seed}; replay with "
            f"EGOV_EFFORT={effort.name} egov-conformance run ... --seed {conformance.seed}",
        )
    workers = int(os.environ.get("EGOV_SCHEMATHESIS_WORKERS", "2"))
    batch = Batch.start(jobs, work, workers) if jobs else Batch({})
    try:
        yield Plan(batch, effort, conformance.seed, left_out)
    finally:
        batch.stop()
        shutil.rmtree(work, ignore_errors=True)


def _say(request: pytest.FixtureRequest, line: str) -> None:
    """A line on the terminal beside the progress lines, past pytest's output capture."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print(line, file=sys.stderr, flush=True)
        return
    with capture.global_and_fixture_disabled():
        print(line, file=sys.stderr, flush=True)


def _requirement(failures: list[Failure]) -> str:
    broken = {REQUIREMENT_OF_CODE.get(code, "FMT-07") for f in failures for code in f.codes}
    return next((r for r in SEVERITY if r in broken), "FMT-07")


@pytest.mark.requirement("ERR-04", "FMT-07", "ERR-02")
@pytest.mark.parametrize("spec", SPECS)
def test_schemathesis_finds_no_failure(spec: str, plan: Plan, client: TargetClient) -> None:
    """Requests generated from the spec's schemas get declared, valid answers and never a 5xx."""
    if spec in plan.left_out:
        pytest.skip(plan.left_out[spec])
    run = plan.batch.result(spec, TIMEOUTS.get(plan.effort.name, 600.0))
    replay = (
        f"effort {plan.effort.name}, seed {plan.seed}; replay with EGOV_EFFORT="
        f"{plan.effort.name} egov-conformance run --seed {plan.seed}"
    )
    scrub = client.scrub  # schemathesis filters Authorization; the kit scrubs every secret too
    failures = [f for f in run.failures() if f.codes]
    if run.passed:
        generated = re.search(r"(\d+) generated", run.output)
        if generated is None or int(generated.group(1)) == 0:
            pytest.skip(f"schemathesis generated no test case for {spec} ({replay})")
        return
    if not failures:
        raise HarnessError(
            f"schemathesis could not test {spec} ({replay}), exit code "
            f"{run.exit_code}: {scrub(run.output[-1500:])}"
        )
    shown = "\n\n".join(
        f"{f.operation} [{', '.join(f.codes)}]\n{f.text.strip()}" for f in failures[:SHOWN_FAILURES]
    )
    more = (
        f"\n\n… and {len(failures) - SHOWN_FAILURES} more" if len(failures) > SHOWN_FAILURES else ""
    )
    raise fail(
        _requirement(failures),
        f"no schemathesis check to fail on any operation of specs/{spec}.yaml ({replay})",
        f"{len(failures)} operations failed:\n{scrub(shown)[:6000]}{more}",
        spec_ref=f"specs/{spec}.yaml",
    )
