"""The requirement catalogue is valid, traced, complete and loads as typed data."""

from __future__ import annotations

import copy
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import ValidationError

from egov_contract import ContractError, contract, contract_root, load_document
from egov_contract.requirements import (
    PROFILES,
    Catalogue,
    Requirement,
    default_catalogue_path,
    load_catalogue,
)

CONVENTIONS = contract_root() / "docs" / "contract-conventions.md"
LEGAL_KINDS = {"decree", "circular", "decision", "technical-regulation"}

# Decree 45/2020/ND-CP: step -> article (DOMAIN.md, "The twelve steps").
DECREE_45_STEPS = {
    1: "7",
    2: "8",
    3: "9",
    4: "10",
    5: "11",
    6: "12",
    7: "13",
    8: "14",
    9: "15",
    10: "16",
    11: "17",
    12: "18",
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    document = load_document(default_catalogue_path())
    assert isinstance(document, dict)
    return document


def _table_operation_ids() -> set[str]:
    row = re.compile(r"^\| \S+ \| (?:GET|POST|PUT|PATCH|DELETE) \S+ \| (\w+) \|")
    found = set()
    for line in CONVENTIONS.read_text(encoding="utf-8").splitlines():
        match = row.match(line)
        if match:
            found.add(match.group(1))
    return found


# --- the file as a whole ---------------------------------------------------------------------


def test_catalogue_validates_against_its_schema(raw: dict[str, Any]) -> None:
    validator = contract().schema_validator("requirement-catalogue.json")
    problems = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(raw)]
    assert not problems, "\n".join(problems)


def test_catalogue_size_is_in_the_planned_range(catalogue: Catalogue) -> None:
    assert 70 <= len(catalogue) <= 110, len(catalogue)


def test_requirement_ids_are_unique(raw: dict[str, Any]) -> None:
    ids = [row["id"] for row in raw["requirements"]]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    assert not repeated, repeated


def test_source_ids_are_unique(raw: dict[str, Any]) -> None:
    ids = [source["id"] for source in raw["sources"]]
    assert len(ids) == len(set(ids)), ids


def test_every_cited_document_is_in_sources(catalogue: Catalogue) -> None:
    known = {source.id for source in catalogue.sources}
    unknown = {r.id: r.source.document for r in catalogue if r.source.document not in known}
    assert not unknown, unknown


def test_every_law_has_its_number_and_date(catalogue: Catalogue) -> None:
    for source in catalogue.sources:
        if source.kind in LEGAL_KINDS:
            assert source.number, source.id
            assert source.issued, source.id
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", source.issued), source.id


@pytest.mark.parametrize(
    ("source_id", "number", "issued"),
    [
        ("D45-2020", "45/2020/ND-CP", "2020-04-08"),
        ("D137-2024", "137/2024/ND-CP", "2024-10-23"),
        ("C01-2018", "01/2018/TT-VPCP", "2018-11-23"),
        ("C01-2023", "01/2023/TT-VPCP", "2023-04-05"),
        ("QD31-2021", "31/2021/QD-TTg", "2021-10-11"),
        ("D61-2018", "61/2018/ND-CP", "2018-04-23"),
        ("C87-2021", "87/2021/TT-BTC", "2021-10-08"),
        ("D118-2025", "118/2025/ND-CP", None),
    ],
)
def test_sources_carry_the_recorded_number_and_date(
    catalogue: Catalogue, source_id: str, number: str, issued: str | None
) -> None:
    source = catalogue.source(source_id)
    assert source.number == number
    if issued is not None:
        assert source.issued == issued


def test_decree_45_is_in_force_from_22_may_2020(catalogue: Catalogue) -> None:
    assert catalogue.source("D45-2020").effective == "2020-05-22"


def test_decree_118_notes_that_it_replaced_decree_61(catalogue: Catalogue) -> None:
    note = catalogue.source("D118-2025").note or ""
    assert "61/2018" in note
    assert "2025-07-01" in note
    assert "118/2025" in (catalogue.source("D61-2018").note or "")


def test_unsure_dates_are_flagged_with_a_note(catalogue: Catalogue) -> None:
    for source in catalogue.sources:
        if not source.dates_confirmed:
            assert source.note, source.id


# --- operations ------------------------------------------------------------------------------


def test_every_operation_is_in_the_conventions_table(catalogue: Catalogue) -> None:
    table = _table_operation_ids()
    assert len(table) > 60
    unknown = {r.id: sorted(set(r.operations) - table) for r in catalogue}
    unknown = {k: v for k, v in unknown.items() if v}
    assert not unknown, unknown


def test_every_operation_exists_in_the_specs(catalogue: Catalogue) -> None:
    in_specs = {op.get("operationId") for _spec, _method, _path, op in contract().operations()}
    unknown = {r.id: sorted(set(r.operations) - in_specs) for r in catalogue}
    unknown = {k: v for k, v in unknown.items() if v}
    assert not unknown, unknown


def test_every_operation_of_the_contract_is_covered_by_some_requirement(
    catalogue: Catalogue,
) -> None:
    used = {op for r in catalogue for op in r.operations}
    assert not sorted(_table_operation_ids() - used)


def test_every_testable_requirement_names_an_operation(catalogue: Catalogue) -> None:
    bare = [r.id for r in catalogue if r.testable and not r.operations]
    assert not bare, bare


def test_untestable_requirements_say_why(catalogue: Catalogue) -> None:
    for row in catalogue:
        if not row.testable:
            assert len(row.not_testable or "") >= 20, row.id


# --- levels and confirmation -----------------------------------------------------------------


def test_every_must_is_confirmed(catalogue: Catalogue) -> None:
    unconfirmed = [r.id for r in catalogue if r.level == "MUST" and not r.source.confirmed]
    assert not unconfirmed, unconfirmed


@pytest.mark.parametrize("article", ["7", "8", "9"])
def test_decree_45_articles_not_seen_are_marked_unconfirmed(
    catalogue: Catalogue, article: str
) -> None:
    rows = [r for r in catalogue if r.source.document == "D45-2020" and r.source.article == article]
    assert rows, f"no row cites Decree 45 Art. {article}"
    assert all(not r.source.article_confirmed for r in rows), [r.id for r in rows]


def test_requirements_on_the_npsp_status_convention_are_should(catalogue: Catalogue) -> None:
    rows = [r for r in catalogue if r.source.document == "NPSP-STATUS"]
    assert rows
    assert all(r.level == "SHOULD" and not r.source.confirmed for r in rows)


def test_requirements_on_superseded_or_unseen_texts_are_not_must(catalogue: Catalogue) -> None:
    for row in catalogue:
        if row.source.document in {"D61-2018", "D118-2025"}:
            assert row.level != "MUST", row.id


# --- coverage of the law ---------------------------------------------------------------------


def test_every_profile_has_must_requirements(catalogue: Catalogue) -> None:
    for profile in PROFILES:
        musts = [r for r in catalogue.for_profile(profile) if r.level == "MUST"]
        assert len(musts) >= 5, profile


@pytest.mark.parametrize(("step", "article"), sorted(DECREE_45_STEPS.items()))
def test_every_step_of_decree_45_is_covered(catalogue: Catalogue, step: int, article: str) -> None:
    rows = [
        r
        for r in catalogue
        if (r.source.document == "D45-2020" and r.source.article == article)
        or f"d45-step-{step}" in r.tags
    ]
    assert rows, f"Decree 45/2020/ND-CP step {step} (Art. {article}) has no requirement"


def test_conversion_to_paper_cites_article_18_clause_2(catalogue: Catalogue) -> None:
    rows = [r for r in catalogue if r.source.document == "D45-2020" and r.source.article == "18"]
    assert rows
    assert all(r.source.clause == "2" for r in rows)


@pytest.mark.parametrize("article", ["7", "8"])
def test_decree_137_articles_7_and_8_are_covered(catalogue: Catalogue, article: str) -> None:
    rows = [
        r for r in catalogue if r.source.document == "D137-2024" and r.source.article == article
    ]
    assert len(rows) >= 3, f"Decree 137/2024/ND-CP Art. {article}: {[r.id for r in rows]}"


def test_decree_137_refusal_with_a_clear_reason_is_a_must(catalogue: Catalogue) -> None:
    rows = [
        r
        for r in catalogue
        if r.source.document == "D137-2024" and (r.source.clause, r.source.point) == ("1", "a")
    ]
    assert any(r.level == "MUST" and "reason" in r.text.en for r in rows)


@pytest.mark.parametrize(
    "document",
    [
        "C01-2018",
        "QCVN102-2016",
        "C87-2021",
        "QD31-2021",
        "RFC9457",
        "RFC9110",
        "RFC3339",
        "CLOUDEVENTS-1.0",
        "RFC7519",
        "RFC2104",
        "UAX15",
        "IETF-IDEMPOTENCY-KEY",
        "NPSP-STATUS",
    ],
)
def test_each_named_source_is_cited_by_a_requirement(catalogue: Catalogue, document: str) -> None:
    assert any(r.source.document == document for r in catalogue), document


def test_ids_carry_their_area_prefix(catalogue: Catalogue) -> None:
    areas = {
        "ACC",
        "CAT",
        "SUB",
        "RCV",
        "LIF",
        "SUP",
        "WDR",
        "CPY",
        "PAY",
        "RES",
        "CAN",
        "REP",
        "STO",
        "PRN",
        "REQ",
        "NTF",
        "EVT",
        "SEC",
        "ERR",
        "TXT",
        "FMT",
    }
    assert {r.id.split("-")[0] for r in catalogue} == areas


# --- the texts -------------------------------------------------------------------------------


def test_texts_are_nfc(catalogue: Catalogue) -> None:
    for row in catalogue:
        for value in (row.title.en, row.title.vi, row.text.en, row.text.vi):
            assert unicodedata.is_normalized("NFC", value), row.id


def test_vietnamese_texts_are_vietnamese(catalogue: Catalogue) -> None:
    marks = re.compile("[ăâđêôơưàảãáạèẻẽéẹìỉĩíịòỏõóọùủũúụỳỷỹýỵ]", re.IGNORECASE)
    for row in catalogue:
        assert marks.search(row.title.vi), row.id
        assert marks.search(row.text.vi), row.id
        assert row.text.vi != row.text.en, row.id


# --- the typed API ---------------------------------------------------------------------------


def test_default_catalogue_is_read_once() -> None:
    assert load_catalogue() is load_catalogue()


def test_by_id_returns_the_row(catalogue: Catalogue) -> None:
    row = catalogue.by_id("RCV-01")
    assert isinstance(row, Requirement)
    assert row.level == "MUST"
    assert "submitDossier" in row.operations


def test_by_id_names_the_catalogue_when_missing(catalogue: Catalogue) -> None:
    with pytest.raises(KeyError, match="XYZ-99"):
        catalogue.by_id("XYZ-99")


def test_for_profile_filters_by_profile(catalogue: Catalogue) -> None:
    rows = catalogue.for_profile("payment-platform")
    assert rows
    assert all("payment-platform" in r.profiles for r in rows)
    assert {r.id for r in rows} < {r.id for r in catalogue}


def test_for_profile_rejects_an_unknown_profile(catalogue: Catalogue) -> None:
    with pytest.raises(ValueError, match="national-portal"):
        catalogue.for_profile("portal")


def test_rows_are_frozen(catalogue: Catalogue) -> None:
    row = catalogue.by_id("RCV-01")
    with pytest.raises(AttributeError):
        row.level = "MAY"  # type: ignore[misc]


def test_cite_gives_number_date_and_article(catalogue: Catalogue) -> None:
    assert catalogue.cite("RCV-03") == "Decree 45/2020/ND-CP of 2020-04-08, Art. 11"
    assert catalogue.cite("ACC-02").endswith("Art. 7 (article unconfirmed)")
    assert catalogue.cite("RCV-08") == "Decree 137/2024/ND-CP of 2024-10-23, Art. 7(1)(a)"
    assert catalogue.cite("ERR-01") == "RFC 9457 of 2023-07, §3"


def test_cite_vi_writes_the_place_first_and_the_vietnamese_number(catalogue: Catalogue) -> None:
    assert catalogue.cite_vi("RCV-03") == "Điều 11 Nghị định 45/2020/NĐ-CP ngày 08/04/2020"
    assert catalogue.cite_vi("RCV-08") == (
        "Điểm a khoản 1 Điều 7 Nghị định 137/2024/NĐ-CP ngày 23/10/2024"
    )
    assert "(điều chưa đối chiếu)" in catalogue.cite_vi("ACC-02")
    assert catalogue.cite_vi("ACC-04").startswith("Điều 11 Quyết định 31/2021/QĐ-TTg")
    assert catalogue.cite_vi("ERR-01") == "RFC 9457 tháng 07/2023, mục 3"
    for requirement in catalogue:  # every row has one, without the English place words
        cited = catalogue.cite_vi(requirement)
        assert cited
        assert [w for w in ("Art. ", "§", "unconfirmed") if w in cited] == [], cited


# --- broken catalogues -----------------------------------------------------------------------


def _write(tmp_path: Path, document: Any, name: str = "catalogue.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def _first_must(raw: dict[str, Any]) -> int:
    return next(i for i, r in enumerate(raw["requirements"]) if r["level"] == "MUST")


def _load_broken(path: Path) -> ContractError:
    try:
        load_catalogue(path)
    except ContractError as error:
        return error
    except ValidationError as error:  # pragma: no cover - the failure this test exists for
        pytest.fail(f"a raw jsonschema error escaped: {error.message}")
    pytest.fail(f"{path} loaded although it is broken")


def test_a_copy_of_the_catalogue_loads_from_another_path(
    tmp_path: Path, raw: dict[str, Any]
) -> None:
    copied = load_catalogue(_write(tmp_path, raw))
    assert len(copied) == len(raw["requirements"])
    assert copied.path == tmp_path / "catalogue.yaml"


def test_an_unconfirmed_must_names_file_pointer_and_rule(
    tmp_path: Path, raw: dict[str, Any]
) -> None:
    broken = copy.deepcopy(raw)
    index = _first_must(broken)
    broken["requirements"][index]["source"]["confirmed"] = False
    path = _write(tmp_path, broken)
    error = _load_broken(path)
    assert error.path == str(path)
    assert error.pointer == f"/requirements/{index}/source/confirmed"
    assert error.rule == "const"
    assert str(path) in str(error)
    assert error.pointer in str(error)
    assert "SHOULD" in error.detail


def test_a_bad_id_names_file_pointer_and_rule(tmp_path: Path, raw: dict[str, Any]) -> None:
    broken = copy.deepcopy(raw)
    broken["requirements"][2]["id"] = "rcv-1"
    path = _write(tmp_path, broken)
    error = _load_broken(path)
    assert (error.path, error.pointer, error.rule) == (str(path), "/requirements/2/id", "pattern")


def test_a_repeated_id_is_refused(tmp_path: Path, raw: dict[str, Any]) -> None:
    broken = copy.deepcopy(raw)
    broken["requirements"][5]["id"] = broken["requirements"][1]["id"]
    error = _load_broken(_write(tmp_path, broken))
    assert (error.pointer, error.rule) == ("/requirements/5/id", "unique-id")
    assert "/requirements/1" in error.detail


def test_an_unknown_source_document_is_refused(tmp_path: Path, raw: dict[str, Any]) -> None:
    broken = copy.deepcopy(raw)
    broken["requirements"][0]["source"]["document"] = "D99-2099"
    error = _load_broken(_write(tmp_path, broken))
    assert (error.pointer, error.rule) == ("/requirements/0/source/document", "known-source")


def test_a_testable_row_without_operations_is_refused(tmp_path: Path, raw: dict[str, Any]) -> None:
    broken = copy.deepcopy(raw)
    index = next(i for i, r in enumerate(broken["requirements"]) if "notTestable" not in r)
    broken["requirements"][index]["operations"] = []
    error = _load_broken(_write(tmp_path, broken))
    assert (error.pointer, error.rule) == (f"/requirements/{index}/operations", "minItems")


def test_an_unknown_profile_is_refused(tmp_path: Path, raw: dict[str, Any]) -> None:
    broken = copy.deepcopy(raw)
    broken["requirements"][0]["profiles"] = ["citizen-app"]
    error = _load_broken(_write(tmp_path, broken))
    assert (error.pointer, error.rule) == ("/requirements/0/profiles/0", "enum")


def test_a_law_without_a_date_is_refused(tmp_path: Path, raw: dict[str, Any]) -> None:
    broken = copy.deepcopy(raw)
    del broken["sources"][0]["issued"]
    error = _load_broken(_write(tmp_path, broken))
    assert (error.pointer, error.rule) == ("/sources/0", "required")
    assert "issued" in error.detail


def test_unquoted_yaml_dates_are_read_as_strings(tmp_path: Path, raw: dict[str, Any]) -> None:
    path = _write(tmp_path, raw)
    quoted = f"updated: '{raw['updated']}'"
    text = path.read_text("utf-8")
    assert quoted in text
    path.write_text(text.replace(quoted, f"updated: {raw['updated']}"), "utf-8")
    assert load_catalogue(path).updated == raw["updated"]


def test_a_missing_file_is_a_contract_error(tmp_path: Path) -> None:
    error = _load_broken(tmp_path / "nowhere.yaml")
    assert error.rule == "file-exists"


def test_invalid_yaml_is_a_contract_error(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text("requirements: [\n", "utf-8")
    assert _load_broken(path).rule == "yaml-syntax"
