"""What a bench run found: named figures, printed as a table and kept as JSON."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._wrk import Load


@dataclass
class Figure:
    """One measured figure and how it was measured."""

    scenario: str
    name: str
    value: float | None
    unit: str
    note: str = ""


@dataclass
class Report:
    """Every figure of one run, in the order measured."""

    machine: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def add(self, scenario: str, name: str, value: float | None, unit: str, note: str = "") -> None:
        """Record a figure and print it at once (a long run shows progress)."""
        figure = Figure(scenario, name, value, unit, note)
        self.figures.append(figure)
        print(_line(figure), flush=True)

    def skip(self, scenario: str, reason: str) -> None:
        """Record a scenario that could not run, and why."""
        self.skipped.append(f"{scenario}: {reason}")
        print(f"[{scenario}] SKIPPED: {reason}", flush=True)

    def table(self) -> str:
        """The figures as an aligned text table."""
        lines = [_line(figure) for figure in self.figures]
        lines += [f"SKIPPED {reason}" for reason in self.skipped]
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        """Keep the run as JSON."""
        data = {
            "machine": self.machine,
            "figures": [asdict(f) for f in self.figures],
            "skipped": self.skipped,
        }
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _line(figure: Figure) -> str:
    value = "n/a" if figure.value is None else f"{figure.value:,.2f}"
    note = f"  ({figure.note})" if figure.note else ""
    return f"[{figure.scenario}] {figure.name:<44} {value:>12} {figure.unit:<8}{note}"


def median(values: list[float]) -> float:
    """The median, 0 for no values."""
    return statistics.median(values) if values else 0.0


def describe(load: Load) -> str:
    """A one-line account of a load run, for notes."""
    errors = f", errors {load.errors}" if load.errors else ""
    return f"{load.ok}/{load.requests} ok in {load.seconds:.1f} s{errors}"
