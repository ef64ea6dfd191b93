"""The shared fixtures: reproducible, valid against the contract, and honest about themselves."""

from __future__ import annotations

import re
import struct
import unicodedata
import zlib
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from egov_contract import contract, fixtures_dir, format_checker, load_document, pointer_of
from egov_contract.fixturegen import HANDWRITTEN, generate, main, stale_files
from egov_contract.formats import FORMAT_EXPLAINERS, describe_personal_id

FIXTURES = fixtures_dir()
SUBJECTS = {
    "citizens.json": "subject.json#/$defs/citizen",
    "organisations.json": "subject.json#/$defs/organisation",
    "officers.json": "subject.json#/$defs/officer",
    "systems.json": "subject.json#/$defs/system",
    "agencies.json": "agency.json#/$defs/agency",
}
PROCEDURE_FILES = sorted((FIXTURES / "procedures").glob("*.json"))
INVALID_FILES = sorted((FIXTURES / "invalid").glob("*.json"))


def _load(name: str) -> Any:
    return load_document(FIXTURES / name)


def _errors(ref: str, instance: Any) -> list[str]:
    validator = contract().schema_validator(ref)
    return [f"{pointer_of(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).as_posix() not in HANDWRITTEN
    }


# ---- reproducible --------------------------------------------------------------------------


def test_generate_reproduces_the_committed_fixtures_byte_for_byte(tmp_path: Path) -> None:
    generate(tmp_path)
    generated, committed = _files(tmp_path), _files(FIXTURES)
    assert sorted(generated) == sorted(committed)
    assert [n for n in generated if generated[n] != committed[n]] == []


def test_generating_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a")
    generate(tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_check_lists_missing_changed_and_extra_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate(tmp_path)
    assert main(["--check", "--dest", str(tmp_path)]) == 0
    (tmp_path / "citizens.json").write_text("[]\n", encoding="utf-8")
    (tmp_path / "systems.json").unlink()
    (tmp_path / "stray.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("hand-written\n", encoding="utf-8")
    assert stale_files(tmp_path) == ["citizens.json", "stray.json", "systems.json"]
    assert main(["--check", "--dest", str(tmp_path)]) == 1
    assert "stale: " in capsys.readouterr().err


# ---- valid against the contract -------------------------------------------------------------


@pytest.mark.parametrize(("name", "ref"), SUBJECTS.items())
def test_every_subject_and_agency_validates_against_its_schema(name: str, ref: str) -> None:
    failures = [f"{i}{e}" for i, item in enumerate(_load(name)) for e in _errors(ref, item)]
    assert failures == []


@pytest.mark.parametrize("path", PROCEDURE_FILES, ids=lambda p: p.stem)
def test_every_procedure_validates_and_has_its_e_form(path: Path) -> None:
    procedure = load_document(path)
    assert _errors("procedure.json#/$defs/procedure", procedure) == []
    assert procedure["code"] == path.stem
    assert procedure["formUrl"] == f"/procedures/{path.stem}/form"
    codes = [c["code"] for c in procedure["components"]]
    assert len(codes) == len(set(codes))
    known = {a["code"] for a in _load("agencies.json")}
    assert set(procedure["agencyCodes"]) <= known


@pytest.mark.parametrize("path", PROCEDURE_FILES, ids=lambda p: p.stem)
def test_every_e_form_is_a_2020_12_schema_and_its_sample_fits_it(path: Path) -> None:
    form = load_document(FIXTURES / "forms" / path.name)
    Draft202012Validator.check_schema(form)
    assert _errors("procedure.json#/$defs/eForm", form) == []
    assert form["additionalProperties"] is False
    sample = load_document(FIXTURES / "forms" / f"{path.stem}.sample.json")
    validator = Draft202012Validator(form, format_checker=format_checker())
    assert [e.message for e in validator.iter_errors(sample)] == []


def test_the_procedures_cover_full_partial_and_every_fee_moment() -> None:
    procedures = [load_document(p) for p in PROCEDURE_FILES]
    assert len(procedures) >= 6
    assert {p["onlineLevel"] for p in procedures} == {"full", "partial"}
    assert {f["due"] for p in procedures for f in p["fees"]} == {"on-submission", "on-notice"}
    assert any(not p["fees"] for p in procedures)


def test_every_calendar_year_validates_and_lists_days_of_that_year() -> None:
    years = {k: v for k, v in _load("calendar.json").items() if k.isdigit()}
    assert sorted(years) == ["2024", "2025", "2026", "2027"]
    for year, data in years.items():
        assert _errors("agency.json#/$defs/calendar", {"year": int(year), **data}) == []
        days = [date.fromisoformat(h["date"]) for h in data["holidays"]]
        assert days == sorted(days)
        assert {d.year for d in days} == {int(year)}
        for day in map(date.fromisoformat, data["workingWeekendDays"]):
            assert day.weekday() >= 5, f"{day} is not a weekend day"
        for holiday in data["holidays"]:
            if holiday["compensation"]:
                assert date.fromisoformat(holiday["date"]).weekday() < 5


def test_calendar_marks_what_is_projected_or_unconfirmed() -> None:
    calendar = _load("calendar.json")
    assert all(h.get("unconfirmed") for h in calendar["2027"]["holidays"])
    assert "projected" in calendar["2027"]["note"].lower()
    assert any("Điều 112" in s["title"] for s in calendar["sources"])


@pytest.mark.parametrize(
    ("day", "name_part"),
    [
        ("2024-04-18", "Hùng Vương"),
        ("2025-04-07", "Hùng Vương"),
        ("2026-04-26", "Hùng Vương"),
        ("2026-04-27", "Hùng Vương"),
        ("2027-04-16", "Hùng Vương"),
        ("2025-05-02", "hoán đổi"),
        ("2025-01-29", "Tết Nguyên đán"),
        ("2026-02-17", "Tết Nguyên đán"),
    ],
)
def test_calendar_has_the_known_holidays(day: str, name_part: str) -> None:
    holidays = _load("calendar.json")[day[:4]]["holidays"]
    assert any(h["date"] == day and name_part in h["name"] for h in holidays)


# ---- the invalid cases ---------------------------------------------------------------------


def _cases() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{p.stem}: {c['case']}", c) for p in INVALID_FILES for c in load_document(p)]


@pytest.mark.parametrize(("title", "case"), _cases(), ids=[t for t, _ in _cases()])
def test_every_invalid_case_is_refused_where_and_how_it_says(
    title: str, case: dict[str, Any]
) -> None:
    assert case["schema"] or case.get("format"), f"{title}: names neither schema nor format"
    if case["schema"]:
        validator = contract().schema_validator(case["schema"])
        found = [
            (pointer_of(e.absolute_path), e.validator)
            for e in validator.iter_errors(case["instance"])
        ]
        assert (case["pointer"], case["rule"]) in found, f"{title}: got {found}"
    if case.get("format"):
        assert FORMAT_EXPLAINERS[case["format"]](case["instance"]) is not None


def test_invalid_cases_cover_every_format_and_fixture_kind() -> None:
    kinds = {p.stem for p in INVALID_FILES}
    assert kinds >= {
        "personal-id", "tax-code", "agency-code", "procedure-code", "dossier-code",
        "result-code", "citizen", "organisation", "officer", "system", "procedure", "agency",
        "calendar",
    }  # fmt: skip


# ---- documents are what they claim ---------------------------------------------------------

DOCUMENTS = FIXTURES / "documents"


def test_sample_pdf_is_a_pdf_whose_xref_points_at_its_objects() -> None:
    pdf = (DOCUMENTS / "sample.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.endswith(b"%%EOF\n")
    startxref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[startxref:].startswith(b"xref\n0 6\n")
    entries = pdf[startxref:].split(b"\n", 2)[2][: 20 * 6]
    offsets = [int(entries[i : i + 10]) for i in range(20, 20 * 6, 20)]
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(b"%d 0 obj\n" % number)
    assert b"(egov-conformance - sample component document) Tj" in pdf


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks.append((kind, body))
        at += 12 + length
    return chunks


def test_sample_png_is_an_8x8_png_with_good_checksums() -> None:
    png = (DOCUMENTS / "sample.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    chunks = _png_chunks(png)
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">II", chunks[0][1][:8]) == (8, 8)
    assert len(zlib.decompress(chunks[1][1])) == 8 * (1 + 8 * 3)


def test_sample_jpeg_starts_and_ends_like_a_jpeg() -> None:
    jpeg = (DOCUMENTS / "sample.jpg").read_bytes()
    assert jpeg.startswith(b"\xff\xd8\xff\xe0")
    assert jpeg[6:11] == b"JFIF\x00"
    assert jpeg.endswith(b"\xff\xd9")


def test_hostile_documents_are_not_what_their_names_say() -> None:
    assert (DOCUMENTS / "lying.pdf").read_bytes().startswith(b"\x89PNG")
    empty = (DOCUMENTS / "empty.pdf").read_bytes()
    assert len(empty) <= 1
    assert not empty.startswith(b"%PDF")


def test_hostile_names_each_carry_a_reason() -> None:
    names = _load("documents/hostile-names.json")
    assert all(n["reason"] for n in names)
    listed = {n["name"] for n in names}
    assert {"../../etc/passwd", "a\x00b.pdf", "CON", ".htaccess", "x.pdf.exe"} <= listed
    assert any(len(n) == 300 for n in listed)


# ---- subjects are consistent -----------------------------------------------------------------


def test_personal_ids_agree_with_birth_date_sex_and_province() -> None:
    for person in _load("citizens.json"):
        info = describe_personal_id(person["personalId"])
        assert info.birth_year == date.fromisoformat(person["dateOfBirth"]).year, person
        assert info.sex == person["sex"], person
        assert info.province_name == person["province"], person


def test_citizens_are_sixty_distinct_people_with_nfc_names() -> None:
    people = _load("citizens.json")
    assert len(people) == 60
    assert len({p["personalId"] for p in people}) == 60
    assert len({p["fullName"] for p in people}) == 60
    for person in people:
        for key in ("fullName", "address", "province"):
            assert unicodedata.is_normalized("NFC", person[key])
    assert people[0]["personalId"] == "001203012345"
    assert people[1]["personalId"] == "079190012345"


def test_organisations_have_two_branches_and_citizen_representatives() -> None:
    orgs = _load("organisations.json")
    ids = {p["personalId"] for p in _load("citizens.json")}
    assert len(orgs) == 12
    assert {o["representativePersonalId"] for o in orgs} <= ids
    branches = [o for o in orgs if "-" in o["taxCode"]]
    heads = {o["taxCode"] for o in orgs if "-" not in o["taxCode"]}
    assert len(branches) == 2
    for branch in branches:
        assert branch["taxCode"].endswith("-001")
        assert branch["parentTaxCode"] == branch["taxCode"][:10]
        assert branch["parentTaxCode"] in heads


def test_every_agency_has_two_officers_and_known_parents() -> None:
    agencies = _load("agencies.json")
    codes = {a["code"] for a in agencies}
    assert len(agencies) == 8
    assert {a["parentCode"] for a in agencies if "parentCode" in a} <= codes
    officers = _load("officers.json")
    per_agency = Counter(o["agencyCode"] for o in officers)
    assert set(per_agency) == codes
    assert min(per_agency.values()) >= 2
    assert len({o["username"] for o in officers}) == len(officers)


def test_systems_cover_every_role_and_name_known_agencies() -> None:
    systems = _load("systems.json")
    codes = {a["code"] for a in _load("agencies.json")}
    roles = {"one-stop", "payment-platform", "agency-subscriber", "national-portal"}
    assert {s["role"] for s in systems} == roles
    assert {s["agencyCode"] for s in systems if "agencyCode" in s} <= codes
    assert all(re.fullmatch(r"sandbox-only-[0-9a-f]{32}", s["clientSecret"]) for s in systems)
