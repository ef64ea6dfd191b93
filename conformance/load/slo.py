"""Service levels: read a levels file (``schemas/slo.json``) and judge a run's measurements.

Each level holds or breaks; nothing here is a matter of opinion once the file is written. The
measurements are plain data (what the locustfile gathers from locust's statistics), so the
judgement is tested without running locust.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from egov_contract import ContractError, contract, load_document, pointer_of

PERCENTILES = ("p50", "p75", "p90", "p95", "p99", "p99.9")
"""The percentiles a levels file may bound; the locustfile measures each of them."""
WILDCARD = "*"


class SloError(ValueError):
    """The levels file cannot be used; the message names the file, the JSON pointer and the fix."""


@dataclass(frozen=True)
class ServiceLevels:
    """The levels of one file, validated."""

    latency: Mapping[str, Mapping[str, float]]
    error_ratio: float | None = None
    min_throughput: float | None = None
    min_arrival_ratio: float | None = None
    max_violations: int | None = None
    source: str = ""


def load_service_levels(path: str | Path) -> ServiceLevels:
    """The levels in ``path``; `SloError` naming the JSON pointer of every problem."""
    try:
        document = load_document(Path(path))
    except ContractError as problem:
        raise SloError(str(problem)) from None
    return service_levels(document, source=str(path))


def service_levels(document: Any, source: str = "<levels>") -> ServiceLevels:
    """Levels from a parsed document, validated against ``schemas/slo.json``."""
    validator = contract().schema_validator("slo.json")
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [
            f"{source} at {pointer_of(e.absolute_path) or '/'}: {e.validator}: {e.message}"
            for e in errors
        ]
        raise SloError("\n".join(lines))
    return ServiceLevels(
        latency={op: dict(bounds) for op, bounds in document.get("latency", {}).items()},
        error_ratio=document.get("errorRatio"),
        min_throughput=document.get("minThroughput"),
        min_arrival_ratio=document.get("minArrivalRatio"),
        max_violations=document.get("maxContractViolations"),
        source=source,
    )


@dataclass(frozen=True)
class Level:
    """One judged level: what was expected, what was measured, whether it held."""

    name: str
    """Stable id, e.g. ``latency/submitDossier/p95``, ``errorRatio``."""
    title: str
    """What a reader sees, e.g. ``p95 latency of submitDossier``."""
    comparison: str
    """``at most`` or ``at least``."""
    expected: float
    measured: float | None
    unit: str
    held: bool
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The summary's form of the level."""
        data: dict[str, Any] = {
            "level": self.name,
            "title": self.title,
            "expected": {"comparison": self.comparison, "value": self.expected, "unit": self.unit},
            "measured": self.measured,
            "held": self.held,
        }
        if self.note:
            data["note"] = self.note
        return data


def _at_most(name: str, title: str, bound: float, measured: float | None, unit: str) -> Level:
    held = measured is not None and measured <= bound
    return Level(name, title, "at most", bound, measured, unit, held)


def _at_least(name: str, title: str, bound: float, measured: float | None, unit: str) -> Level:
    held = measured is not None and measured >= bound
    return Level(name, title, "at least", bound, measured, unit, held)


def evaluate(levels: ServiceLevels, measurements: Mapping[str, Any]) -> list[Level]:
    """Judge ``measurements`` (the locustfile's ``measurements.json``) by ``levels``."""
    judged: list[Level] = []
    operations: Mapping[str, Any] = measurements.get("operations", {})
    wildcard = levels.latency.get(WILDCARD)
    named = [op for op in levels.latency if op != WILDCARD]
    others = sorted(op for op, m in operations.items() if op not in named and m.get("requests"))
    bounds_of = [(op, levels.latency[op]) for op in named]
    if wildcard is not None:
        bounds_of += [(op, wildcard) for op in others]
    for operation, bounds in bounds_of:
        stats = operations.get(operation) or {}
        for percentile in PERCENTILES:
            if percentile not in bounds:
                continue
            measured = stats.get(percentile) if stats.get("requests") else None
            level = _at_most(
                f"latency/{operation}/{percentile}",
                f"{percentile} latency of {operation}",
                float(bounds[percentile]),
                None if measured is None else float(measured),
                "ms",
            )
            if measured is None:
                level = replace(level, note="the run made no request of this operation")
            judged.append(level)
    total = measurements.get("total", {})
    requests = int(total.get("requests", 0))
    if levels.error_ratio is not None:
        ratio = total.get("failures", 0) / requests if requests else None
        level = _at_most("errorRatio", "error ratio", levels.error_ratio, ratio, "")
        judged.append(level if requests else replace(level, note="the run made no request"))
    if levels.min_throughput is not None:
        duration = float(measurements.get("durationSeconds") or 0.0)
        throughput = requests / duration if duration > 0 else None
        judged.append(
            _at_least("minThroughput", "throughput", levels.min_throughput, throughput, "req/s")
        )
    workload = measurements.get("workload", {})
    if levels.min_arrival_ratio is not None and workload.get("model") == "open":
        due = int(workload.get("arrivals", 0)) + int(workload.get("dropped", 0))
        ratio = workload.get("arrivals", 0) / due if due else None
        judged.append(
            _at_least("minArrivalRatio", "arrival ratio", levels.min_arrival_ratio, ratio, "")
        )
    if levels.max_violations is not None:
        sampling = measurements.get("contract", {})
        sampled = int(sampling.get("sampled", 0))
        found = float(sampling.get("violationCount", 0)) if sampled else None
        level = _at_most(
            "maxContractViolations", "contract violations", levels.max_violations, found, ""
        )
        judged.append(level if sampled else replace(level, note="no response was sampled"))
    return judged
