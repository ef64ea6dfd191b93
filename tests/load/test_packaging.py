"""The load kit keeps locust out of the processes that do not run it, and its names agree."""

from __future__ import annotations

import json

import conformance.load
from conformance.load.profiles import PROFILES
from egov_cli._load import SHAPES

from .conftest import ROOT, run


def test_cli_and_runner_import_no_locust_and_no_gevent() -> None:
    """gevent's monkey-patching must not reach the CLI, the suites or the other tests."""
    script = (
        "import sys, json, egov_cli, conformance.load, conformance.load.runner; "
        "print(json.dumps(sorted(m for m in ('locust', 'gevent') if m in sys.modules)))"
    )
    done = run("-c", script, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_locustfile_for_plain_locust_lists_the_users_and_one_shape() -> None:
    """``locust -f load/locustfile.py -l`` sees the four user classes."""
    done = run("-m", "locust", "-f", str(ROOT / "load" / "locustfile.py"), "-l", timeout=60)
    assert done.returncode == 0, done.stderr
    listed = {line.strip() for line in done.stdout.splitlines()[1:]}
    assert listed == {"ApplicantUser", "OfficerUser", "PlatformUser", "VisitorUser"}


def test_cli_shape_choices_are_the_profiles() -> None:
    """The CLI lists shapes without importing the kit; they must stay the same names."""
    assert tuple(PROFILES) == SHAPES


def test_public_names_are_pinned() -> None:
    """The package's public face, in plain sorted order."""
    assert conformance.load.__all__ == sorted(conformance.load.__all__)
    for name in conformance.load.__all__:
        assert hasattr(conformance.load, name), name
