"""Validators for Vietnam's administrative identifier formats (see DOMAIN.md, "Formats").

Each format has ``is_<name>(value) -> bool`` and ``explain_<name>(value) -> str | None``; the
second says in one sentence what is wrong, so a 422 or a failed check can tell a person how to
fix the value. Both accept any object: a value that is not a string is simply not valid.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Literal

from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError
from stdnum.vn import mst

# Province codes of the personal ID number (CCCD), from the annex of Circular 07/2016/TT-BCA
# as amended by Circular 59/2021/TT-BCA. They are the 63 provinces before the 2025 mergers;
# numbers already issued keep them, so a validator must keep accepting every one of them.
PROVINCE_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "001": "Hà Nội",
        "002": "Hà Giang",
        "004": "Cao Bằng",
        "006": "Bắc Kạn",
        "008": "Tuyên Quang",
        "010": "Lào Cai",
        "011": "Điện Biên",
        "012": "Lai Châu",
        "014": "Sơn La",
        "015": "Yên Bái",
        "017": "Hòa Bình",
        "019": "Thái Nguyên",
        "020": "Lạng Sơn",
        "022": "Quảng Ninh",
        "024": "Bắc Giang",
        "025": "Phú Thọ",
        "026": "Vĩnh Phúc",
        "027": "Bắc Ninh",
        "030": "Hải Dương",
        "031": "Hải Phòng",
        "033": "Hưng Yên",
        "034": "Thái Bình",
        "035": "Hà Nam",
        "036": "Nam Định",
        "037": "Ninh Bình",
        "038": "Thanh Hóa",
        "040": "Nghệ An",
        "042": "Hà Tĩnh",
        "044": "Quảng Bình",
        "045": "Quảng Trị",
        "046": "Thừa Thiên Huế",
        "048": "Đà Nẵng",
        "049": "Quảng Nam",
        "051": "Quảng Ngãi",
        "052": "Bình Định",
        "054": "Phú Yên",
        "056": "Khánh Hòa",
        "058": "Ninh Thuận",
        "060": "Bình Thuận",
        "062": "Kon Tum",
        "064": "Gia Lai",
        "066": "Đắk Lắk",
        "067": "Đắk Nông",
        "068": "Lâm Đồng",
        "070": "Bình Phước",
        "072": "Tây Ninh",
        "074": "Bình Dương",
        "075": "Đồng Nai",
        "077": "Bà Rịa - Vũng Tàu",
        "079": "Hồ Chí Minh",
        "080": "Long An",
        "082": "Tiền Giang",
        "083": "Bến Tre",
        "084": "Trà Vinh",
        "086": "Vĩnh Long",
        "087": "Đồng Tháp",
        "089": "An Giang",
        "091": "Kiên Giang",
        "092": "Cần Thơ",
        "093": "Hậu Giang",
        "094": "Sóc Trăng",
        "095": "Bạc Liêu",
        "096": "Cà Mau",
    }
)

# The same codes as a set (Circular 07/2016/TT-BCA, amended by Circular 59/2021/TT-BCA).
PROVINCE_CODES: frozenset[str] = frozenset(PROVINCE_NAMES)

Sex = Literal["male", "female"]

_DIGITS = re.compile(r"[0-9]+")  # not \d: it also matches Arabic-Indic and full-width digits
_AGENCY_GROUP = re.compile(r"[0-9A-Z]+")
_PROCEDURE = re.compile(r"[0-9]\.[0-9]{6}")
_TAX_SHAPE = re.compile(r"[0-9]{10}(-[0-9]{3})?")
_RESULT_SUFFIX = re.compile(r"KQ[1-9][0-9]*")
_AGENCY_MAX = 35


@dataclass(frozen=True)
class PersonalIdInfo:
    """What a personal ID number says about its holder."""

    province_code: str
    province_name: str
    sex: Sex
    birth_year: int


def _not_a_string(value: object, what: str) -> str | None:
    if isinstance(value, str):
        return None
    return f"{what} must be a string, not {type(value).__name__} {value!r}"


def _digits_only(value: str, what: str, length: int) -> str | None:
    if len(value) != length:
        return f"{what} {value!r} has {len(value)} characters; it must have {length} digits"
    if not _DIGITS.fullmatch(value):
        return f"{what} {value!r} contains characters other than the digits 0-9"
    return None


def explain_personal_id(value: object) -> str | None:
    """Say what is wrong with a personal ID number (CCCD), or None when it is valid."""
    what = "a personal ID number"
    problem = _not_a_string(value, what) or _digits_only(str(value), what, 12)
    if problem:
        return problem
    assert isinstance(value, str)
    if value[:3] not in PROVINCE_CODES:
        return (
            f"personal ID number {value!r} starts with {value[:3]}, which is not a province "
            "code of the CCCD scheme (001 Hà Nội ... 096 Cà Mau, Circular 07/2016/TT-BCA)"
        )
    return None


def is_personal_id(value: object) -> bool:
    """True for a 12-digit personal ID number (CCCD) with a known province code."""
    return explain_personal_id(value) is None


def describe_personal_id(value: str) -> PersonalIdInfo:
    """Read province, sex and birth year out of a personal ID number.

    Raises:
        ValueError: the value is not a valid personal ID number; the message says why.
    """
    problem = explain_personal_id(value)
    if problem:
        raise ValueError(problem)
    # 4th digit: 0/1 born in the 1900s, 2/3 in the 2000s, ... 8/9 in the 2300s; even = male.
    gender_digit = int(value[3])
    century = 1900 + 100 * (gender_digit // 2)
    sex: Sex = "female" if gender_digit % 2 else "male"
    return PersonalIdInfo(
        province_code=value[:3],
        province_name=PROVINCE_NAMES[value[:3]],
        sex=sex,
        birth_year=century + int(value[4:6]),
    )


def gender_digit(birth_year: int, sex: Sex) -> str:
    """The 4th digit of a personal ID number for someone born in ``birth_year``.

    Raises:
        ValueError: the year is outside 1900-2399, which the scheme cannot express.
    """
    if not 1900 <= birth_year <= 2399:
        raise ValueError(f"birth year {birth_year} is outside 1900-2399, the CCCD scheme's range")
    return str(2 * ((birth_year - 1900) // 100) + (1 if sex == "female" else 0))


def explain_tax_code(value: object) -> str | None:
    """Say what is wrong with an enterprise tax code (MST), or None when it is valid."""
    problem = _not_a_string(value, "a tax code")
    if problem:
        return problem
    assert isinstance(value, str)
    if not _TAX_SHAPE.fullmatch(value):
        return (
            f"tax code {value!r} must be 10 digits, or 10 digits, '-' and a 3-digit branch "
            "number (e.g. 0100109106 or 0100109106-001)"
        )
    try:
        mst.validate(value)
    except InvalidChecksum:
        expected = mst.calc_check_digit(value[:9])
        if len(expected) != 1:
            return f"tax code {value!r}: no check digit fits the first nine digits {value[:9]}"
        return f"tax code {value!r} has check digit {value[9]}; the first nine give {expected}"
    except InvalidComponent:
        if value[2:9] == "0000000":
            return f"tax code {value!r}: digits 3 to 9 (the sequence number) cannot all be 0"
        return f"tax code {value!r}: branch numbers count from 001, 000 is not one"
    except ValidationError as exc:  # any other rule stdnum adds in a later version
        return f"tax code {value!r} is not valid: {exc}"
    return None


def is_tax_code(value: object) -> bool:
    """True for an enterprise tax code whose check digit is right (python-stdnum ``vn.mst``)."""
    return explain_tax_code(value) is None


def explain_agency_code(value: object) -> str | None:
    """Say what is wrong with an agency code (QCVN 102:2016), or None when it is valid."""
    problem = _not_a_string(value, "an agency code")
    if problem:
        return problem
    assert isinstance(value, str)
    if not value:
        return "an agency code cannot be empty"
    if len(value) > _AGENCY_MAX:
        return f"agency code {value!r} has {len(value)} characters; at most {_AGENCY_MAX}"
    for group in value.split("."):
        if not group:
            return f"agency code {value!r} has an empty group (two dots, or a dot at an end)"
        if not _AGENCY_GROUP.fullmatch(group):
            return (
                f"agency code {value!r} has the group {group!r}; groups are digits and "
                "capital letters A-Z only"
            )
    return None


def is_agency_code(value: object) -> bool:
    """True for dot-separated groups of digits and capital letters, at most 35 characters."""
    return explain_agency_code(value) is None


def explain_procedure_code(value: object) -> str | None:
    """Say what is wrong with a procedure code (``d.dddddd``), or None when it is valid."""
    problem = _not_a_string(value, "a procedure code")
    if problem:
        return problem
    assert isinstance(value, str)
    if not _PROCEDURE.fullmatch(value):
        return f"procedure code {value!r} must be a digit, a dot and six digits, e.g. 1.001193"
    return None


def is_procedure_code(value: object) -> bool:
    """True for a national catalogue procedure code such as ``1.001193``."""
    return explain_procedure_code(value) is None


def _explain_day(yymmdd: str, code: str) -> str | None:
    if not (len(yymmdd) == 6 and _DIGITS.fullmatch(yymmdd)):
        return f"dossier code {code!r}: the date part {yymmdd!r} must be 6 digits YYMMDD"
    try:
        date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:]))
    except ValueError:
        return f"dossier code {code!r}: {yymmdd} (YYMMDD) is not a real calendar date"
    return None


def explain_dossier_code(value: object) -> str | None:
    """Say what is wrong with a dossier code (``<agency>-<YYMMDD>-<NNNN>``), or None."""
    problem = _not_a_string(value, "a dossier code")
    if problem:
        return problem
    assert isinstance(value, str)
    parts = value.split("-")
    if len(parts) != 3:
        return f"dossier code {value!r} must be <agency code>-<YYMMDD>-<NNNN>"
    agency, day, sequence = parts
    agency_problem = explain_agency_code(agency)
    if agency_problem:
        return f"dossier code {value!r}: {agency_problem}"
    day_problem = _explain_day(day, value)
    if day_problem:
        return day_problem
    if not (len(sequence) == 4 and _DIGITS.fullmatch(sequence)):
        return f"dossier code {value!r}: the sequence {sequence!r} must be exactly 4 digits"
    return None


def is_dossier_code(value: object) -> bool:
    """True for ``<agency code>-<YYMMDD>-<NNNN>`` whose date exists (250230 does not)."""
    return explain_dossier_code(value) is None


def explain_result_code(value: object) -> str | None:
    """Say what is wrong with an e-result code (``<dossier code>-KQ<n>``), or None."""
    problem = _not_a_string(value, "a result code")
    if problem:
        return problem
    assert isinstance(value, str)
    dossier, dash, suffix = value.rpartition("-")
    if not dash or not _RESULT_SUFFIX.fullmatch(suffix):
        return f"result code {value!r} must end with -KQ<n>, n counting from 1 (e.g. -KQ1)"
    dossier_problem = explain_dossier_code(dossier)
    if dossier_problem:
        return f"result code {value!r}: {dossier_problem}"
    return None


def is_result_code(value: object) -> bool:
    """True for ``<dossier code>-KQ<n>`` with a valid dossier code and n >= 1."""
    return explain_result_code(value) is None


def _only_strings(check: Callable[[str], bool]) -> Callable[[object], bool]:
    # JSON Schema formats apply to strings only; other types pass and are left to `type`.
    return lambda value: not isinstance(value, str) or check(value)


FORMAT_EXPLAINERS: Mapping[str, Callable[[object], str | None]] = MappingProxyType(
    {
        "vn-agency-code": explain_agency_code,
        "vn-dossier-code": explain_dossier_code,
        "vn-personal-id": explain_personal_id,
        "vn-procedure-code": explain_procedure_code,
        "vn-result-code": explain_result_code,
        "vn-tax-code": explain_tax_code,
    }
)

FORMAT_CHECKS: dict[str, Callable[[object], bool]] = {
    "vn-agency-code": _only_strings(is_agency_code),
    "vn-dossier-code": _only_strings(is_dossier_code),
    "vn-personal-id": _only_strings(is_personal_id),
    "vn-procedure-code": _only_strings(is_procedure_code),
    "vn-result-code": _only_strings(is_result_code),
    "vn-tax-code": _only_strings(is_tax_code),
}
