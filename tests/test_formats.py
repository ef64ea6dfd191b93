"""The Vietnamese identifier formats: valid values pass, broken ones fail with a reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from stdnum.vn import mst

from egov_contract import contract, format_checker
from egov_contract import strategies as gen
from egov_contract.formats import (
    FORMAT_CHECKS,
    FORMAT_EXPLAINERS,
    PROVINCE_CODES,
    PROVINCE_NAMES,
    PersonalIdInfo,
    describe_personal_id,
    explain_dossier_code,
    explain_personal_id,
    gender_digit,
    is_agency_code,
    is_dossier_code,
    is_personal_id,
    is_procedure_code,
    is_result_code,
    is_tax_code,
)


@dataclass(frozen=True)
class Format:
    name: str
    valid: Callable[[], st.SearchStrategy[str]]
    invalid: Callable[[], st.SearchStrategy[str]]
    check: Callable[[object], bool]
    schema: str

    def __str__(self) -> str:
        return self.name


FORMATS = [
    Format("vn-personal-id", gen.personal_ids, gen.invalid_personal_ids, is_personal_id,
           "common/codes.json#/$defs/personalId"),
    Format("vn-tax-code", gen.tax_codes, gen.invalid_tax_codes, is_tax_code,
           "common/codes.json#/$defs/taxCode"),
    Format("vn-agency-code", gen.agency_codes, gen.invalid_agency_codes, is_agency_code,
           "common/codes.json#/$defs/agencyCode"),
    Format("vn-procedure-code", gen.procedure_codes, gen.invalid_procedure_codes,
           is_procedure_code, "common/codes.json#/$defs/procedureCode"),
    Format("vn-dossier-code", gen.dossier_codes, gen.invalid_dossier_codes, is_dossier_code,
           "common/codes.json#/$defs/dossierCode"),
    Format("vn-result-code", gen.result_codes, gen.invalid_result_codes, is_result_code,
           "common/codes.json#/$defs/resultCode"),
]  # fmt: skip
BY_NAME = pytest.mark.parametrize("fmt", FORMATS, ids=str)


@BY_NAME
@given(data=st.data())
def test_generated_valid_values_pass_every_check(fmt: Format, data: st.DataObject) -> None:
    value = data.draw(fmt.valid())
    assert fmt.check(value)
    assert FORMAT_EXPLAINERS[fmt.name](value) is None
    assert FORMAT_CHECKS[fmt.name](value)
    assert format_checker().conforms(value, fmt.name)
    errors = [e.message for e in contract().schema_validator(fmt.schema).iter_errors(value)]
    assert errors == []


@BY_NAME
@given(data=st.data())
def test_generated_invalid_values_fail_with_a_reason(fmt: Format, data: st.DataObject) -> None:
    value = data.draw(fmt.invalid())
    assert not fmt.check(value)
    assert not FORMAT_CHECKS[fmt.name](value)
    reason = FORMAT_EXPLAINERS[fmt.name](value)
    assert isinstance(reason, str)
    assert len(reason) > 20


@BY_NAME
@given(data=st.data())
def test_explain_returns_none_exactly_when_the_value_is_valid(
    fmt: Format, data: st.DataObject
) -> None:
    value = data.draw(
        st.one_of(
            fmt.valid(), fmt.invalid(), st.text(), st.integers(), st.none(), st.lists(st.text())
        )
    )
    assert (FORMAT_EXPLAINERS[fmt.name](value) is None) == fmt.check(value)


@given(code=gen.tax_codes(), position=st.integers(0, 9), digit=st.sampled_from("0123456789"))
def test_changing_one_digit_of_a_tax_code_breaks_it_unless_stdnum_agrees(
    code: str, position: int, digit: str
) -> None:
    mutated = code[:position] + digit + code[position + 1 :]
    if mutated == code:
        return
    assert is_tax_code(mutated) == mst.is_valid(mutated)
    if position == 9:  # the check digit is a function of the nine before it
        assert not is_tax_code(mutated)


@given(
    province=st.integers(0, 999).map("{:03d}".format).filter(lambda p: p not in PROVINCE_CODES),
    rest=st.text("0123456789", min_size=9, max_size=9),
)
def test_personal_ids_with_an_unknown_province_fail(province: str, rest: str) -> None:
    assert not is_personal_id(province + rest)
    assert f"starts with {province}" in (explain_personal_id(province + rest) or "")


@given(
    agency=gen.agency_codes(),
    day=gen.impossible_days(),
    seq=st.text("0123456789", min_size=4, max_size=4),
)
def test_dossier_and_result_codes_with_impossible_dates_fail(
    agency: str, day: str, seq: str
) -> None:
    dossier = f"{agency}-{day}-{seq}"
    assert not is_dossier_code(dossier)
    assert not is_result_code(dossier + "-KQ1")
    assert day in (explain_dossier_code(dossier) or "")


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("000.00.01.H22-250317-0042", True),
        ("000.00.01.H22-240229-0001", True),  # 2024 is a leap year
        ("000.00.01.H22-250229-0001", False),
        ("000.00.01.H22-250230-0042", False),
        ("000.00.01.H22-250431-0042", False),
    ],
)
def test_dossier_code_dates_must_exist(value: str, valid: bool) -> None:
    assert is_dossier_code(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("000.00.01.H22-250317-0042-KQ1", True),
        ("000.00.01.H22-250317-0042-KQ12", True),
        ("000.00.01.H22-250317-0042-KQ0", False),
        ("000.00.01.H22-250317-0042-KQ01", False),
        ("000.00.01.H22-250317-0042-kq1", False),
    ],
)
def test_result_codes_count_from_one(value: str, valid: bool) -> None:
    assert is_result_code(value) is valid


def test_province_codes_are_the_63_of_the_cccd_scheme() -> None:
    assert len(PROVINCE_CODES) == 63
    assert PROVINCE_NAMES["001"] == "Hà Nội"
    assert PROVINCE_NAMES["079"] == "Hồ Chí Minh"
    assert {"003", "005", "097", "100"}.isdisjoint(PROVINCE_CODES)
    assert all(len(code) == 3 and "001" <= code <= "096" for code in PROVINCE_CODES)


@pytest.mark.parametrize(
    ("value", "info"),
    [
        ("001203012345", PersonalIdInfo("001", "Hà Nội", "male", 2003)),
        ("079190012345", PersonalIdInfo("079", "Hồ Chí Minh", "female", 1990)),
        ("022045000001", PersonalIdInfo("022", "Quảng Ninh", "male", 1945)),
        ("096799000001", PersonalIdInfo("096", "Cà Mau", "female", 2299)),
    ],
)
def test_describe_personal_id_reads_province_sex_and_birth_year(
    value: str, info: PersonalIdInfo
) -> None:
    assert describe_personal_id(value) == info


@given(
    year=st.integers(1900, 2399),
    sex=st.sampled_from(["male", "female"]),
    province=st.sampled_from(sorted(PROVINCE_CODES)),
)
def test_gender_digit_and_describe_personal_id_agree(year: int, sex: str, province: str) -> None:
    assert sex in ("male", "female")
    digit = gender_digit(year, "male" if sex == "male" else "female")
    info = describe_personal_id(f"{province}{digit}{year % 100:02d}000001")
    assert (info.birth_year, info.sex, info.province_code) == (year, sex, province)


def test_describe_personal_id_refuses_an_invalid_number_with_the_reason() -> None:
    with pytest.raises(ValueError, match="not a province code"):
        describe_personal_id("003203012345")


def test_gender_digit_refuses_years_the_scheme_cannot_express() -> None:
    with pytest.raises(ValueError, match="1900-2399"):
        gender_digit(1899, "male")


def test_format_checks_leave_non_strings_to_the_type_keyword() -> None:
    for name, check in FORMAT_CHECKS.items():
        assert check(12345), name
        assert check(None), name


@BY_NAME
def test_format_checks_are_registered_with_the_contract_format_checker(fmt: Format) -> None:
    validator = Draft202012Validator({"format": fmt.name}, format_checker=format_checker())
    assert fmt.name in format_checker().checkers
    assert not validator.is_valid("not a valid value")
    assert validator.is_valid(42)


def test_every_format_has_a_check_and_an_explainer() -> None:
    assert set(FORMAT_CHECKS) == set(FORMAT_EXPLAINERS) == {f.name for f in FORMATS}
