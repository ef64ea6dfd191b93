"""The deliberate faults of the reference server: each is real, named and traced.

Mutation testing of the conformance suites runs them against a server with one fault on and
expects the requirement the fault names to fail. That only means something when the fault
really changes what the server does, when its requirement is one a black-box test can see,
and when a mistyped name is refused instead of silently serving a healthy server.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from egov_cli import main
from egov_contract import Requirement, contract, load_catalogue
from reference_impl import Settings
from reference_impl.faults import FAULTS, VARIANTS, Fault

from .flows import build_template, running
from .probes_core import PROBES as CORE_PROBES
from .probes_core import Probe
from .probes_services import PROBES as SERVICE_PROBES

PROBES: dict[str, Probe] = {**CORE_PROBES, **SERVICE_PROBES}
"""Each fault's probe: True when the server does what the fault's requirement asks."""
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("template"))


def _catalogue() -> dict[str, Requirement]:
    return {requirement.id: requirement for requirement in load_catalogue()}


# ---- the registry --------------------------------------------------------------------------


def test_every_fault_has_a_probe_and_every_probe_a_fault() -> None:
    assert not CORE_PROBES.keys() & SERVICE_PROBES.keys()
    assert sorted(PROBES) == sorted(FAULTS)


def test_there_are_enough_faults_over_every_interface() -> None:
    """At least 45 faults, and at least two on each interface of the contract."""
    assert len(FAULTS) >= 45
    specs = set(contract().specs)
    per_interface = Counter(fault.interface for fault in FAULTS.values())
    assert set(per_interface) == specs
    assert min(per_interface.values()) >= 2, per_interface


@pytest.mark.parametrize("fault", FAULTS.values(), ids=list(FAULTS))
def test_fault_names_a_testable_requirement(fault: Fault) -> None:
    """The requirement exists in the catalogue and a black-box test can see it fail."""
    requirement = _catalogue().get(fault.requirement)
    assert requirement is not None, f"{fault.name}: no requirement {fault.requirement}"
    assert requirement.not_testable is None, f"{fault.requirement} is not testable"
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", fault.name), "fault names are kebab-case"
    assert fault.description.endswith(".")


def test_faults_cover_every_requirement_area() -> None:
    areas = {fault.requirement.split("-")[0] for fault in FAULTS.values()}
    expected = "ACC CAT SUB RCV LIF SUP WDR CPY PAY RES CAN REP PRN REQ NTF EVT SEC ERR TXT FMT"
    assert set(expected.split()) <= areas


# ---- each fault changes what the server does ------------------------------------------------


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_changes_what_the_server_does(name: str, tmp_path: Path, template: Path) -> None:
    """The probe passes on the healthy server (responses checked against the contract) and
    fails on the server with the fault, whose responses need not match the contract."""
    probe = PROBES[name]
    with running(tmp_path / "healthy", template) as healthy:
        assert probe(healthy), f"the probe of {name} fails on the healthy server"
    faulty_settings = {"faults": frozenset({name}), "validate_responses": False}
    with running(tmp_path / "faulty", template, **faulty_settings) as faulty:
        crashes: list[str] = []
        faulty.client.event_hooks["response"].append(
            lambda r: (
                crashes.append(f"{r.request.method} {r.request.url}")
                if r.status_code >= 500
                else None
            )
        )
        assert not probe(faulty), f"{name}: the faulty server passes its probe"
    # A fault is one bug, not a broken server: nothing else may fail on the way.
    assert not crashes or name == "malformed-json-500", crashes


# ---- unknown names are refused ---------------------------------------------------------------


def test_settings_refuse_an_unknown_fault_naming_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown fault 'nope'") as raised:
        Settings(faults=frozenset({"nope", "accept-expired-token"}))
    assert "accept-expired-token" in str(raised.value)
    assert "valid faults:" in str(raised.value)


def test_settings_refuse_an_unknown_variant_naming_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown variant 'fast'") as raised:
        Settings(variants=frozenset({"fast"}))
    assert "valid variants: " in str(raised.value)
    assert all(name in str(raised.value) for name in VARIANTS)


@pytest.mark.parametrize("option", ["--fault", "--variant"])
def test_serve_refuses_an_unknown_name_with_exit_2(
    option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``serve --fault nope``: a message on stderr, exit 2, and no server started."""
    assert main(["serve", option, "nope", "--db", "sqlite:///:memory:"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err
    assert "Traceback" not in err


def test_settings_survive_the_trip_to_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    from reference_impl.server import _SETTINGS_ENV, settings_from_env, settings_to_env

    settings = Settings(faults=frozenset({"ignore-if-match"}), variants=frozenset({"slow"}))
    monkeypatch.setenv(_SETTINGS_ENV, settings_to_env(settings))
    assert settings_from_env() == settings


# ---- the documentation -----------------------------------------------------------------------


def test_mutation_testing_doc_lists_every_fault_and_variant() -> None:
    text = (ROOT / "docs" / "mutation-testing.md").read_text("utf-8")
    missing = [f"`{name}`" for name in [*FAULTS, *VARIANTS] if f"`{name}`" not in text]
    assert not missing, f"docs/mutation-testing.md does not list {', '.join(missing)}"
    for fault in FAULTS.values():
        assert f"| `{fault.name}` | {fault.requirement} | {fault.interface} |" in text
