"""Walking the contract's documents: every ``$ref`` and every example, with where it stands."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from egov_contract import pointer_of


def walk(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Yield ``(path, value)`` for every node of a JSON-like tree, depth first."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))


def refs(document: Any) -> Iterator[tuple[str, str]]:
    """Yield ``(pointer, $ref value)`` for every reference in a document."""
    for path, node in walk(document):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            yield pointer_of(path), node["$ref"]


def media_examples(spec: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """Yield ``(schema pointer, example pointer, value)`` for every media-type example in a spec.

    Covers request bodies and responses, in ``example`` and in ``examples`` (resolving
    ``#/components/examples`` references inside the same document).
    """
    for path, node in walk(spec):
        if not (isinstance(node, dict) and "schema" in node and len(path) >= 2):
            continue
        if path[-2] != "content":
            continue
        schema_pointer = pointer_of((*path, "schema"))
        if "example" in node:
            yield schema_pointer, pointer_of((*path, "example")), node["example"]
        for name, example in (node.get("examples") or {}).items():
            where = pointer_of((*path, "examples", name))
            if "$ref" in example:
                example = _local(spec, example["$ref"])
            if "value" in example:
                yield schema_pointer, where, example["value"]


def _local(document: Any, ref: str) -> Any:
    node = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node
