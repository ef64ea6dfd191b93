"""The contract as one offline schema registry, and validators compiled from it."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT202012

from ._documents import load_document
from ._errors import ContractError
from ._paths import schemas_dir, specs_dir
from .formats import FORMAT_CHECKS

SCHEMA_BASE = "https://egov-conformance.example/schemas/"


def _file_for(uri: str) -> Path:
    """Map a schema ``$id`` or a ``file:`` URI to a local file; never touch the network."""
    if uri.startswith(SCHEMA_BASE):
        return schemas_dir() / uri.removeprefix(SCHEMA_BASE)
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # attrs class mypy cannot see


def _retrieve(uri: str) -> Resource[Any]:
    path = _file_for(uri)
    if not path.is_file():
        raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # attrs class mypy cannot see
    return Resource.from_contents(load_document(path), default_specification=DRAFT202012)


def format_checker() -> FormatChecker:
    """A format checker that knows RFC formats and the Vietnamese ones of the contract."""
    checker = FormatChecker()
    for name, check in FORMAT_CHECKS.items():
        checker.checks(name)(check)
    return checker


class Contract:
    """Every spec and schema of the contract, resolvable offline.

    Build it once (`contract()` caches one) and ask it for validators; each compiled validator
    is cached too, so a server compiles every operation's validators once.
    """

    def __init__(self) -> None:
        resources: list[tuple[str, Resource[Any]]] = []
        for path in sorted(schemas_dir().rglob("*.json")):
            document = load_document(path)
            resource = Resource.from_contents(document, default_specification=DRAFT202012)
            resources.append((path.resolve().as_uri(), resource))
            if isinstance(document, dict) and isinstance(document.get("$id"), str):
                resources.append((document["$id"], resource))
        self.specs: dict[str, dict[str, Any]] = {}
        for path in sorted(specs_dir().glob("*.yaml")):
            document = load_document(path)
            if not isinstance(document, dict):
                raise ContractError(path, "/", "type", "an OpenAPI document must be a mapping")
            self.specs[path.stem] = document
            resources.append(
                (
                    self.spec_uri(path.stem),
                    Resource.from_contents(document, default_specification=DRAFT202012),
                )
            )
        self.registry: Registry[Any] = Registry(retrieve=_retrieve).with_resources(resources)  # type: ignore[call-arg]
        self._checker = format_checker()
        self._validators: dict[str, Draft202012Validator] = {}

    @staticmethod
    def spec_uri(name: str) -> str:
        """The ``file:`` URI of a spec, the base its relative ``$ref`` resolve against."""
        return (specs_dir() / f"{name}.yaml").resolve().as_uri()

    def validator(self, ref: str) -> Draft202012Validator:
        """A validator for the schema at an absolute URI reference (with a ``#`` pointer)."""
        found = self._validators.get(ref)
        if found is None:
            found = Draft202012Validator(
                {"$ref": ref}, registry=self.registry, format_checker=self._checker
            )
            self._validators[ref] = found
        return found

    def schema_validator(self, relative: str) -> Draft202012Validator:
        """A validator for a schema named inside ``schemas/``, e.g. ``dossier.json#/$defs/x``."""
        return self.validator(SCHEMA_BASE + relative)

    def spec_validator(self, spec: str, pointer: str) -> Draft202012Validator:
        """A validator for the schema found at a JSON pointer inside a spec."""
        return self.validator(f"{self.spec_uri(spec)}#{pointer}")

    def operations(self) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
        """Yield ``(spec, method, path, operation)`` for every operation of every spec."""
        for name, document in self.specs.items():
            for path, item in (document.get("paths") or {}).items():
                for method, operation in item.items():
                    if method in _METHODS and isinstance(operation, dict):
                        yield name, method, path, operation


_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


@cache
def contract() -> Contract:
    """The process-wide `Contract`, built on first use."""
    return Contract()
