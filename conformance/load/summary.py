"""The run's verdict: ``summary.json``, the lines printed, and the exit code.

Exit codes: 0 every level held, 1 a level broke, 2 the run could not be made (configuration,
connection, a load generator that never reported). The summary is built from plain data (the
measurements and the judged levels), so all of this is tested without locust.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .slo import Level

SUMMARY_FILE = "summary.json"
MEASUREMENTS_FILE = "measurements.json"
ACCEPTED_FILE = "accepted-dossiers.txt"
CSV_PREFIX = "locust"
HTML_FILE = "locust.html"

PASSED, FAILED, NOT_RUN = 0, 1, 2


def build_summary(
    measurements: Mapping[str, Any], levels: Iterable[Level] | None, slo_source: str | None
) -> dict[str, Any]:
    """The ``summary.json`` document of a run judged by ``levels`` (None: not judged)."""
    judged = list(levels or ())
    broken = [level for level in judged if not level.held]
    total = measurements.get("total", {})
    requests = int(total.get("requests", 0))
    duration = float(measurements.get("durationSeconds") or 0.0)
    workload = dict(measurements.get("workload", {}))
    if workload.get("model") == "open":
        due = int(workload.get("arrivals", 0)) + int(workload.get("dropped", 0))
        workload["arrivalRatio"] = workload.get("arrivals", 0) / due if due else None
    return {
        "verdict": "failed" if broken else ("passed" if judged else "not-judged"),
        "target": measurements.get("target", {}),
        "run": {
            "shape": measurements.get("shape"),
            "users": measurements.get("users"),
            "durationSeconds": duration,
            "startedAt": measurements.get("startedAt"),
            "mix": measurements.get("mix", {}),
            "workers": measurements.get("workers", {}),
        },
        "workload": workload,
        "slo": slo_source,
        "levels": [level.as_json() for level in judged],
        "broken": [level.name for level in broken],
        "totals": {
            "requests": requests,
            "failures": int(total.get("failures", 0)),
            "errorRatio": total.get("failures", 0) / requests if requests else None,
            "throughput": requests / duration if duration > 0 else None,
            "operations": len(measurements.get("operations", {})),
        },
        "operations": measurements.get("operations", {}),
        "failures": measurements.get("failures", []),
        "contract": measurements.get("contract", {}),
        "acceptedDossiers": {
            "count": len(measurements.get("acceptedDossiers", [])),
            "file": ACCEPTED_FILE,
        },
        "harnessErrors": measurements.get("harnessErrors", []),
        "files": {
            "measurements": MEASUREMENTS_FILE,
            "csv": [f"{CSV_PREFIX}_{part}.csv" for part in ("stats", "stats_history", "failures")],
            "html": HTML_FILE,
        },
    }


def exit_code(summary: Mapping[str, Any]) -> int:
    """0 when every level held, 1 when one broke; a summary with no level is 0 (not judged)."""
    return FAILED if summary.get("broken") else PASSED


def report_lines(summary: Mapping[str, Any]) -> list[str]:
    """What the command prints: the workload model, the totals, and every broken level."""
    totals = summary.get("totals", {})
    workload = summary.get("workload", {})
    model = workload.get("model", "closed")
    lines = [
        f"workload: {model}"
        + (f" at {workload.get('rate')} arrivals/s" if model == "open" else "")
        + f"; shape {summary.get('run', {}).get('shape')}, {summary.get('run', {}).get('users')}"
        + f" users, {summary.get('run', {}).get('durationSeconds', 0):.0f} s",
        f"requests: {totals.get('requests', 0)}, failures: {totals.get('failures', 0)}, "
        f"throughput: {_rate(totals.get('throughput'))} req/s",
    ]
    contract = summary.get("contract", {})
    if contract.get("sampled"):
        skipped = contract.get("skipped", 0)
        lines.append(
            f"contract: {contract.get('sampled')} responses sampled, "
            f"{contract.get('violationCount', 0)} violation(s)"
            + (
                f"; {skipped} more left unchecked to keep checking within "
                f"{contract.get('budget', 0):.0%} of the generator's time"
                if skipped
                else ""
            )
        )
        lines += [
            f"  violation: {v['operation']} HTTP {v['status']}: {v['error']}"
            + (f" at {v['pointer']}" if v.get("pointer") else "")
            for v in contract.get("violations", [])[:5]
        ]
    levels = summary.get("levels", [])
    broken = [level for level in levels if not level["held"]]
    lines += [_level_sentence(level) for level in broken]
    if summary.get("verdict") == "failed":
        names = ", ".join(level["title"] for level in broken)
        lines.append(f"FAILED: {len(broken)} of {len(levels)} service levels broken: {names}")
    elif summary.get("verdict") == "passed":
        lines.append(f"passed: all {len(levels)} service levels held (each in summary.json)")
    return lines


def _rate(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "-"


def _level_sentence(level: Mapping[str, Any]) -> str:
    expected = level["expected"]
    unit = f" {expected['unit']}" if expected.get("unit") else ""
    measured = level.get("measured")
    shown = "not measured" if measured is None else f"{measured:.4g}{unit}"
    note = f" ({level['note']})" if level.get("note") else ""
    verdict = "held:" if level["held"] else "BROKEN:"
    return (
        f"{verdict} {level['title']}: {shown}, expected {expected['comparison']} "
        f"{expected['value']:g}{unit}{note}"
    )


def write_report(
    report_dir: Path,
    measurements: Mapping[str, Any],
    summary: Mapping[str, Any] | None,
) -> None:
    """Write the measurements, the accepted dossier ids (one a line) and the summary."""
    report_dir.mkdir(parents=True, exist_ok=True)
    accepted = "".join(f"{dossier_id}\n" for dossier_id in measurements.get("acceptedDossiers", []))
    (report_dir / ACCEPTED_FILE).write_text(accepted, encoding="utf-8")
    _write_json(report_dir / MEASUREMENTS_FILE, measurements)
    if summary is not None:
        _write_json(report_dir / SUMMARY_FILE, summary)


def _write_json(path: Path, document: Any) -> None:
    text = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    path.write_text(text, encoding="utf-8")
