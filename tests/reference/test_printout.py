"""Paper printouts of results (Decree 45/2020/ND-CP Art. 18(2); Art. 15 once cancelled)."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest

from reference_impl import printout

from .conftest import Server
from .test_results import (
    AGENCY,
    CITIZEN,
    OFFICER,
    ORGANISATION,
    OTHER_CITIZEN,
    OTHER_OFFICER,
    REASON,
    assert_problem,
    cancel,
    issue,
)

_OBJECT_START = re.compile(rb"(\d+) 0 obj")
_STREAM_START = re.compile(rb"stream\r?\n")
_LENGTH = re.compile(rb"/Length (\d+)(?![\d ])")  # a direct length (fpdf2 writes no other)
_FONT_REF = re.compile(rb"/(F\d+) (\d+) 0 R")
_TO_UNICODE = re.compile(rb"/ToUnicode (\d+) 0 R")
_BFCHAR = re.compile(rb"<([0-9A-Fa-f]+)> <([0-9A-Fa-f]+)>")
_TEXT_OP = re.compile(rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\()])*)\) Tj|(ET)", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _objects(pdf: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """Each object's dictionary and (inflated) stream.

    A stream is cut by its ``/Length``, never by searching for ``endstream``: compressed bytes
    may end in a CR or hold the bytes of ``endobj``, and a search would cut them short.
    """
    found: dict[int, tuple[bytes, bytes | None]] = {}
    position = 0
    while (start := _OBJECT_START.search(pdf, position)) is not None:
        end = pdf.index(b"endobj", start.end())
        stream = _STREAM_START.search(pdf, start.end(), end)
        if stream is None:
            found[int(start.group(1))] = (pdf[start.end() : end], None)
            position = end
            continue
        dictionary = pdf[start.end() : stream.start()]
        length = _LENGTH.search(dictionary)
        assert length is not None, dictionary
        data = pdf[stream.end() : stream.end() + int(length.group(1))]
        if b"/FlateDecode" in dictionary:
            data = zlib.decompress(data)
        found[int(start.group(1))] = (dictionary, data)
        position = pdf.index(b"endobj", stream.end() + int(length.group(1)))
    return found


def _unescape(literal: bytes) -> bytes:
    out = bytearray()
    index = 0
    while index < len(literal):
        char = literal[index : index + 1]
        if char != b"\\":
            out += char
            index += 1
            continue
        following = literal[index + 1 : index + 2]
        octal = re.match(rb"[0-7]{1,3}", literal[index + 1 : index + 4])
        if octal:
            out.append(int(octal.group(0), 8))
            index += 1 + len(octal.group(0))
        else:
            out += _ESCAPES.get(following, following)
            index += 2
    return bytes(out)


def pdf_text(pdf: bytes) -> str:
    """The text an fpdf2 PDF shows, one line per text object, through the fonts' ToUnicode maps."""
    objects = _objects(pdf)
    maps: dict[bytes, dict[int, str]] = {}
    for dictionary, _ in objects.values():
        for name, number in _FONT_REF.findall(dictionary):
            font = objects[int(number)][0]
            cmap_ref = _TO_UNICODE.search(font)
            if cmap_ref is None:
                continue
            cmap = objects[int(cmap_ref.group(1))][1] or b""
            maps[name] = {
                int(glyph, 16): bytes.fromhex(text.decode()).decode("utf-16-be")
                for glyph, text in _BFCHAR.findall(cmap)
            }
    lines: list[str] = []
    for dictionary, stream in objects.values():
        if stream is None or b"BT" not in stream or b"/Length1" in dictionary:
            continue
        current: dict[int, str] = {}
        line = ""
        for font, literal, end in _TEXT_OP.findall(stream):
            if font:
                current = maps.get(font, {})
            elif end:
                if line:
                    lines.append(line)
                line = ""
            else:
                raw = _unescape(literal)
                glyphs = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
                line += "".join(current.get(g, "\ufffd") for g in glyphs)
    return "\n".join(lines)


def flat(pdf: bytes) -> str:
    """The PDF's text on one line, so wrapped lines read as written."""
    return " ".join(pdf_text(pdf).split())


def test_get_result_printout_shows_what_article_18_asks(server: Server) -> None:
    result = issue(server)
    response = server.call("GET", f"/results/{result['code']}/printout", who=CITIZEN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    text = flat(response.content)
    assert printout.SYSTEM_NAME in text
    assert f"Mã kết quả: {result['code']}" in text
    assert f"Mã hồ sơ: {result['dossierCode']}" in text
    assert f"UBND phường Hồng Hải, tỉnh Quảng Ninh ({AGENCY})" in text
    assert result["title"] in text
    assert result["summary"] in text
    assert f"Thời điểm cấp: {result['issuedAt']}" in text
    assert f"Mã xác thực: {result['verificationCode']}" in text
    assert f"http://testserver/verification/{result['verificationCode']}" in text
    assert "HỦY" not in text


def test_printout_after_cancellation_says_so(server: Server) -> None:
    result = issue(server)
    server.clock.set(server.clock.now().replace(day=20, hour=14))
    cancel(server, result["code"])
    response = server.call("GET", f"/results/{result['code']}/printout", who=OFFICER)
    assert response.status_code == 200
    text = flat(response.content)
    assert f"KẾT QUẢ ĐÃ BỊ HỦY HIỆU LỰC lúc 2025-03-20T14:00:00+07:00. Lý do: {REASON}" in text
    assert "This result was cancelled at 2025-03-20T14:00:00+07:00" in text
    assert f"Mã xác thực: {result['verificationCode']}" in text


def test_printout_is_deterministic_for_one_moment(server: Server) -> None:
    result = issue(server)
    path = f"/results/{result['code']}/printout"
    first = server.call("GET", path, who=CITIZEN).content
    assert server.call("GET", path, who=OFFICER).content == first
    assert b"/CreationDate (D:20250317090000+07'00')" in first


def test_printout_uncompressed_carries_the_same_text(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = issue(server)
    path = f"/results/{result['code']}/printout"
    compressed = server.call("GET", path, who=CITIZEN).content
    monkeypatch.setattr(printout, "COMPRESS", False)
    plain = server.call("GET", path, who=CITIZEN).content
    assert b") Tj" in plain
    assert b") Tj" not in compressed
    assert pdf_text(plain) == pdf_text(compressed)


def test_result_document_renders_vietnamese(server: Server) -> None:
    result = issue(server)
    response = server.call("GET", f"/results/{result['code']}/document", who=CITIZEN)
    text = flat(response.content)
    assert "Giấy khai sinh của Nguyễn Minh Khoa" in text
    assert f"Mã kết quả: {result['code']}" in text
    assert "Cấp cho: Nguyễn Văn An" in text


def test_printout_missing_font_names_the_package(
    server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = issue(server)
    monkeypatch.setattr(printout, "FONT_DIR", tmp_path)
    with pytest.raises(RuntimeError, match="fonts-dejavu-core"):
        printout.printout(result, None, "http://x/verification/A", server.clock.now(), "t")


def test_printout_of_another_holders_result_is_404(server: Server) -> None:
    result = issue(server)
    for who in (OTHER_CITIZEN, ORGANISATION, OTHER_OFFICER):
        assert_problem(server.call("GET", f"/results/{result['code']}/printout", who=who), 404)
    missing = "/results/000.00.01.H22-250317-0042-KQ1/printout"
    assert_problem(server.call("GET", missing, who=CITIZEN), 404)
    assert_problem(server.call("GET", "/results/nope/printout", who=CITIZEN), 400)
    assert_problem(server.call("GET", f"/results/{result['code']}/printout"), 401)
