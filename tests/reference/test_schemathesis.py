"""The upstream schemathesis CLI, every check, every spec, against a live reference server.

Bounded: a fixed number of examples per operation and a fixed seed (override with
``EGOV_SCHEMATHESIS_SEED`` and ``EGOV_SCHEMATHESIS_EXAMPLES``); the seed is in every failure.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.schemathesis_run import run_spec
from egov_contract import contract, fixtures_dir, specs_dir

from .live import LiveServer, client_token, sign_in

pytestmark = pytest.mark.slow

SPECS = sorted(path.stem for path in specs_dir().glob("*.yaml"))
SEED = int(os.environ.get("EGOV_SCHEMATHESIS_SEED", "20261123"))
EXAMPLES = int(os.environ.get("EGOV_SCHEMATHESIS_EXAMPLES", "15"))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("schemathesis")
    server = LiveServer(
        f"sqlite:///{folder / 'reference.sqlite3'}", folder / "server.log", "--validate-responses"
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tokens(live: LiveServer) -> dict[str, str]:
    systems = {s["clientId"]: s for s in json.loads((fixtures_dir() / "systems.json").read_text())}
    one_stop = systems["one-stop-h22"]
    return {
        "applicant": sign_in(live.base_url, "001203012345"),
        "officer": sign_in(live.base_url, "canbo.h22.honghai.01"),
        "system": client_token(live.base_url, one_stop["clientId"], one_stop["clientSecret"]),
    }


@pytest.mark.parametrize("spec", SPECS)
def test_schemathesis_finds_no_failure(
    spec: str, live: LiveServer, tokens: dict[str, str], tmp_path: Path
) -> None:
    run = run_spec(spec, live.base_url, tokens, tmp_path, max_examples=EXAMPLES, seed=SEED)
    assert run.passed, f"schemathesis (seed {SEED}) failed on {spec}:\n{run.output[-6000:]}"
    generated = re.search(r"(\d+) generated", run.output)
    assert generated, f"schemathesis printed no test-case count:\n{run.output[-3000:]}"
    assert int(generated.group(1)) >= 10 * len(_operations(spec)), run.output[-3000:]


def _operations(spec: str) -> list[str]:
    return [op["operationId"] for name, _m, _p, op in contract().operations() if name == spec]
