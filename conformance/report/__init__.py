"""The certification report: report.json (schemas/report.json), JUnit XML and HTML pages.

`build_report` grades a run's `TestOutcome`s into a report document, `write_reports` writes
it in every format, and `exit_code` turns its verdicts into the command's exit status.
"""

from ..outcomes import Waiver
from ._build import build_report, exit_code
from ._grade import WaiverLike
from ._html import render_html
from ._junit import render_junit
from ._write import write_reports

__all__ = [
    "Waiver",
    "WaiverLike",
    "build_report",
    "exit_code",
    "render_html",
    "render_junit",
    "write_reports",
]
