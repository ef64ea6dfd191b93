"""The lifecycle table: every status × every action, allowed moves succeed, others are 409."""

from __future__ import annotations

import pytest

from reference_impl.lifecycle import MOVES, STATUS_CODES, STATUSES, TERMINAL, status_code, target_of
from reference_impl.problems import Problem

# The transitions of DOMAIN.md, written out independently of reference_impl.lifecycle.
EXPECTED = {
    ("submitDossier", "draft"): "submitted",
    ("acceptDossier", "submitted"): "received",
    ("refuseDossier", "submitted"): "refused",
    ("refuseDossier", "received"): "refused",
    ("requestSupplement", "submitted"): "supplement-requested",
    ("requestSupplement", "received"): "supplement-requested",
    ("requestSupplement", "in-process"): "supplement-requested",
    ("submitSupplement", "supplement-requested"): "received",
    ("startProcessing", "received"): "in-process",
    ("issueFeeNotice", "in-process"): "fee-requested",
    ("paymentCompleted", "fee-requested"): "in-process",
    ("requestWithdrawal", "submitted"): "withdrawal-requested",
    ("requestWithdrawal", "received"): "withdrawal-requested",
    ("requestWithdrawal", "in-process"): "withdrawal-requested",
    ("requestWithdrawal", "supplement-requested"): "withdrawal-requested",
    ("requestWithdrawal", "fee-requested"): "withdrawal-requested",
    ("stopProcessing", "withdrawal-requested"): "stopped",
    ("stopProcessing", "in-process"): "stopped",
    ("resolveDossier", "in-process"): "processed",
    ("deliverResult", "processed"): "returned",
}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", sorted(MOVES))
def test_every_action_in_every_status(action: str, status: str) -> None:
    expected = EXPECTED.get((action, status))
    if expected is None:
        with pytest.raises(Problem) as refused:
            target_of(action, status)
        assert refused.value.status == 409
        assert status in refused.value.detail
        assert refused.value.extra["currentStatus"] == status
    else:
        assert target_of(action, status) == expected


def test_supplement_returns_to_where_it_was_asked() -> None:
    assert target_of("submitSupplement", "supplement-requested", "in-process") == "in-process"
    assert target_of("submitSupplement", "supplement-requested", "received") == "received"
    assert target_of("submitSupplement", "supplement-requested", "submitted") == "received"


def test_terminal_statuses_allow_nothing() -> None:
    for status in TERMINAL:
        assert not any(status in move.sources for move in MOVES.values())


def test_status_codes_are_the_npsp_numbers() -> None:
    assert [STATUS_CODES[s] for s in STATUSES[1:]] == list(range(1, 11))
    assert status_code("draft") is None
