"""``egov-conformance validate``: clear one-line errors, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from egov_cli import main


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "egov_cli", *args], capture_output=True, text=True, timeout=60
    )


def test_valid_fixture_passes(capsys) -> None:  # type: ignore[no-untyped-def]
    from egov_contract import fixtures_dir

    agencies = fixtures_dir() / "procedures" / "1.001193.json"
    code = main(["validate", str(agencies), "--schema", "procedure.json#/$defs/procedure"])
    assert code == 0
    assert "valid" in capsys.readouterr().out


def test_invalid_document_names_file_pointer_and_rule(tmp_path: Path) -> None:
    bad = tmp_path / "citizen.yaml"
    bad.write_text("personalId: '12345'\nfullName: ''\n", encoding="utf-8")
    done = _run("validate", str(bad), "--schema", "subject.json#/$defs/citizen")
    assert done.returncode == 1
    assert f"{bad} at /personalId: pattern:" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_unparseable_yaml_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("a: [1, 2\nb: }\n", encoding="utf-8")
    done = _run("validate", str(bad))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert str(bad) in done.stderr
    assert "yaml-syntax" in done.stderr
    assert "line" in done.stderr


def test_missing_file_and_unknown_schema_are_clear(tmp_path: Path) -> None:
    missing = _run("validate", str(tmp_path / "nope.json"))
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
    document = tmp_path / "x.json"
    document.write_text("{}", encoding="utf-8")
    unknown = _run("validate", str(document), "--schema", "no-such.json")
    assert unknown.returncode == 2
    assert "no schema" in unknown.stderr
    assert "Traceback" not in missing.stderr + unknown.stderr
