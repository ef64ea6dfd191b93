"""Redocly CLI, a second linter independent of openapi-spec-validator, finds nothing."""

from __future__ import annotations

import shutil
import subprocess

from egov_contract import contract_root, specs_dir

REDOCLY_DIR = contract_root() / "tools" / "redocly"
REDOCLY = REDOCLY_DIR / "node_modules" / ".bin" / "redocly"


def _ensure_redocly() -> None:
    if REDOCLY.exists():
        return
    npm = shutil.which("npm")
    assert npm, "npm is needed to install Redocly CLI (Debian package: npm)"
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(REDOCLY_DIR)],
        check=True,
        capture_output=True,
        timeout=300,
    )


def test_redocly_lints_every_spec_clean() -> None:
    _ensure_redocly()
    specs = sorted(str(p) for p in specs_dir().glob("*.yaml"))
    done = subprocess.run(
        [str(REDOCLY), "lint", "--format=stylish", *specs],
        cwd=contract_root(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning" not in done.stdout.lower(), done.stdout
