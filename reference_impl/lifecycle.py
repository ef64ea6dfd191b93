"""The dossier lifecycle of DOMAIN.md as a table, and the one function that applies it."""

from __future__ import annotations

from dataclasses import dataclass

from .problems import conflict

STATUS_CODES: dict[str, int] = {
    "submitted": 1,
    "received": 2,
    "refused": 3,
    "in-process": 4,
    "supplement-requested": 5,
    "fee-requested": 6,
    "withdrawal-requested": 7,
    "stopped": 8,
    "processed": 9,
    "returned": 10,
}
STATUSES = ("draft", *STATUS_CODES)
TERMINAL = frozenset({"refused", "stopped", "returned"})
NOT_OVERDUE = frozenset({"refused", "stopped", "processed", "returned"})


@dataclass(frozen=True)
class Move:
    """An action's allowed source statuses and where it leads."""

    sources: frozenset[str]
    target: str | None
    """``None``: the target depends on the dossier (see `target_of`)."""


MOVES: dict[str, Move] = {
    "submitDossier": Move(frozenset({"draft"}), "submitted"),
    "acceptDossier": Move(frozenset({"submitted"}), "received"),
    "refuseDossier": Move(frozenset({"submitted", "received"}), "refused"),
    "requestSupplement": Move(
        frozenset({"submitted", "received", "in-process"}), "supplement-requested"
    ),
    "submitSupplement": Move(frozenset({"supplement-requested"}), None),
    "startProcessing": Move(frozenset({"received"}), "in-process"),
    "issueFeeNotice": Move(frozenset({"in-process"}), "fee-requested"),
    "paymentCompleted": Move(frozenset({"fee-requested"}), "in-process"),
    "requestWithdrawal": Move(
        frozenset({"submitted", "received", "in-process", "supplement-requested", "fee-requested"}),
        "withdrawal-requested",
    ),
    "stopProcessing": Move(frozenset({"withdrawal-requested", "in-process"}), "stopped"),
    "resolveDossier": Move(frozenset({"in-process"}), "processed"),
    "deliverResult": Move(frozenset({"processed"}), "returned"),
}
"""Every move of the lifecycle; any (action, status) pair not listed here is refused."""


def target_of(action: str, status: str, supplement_from: str | None = None) -> str:
    """Where ``action`` takes a dossier in ``status``, or a 409 problem saying why not.

    ``supplement_from`` is the status a supplement was asked from: a supplement goes back to
    received (asked at reception) or to in-process (asked during processing).
    """
    move = MOVES[action]
    if status not in move.sources:
        allowed = ", ".join(sorted(move.sources))
        raise conflict(
            f"{action} is not allowed while the dossier is {status!r}; it is allowed from: "
            f"{allowed}.",
            currentStatus=status,
        )
    if move.target is not None:
        return move.target
    return "in-process" if supplement_from == "in-process" else "received"


def status_code(status: str) -> int | None:
    """The NPSP status number of a status name (``None`` for a draft)."""
    return STATUS_CODES.get(status)
