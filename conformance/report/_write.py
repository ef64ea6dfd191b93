"""Writing a report's three formats to a directory."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._html import render_html
from ._junit import render_junit

FILES = {
    "json": "report.json",
    "junit": "junit.xml",
    "html": "report.html",
    "html_vi": "report.vi.html",
}


def write_reports(report: Mapping[str, Any], directory: Path) -> dict[str, Path]:
    """Write report.json, junit.xml, report.html and report.vi.html into ``directory``.

    The directory is created when missing; files of an earlier run are replaced.

    Returns:
        The path of each file, keyed ``json``, ``junit``, ``html`` and ``html_vi``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    contents: dict[str, bytes] = {
        "json": (json.dumps(report, ensure_ascii=False, indent=2) + "\n").encode(),
        "junit": render_junit(report),
        "html": render_html(report, "en").encode(),
        "html_vi": render_html(report, "vi").encode(),
    }
    paths = {}
    for key, data in contents.items():
        path = directory / FILES[key]
        path.write_bytes(data)
        paths[key] = path
    return paths
