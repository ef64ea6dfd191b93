"""Write the shared test data in ``fixtures/``, the same bytes on every run.

``python -m egov_contract.fixturegen`` rewrites the folder; ``--check`` only compares and exits 1
listing the stale files. Everything is synthetic: names, numbers and secrets are drawn from
seeded random generators, one per kind of data, so that adding citizens does not reshuffle the
organisations. ``fixtures/README.md`` is written by hand and is the only file this leaves alone.
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import sys
import unicodedata
import zlib
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from stdnum.vn import mst

from ._paths import fixtures_dir
from .formats import PROVINCE_NAMES, Sex, gender_digit

SEED = "egov-conformance/fixtures/v1"
# Not generated here: the README, and the sandbox signing keys (random by nature, written once
# by tools/make_signing_fixtures.py).
HANDWRITTEN = frozenset(
    {
        "README.md",
        "signing/sandbox-ca.pem",
        "signing/sandbox-signer.pem",
        "signing/sandbox-signer-key.pem",
    }
)

Json = dict[str, Any]

# ---- people and places ---------------------------------------------------------------------

# fmt: off
_FAMILY = (
    ("Nguyễn", 38), ("Trần", 11), ("Lê", 9), ("Phạm", 7), ("Hoàng", 5), ("Huỳnh", 4),
    ("Phan", 4), ("Vũ", 3), ("Võ", 3), ("Đặng", 2), ("Bùi", 2), ("Đỗ", 2), ("Hồ", 2),
    ("Ngô", 2), ("Dương", 1), ("Lý", 1),
)
_MIDDLE = {
    "male": ("Văn", "Đức", "Minh", "Quang", "Hữu", "Thành", "Công", "Xuân", "Gia"),
    "female": ("Thị", "Ngọc", "Thu", "Thanh", "Phương", "Mai", "Bích", "Hồng", "Ánh"),
}
_GIVEN = {
    "male": ("An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Khánh", "Long", "Nam", "Phúc",
             "Quân", "Sơn", "Thắng", "Trung", "Tuấn", "Việt", "Đạt", "Hiếu", "Lộc", "Tùng"),
    "female": ("Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh",
               "Loan", "Nga", "Ngọc", "Nhung", "Oanh", "Phượng", "Quyên", "Thảo", "Trang",
               "Tuyết", "Yến"),
}
# Where people live: (province as written in an address, ward, streets, tax-office prefix).
_PLACES = (
    ("thành phố Hà Nội", "phường Hoàn Kiếm", ("phố Hàng Bạc", "phố Hàng Gai"), "01"),
    ("thành phố Hà Nội", "phường Cầu Giấy", ("đường Xuân Thủy", "phố Trần Thái Tông"), "01"),
    ("Thành phố Hồ Chí Minh", "phường Sài Gòn", ("đường Lê Lợi", "đường Đồng Khởi"), "03"),
    ("Thành phố Hồ Chí Minh", "phường Bến Thành", ("đường Lê Thánh Tôn", "đường Pasteur"), "03"),
    ("tỉnh Quảng Ninh", "phường Hồng Hải", ("đường Trần Hưng Đạo", "đường Nguyễn Văn Cừ"), "57"),
    ("tỉnh Quảng Ninh", "phường Bãi Cháy", ("đường Hạ Long", "đường Hậu Cần"), "57"),
    ("thành phố Đà Nẵng", "phường Hải Châu", ("đường Bạch Đằng", "đường Trần Phú"), "04"),
    ("thành phố Cần Thơ", "phường Ninh Kiều", ("đường Hai Bà Trưng", "đường Hòa Bình"), "18"),
)
_MOBILE_PREFIXES = ("32", "33", "34", "35", "36", "37", "38", "39", "56", "58", "70", "76", "77",
                    "78", "79", "81", "82", "83", "84", "85", "86", "88", "89", "90", "91", "93",
                    "94", "96", "97", "98")
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")  # RFC 2606: never delivered
# Names of well-known public figures the tables above could produce: never use them.
_FAMOUS = frozenset({"Nguyễn Xuân Phúc", "Nguyễn Văn Thắng", "Phạm Bình Minh", "Lê Minh Hưng"})

# Two citizens fixed by hand so that tests and docs can name them.
FIRST_CITIZENS: tuple[Json, ...] = (
    {"personalId": "001203012345", "fullName": "Nguyễn Văn An", "dateOfBirth": "2003-05-14",
     "sex": "male", "province": "Hà Nội",
     "address": "Số 12 phố Hàng Bạc, phường Hoàn Kiếm, thành phố Hà Nội",
     "phone": "0912345678", "email": "nguyen.van.an@example.com"},
    {"personalId": "079190012345", "fullName": "Trần Thị Bích Ngọc", "dateOfBirth": "1990-11-02",
     "sex": "female", "province": "Hồ Chí Minh",
     "address": "Số 45 đường Lê Lợi, phường Sài Gòn, Thành phố Hồ Chí Minh",
     "phone": "0387654321", "email": "tran.thi.bich.ngoc@example.com"},
)
# fmt: on
CITIZEN_COUNT = 60


def _rng(kind: str) -> random.Random:
    # A string seed is hashed with SHA-512, so the stream is the same on every interpreter run.
    return random.Random(f"{SEED}/{kind}")


def _full_name(rng: random.Random, sex: Sex) -> str:
    family = rng.choices([f for f, _ in _FAMILY], weights=[w for _, w in _FAMILY])[0]
    middles = [rng.choice(_MIDDLE[sex])]
    if sex == "female" and rng.random() < 0.25:  # "Thị" then a second one: "Thị Bích Ngọc"
        middles = ["Thị", rng.choice(_MIDDLE["female"][1:])]
    return unicodedata.normalize("NFC", " ".join([family, *middles, rng.choice(_GIVEN[sex])]))


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in folded if not unicodedata.combining(c)).lower()


def _address(rng: random.Random, place: tuple[str, str, tuple[str, ...], str]) -> str:
    province, ward, streets, _ = place
    return f"Số {rng.randint(1, 250)} {rng.choice(streets)}, {ward}, {province}"


def _citizen(rng: random.Random, taken: set[str]) -> Json:
    sex: Sex = rng.choice(("male", "female"))
    # One in five born since 2000, so that the century digits 2 and 3 are well represented.
    first, last = (
        (date(2000, 1, 1), date(2007, 6, 30))
        if rng.random() < 0.2
        else (date(1950, 1, 1), date(1999, 12, 31))
    )
    born = first + timedelta(days=rng.randrange((last - first).days + 1))
    province = rng.choice(sorted(PROVINCE_NAMES))
    prefix = province + gender_digit(born.year, sex) + f"{born.year % 100:02d}"
    personal_id = prefix + f"{rng.randrange(10**6):06d}"
    name = _full_name(rng, sex)
    while personal_id in taken or name in taken:
        personal_id = prefix + f"{rng.randrange(10**6):06d}"
        name = _full_name(rng, sex)
    taken.update((personal_id, name))
    mobile = rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**7):07d}"
    local = ".".join(_ascii(name).split()) + f"{born.year % 100:02d}"
    return {
        "personalId": personal_id,
        "fullName": name,
        "dateOfBirth": born.isoformat(),
        "sex": sex,
        "province": PROVINCE_NAMES[province],
        "address": _address(rng, rng.choice(_PLACES)),
        "phone": ("+84" if rng.random() < 0.2 else "0") + mobile,
        "email": f"{local}@{rng.choice(_EMAIL_DOMAINS)}",
    }


def citizens() -> list[Json]:
    """Sixty individuals; the first two are `FIRST_CITIZENS`."""
    rng = _rng("citizens")
    people = [dict(c) for c in FIRST_CITIZENS]
    taken = {c[k] for c in people for k in ("personalId", "fullName")} | _FAMOUS
    while len(people) < CITIZEN_COUNT:
        people.append(_citizen(rng, taken))
    return people


# ---- organisations -------------------------------------------------------------------------

_ORGANISATIONS = (
    ("Công ty TNHH Thương mại Hạ Long Xanh", 4),
    ("Công ty Cổ phần Xây dựng Bạch Đằng", 0),
    ("Công ty TNHH Dịch vụ Du lịch Vịnh Ngọc", 5),
    ("Công ty Cổ phần Công nghệ Sao Khuê", 2),
    ("Công ty TNHH Thực phẩm Sạch Mê Kông", 7),
    ("Công ty TNHH Một thành viên Vận tải Cửa Ông", 4),
    ("Công ty Cổ phần Dược phẩm Hòa Bình Xanh", 1),
    ("Hộ kinh doanh Phở Gia Truyền Hàng Bạc", 0),
    ("Hộ kinh doanh Tạp hóa Minh Phúc", 3),
    ("Hộ kinh doanh Cà phê Góc Phố Hải Châu", 6),
)  # (name, index into _PLACES)
_BRANCHES = ((1, 3), (3, 0))  # (head office index, place of the branch)
FIRST_TAX_CODE = "5700101059"  # the example in schemas/subject.json


def _tax_code(rng: random.Random, prefix: str, taken: set[str]) -> str:
    while True:
        nine = prefix + f"{rng.randrange(1, 10**7):07d}"
        check = mst.calc_check_digit(nine)
        if len(check) == 1 and nine + check not in taken:  # "10" means no digit fits
            taken.add(nine + check)
            return nine + check


def organisations(people: Sequence[Json]) -> list[Json]:
    """Ten head offices and household businesses, and two branches (``-001``)."""
    rng = _rng("organisations")
    taken = {FIRST_TAX_CODE}
    result = []
    for index, (name, place) in enumerate(_ORGANISATIONS):
        code = FIRST_TAX_CODE if index == 0 else _tax_code(rng, _PLACES[place][3], taken)
        representative = people[0] if index == 0 else rng.choice(people[2:])
        result.append(
            {
                "taxCode": code,
                "name": name,
                "address": _address(rng, _PLACES[place]),
                "representativePersonalId": representative["personalId"],
            }
        )
    for head, place in _BRANCHES:
        parent = result[head]
        city = _PLACES[place][0]
        result.append(
            {
                "taxCode": parent["taxCode"] + "-001",
                "parentTaxCode": parent["taxCode"],
                "name": f"Chi nhánh {parent['name']} tại {city[0].upper()}{city[1:]}",
                "address": _address(rng, _PLACES[place]),
                "representativePersonalId": rng.choice(people[2:])["personalId"],
            }
        )
    return result


# ---- agencies, officers, systems -----------------------------------------------------------

_MORNING_730 = {"periods": [{"start": "07:30", "end": "11:30"}, {"start": "13:30", "end": "17:00"}]}
_MORNING_800 = {"periods": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]}
# fmt: off
_COMMUNE = ("Công chức Tư pháp - Hộ tịch", "Công chức Văn phòng - Thống kê")
# (code, name, level, parent, hours, username slug, officer titles)
_AGENCIES = (
    ("000.00.00.G09", "Bộ Tư pháp", "ministry", None, _MORNING_800, "g09",
     ("Chuyên viên Trung tâm Lý lịch tư pháp quốc gia", "Chuyên viên Văn phòng Bộ")),
    ("000.00.00.H22", "Ủy ban nhân dân tỉnh Quảng Ninh", "province", None, _MORNING_730, "h22",
     ("Chuyên viên Trung tâm Phục vụ hành chính công tỉnh", "Chuyên viên Văn phòng UBND tỉnh")),
    ("000.10.00.H22", "Sở Tư pháp tỉnh Quảng Ninh", "province", "000.00.00.H22", _MORNING_730,
     "h22.stp", ("Chuyên viên Phòng Hành chính tư pháp", "Chuyên viên Bộ phận Một cửa")),
    ("000.20.00.H22", "Ủy ban nhân dân thành phố Hạ Long", "district", "000.00.00.H22",
     _MORNING_730, "h22.halong",
     ("Chuyên viên Phòng Kinh tế, Hạ tầng và Đô thị", "Chuyên viên Bộ phận Một cửa")),
    ("000.00.01.H22", "UBND phường Hồng Hải, tỉnh Quảng Ninh", "commune", "000.00.00.H22",
     _MORNING_730, "h22.honghai", _COMMUNE),
    ("000.00.02.H22", "UBND phường Bãi Cháy, tỉnh Quảng Ninh", "commune", "000.00.00.H22",
     _MORNING_730, "h22.baichay", _COMMUNE),
    ("000.00.00.H29", "Ủy ban nhân dân Thành phố Hồ Chí Minh", "province", None, _MORNING_800,
     "h29", ("Chuyên viên Trung tâm Phục vụ hành chính công", "Chuyên viên Văn phòng UBND")),
    ("000.00.01.H29", "UBND phường Sài Gòn, Thành phố Hồ Chí Minh", "commune", "000.00.00.H29",
     _MORNING_800, "h29.saigon", _COMMUNE),
)
# fmt: on
FIRST_OFFICER_NAME = "Lê Thị Hồng Nhung"  # the example in schemas/subject.json


def agencies() -> list[Json]:
    """Eight agencies: a ministry, two provinces, a department, a district, three communes."""
    result = []
    for code, name, level, parent, hours, *_ in _AGENCIES:
        periods = [dict(period) for period in hours["periods"]]  # no dict shared between agencies
        agency = {"code": code, "name": name, "level": level, "workingHours": {"periods": periods}}
        result.append(agency | ({"parentCode": parent} if parent else {}))
    return result


def officers(people: Sequence[Json]) -> list[Json]:
    """Two officers per agency, usernames ``canbo.<agency>.<nn>``, none a citizen's namesake."""
    rng = _rng("officers")
    taken = {FIRST_OFFICER_NAME} | _FAMOUS | {p["fullName"] for p in people}
    result = []
    for code, _name, _level, _parent, _hours, slug, titles in _AGENCIES:
        for number, title in enumerate(titles, start=1):
            username = f"canbo.{slug}.{number:02d}"
            if username == "canbo.h22.honghai.01":
                full_name = FIRST_OFFICER_NAME
            else:
                full_name = _full_name(rng, rng.choice(("male", "female")))
                while full_name in taken:
                    full_name = _full_name(rng, rng.choice(("male", "female")))
                taken.add(full_name)
            result.append(
                {"username": username, "fullName": full_name, "agencyCode": code, "title": title}
            )
    return result


# fmt: off
_SYSTEMS = (
    ("one-stop-h22", "one-stop", "000.00.00.H22",
     "Hệ thống thông tin giải quyết TTHC tỉnh Quảng Ninh (sandbox)"),
    ("one-stop-h29", "one-stop", "000.00.00.H29",
     "Hệ thống thông tin giải quyết TTHC Thành phố Hồ Chí Minh (sandbox)"),
    ("npsp-sandbox", "national-portal", None, "Cổng Dịch vụ công quốc gia (sandbox)"),
    ("paygov-sandbox", "payment-platform", None, "Nền tảng thanh toán trực tuyến (sandbox)"),
    ("subscriber-h22-stp", "agency-subscriber", "000.10.00.H22",
     "Sở Tư pháp tỉnh Quảng Ninh: nhận thông báo kết quả (sandbox)"),
    ("subscriber-g09", "agency-subscriber", "000.00.00.G09",
     "Bộ Tư pháp: nhận thông báo kết quả (sandbox)"),
)
# fmt: on


def systems() -> list[Json]:
    """Machine clients; their secrets are sandbox secrets, published on purpose."""
    rng = _rng("systems")
    result = []
    for client_id, role, agency, name in _SYSTEMS:
        secret = f"sandbox-only-{rng.getrandbits(128):032x}"
        system = {"clientId": client_id, "clientSecret": secret, "role": role, "name": name}
        result.append(system | ({"agencyCode": agency} if agency else {}))
    return result


# ---- procedures and their e-forms ----------------------------------------------------------

_PDF = ("application/pdf",)
_SCANS = ("application/pdf", "image/jpeg", "image/png")


# fmt: off
def _component(code: str, name: str, media: Sequence[str] = _PDF, *, required: bool = True,
               max_mb: int = 5, signed: bool = False) -> Json:
    return {"code": code, "name": name, "required": required, "mediaTypes": list(media),
            "maxBytes": max_mb * 1_000_000, "signatureRequired": signed}


def _fee(code: str, name: str, amount: int, due: str) -> Json:
    return {"code": code, "name": name, "amount": amount, "currency": "VND", "due": due}


def _procedure(code: str, name: str, field: str, agency_codes: list[str], level: str,
               components: list[Json], fees: list[Json], days: int, result: str,
               applicants: Sequence[str] = ("individual",), reason: str | None = None) -> Json:
    procedure = {
        "code": code, "name": name, "field": field, "agencyCodes": agency_codes,
        "onlineLevel": level, "applicantTypes": list(applicants), "components": components,
        "fees": fees, "processingDays": days, "formUrl": f"/procedures/{code}/form",
        "resultName": result,
    }
    return procedure | ({"notFullyOnlineReason": reason} if reason else {})


def procedures() -> list[Json]:
    """Six procedures: four fully online, two partly online with the reason."""
    return [
        _procedure("1.001193", "Đăng ký khai sinh", "Hộ tịch",
                   ["000.00.01.H22", "000.00.02.H22", "000.00.01.H29"], "full",
                   [_component("TKKS", "Tờ khai đăng ký khai sinh"),
                    _component("GCS", "Giấy chứng sinh", _SCANS),
                    _component("VBUQ", "Văn bản ủy quyền (khi nộp thay)", required=False,
                               signed=True)],
                   [], 1, "Giấy khai sinh"),
        _procedure("1.000894", "Đăng ký kết hôn", "Hộ tịch",
                   ["000.00.01.H22", "000.00.02.H22", "000.00.01.H29"], "full",
                   [_component("TKDKKH", "Tờ khai đăng ký kết hôn", signed=True),
                    _component("XNTTHN", "Giấy xác nhận tình trạng hôn nhân", _SCANS,
                               required=False)],
                   [_fee("BSTLKH", "Phí cấp bản sao trích lục kết hôn (01 bản)", 8000,
                         "on-submission")],
                   1, "Giấy chứng nhận kết hôn"),
        _procedure("2.000720", "Đăng ký thành lập hộ kinh doanh",
                   "Thành lập và hoạt động của hộ kinh doanh", ["000.20.00.H22"], "full",
                   [_component("GDNDKHKD", "Giấy đề nghị đăng ký hộ kinh doanh", signed=True),
                    _component("BBHTV", "Biên bản họp thành viên hộ gia đình", required=False),
                    _component("HDTDD", "Hợp đồng thuê địa điểm kinh doanh", _SCANS,
                               required=False)],
                   [_fee("LPDKHKD", "Lệ phí đăng ký hộ kinh doanh", 100000, "on-submission")],
                   3, "Giấy chứng nhận đăng ký hộ kinh doanh"),
        _procedure("1.009794", "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ",
                   "Hoạt động xây dựng", ["000.20.00.H22"], "partial",
                   [_component("DDNGPXD", "Đơn đề nghị cấp giấy phép xây dựng", signed=True),
                    _component("GCNQSDD", "Giấy chứng nhận quyền sử dụng đất", _SCANS),
                    _component("BVTK", "Bản vẽ thiết kế xây dựng", max_mb=10)],
                   [_fee("LPGPXD", "Lệ phí cấp giấy phép xây dựng nhà ở riêng lẻ", 75000,
                         "on-notice")],
                   15, "Giấy phép xây dựng",
                   reason="Cơ quan cấp phép phải kiểm tra thực địa vị trí xây dựng trước khi "
                          "cấp phép, và giấy phép kèm bản vẽ được đóng dấu trả bản giấy tại "
                          "Bộ phận Một cửa."),
        _procedure("2.000488", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
                   "Lý lịch tư pháp", ["000.10.00.H22", "000.00.00.G09"], "full",
                   [_component("TKLLTP", "Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp"),
                    _component("VBUQ", "Văn bản ủy quyền (khi nộp thay)", required=False,
                               signed=True)],
                   [_fee("PLLTP", "Phí cung cấp thông tin lý lịch tư pháp", 200000,
                         "on-submission")],
                   10, "Phiếu lý lịch tư pháp"),
        _procedure("1.004227",
                   "Đăng ký biến động quyền sử dụng đất do chuyển nhượng quyền sử dụng đất",
                   "Đất đai", ["000.00.00.H22", "000.00.00.H29"], "partial",
                   [_component("DDKBD", "Đơn đăng ký biến động đất đai", signed=True),
                    _component("HDCN", "Hợp đồng chuyển nhượng có công chứng", signed=True),
                    _component("GCN", "Giấy chứng nhận đã cấp (bản quét)", _SCANS)],
                   [_fee("LPCGCN", "Lệ phí cấp Giấy chứng nhận", 50000, "on-notice"),
                    _fee("PTDHS", "Phí thẩm định hồ sơ cấp Giấy chứng nhận", 500000,
                         "on-notice")],
                   10, "Giấy chứng nhận quyền sử dụng đất đã xác nhận biến động",
                   applicants=("individual", "organisation"),
                   reason="Người nộp phải nộp bản gốc Giấy chứng nhận đã cấp để cơ quan đăng "
                          "ký xác nhận nội dung biến động lên bản giấy."),
    ]


# fmt: on
def _text(title: str, max_length: int = 200) -> Json:
    return {"type": "string", "title": title, "minLength": 1, "maxLength": max_length}


def _pattern(title: str, pattern: str) -> Json:
    return {"type": "string", "title": title, "pattern": pattern}


def _integer(title: str, minimum: int, maximum: int) -> Json:
    return {"type": "integer", "title": title, "minimum": minimum, "maximum": maximum}


def _area(title: str) -> Json:
    return {"type": "number", "title": title, "exclusiveMinimum": 0}


def _date(title: str) -> Json:
    return {"type": "string", "title": title, "format": "date"}


# fmt: off
def _object(title: str, properties: Json, optional: Sequence[str] = ()) -> Json:
    required = [name for name in properties if name not in optional]
    return {"type": "object", "title": title, "required": required,
            "additionalProperties": False, "properties": properties}


_ID = _pattern("Số định danh cá nhân", "^[0-9]{12}$")
_PHONE = _pattern("Số điện thoại", "^(\\+84|0)[35789][0-9]{8}$")
_NAME = _text("Họ, chữ đệm và tên")
_SEX = {"title": "Giới tính", "enum": ["Nam", "Nữ"]}


def _form(title: str, properties: Json, optional: Sequence[str] = ()) -> Json:
    form = _object(title, properties, optional)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **form}


def forms() -> dict[str, Json]:
    """The e-form of each procedure: a JSON Schema 2020-12 document, keyed by procedure code."""
    parent = _object("Cha hoặc mẹ", {"fullName": _NAME, "personalId": _ID,
                                     "dateOfBirth": _date("Ngày sinh")})
    spouse = _object("Bên kết hôn", {
        "fullName": _NAME, "personalId": _ID, "dateOfBirth": _date("Ngày sinh"),
        "ethnicity": _text("Dân tộc"), "nationality": _text("Quốc tịch"),
        "residence": _text("Nơi cư trú", 500)})
    party = _object(
        "Bên chuyển nhượng / nhận chuyển nhượng",
        {"fullName": _NAME, "personalId": _ID, "address": _text("Địa chỉ", 500)},
    )
    return {
        "1.001193": _form("Tờ khai đăng ký khai sinh", {
            "requester": _object("Người yêu cầu", {
                "fullName": _NAME, "personalId": _ID,
                "relationship": {"title": "Quan hệ với người được khai sinh",
                                 "enum": ["Cha", "Mẹ", "Ông", "Bà", "Người thân thích khác"]}}),
            "child": _object("Người được khai sinh", {
                "fullName": _NAME, "dateOfBirth": _date("Ngày, tháng, năm sinh"), "sex": _SEX,
                "placeOfBirth": _text("Nơi sinh", 500), "ethnicity": _text("Dân tộc"),
                "nationality": _text("Quốc tịch")}),
            "mother": parent, "father": parent,
            "copies": _integer("Số bản sao trích lục đề nghị cấp", 0, 10)},
            optional=["father"]),
        "1.000894": _form("Tờ khai đăng ký kết hôn", {
            "groom": spouse, "bride": spouse,
            "copies": _integer("Số bản sao trích lục kết hôn đề nghị cấp", 0, 10)}),
        "2.000720": _form("Giấy đề nghị đăng ký hộ kinh doanh", {
            "householdName": _text("Tên hộ kinh doanh"),
            "businessAddress": _text("Địa chỉ địa điểm kinh doanh", 500),
            "businessLines": {"type": "array", "title": "Ngành, nghề kinh doanh", "minItems": 1,
                              "items": _object("Ngành, nghề", {
                                  "code": _pattern("Mã ngành cấp 4 (VSIC)", "^[0-9]{4}$"),
                                  "name": _text("Tên ngành")})},
            "capitalVnd": _integer("Vốn kinh doanh (đồng)", 0, 100_000_000_000),
            "employees": _integer("Số lượng lao động", 0, 1000),
            "owner": _object("Chủ hộ kinh doanh", {
                "fullName": _NAME, "personalId": _ID, "dateOfBirth": _date("Ngày sinh"),
                "phone": _PHONE})}),
        "1.009794": _form("Đơn đề nghị cấp giấy phép xây dựng nhà ở riêng lẻ", {
            "applicant": _object("Chủ đầu tư", {"fullName": _NAME, "personalId": _ID,
                                                "phone": _PHONE}),
            "site": _object("Địa điểm xây dựng", {
                "address": _text("Địa chỉ lô đất", 500),
                "landCertificateNumber": _pattern("Số phát hành Giấy chứng nhận",
                                                  "^[A-ZĐ]{2}[0-9]{6}$"),
                "plotNumber": _integer("Thửa đất số", 1, 99999),
                "mapSheet": _integer("Tờ bản đồ số", 1, 9999),
                "plotAreaM2": _area("Diện tích lô đất (m²)")}),
            "building": _object("Nội dung đề nghị cấp phép", {
                "floors": _integer("Số tầng", 1, 10),
                "constructionAreaM2": _area("Diện tích xây dựng tầng 1 (m²)"),
                "totalFloorAreaM2": _area("Tổng diện tích sàn (m²)"),
                "heightM": _area("Chiều cao công trình (m)"),
                "designer": _text("Tổ chức, cá nhân thiết kế")}),
            "expectedStart": _date("Ngày dự kiến khởi công")}),
        "2.000488": _form("Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp", {
            "fullName": _NAME, "personalId": _ID, "dateOfBirth": _date("Ngày sinh"),
            "sex": _SEX, "placeOfBirth": _text("Nơi sinh", 500),
            "residence": _text("Nơi thường trú", 500), "phone": _PHONE,
            "email": {"type": "string", "title": "Thư điện tử", "format": "email"},
            "certificateType": {"title": "Loại Phiếu (số 1 hoặc số 2)", "enum": [1, 2]},
            "purpose": _text("Mục đích sử dụng Phiếu", 500),
            "copies": _integer("Số lượng Phiếu đề nghị cấp", 1, 10)},
            optional=["email"]),
        "1.004227": _form("Đơn đăng ký biến động đất đai", {
            "transferor": party, "transferee": party,
            "parcel": _object("Thửa đất", {
                "certificateNumber": _pattern("Số phát hành Giấy chứng nhận",
                                              "^[A-ZĐ]{2}[0-9]{6}$"),
                "plotNumber": _integer("Thửa đất số", 1, 99999),
                "mapSheet": _integer("Tờ bản đồ số", 1, 9999),
                "address": _text("Địa chỉ thửa đất", 500), "areaM2": _area("Diện tích (m²)")}),
            "contract": _object("Hợp đồng chuyển nhượng", {
                "notarisedOn": _date("Ngày công chứng"),
                "notaryOffice": _text("Tổ chức hành nghề công chứng"),
                "priceVnd": _integer("Giá chuyển nhượng (đồng)", 0, 10**13)})}),
    }
# fmt: on


def _sex_vi(person: Json) -> str:
    return "Nam" if person["sex"] == "male" else "Nữ"


# fmt: off
def form_samples(people: Sequence[Json]) -> dict[str, Json]:
    """A valid filled-in e-form for each procedure, using the fixture citizens."""
    an, ngoc = people[0], people[1]
    bride = next(
        p for p in people[2:] if p["sex"] == "female" and "1998" <= p["dateOfBirth"] < "2006"
    )
    buyer = next(p for p in people[2:] if p["sex"] == "male")

    def who(p: Json, *keys: str) -> Json:
        return {k: p[k] for k in ("fullName", "personalId", *keys)}

    def spouse(p: Json) -> Json:
        return who(p, "dateOfBirth") | {"ethnicity": "Kinh", "nationality": "Việt Nam",
                                         "residence": p["address"]}

    return {
        "1.001193": {
            "requester": who(ngoc) | {"relationship": "Mẹ"},
            "child": {"fullName": "Trần Minh Khôi", "dateOfBirth": "2025-03-10", "sex": "Nam",
                      "placeOfBirth": "Bệnh viện Từ Dũ, Thành phố Hồ Chí Minh",
                      "ethnicity": "Kinh", "nationality": "Việt Nam"},
            "mother": who(ngoc, "dateOfBirth"), "copies": 1},
        "1.000894": {"groom": spouse(an), "bride": spouse(bride), "copies": 2},
        "2.000720": {
            "householdName": "Hộ kinh doanh Tạp hóa An Phát",
            "businessAddress": "Số 3 đường Hạ Long, phường Bãi Cháy, tỉnh Quảng Ninh",
            "businessLines": [{"code": "4711", "name": "Bán lẻ lương thực, thực phẩm, đồ uống"}],
            "capitalVnd": 150_000_000, "employees": 2,
            "owner": who(an, "dateOfBirth", "phone")},
        "1.009794": {
            "applicant": who(ngoc, "phone"),
            "site": {"address": "Thửa 215, tờ bản đồ 34, phường Hồng Hải, tỉnh Quảng Ninh",
                     "landCertificateNumber": "CS123456", "plotNumber": 215, "mapSheet": 34,
                     "plotAreaM2": 96.5},
            "building": {"floors": 4, "constructionAreaM2": 80.0, "totalFloorAreaM2": 320.0,
                         "heightM": 15.6, "designer": "Công ty Cổ phần Xây dựng Bạch Đằng"},
            "expectedStart": "2025-06-02"},
        "2.000488": who(an, "dateOfBirth", "phone", "email") | {
            "sex": _sex_vi(an), "placeOfBirth": an["province"], "residence": an["address"],
            "certificateType": 1, "purpose": "Bổ sung hồ sơ xin việc", "copies": 1},
        "1.004227": {
            "transferor": who(ngoc) | {"address": ngoc["address"]},
            "transferee": who(buyer) | {"address": buyer["address"]},
            "parcel": {"certificateNumber": "DĐ654321", "plotNumber": 88, "mapSheet": 12,
                       "address": "Phường Sài Gòn, Thành phố Hồ Chí Minh", "areaM2": 62.4},
            "contract": {"notarisedOn": "2025-03-05", "priceVnd": 5_200_000_000,
                         "notaryOffice": "Văn phòng công chứng Bến Thành"}},
    }
# fmt: on


# ---- the working calendar ------------------------------------------------------------------

_NEW_YEAR = "Tết Dương lịch"
_TET = "Tết Nguyên đán"
_HUNG = "Giỗ Tổ Hùng Vương (10/3 âm lịch)"
_REUNIFICATION = "Ngày Chiến thắng (30/4)"
_LABOUR = "Ngày Quốc tế Lao động (1/5)"
_NATIONAL = "Quốc khánh (2/9)"
_NATIONAL_NEXT = "Quốc khánh (ngày liền kề)"

# fmt: off
# year -> (holidays as (date, name, compensation, unconfirmed), working weekend days, note)
# "compensation" marks a day off that is not itself a statutory holiday: a day in lieu of a
# holiday that fell on a weekend, or the weekday of a decreed swap with a working Saturday.
_Holiday = tuple[str, str, bool, bool]
_CALENDAR: dict[int, tuple[tuple[_Holiday, ...], tuple[str, ...], str | None]] = {
    2024: ((
        ("2024-01-01", _NEW_YEAR, False, False),
        *((f"2024-02-{d:02d}", _TET, False, False) for d in (8, 9, 12, 13, 14)),
        ("2024-04-18", _HUNG, False, False),
        ("2024-04-29", "Nghỉ hoán đổi dịp 30/4 - 1/5 (làm bù thứ Bảy 04/5/2024)", True, False),
        ("2024-04-30", _REUNIFICATION, False, False),
        ("2024-05-01", _LABOUR, False, False),
        ("2024-09-02", _NATIONAL, False, False),
        ("2024-09-03", _NATIONAL_NEXT, False, False),
    ), ("2024-05-04",), None),
    2025: ((
        ("2025-01-01", _NEW_YEAR, False, False),
        *((f"2025-01-{d:02d}", _TET, False, False) for d in (27, 28, 29, 30, 31)),
        ("2025-04-07", _HUNG, False, False),
        ("2025-04-30", _REUNIFICATION, False, False),
        ("2025-05-01", _LABOUR, False, False),
        ("2025-05-02", "Nghỉ hoán đổi dịp 30/4 - 1/5 (làm bù thứ Bảy 26/4/2025)", True, False),
        ("2025-09-01", _NATIONAL_NEXT, False, False),
        ("2025-09-02", _NATIONAL, False, False),
    ), ("2025-04-26",), None),
    2026: ((
        ("2026-01-01", _NEW_YEAR, False, False),
        ("2026-01-02", "Nghỉ hoán đổi dịp Tết Dương lịch (làm bù thứ Bảy 10/01/2026)", True, True),
        *((f"2026-02-{d:02d}", _TET, False, False) for d in (16, 17, 18, 19, 20)),
        ("2026-04-26", _HUNG, False, False),
        ("2026-04-27", "Nghỉ bù Giỗ Tổ Hùng Vương (26/4 là Chủ nhật)", True, False),
        ("2026-04-30", _REUNIFICATION, False, False),
        ("2026-05-01", _LABOUR, False, False),
        ("2026-09-01", _NATIONAL_NEXT, False, True),
        ("2026-09-02", _NATIONAL, False, False),
    ), ("2026-01-10",), "The 2 January swap and the day next to National Day are not confirmed."),
    2027: ((
        ("2027-01-01", _NEW_YEAR, False, True),
        *((f"2027-02-{d:02d}", _TET, False, True) for d in (4, 5, 8, 9, 10)),
        ("2027-04-16", _HUNG, False, True),
        ("2027-04-30", _REUNIFICATION, False, True),
        ("2027-05-01", _LABOUR, False, True),
        ("2027-05-03", "Nghỉ bù Ngày Quốc tế Lao động (1/5 là thứ Bảy)", True, True),
        ("2027-09-02", _NATIONAL, False, True),
        ("2027-09-03", _NATIONAL_NEXT, False, True),
    ), (), "Projected from the Labour Code 2019 Art. 112 with the lunar new year on 2027-02-06; "
           "replace with the official notice when it is published."),
}
_CALENDAR_SOURCES = (
    {"title": "Bộ luật Lao động 2019 (Luật số 45/2019/QH14), Điều 112: Nghỉ lễ, tết",
     "covers": "every year"},
    {"title": "Thông báo của Bộ Lao động - Thương binh và Xã hội về lịch nghỉ Tết Âm lịch, "
              "30/4 - 1/5 và Quốc khánh năm 2024 cho cán bộ, công chức, viên chức "
              "(số 6150/TB-LĐTBXH, 2023)", "covers": "2024", "unconfirmed": True},
    {"title": "Thông báo của Bộ Lao động - Thương binh và Xã hội về lịch nghỉ lễ, tết năm 2025 "
              "(Tết 25/01 - 02/02; hoán đổi 02/5 với thứ Bảy 26/4), theo ý kiến của Thủ tướng "
              "Chính phủ", "covers": "2025", "unconfirmed": True},
    {"title": "Thông báo của Bộ Nội vụ về lịch nghỉ lễ, tết năm 2026 (Tết 14/02 - 22/02)",
     "covers": "2026", "unconfirmed": True},
)
# fmt: on


def calendar() -> Json:
    """Holidays and working weekend days, 2024-2027, keyed by year, plus the sources."""
    years: Json = {}
    for year, (holidays, weekend_days, note) in _CALENDAR.items():
        entries = []
        for day, name, compensation, unconfirmed in sorted(holidays):
            entry: Json = {"date": day, "name": name, "compensation": compensation}
            entries.append(entry | ({"unconfirmed": True} if unconfirmed else {}))
        data: Json = {"holidays": entries, "workingWeekendDays": list(weekend_days)}
        years[str(year)] = data | ({"note": note} if note else {})
    return years | {"sources": [dict(s) for s in _CALENDAR_SOURCES]}


# ---- documents -----------------------------------------------------------------------------

PDF_TEXT = "egov-conformance - sample component document"


def pdf_document(text: str = PDF_TEXT) -> bytes:
    """A one-page PDF 1.4 saying ``text`` (ASCII) with a correct cross-reference table."""
    content = f"BT /F1 18 Tf 72 770 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    # The second line's high bytes tell transfer tools the file is binary (PDF 1.4, 3.4.1).
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f\r\n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n\r\n" % offset for offset in offsets)  # 20 bytes each
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n" % (len(objects) + 1, xref_at)
    return bytes(out + b"%%EOF\n")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _stored_zlib(raw: bytes) -> bytes:
    # One uncompressed deflate block: zlib.compress output may differ between zlib builds
    # (zlib-ng, for one), and the fixture must be the same bytes everywhere.
    assert len(raw) <= 0xFFFF
    block = b"\x01" + struct.pack("<HH", len(raw), len(raw) ^ 0xFFFF) + raw
    return b"\x78\x01" + block + struct.pack(">I", zlib.adler32(raw))


def png_image() -> bytes:
    """An 8x8 RGB PNG: red with a yellow square in the middle."""
    red, yellow = b"\xda\x25\x1d", b"\xff\xff\x00"
    rows = [
        b"\x00" + b"".join(yellow if 3 <= x <= 4 and 3 <= y <= 4 else red for x in range(8))
        for y in range(8)
    ]
    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)  # 8x8, 8-bit, RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", _stored_zlib(b"".join(rows)))
        + _png_chunk(b"IEND", b"")
    )


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg_image() -> bytes:
    """An 8x8 mid-grey baseline JFIF JPEG, written segment by segment."""
    one_code = bytes([1] + [0] * 15) + b"\x00"  # a Huffman table with one 1-bit code, symbol 0
    return b"".join(
        [
            b"\xff\xd8",  # SOI
            _jpeg_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            _jpeg_segment(0xDB, b"\x00" + b"\x01" * 64),  # quantisation table 0, all ones
            _jpeg_segment(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00"),  # 8x8, one component
            _jpeg_segment(0xC4, b"\x00" + one_code),  # DC table 0: difference category 0
            _jpeg_segment(0xC4, b"\x10" + one_code),  # AC table 0: end of block
            _jpeg_segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
            b"\x3f",  # DC "0", EOB "0", padded with 1-bits: every sample is 128
            b"\xff\xd9",  # EOI
        ]
    )


# fmt: off
HOSTILE_NAMES = (
    ("../../etc/passwd", "path traversal: climbs out of the upload folder"),
    ("..\\..\\windows\\win.ini", "path traversal with Windows separators"),
    ("/etc/passwd", "an absolute path, not a file name"),
    ("a\u0000b.pdf", "a NUL byte: C libraries cut the name at 'a'"),
    ("CON", "a reserved device name on Windows"),
    ("com1.pdf", "a reserved device name on Windows, even with an extension"),
    (".htaccess", "a dot-file that reconfigures web servers"),
    ("a" * 296 + ".pdf", "300 characters: longer than the 255-byte limit of most file systems"),
    ("x.pdf.exe", "a double extension that hides an executable"),
    ("hoa-don\u202efdp.exe", "a right-to-left override: shows as 'hoa-donexe.pdf'"),
    ("to-khai.pdf\r\nContent-Type: text/html", "CR LF: injects a header where the name is echoed"),
    ("", "an empty name"),
    ("bao-cao.pdf.", "a trailing dot, which Windows silently strips"),
)
# fmt: on


def documents() -> dict[str, bytes]:
    """The files under ``documents/``: real samples and the hostile ones."""
    names = [{"name": name, "reason": reason} for name, reason in HOSTILE_NAMES]
    return {
        "documents/sample.pdf": pdf_document(),
        "documents/sample.png": png_image(),
        "documents/sample.jpg": jpeg_image(),
        "documents/lying.pdf": png_image(),  # PNG bytes under a .pdf name
        "documents/empty.pdf": b"\n",  # one byte: some tools drop 0-byte files
        "documents/hostile-names.json": _json(names),
    }


# ---- known-invalid cases -------------------------------------------------------------------

_CODES = "common/codes.json#/$defs/"


# fmt: off
def _case(case: str, schema: str | None, instance: Any, pointer: str, rule: str,
          format_name: str | None = None) -> Json:
    # "format" names the custom format whose check must refuse the value too; "schema" may be
    # None for a value that only a format check can see.
    found: Json = {"case": case, "schema": schema, "instance": instance, "pointer": pointer,
                   "rule": rule}
    return found | ({"format": format_name} if format_name else {})


def _without(document: Json, key: str) -> Json:
    return {k: v for k, v in document.items() if k != key}


def _bad_check_digit(code: str) -> str:
    return code[:9] + str((int(code[9]) + 1) % 10)


def _format_cases(tax_code: str) -> dict[str, list[Json]]:
    pid, tax, agency = f"{_CODES}personalId", f"{_CODES}taxCode", f"{_CODES}agencyCode"
    dossier, result = f"{_CODES}dossierCode", f"{_CODES}resultCode"
    fpid, ftax, fdossier, fresult = ("vn-personal-id", "vn-tax-code", "vn-dossier-code",
                                     "vn-result-code")
    proc, fproc, h22 = f"{_CODES}procedureCode", "vn-procedure-code", "000.00.01.H22"
    return {
        "personal-id": [
            _case("too short (11 digits)", pid, "00120301234", "", "pattern", fpid),
            _case("a letter", pid, "00120301234A", "", "pattern", fpid),
            _case("province 003 does not exist", pid, "003203012345", "", "format", fpid),
            _case("full-width digits", pid, "００1203012345", "", "pattern", fpid),
            # Python's "$" matches before a final newline, so only the format check sees it.
            _case("trailing newline", pid, "001203012345\n", "", "format", fpid),
            _case("a number, not a string", pid, 1203012345, "", "type", fpid),
        ],
        "tax-code": [
            _case("wrong check digit", tax, _bad_check_digit(tax_code), "", "format", ftax),
            _case("nine digits", tax, tax_code[:9], "", "pattern", ftax),
            _case("two-digit branch", tax, tax_code + "-01", "", "pattern", ftax),
            _case("branch 000", tax, tax_code + "-000", "", "format", ftax),
            _case("sequence all zero", tax, "0100000003", "", "format", ftax),
            _case("dots as separators", tax, f"{tax_code[:2]}.{tax_code[2:]}", "", "pattern", ftax),
        ],
        "agency-code": [
            _case("lowercase letter", agency, "000.00.01.h22", "", "pattern", "vn-agency-code"),
            _case("trailing newline", agency, "000.00.01.H22\n", "", "format", "vn-agency-code"),
            _case("36 characters", agency, "000.00.01.H22.000.00.01.H22.00000000", "",
                  "maxLength", "vn-agency-code"),
            _case("empty group", agency, "000..01.H22", "", "pattern", "vn-agency-code"),
            _case("empty", agency, "", "", "minLength", "vn-agency-code"),
        ],
        "procedure-code": [
            _case("five digits after the dot", proc, "1.00119", "", "pattern", fproc),
            _case("no dot", proc, "1001193", "", "pattern", fproc),
            _case("two digits before the dot", proc, "01.001193", "", "pattern", fproc),
        ],
        "dossier-code": [
            _case("30 February (250230)", dossier, f"{h22}-250230-0042", "", "format", fdossier),
            _case("month 13", dossier, f"{h22}-251301-0042", "", "pattern", fdossier),
            _case("3-digit sequence", dossier, f"{h22}-250317-042", "", "pattern", fdossier),
            _case("lowercase agency", dossier, f"{h22.lower()}-250317-0042", "", "pattern",
                  fdossier),
        ],
        "result-code": [
            _case("KQ0", result, f"{h22}-250317-0042-KQ0", "", "pattern", fresult),
            _case("KQ01", result, f"{h22}-250317-0042-KQ01", "", "pattern", fresult),
            _case("no KQ part", result, f"{h22}-250317-0042", "", "pattern", fresult),
            _case("31 April in the dossier code", result, f"{h22}-250431-0042-KQ1", "", "format",
                  fresult),
        ],
    }


def _subject_cases(people: Sequence[Json], orgs: Sequence[Json], staff: Sequence[Json],
                   clients: Sequence[Json]) -> dict[str, list[Json]]:
    citizen, org, branch, officer = people[0], orgs[0], orgs[-1], staff[0]
    one_stop = next(c for c in clients if c["role"] == "one-stop")
    c, o, f, s = "subject.json#/$defs/citizen", "subject.json#/$defs/organisation", \
        "subject.json#/$defs/officer", "subject.json#/$defs/system"
    return {
        "citizen": [
            _case("missing fullName", c, _without(citizen, "fullName"), "", "required"),
            _case("personal ID with province 000", c, citizen | {"personalId": "000203012345"},
                  "/personalId", "format"),
            _case("landline phone", c, citizen | {"phone": "02033825566"}, "/phone", "pattern"),
            _case("30 February", c, citizen | {"dateOfBirth": "2003-02-30"}, "/dateOfBirth",
                  "format"),
            _case("unknown sex", c, citizen | {"sex": "M"}, "/sex", "enum"),
            _case("unknown field", c, citizen | {"nickname": "Bin"}, "", "additionalProperties"),
        ],
        "organisation": [
            _case("wrong check digit", o, org | {"taxCode": _bad_check_digit(org["taxCode"])},
                  "/taxCode", "format"),
            _case("branch without parentTaxCode", o, _without(branch, "parentTaxCode"), "",
                  "required"),
            _case("representative ID too short", o, org | {"representativePersonalId": "0012"},
                  "/representativePersonalId", "pattern"),
        ],
        "officer": [
            _case("capital letter in username", f, officer | {"username": "CanBo.h22.01"},
                  "/username", "pattern"),
            _case("lowercase agency code", f, officer | {"agencyCode": "000.00.01.h22"},
                  "/agencyCode", "pattern"),
            _case("missing title", f, _without(officer, "title"), "", "required"),
        ],
        "system": [
            _case("unknown role", s, one_stop | {"role": "bank"}, "/role", "enum"),
            _case("one-stop system without agencyCode", s, _without(one_stop, "agencyCode"), "",
                  "required"),
            _case("short secret", s, one_stop | {"clientSecret": "secret"}, "/clientSecret",
                  "minLength"),
        ],
    }


def _catalogue_cases(procs: Sequence[Json], units: Sequence[Json]) -> dict[str, list[Json]]:
    full = next(p for p in procs if p["onlineLevel"] == "full" and p["fees"])
    partial = next(p for p in procs if p["onlineLevel"] == "partial")
    agency, p, a, k = units[4], "procedure.json#/$defs/procedure", "agency.json#/$defs/agency", \
        "agency.json#/$defs/calendar"
    fee = full["fees"][0]
    component = full["components"][0]
    day = {"date": "2025-01-01", "name": _NEW_YEAR}
    year = {"year": 2025, "holidays": [day], "workingWeekendDays": []}
    return {
        "procedure": [
            _case("partial without notFullyOnlineReason", p,
                  _without(partial, "notFullyOnlineReason"), "", "required"),
            _case("negative fee", p, full | {"fees": [fee | {"amount": -100000}]},
                  "/fees/0/amount", "minimum"),
            _case("fee in USD", p, full | {"fees": [fee | {"currency": "USD"}]},
                  "/fees/0/currency", "const"),
            _case("lowercase component code", p,
                  full | {"components": [component | {"code": "tkks"}]},
                  "/components/0/code", "pattern"),
            _case("GIF not accepted", p,
                  full | {"components": [component | {"mediaTypes": ["image/gif"]}]},
                  "/components/0/mediaTypes/0", "enum"),
            _case("processing longer than a year", p, full | {"processingDays": 400},
                  "/processingDays", "maximum"),
        ],
        "agency": [
            _case("working hours 7:30", a, agency | {"workingHours": {"periods": [
                {"start": "7:30", "end": "11:30"}]}}, "/workingHours/periods/0/start", "pattern"),
            _case("level ward", a, agency | {"level": "ward"}, "/level", "enum"),
            _case("no working hours", a, _without(agency, "workingHours"), "", "required"),
        ],
        "calendar": [
            _case("30 February", k, year | {"holidays": [day | {"date": "2025-02-30"}]},
                  "/holidays/0/date", "format"),
            _case("date without leading zeros", k,
                  year | {"holidays": [day | {"date": "2025-1-1"}]}, "/holidays/0/date",
                  "pattern"),
            _case("no workingWeekendDays", k, _without(year, "workingWeekendDays"), "",
                  "required"),
        ],
    }
# fmt: on


# ---- writing -------------------------------------------------------------------------------


def _json(document: Any) -> bytes:
    text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def build() -> dict[str, bytes]:
    """Every generated fixture file: its path inside ``fixtures/`` and its bytes."""
    people = citizens()
    orgs = organisations(people)
    units, staff, clients = agencies(), officers(people), systems()
    procs = procedures()
    files = {
        "citizens.json": _json(people),
        "organisations.json": _json(orgs),
        "agencies.json": _json(units),
        "officers.json": _json(staff),
        "systems.json": _json(clients),
        "calendar.json": _json(calendar()),
        **documents(),
    }
    samples = form_samples(people)
    for code, form in forms().items():
        files[f"forms/{code}.json"] = _json(form)
        files[f"forms/{code}.sample.json"] = _json(samples[code])
    files.update({f"procedures/{p['code']}.json": _json(p) for p in procs})
    invalid = (
        _format_cases(orgs[0]["taxCode"])
        | _subject_cases(people, orgs, staff, clients)
        | _catalogue_cases(procs, units)
    )
    files.update({f"invalid/{name}.json": _json(cases) for name, cases in invalid.items()})
    return dict(sorted(files.items()))


def generate(dest: Path) -> None:
    """Write every fixture file under ``dest``; files this does not generate are left alone."""
    for relative, content in build().items():
        path = dest / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def stale_files(dest: Path) -> list[str]:
    """Paths under ``dest`` that are missing, differ from what `build` makes, or are extra."""
    expected = build()
    stale = [
        name
        for name, content in expected.items()
        if not (dest / name).is_file() or (dest / name).read_bytes() != content
    ]
    present = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    stale += sorted(present - set(expected) - HANDWRITTEN)
    return sorted(stale)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: rewrite ``fixtures/``, or with ``--check`` report stale files."""
    parser = argparse.ArgumentParser(prog="python -m egov_contract.fixturegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when stale")
    parser.add_argument("--dest", type=Path, default=None, help="folder (default: fixtures/)")
    args = parser.parse_args(argv)
    dest: Path = args.dest or fixtures_dir()
    if not args.check:
        generate(dest)
        print(f"wrote {len(build())} files under {dest}")
        return 0
    stale = stale_files(dest)
    for name in stale:
        print(f"stale: {dest / name}", file=sys.stderr)
    if stale:
        print("run: python -m egov_contract.fixturegen", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
