"""PDFs of results: the result document itself and its paper printout (Decree 45/2020/ND-CP).

Both are drawn with fpdf2 in DejaVu Sans, a TrueType font that covers Vietnamese diacritics
(the PDF core fonts do not). The creation date comes from the server's clock, so the same
input at the same moment gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF

SYSTEM_NAME = "Hệ thống thông tin giải quyết TTHC — egov-conformance reference"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
_FONT = "DejaVu"
_REGULAR = "DejaVuSans.ttf"
_BOLD = "DejaVuSans-Bold.ttf"

COMPRESS = True
"""Whether page content streams are compressed; tests switch it off to read the text."""


@dataclass(frozen=True)
class Line:
    """One line of a PDF: its text, and whether it stands out."""

    text: str
    bold: bool = False
    size: float = 11


def _new_pdf(created: datetime, title: str) -> FPDF:
    for name in (_REGULAR, _BOLD):
        if not (FONT_DIR / name).is_file():
            raise RuntimeError(
                f"The font {FONT_DIR / name} is missing; results are printed in DejaVu Sans so "
                "that Vietnamese diacritics render. Install the Debian package fonts-dejavu-core."
            )
    pdf = FPDF(format="A4")
    pdf.compress = COMPRESS
    pdf.set_creation_date(created)
    pdf.set_creator(SYSTEM_NAME)
    pdf.set_title(title)
    pdf.add_font(_FONT, "", str(FONT_DIR / _REGULAR))
    pdf.add_font(_FONT, "B", str(FONT_DIR / _BOLD))
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    return pdf


def _render(created: datetime, title: str, lines: list[Line]) -> bytes:
    pdf = _new_pdf(created, title)
    for line in lines:
        pdf.set_font(_FONT, "B" if line.bold else "", line.size)
        # multi_cell wraps long titles and reasons; left-aligned text keeps each line one
        # plain text run, which is what text extraction (and screen readers) read best.
        pdf.multi_cell(0, line.size * 0.55, line.text, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)
    return bytes(pdf.output())


def _agency_label(agency: dict[str, Any] | None, code: str) -> str:
    return f"{agency['name']} ({code})" if agency else code


def result_document(
    *,
    created: datetime,
    code: str,
    dossier_code: str,
    agency: dict[str, Any] | None,
    agency_code: str,
    holder_name: str,
    title: str,
    summary: str | None,
    issued_at: str,
) -> bytes:
    """The result document an agency issues when it uploads none: its content, as a PDF."""
    lines = [
        Line(_agency_label(agency, agency_code), bold=True),
        Line(title, bold=True, size=15),
        Line(f"Cấp cho: {holder_name}"),
        Line(f"Mã kết quả: {code}"),
        Line(f"Mã hồ sơ: {dossier_code}"),
        Line(f"Thời điểm cấp: {issued_at}"),
    ]
    if summary:
        lines.append(Line(summary))
    lines.append(Line(SYSTEM_NAME, size=9))
    return _render(created, title, lines)


def printout_lines(
    result: dict[str, Any], agency: dict[str, Any] | None, verification_url: str, printed_at: str
) -> list[Line]:
    """What a printout shows (Decree 45/2020/ND-CP Art. 18(2); Art. 15 once cancelled)."""
    lines = [Line(SYSTEM_NAME, bold=True, size=10)]
    if result["status"] == "cancelled":
        lines.append(
            Line(
                f"KẾT QUẢ ĐÃ BỊ HỦY HIỆU LỰC lúc {result['cancelledAt']}. "
                f"Lý do: {result['cancellationReason']} "
                f"(This result was cancelled at {result['cancelledAt']}; "
                "this printout is no longer valid.)",
                bold=True,
                size=12,
            )
        )
    lines += [
        Line("BẢN IN KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH", bold=True, size=13),
        Line(result["title"], bold=True, size=15),
    ]
    if result.get("summary"):
        lines.append(Line(result["summary"]))
    lines += [
        Line(f"Cấp cho: {result['holder']['name']}"),
        Line(f"Mã kết quả: {result['code']}"),
        Line(f"Mã hồ sơ: {result['dossierCode']}"),
        Line(f"Cơ quan cấp: {_agency_label(agency, result['agencyCode'])}"),
        Line(f"Thời điểm cấp: {result['issuedAt']}"),
        Line(f"SHA-256 của tài liệu kết quả: {result['document']['sha256']}", size=8),
        Line(f"Mã xác thực: {result['verificationCode']}", bold=True, size=13),
        Line(f"Kiểm tra tại: {verification_url}"),
        Line(f"In lúc: {printed_at}", size=9),
    ]
    return lines


def printout(
    result: dict[str, Any],
    agency: dict[str, Any] | None,
    verification_url: str,
    printed: datetime,
    printed_at: str,
) -> bytes:
    """The paper printout of a result, as a PDF."""
    lines = printout_lines(result, agency, verification_url, printed_at)
    return _render(printed, f"{result['title']} — {result['code']}", lines)
