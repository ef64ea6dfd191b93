"""What a load run remembers beside locust's statistics, and how workers' parts add up.

Each process keeps a `RunRecord` (dossiers its officers accepted, arrivals of the open
workload, sampled responses, drafts left to clean up). A worker drains it into every stats
report it sends the master (locust's ``report_to_master`` event); the master adds the parts up
in a `RunTotals`. A single-process run drains into its own totals. Plain data only: this is
what ``measurements.json`` is made of.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .sampling import BUDGET, MAX_EXAMPLES, Sampler


@dataclass
class RunRecord:
    """One process's part of the run since it was last drained."""

    sampler: Sampler
    accepted: list[str] = field(default_factory=list)
    arrivals: int = 0
    dropped: int = 0
    requests: int = 0
    harness_errors: list[str] = field(default_factory=list)

    def arrived(self, arrivals: int, dropped: int) -> None:
        """Count arrivals of the open workload (started, and missed because a user was busy)."""
        self.arrivals += arrivals
        self.dropped += dropped

    def harness_error(self, message: str) -> None:
        """A fault of the kit or of its set-up (not of the target); kept for the summary."""
        if len(self.harness_errors) < MAX_EXAMPLES:
            self.harness_errors.append(message[:500])

    def drain(self) -> dict[str, Any]:
        """Everything since the last drain, as plain data; the record starts over."""
        part = {
            "accepted": self.accepted,
            "arrivals": self.arrivals,
            "dropped": self.dropped,
            "requests": self.requests,
            "harnessErrors": self.harness_errors,
            "contract": self.sampler.drain(),
        }
        self.accepted = []
        self.arrivals = self.dropped = self.requests = 0
        self.harness_errors = []
        return part


@dataclass
class RunTotals:
    """The parts of every process added up (on the master, or in a single-process run)."""

    accepted: list[str] = field(default_factory=list)
    arrivals: int = 0
    dropped: int = 0
    sampled: int = 0
    skipped: int = 0
    violation_count: int = 0
    violations: list[dict[str, Any]] = field(default_factory=list)
    harness_errors: list[str] = field(default_factory=list)
    requests_by_worker: Counter[str] = field(default_factory=Counter)

    def add(self, part: dict[str, Any], worker: str = "local") -> None:
        """Add one drained part, from ``worker``."""
        self.accepted.extend(part.get("accepted", ()))
        self.arrivals += int(part.get("arrivals", 0))
        self.dropped += int(part.get("dropped", 0))
        self.requests_by_worker[worker] += int(part.get("requests", 0))
        contract = part.get("contract", {})
        self.sampled += int(contract.get("sampled", 0))
        self.skipped += int(contract.get("skipped", 0))
        self.violation_count += int(contract.get("violationCount", 0))
        room = MAX_EXAMPLES - len(self.violations)
        self.violations.extend(contract.get("violations", [])[: max(0, room)])
        room = MAX_EXAMPLES - len(self.harness_errors)
        self.harness_errors.extend(part.get("harnessErrors", [])[: max(0, room)])

    def contract_json(self, every: int) -> dict[str, Any]:
        """The measurements' ``contract`` object: what sampling checked and found."""
        return {
            "sampleEvery": every,
            "budget": BUDGET,
            "sampled": self.sampled,
            "skipped": self.skipped,
            "violationCount": self.violation_count,
            "violations": self.violations,
        }
