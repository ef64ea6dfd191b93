"""The one error root of the contract package."""

from __future__ import annotations

from pathlib import Path


class ContractError(Exception):
    """A contract file is missing, unreadable or breaks a rule.

    The message names the file, the JSON pointer inside it and the rule broken, so that it can
    be shown to a user as it is, without a stack trace.
    """

    def __init__(self, path: Path | str, pointer: str, rule: str, detail: str) -> None:
        self.path = str(path)
        self.pointer = pointer or "/"
        self.rule = rule
        self.detail = detail
        super().__init__(f"{self.path} at {self.pointer}: {rule}: {detail}")
