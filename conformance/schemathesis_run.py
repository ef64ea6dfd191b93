"""Schema-level testing of a target with the upstream schemathesis CLI.

Each operation is called with a token of a role it declares in ``x-egov-roles``, so that
schemathesis reaches the operation's logic instead of stopping at 403.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from egov_contract import contract, specs_dir

HOOKS_MODULE = "conformance.schemathesis_hooks"

# A request that matches the schema may still be refused by a rule the contract states in
# words: 412 (a stale If-Match) and 422 (a domain check: unknown procedure, wrong file type…).
# Schemathesis cannot know those rules, so its positive-data check accepts them too.
POSITIVE_STATUSES = ("2xx", "401", "403", "404", "409", "412", "422", "429")


@dataclass(frozen=True)
class SchemathesisRun:
    """What one run of the CLI over one spec produced."""

    spec: str
    exit_code: int
    output: str
    junit: Path | None

    @property
    def passed(self) -> bool:
        """True when schemathesis found no failure."""
        return self.exit_code == 0


def write_config(path: Path, spec: str, tokens: dict[str, str]) -> None:
    """A ``schemathesis.toml`` giving each operation of ``spec`` a token of one of its roles."""
    lines = [
        "[checks.positive_data_acceptance]",
        f"expected-statuses = {json.dumps(list(POSITIVE_STATUSES))}",
        "",
    ]
    for name, _method, _path, operation in contract().operations():
        if name != spec:
            continue
        roles = [role for role in operation.get("x-egov-roles", []) if role in tokens]
        if roles:
            lines += [
                "[[operations]]",
                f'include-operation-id = "{operation["operationId"]}"',
                f'headers = {{ Authorization = "Bearer {tokens[roles[0]]}" }}',
                "",
            ]
    path.write_text("\n".join(lines), encoding="utf-8")


def run_spec(
    spec: str,
    base_url: str,
    tokens: dict[str, str],
    work_dir: Path,
    *,
    max_examples: int = 20,
    seed: int | None = None,
    timeout: float = 600.0,
) -> SchemathesisRun:
    """Run ``schemathesis run`` with every check over one spec against ``base_url``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    config = work_dir / f"{spec}.schemathesis.toml"
    write_config(config, spec, tokens)
    junit = work_dir / f"{spec}.junit.xml"
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
        str(specs_dir() / f"{spec}.yaml"), "--url", base_url, "--checks", "all",
        "--max-examples", str(max_examples), "--no-color", "--report", "junit",
        "--report-junit-path", str(junit),
    ]  # fmt: skip
    if seed is not None:
        command += ["--seed", str(seed)]
    environment = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS_MODULE}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=environment, cwd=work_dir
    )
    return SchemathesisRun(spec, done.returncode, done.stdout + done.stderr, junit)
