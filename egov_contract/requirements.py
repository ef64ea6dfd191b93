"""The requirement catalogue as typed, frozen data (``requirements/catalogue.yaml``).

The file is validated against ``schemas/requirement-catalogue.json`` before anything is built
from it, and a few rules a schema cannot say are checked here: ids are unique and every cited
document is listed in ``sources``. Every violation is a `ContractError` naming the file, the
JSON pointer and the rule.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

from jsonschema import ValidationError
from jsonschema.exceptions import relevance

from ._documents import load_document, pointer_of
from ._errors import ContractError
from ._paths import requirements_dir
from ._registry import contract

Level = Literal["MUST", "SHOULD", "MAY"]

SCHEMA = "requirement-catalogue.json"
PROFILES = ("national-portal", "one-stop", "payment-platform", "repository")
_LEGAL_KINDS = frozenset({"decree", "circular", "decision", "technical-regulation"})
_VI_KINDS = {
    "decree": "Nghị định",
    "circular": "Thông tư",
    "decision": "Quyết định",
    "technical-regulation": "Quy chuẩn kỹ thuật quốc gia",
}
# Document numbers are kept in ASCII in the catalogue; Vietnamese writes these letters with Đ.
_VI_LETTERS = {"/ND-": "/NĐ-", "/QD-": "/QĐ-"}


def _vi_number(number: str | None) -> str:
    text = number or ""
    for ascii_form, vietnamese in _VI_LETTERS.items():
        text = text.replace(ascii_form, vietnamese)
    return text


def _vi_date(issued: str) -> str:
    """``2020-04-08`` as ``08/04/2020``; a month (``2023-07``) as ``tháng 07/2023``."""
    pieces = issued.split("-")
    written = "/".join(reversed(pieces))
    return written if len(pieces) == 3 else f"tháng {written}"


@dataclass(frozen=True)
class BilingualText:
    """The same words in English and Vietnamese."""

    en: str
    vi: str


@dataclass(frozen=True)
class Source:
    """A text requirements are drawn from: a law, a standard, a convention or the contract."""

    id: str
    kind: str
    title: str
    number: str | None = None
    issued: str | None = None
    effective: str | None = None
    dates_confirmed: bool = True
    url: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Citation:
    """Where in its source a requirement stands, and whether we have seen it there."""

    document: str
    article: str
    confirmed: bool
    article_confirmed: bool
    clause: str | None = None
    point: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Requirement:
    """One row of the catalogue: one testable behaviour."""

    id: str
    title: BilingualText
    text: BilingualText
    level: Level
    actors: tuple[str, ...]
    profiles: tuple[str, ...]
    source: Citation
    operations: tuple[str, ...]
    capability: str | None = None
    not_testable: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def testable(self) -> bool:
        """False when the row says why no automated test can check it."""
        return self.not_testable is None


@dataclass(frozen=True)
class Catalogue:
    """Every requirement and source of one catalogue file."""

    version: str
    updated: str
    sources: tuple[Source, ...]
    requirements: tuple[Requirement, ...]
    path: Path
    _by_id: Mapping[str, Requirement] = field(init=False, repr=False, compare=False)
    _sources: Mapping[str, Source] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {r.id: r for r in self.requirements})
        object.__setattr__(self, "_sources", {s.id: s for s in self.sources})

    def __iter__(self) -> Iterator[Requirement]:
        return iter(self.requirements)

    def __len__(self) -> int:
        return len(self.requirements)

    def by_id(self, requirement_id: str) -> Requirement:
        """The requirement with this id; `KeyError` naming the catalogue if there is none."""
        try:
            return self._by_id[requirement_id]
        except KeyError:
            raise KeyError(
                f"no requirement {requirement_id!r} in {self.path}; ids look like 'RCV-01'"
            ) from None

    def source(self, source_id: str) -> Source:
        """The source document with this id."""
        try:
            return self._sources[source_id]
        except KeyError:
            raise KeyError(f"no source {source_id!r} in {self.path}") from None

    def for_profile(self, name: str) -> tuple[Requirement, ...]:
        """The requirements a target certified under profile ``name`` is checked against."""
        if name not in PROFILES:
            raise ValueError(f"unknown profile {name!r}; the profiles are {', '.join(PROFILES)}")
        return tuple(r for r in self.requirements if name in r.profiles)

    def cite(self, requirement: Requirement | str) -> str:
        """A one-line citation with the text's number and date, e.g. for a report.

        ``Decree 45/2020/ND-CP of 2020-04-08, Art. 11(2)(a)``, ``RFC 9457 of 2023-07, §3``;
        an article or a date we have not seen is marked ``(unconfirmed)``.
        """
        where, doc, numbered = self._cited(requirement)
        if doc.kind in _LEGAL_KINDS:
            name = f"{doc.kind.replace('-', ' ').capitalize()} {doc.number}"
            place = f"Art. {where.article}" if numbered else where.article
            place += f"({where.clause})" if where.clause else ""
            place += f"({where.point})" if where.point else ""
        elif doc.kind in {"standard", "internet-draft"}:
            name = doc.number or doc.title
            place = f"§{where.article}" if numbered else f'section "{where.article}"'
        else:
            name = doc.title
            place = f'"{where.article}"'
        if doc.issued:
            name += f" of {doc.issued}" + ("" if doc.dates_confirmed else " (date unconfirmed)")
        if not where.article_confirmed:
            place += " (article unconfirmed)"
        return f"{name}, {place}"

    def _cited(self, requirement: Requirement | str) -> tuple[Citation, Source, bool]:
        """The requirement's citation, its document, and whether the place is a number."""
        row = requirement if isinstance(requirement, Requirement) else self.by_id(requirement)
        return row.source, self.source(row.source.document), row.source.article[:1].isdigit()

    def cite_vi(self, requirement: Requirement | str) -> str:
        """`cite` in Vietnamese, in the order Vietnamese legal writing uses.

        ``Điểm a khoản 2 Điều 11 Nghị định 45/2020/NĐ-CP ngày 08/04/2020``; standards and other
        documents keep their own names (``RFC 9457, mục 3``).
        """
        where, doc, numbered = self._cited(requirement)
        if doc.kind in _LEGAL_KINDS:
            parts = [f"điểm {where.point}"] if where.point else []
            parts += [f"khoản {where.clause}"] if where.clause else []
            article = where.article.replace("Form ", "Mẫu số ", 1)
            parts.append(f"Điều {article}" if numbered else article)
            place = " ".join(parts)
            place = place[:1].upper() + place[1:]
            name = f"{_VI_KINDS[doc.kind]} {_vi_number(doc.number)}"
        elif doc.kind in {"standard", "internet-draft"}:
            name = doc.number or doc.title
            place = f"mục {where.article}" if numbered else f"mục “{where.article}”"
        else:
            name = doc.title
            place = f"“{where.article}”"
        if doc.issued:
            day = _vi_date(doc.issued)
            name += f" {day}" if day.startswith("tháng") else f" ngày {day}"
            name += "" if doc.dates_confirmed else " (ngày chưa đối chiếu)"
        if not where.article_confirmed:
            place += " (điều chưa đối chiếu)"
        return f"{place} {name}" if doc.kind in _LEGAL_KINDS else f"{name}, {place}"


def _plain(node: Any) -> Any:
    # YAML reads an unquoted 2025-03-17 as a date; the schema speaks JSON, where it is a string.
    if isinstance(node, _dt.date):
        return node.isoformat()
    if isinstance(node, dict):
        return {key: _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    return node


def _violation(path: Path, error: ValidationError) -> ContractError:
    detail = error.message
    explained = error.schema.get("description") if isinstance(error.schema, dict) else None
    if isinstance(explained, str) and error.validator in {"const", "minItems"}:
        detail = f"{detail}: {explained}"
    return ContractError(path, pointer_of(list(error.absolute_path)), str(error.validator), detail)


def validate_catalogue(document: Any, path: Path) -> None:
    """Raise `ContractError` for the first schema or cross-reference violation of a catalogue."""
    validator = contract().schema_validator(SCHEMA)
    errors = list(validator.iter_errors(document))
    if errors:
        # The deepest, most specific error first: "/requirements/3/source/confirmed" says more
        # than "/requirements/3" when both fail.
        errors.sort(key=relevance, reverse=True)
        errors.sort(key=lambda e: -len(e.absolute_path))
        raise _violation(path, errors[0])
    known: dict[str, int] = {}
    for index, source in enumerate(document["sources"]):
        if source["id"] in known:
            raise ContractError(
                path,
                f"/sources/{index}/id",
                "unique-id",
                f"{source['id']!r} is already the id of /sources/{known[source['id']]}",
            )
        known[source["id"]] = index
    seen: dict[str, int] = {}
    for index, row in enumerate(document["requirements"]):
        if row["id"] in seen:
            raise ContractError(
                path,
                f"/requirements/{index}/id",
                "unique-id",
                f"{row['id']!r} is already the id of /requirements/{seen[row['id']]}; "
                "give the new requirement the next free number of its area",
            )
        seen[row["id"]] = index
        cited = row["source"]["document"]
        if cited not in known:
            raise ContractError(
                path,
                f"/requirements/{index}/source/document",
                "known-source",
                f"{cited!r} is not among the ids in /sources ({', '.join(sorted(known))})",
            )


def _text(node: Mapping[str, str]) -> BilingualText:
    return BilingualText(en=node["en"], vi=node["vi"])


def _build(document: Mapping[str, Any], path: Path) -> Catalogue:
    sources = tuple(
        Source(
            id=s["id"],
            kind=s["kind"],
            title=s["title"],
            number=s.get("number"),
            issued=s.get("issued"),
            effective=s.get("effective"),
            dates_confirmed=s.get("datesConfirmed", True),
            url=s.get("url"),
            note=s.get("note"),
        )
        for s in document["sources"]
    )
    rows = []
    for r in document["requirements"]:
        cited = r["source"]
        rows.append(
            Requirement(
                id=r["id"],
                title=_text(r["title"]),
                text=_text(r["text"]),
                level=cast(Level, r["level"]),
                actors=tuple(r["actors"]),
                profiles=tuple(r["profiles"]),
                source=Citation(
                    document=cited["document"],
                    article=cited["article"],
                    confirmed=cited["confirmed"],
                    article_confirmed=cited["articleConfirmed"],
                    clause=cited.get("clause"),
                    point=cited.get("point"),
                    note=cited.get("note"),
                ),
                operations=tuple(r["operations"]),
                capability=r.get("capability"),
                not_testable=(r.get("notTestable") or {}).get("reason"),
                tags=tuple(r.get("tags", ())),
            )
        )
    return Catalogue(
        version=document["version"],
        updated=document["updated"],
        sources=sources,
        requirements=tuple(rows),
        path=path,
    )


def default_catalogue_path() -> Path:
    """``requirements/catalogue.yaml`` of the contract in use."""
    return requirements_dir() / "catalogue.yaml"


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read, validate and build a catalogue; the default file is read once per process.

    Raises:
        ContractError: the file is missing or unreadable, or breaks the schema or a
            cross-reference rule; the message names the file, the JSON pointer and the rule.
    """
    if path is None:
        return _default_catalogue()
    return _load(Path(path))


@cache
def _default_catalogue() -> Catalogue:
    return _load(default_catalogue_path())


def _load(path: Path) -> Catalogue:
    document = _plain(load_document(path))
    validate_catalogue(document, path)
    return _build(document, path)
