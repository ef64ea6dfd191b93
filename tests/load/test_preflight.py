"""The load run's checks before any load: one sentence naming what is wrong, no traceback."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.config import (
    SANDBOX_KIT_APPLICANT,
    TargetConfig,
    sandbox_document,
    target_from_document,
)
from conformance.load.data import LoadSetupError, preflight
from tests.reference.live import free_port


def _config(document: dict[str, Any]) -> TargetConfig:
    return target_from_document(document, source="load-target.yaml", sha256="0" * 64)


def test_an_unreachable_target_is_named_with_its_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(LoadSetupError, match=rf"cannot reach the target at {url}/procedures/"):
        preflight(_config(sandbox_document(url)), timeout=2.0)


def test_a_kit_issued_identity_is_refused_before_any_request() -> None:
    document = sandbox_document(f"http://127.0.0.1:{free_port()}")
    document["identities"]["applicantA"] = dict(SANDBOX_KIT_APPLICANT)
    with pytest.raises(LoadSetupError, match=r"applicantA of load-target\.yaml is kind kit-issuer"):
        preflight(_config(document), timeout=2.0)
