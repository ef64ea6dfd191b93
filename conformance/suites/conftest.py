"""Fixtures every suite shares: the target's procedure walked through `Portal`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conformance.client import Recorder, TargetClient
from conformance.config import TargetConfig
from conformance.invariants import Invariants
from conformance.outcomes import HarnessError
from conformance.pytest_plugin import ConformanceRun, requirements_of
from conformance.scenario import Portal
from conformance.simulators import Simulators
from conformance.suites._s3_support import returned


@pytest.fixture
def portal(client: TargetClient, target: TargetConfig) -> Portal:
    """The steps of a procedure against the target, recorded as this test's evidence."""
    return Portal(client, target)


@pytest.fixture(scope="session")
def simulators(conformance: ConformanceRun) -> Simulators:
    """The counterparts the kit plays (events, NPSP, notified portal, identity provider).

    Once per run, started on first use only (here, or by the first token of a ``kit-issuer``
    identity), so a run that needs none opens no port; the run stops them when it ends.
    """
    return conformance.simulators()


@pytest.fixture(scope="session")
def invariants(conformance: ConformanceRun) -> Iterator[Invariants]:
    """The invariants every response must keep, with one memory of dossiers for the whole run.

    Working hours and calendars are read through a client of its own, so that looking them up
    adds no exchange to the evidence of the test that happened to need them first.
    """
    lookups = TargetClient(conformance.target, conformance.tokens, Recorder())

    def lookup(interface: str, path: str) -> httpx.Response | None:
        try:
            return lookups.call("GET", interface, path)
        except HarnessError:
            return None  # unreachable: that invariant stays unchecked, the tests still run

    try:
        yield Invariants(lookup, {r.id: r.level for r in conformance.catalogue})
    finally:
        lookups.close()


@pytest.fixture(autouse=True)
def _invariants_on_every_response(request: pytest.FixtureRequest, invariants: Invariants) -> None:
    """Every test's client is observed; the observer learns which requirements it checks.

    A test that talks through a client of its own (a module's, observed where it is made)
    does not get a per-test one forced on it: making an HTTP client costs ~50 ms.
    """
    invariants.current = frozenset(requirements_of(request.node))
    if "client" in request.fixturenames:
        client: TargetClient = request.getfixturevalue("client")
        client.observe(invariants)


@pytest.fixture(scope="session")
def returned_result(
    conformance: ConformanceRun, target: TargetConfig, invariants: Invariants
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A dossier of applicantA resolved and its e-result delivered electronically (returned).

    Shared, read only, by the tests that only look at a returned dossier and its result
    (signature, return, Repository, printouts, storage): one dossier walk instead of one each.
    """
    client = conformance.new_client()
    client.observe(invariants)
    return returned(Portal(client, target))
