"""Hypothesis strategies for the contract's identifiers and schemas.

The ``<format>s()`` strategies draw valid values only; the ``invalid_<format>s()`` ones draw
values that the matching ``formats.is_<format>`` must refuse. `from_contract_schema` draws
whole documents for a schema of the contract.
"""

from __future__ import annotations

import calendar
import copy
from datetime import date, datetime, timedelta, timezone
from functools import cache
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st
from hypothesis.internal.conjecture import utils as cu
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012
from stdnum.vn import mst

from ._errors import ContractError
from ._registry import SCHEMA_BASE, contract
from .formats import PROVINCE_CODES, is_tax_code

if TYPE_CHECKING:
    from referencing._core import Resolver  # the public package does not re-export it

_UPPER_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NOT_PROVINCES = tuple(f"{n:03d}" for n in range(1000) if f"{n:03d}" not in PROVINCE_CODES)


def _digits(count: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=count, max_size=count)


def personal_ids() -> st.SearchStrategy[str]:
    """Valid personal ID numbers: a CCCD province code, a century/sex digit, year, 6 digits."""
    return st.builds(
        lambda province, century, rest: province + century + rest,
        st.sampled_from(sorted(PROVINCE_CODES)),
        _digits(1),
        _digits(8),
    )


def _tax_code_bases() -> st.SearchStrategy[str]:
    # Nine digits whose check digit exists (stdnum answers "10" when none fits) and whose
    # sequence part (digits 3-9) is not all zero, which stdnum refuses.
    nine = _digits(9).filter(lambda d: d[2:] != "0000000")
    return nine.map(lambda d: d + mst.calc_check_digit(d)).filter(lambda c: len(c) == 10)


def tax_codes(*, branches: bool = True) -> st.SearchStrategy[str]:
    """Valid enterprise tax codes; with ``branches``, some carry a ``-NNN`` branch suffix."""
    heads = _tax_code_bases()
    if not branches:
        return heads
    suffixes = st.integers(1, 999).map(lambda n: f"-{n:03d}")
    return st.one_of(heads, st.tuples(heads, suffixes).map("".join))


def agency_codes() -> st.SearchStrategy[str]:
    """Valid agency codes: dot-separated groups of digits and capital letters, <= 35 chars."""
    group = st.text(_UPPER_DIGITS, min_size=1, max_size=8)
    codes = st.lists(group, min_size=1, max_size=6).map(".".join)
    return codes.filter(lambda code: len(code) <= 35)


def procedure_codes() -> st.SearchStrategy[str]:
    """Valid procedure codes ``d.dddddd``."""
    return st.tuples(_digits(1), _digits(6)).map(".".join)


def _days() -> st.SearchStrategy[date]:
    # YYMMDD names 2000-2099 in the dossier code, so draw only dates it can express.
    return st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


def dossier_codes() -> st.SearchStrategy[str]:
    """Valid dossier codes ``<agency>-<YYMMDD>-<NNNN>`` with real calendar dates."""
    return st.builds(
        lambda agency, day, sequence: f"{agency}-{day:%y%m%d}-{sequence}",
        agency_codes(),
        _days(),
        _digits(4),
    )


def result_codes() -> st.SearchStrategy[str]:
    """Valid result codes ``<dossier code>-KQ<n>``, n >= 1."""
    return st.builds(lambda d, n: f"{d}-KQ{n}", dossier_codes(), st.integers(1, 999))


def invalid_personal_ids() -> st.SearchStrategy[str]:
    """Strings that are not personal ID numbers: wrong length, non-digits, bad province."""
    bad_province = st.builds(lambda p, rest: p + rest, st.sampled_from(_NOT_PROVINCES), _digits(9))
    wrong_length = st.integers(0, 20).filter(lambda n: n != 12).flatmap(_digits)
    non_digit = st.builds(
        lambda valid, at, char: valid[:at] + char + valid[at + 1 :],
        personal_ids(),
        st.integers(0, 11),
        st.characters(exclude_characters="0123456789"),
    )
    return st.one_of(bad_province, wrong_length, non_digit)


def _wrong_check_digit(code: str, digit: str) -> str:
    return code[:9] + digit + code[10:]


def invalid_tax_codes() -> st.SearchStrategy[str]:
    """Strings that are not tax codes: wrong check digit, wrong length, bad branch suffix."""
    wrong_check = st.builds(_wrong_check_digit, tax_codes(), _digits(1)).filter(
        lambda c: not is_tax_code(c)
    )
    wrong_length = st.integers(0, 16).filter(lambda n: n not in (10, 13)).flatmap(_digits)
    bad_branch = st.builds(
        lambda head, suffix: head + suffix,
        tax_codes(branches=False),
        st.sampled_from(["-000", "-01", "-0001", "-", "-ABC", "001", " -001", "_001"]),
    )
    return st.one_of(wrong_check, wrong_length, bad_branch)


def invalid_agency_codes() -> st.SearchStrategy[str]:
    """Strings that are not agency codes: lowercase, too long, empty group, other signs."""
    lowercase = agency_codes().filter(lambda c: c.lower() != c).map(str.lower)
    too_long = st.lists(st.text(_UPPER_DIGITS, min_size=9, max_size=9), min_size=4, max_size=6)
    empty_group = st.builds(
        lambda code, where: [f".{code}", f"{code}.", code.replace(".", "..", 1) + "..X"][where],
        agency_codes(),
        st.integers(0, 2),
    )
    other_sign = st.builds(
        lambda code, char: code + char, agency_codes(), st.sampled_from(list("-_ /,:;"))
    )
    return st.one_of(lowercase, too_long.map(".".join), empty_group, other_sign, st.just(""))


def invalid_procedure_codes() -> st.SearchStrategy[str]:
    """Strings that are not procedure codes ``d.dddddd``."""
    return st.one_of(
        st.tuples(_digits(1), _digits(5)).map(".".join),
        st.tuples(_digits(2), _digits(6)).map(".".join),
        st.tuples(_digits(1), _digits(7)).map(".".join),
        procedure_codes().map(lambda c: c.replace(".", "-")),
        procedure_codes().map(lambda c: c + "\n"),
    )


def _after_month_end(yy: int, mm: int) -> st.SearchStrategy[str]:
    last = calendar.monthrange(2000 + yy, mm)[1]
    return st.integers(last + 1, 99).map(lambda dd: f"{yy:02d}{mm:02d}{dd:02d}")


def impossible_days() -> st.SearchStrategy[str]:
    """Six digits ``YYMMDD`` that are no calendar date, e.g. ``250230`` or ``241301``."""
    near_miss = st.tuples(st.integers(0, 99), st.integers(1, 12)).flatmap(
        lambda t: _after_month_end(*t)
    )
    bad_month = st.builds(
        lambda yy, mm, dd: f"{yy:02d}{mm:02d}{dd:02d}",
        st.integers(0, 99),
        st.sampled_from([0, *range(13, 100)]),
        st.integers(0, 99),
    )
    day_zero = st.builds(
        lambda yy, mm: f"{yy:02d}{mm:02d}00", st.integers(0, 99), st.integers(1, 12)
    )
    return st.one_of(near_miss, bad_month, day_zero)


def invalid_dossier_codes() -> st.SearchStrategy[str]:
    """Strings that are not dossier codes: impossible dates, short sequences, bad agency."""
    impossible = st.builds(
        lambda agency, day, seq: f"{agency}-{day}-{seq}",
        agency_codes(),
        impossible_days(),
        _digits(4),
    )
    short_sequence = st.builds(
        lambda code, n: code[:-4] + (code[-n:] if n else ""), dossier_codes(), st.integers(0, 3)
    )
    bad_agency = st.builds(
        lambda agency, code: agency + code[code.index("-") :],
        invalid_agency_codes().filter(lambda a: "-" not in a),
        dossier_codes(),
    )
    return st.one_of(impossible, short_sequence, bad_agency)


def invalid_result_codes() -> st.SearchStrategy[str]:
    """Strings that are not result codes: KQ0, KQ01, no KQ part, an invalid dossier code."""
    return st.one_of(
        dossier_codes().map(lambda d: d + "-KQ0"),
        st.builds(lambda d, n: f"{d}-KQ0{n}", dossier_codes(), st.integers(1, 9)),
        dossier_codes(),
        dossier_codes().map(lambda d: d + "-KQ"),
        st.builds(lambda d, n: f"{d}-KQ{n}", invalid_dossier_codes(), st.integers(1, 9)),
    )


# ---- whole documents from the contract's schemas ---------------------------------------------

# Keywords whose value is a map of names to subschemas, a list of subschemas, or one subschema;
# everything else (const, enum, examples, default...) is data and must not be rewritten.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas", "$defs"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMA_ONE = frozenset(
    {
        "items",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
# Dropped from the bundle: identifiers lose their meaning once every $ref is inlined.
_DROPPED = frozenset({"$id", "$schema", "$defs", "$anchor", "$comment"})


def _absolute(ref: str) -> str:
    return ref if ":" in ref.split("#", 1)[0] else SCHEMA_BASE + ref


def _unresolvable(where: str, ref: str, exc: Unresolvable) -> ContractError:
    # referencing's own message quotes the whole document; the kind of failure is enough.
    detail = f"cannot resolve {ref!r} ({type(exc).__name__}); check the file and the pointer"
    return ContractError(where, "", "ref-resolves", detail)


def bundle_schema(ref: str) -> dict[str, Any]:
    """Return the schema at ``ref`` with every ``$ref`` inlined: one self-contained document.

    Args:
        ref: a reference inside ``schemas/`` (``procedure.json#/$defs/procedure``) or an
            absolute URI the contract's registry knows.

    Raises:
        ContractError: the reference does not resolve, or the schema refers to itself.
    """
    uri = _absolute(ref)
    try:
        resolved = contract().registry.resolver().lookup(uri)
    except Unresolvable as exc:
        raise _unresolvable(uri, ref, exc) from None
    bundled = _inline(resolved.contents, resolved.resolver, (), uri)
    if not isinstance(bundled, dict):
        bundled = {"allOf": [bundled]}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **bundled}


def _inline(node: Any, resolver: Resolver[Any], stack: tuple[int, ...], where: str) -> Any:
    if not isinstance(node, dict):
        return copy.deepcopy(node)  # a boolean schema
    if isinstance(node.get("$id"), str):
        resolver = resolver.in_subresource(DRAFT202012.create_resource(node))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or key == "$ref":
            continue
        if key in _SCHEMA_MAPS:
            out[key] = {k: _inline(v, resolver, stack, where) for k, v in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [_inline(v, resolver, stack, where) for v in value]
        elif key in _SCHEMA_ONE:
            out[key] = _inline(value, resolver, stack, where)
        else:
            out[key] = copy.deepcopy(value)
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return out
    target = _follow(ref, resolver, stack, where)
    return {"allOf": [target, out]} if out else target


def _follow(ref: str, resolver: Resolver[Any], stack: tuple[int, ...], where: str) -> Any:
    try:
        resolved = resolver.lookup(ref)
    except Unresolvable as exc:
        raise _unresolvable(where, ref, exc) from None
    # The registry hands back the same object for the same target, so its id marks a cycle.
    key = id(resolved.contents)
    if key in stack:
        raise ContractError(where, "", "no-recursion", f"{ref!r} refers back to itself")
    return _inline(resolved.contents, resolved.resolver, (*stack, key), where)


_VN_OFFSET = timezone(timedelta(hours=7))


def vietnam_times() -> st.SearchStrategy[str]:
    """RFC 3339 times with the ``+07:00`` offset every time of the contract carries."""
    moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))
    return moments.map(lambda moment: moment.replace(microsecond=0, tzinfo=_VN_OFFSET).isoformat())


def custom_format_strategies() -> dict[str, st.SearchStrategy[str]]:
    """Strategies for the contract's custom ``format`` names, for hypothesis-jsonschema."""
    return {
        "vn-agency-code": agency_codes(),
        "vn-dossier-code": dossier_codes(),
        "vn-personal-id": personal_ids(),
        "vn-procedure-code": procedure_codes(),
        "vn-result-code": result_codes(),
        "vn-tax-code": tax_codes(),
    }


class _ManyWithMore:
    """hypothesis-jsonschema 0.23's view of ``many``: ``more()`` and ``reject()``.

    Hypothesis 6.16x turned ``hypothesis.internal.conjecture.utils.many`` into a context
    manager iterated with ``for``; hypothesis-jsonschema 0.23.1, the latest release, still
    calls ``more()`` and so fails on every object schema. This drives the new object the old
    way: each ``more()`` is one step of its iteration.
    """

    def __init__(self, data: Any, **sizes: Any) -> None:
        self._many = cu.many(data, **sizes)
        self._many.__enter__()
        self._steps = iter(self._many)

    def more(self) -> bool:
        return next(self._steps, _STOP) is not _STOP

    def reject(self, why: str | None = None) -> None:
        self._many.reject(why)


_STOP = object()


class _UtilsWithOldMany:
    """``hypothesis.internal.conjecture.utils`` as hypothesis-jsonschema 0.23 expects it."""

    many = _ManyWithMore

    def __getattr__(self, name: str) -> Any:
        return getattr(cu, name)


def _hypothesis_jsonschema_from_schema() -> Any:
    # hypothesis-jsonschema ships with the test extra only, so import it when asked for.
    import hypothesis_jsonschema
    from hypothesis_jsonschema import _from_schema

    namespace = vars(_from_schema)
    if not hasattr(cu.many, "more") and namespace.get("cu") is cu:
        namespace["cu"] = _UtilsWithOldMany()
    return hypothesis_jsonschema.from_schema


@cache
def from_contract_schema(ref: str) -> st.SearchStrategy[Any]:
    """A strategy drawing documents valid against a schema of the contract.

    Built once per reference: bundling and hypothesis-jsonschema's canonicalisation cost more
    than drawing.

    Args:
        ref: a reference inside ``schemas/``, e.g. ``subject.json#/$defs/citizen``.
    """
    from_schema = _hypothesis_jsonschema_from_schema()
    strategy: st.SearchStrategy[Any] = from_schema(
        bundle_schema(ref), custom_formats=custom_format_strategies()
    )
    return strategy
