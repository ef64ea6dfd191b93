"""The operations of the contract, compiled once from the specs for routing and validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from egov_contract import Contract, pointer_of

from .validation import BodyValidator, ParameterSpec, compile_parameter

_METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Operation:
    """One operation of one spec: its route, who may call it and how to validate it."""

    spec: str
    operation_id: str
    method: str
    path: str
    roles: frozenset[str]
    capability: str | None
    parameters: tuple[ParameterSpec, ...]
    body: BodyValidator | None
    body_required: bool
    responses: dict[str, dict[str, str]] = field(default_factory=dict)
    """status → media type → schema pointer inside the spec (for response validation)."""

    @property
    def public(self) -> bool:
        """True when no sign-in is asked (roles ``public`` or ``platform``)."""
        return self.roles <= {"public", "platform"}


def _resolve(
    document: dict[str, Any], node: Any, pointer: tuple[Any, ...]
) -> tuple[Any, tuple[Any, ...]]:
    """Follow local ``#/...`` references; return the node and its pointer path."""
    while isinstance(node, dict) and str(node.get("$ref", "")).startswith("#/"):
        parts = tuple(p.replace("~1", "/").replace("~0", "~") for p in node["$ref"][2:].split("/"))
        node = document
        for part in parts:
            node = node[part]
        pointer = parts
    return node, pointer


def compile_operations(contract: Contract) -> list[Operation]:
    """Every operation of every spec, with its validators compiled."""
    compiled = []
    for spec_name, document in contract.specs.items():
        for path, item in (document.get("paths") or {}).items():
            shared = item.get("parameters", [])
            for method in _METHODS:
                if method not in item:
                    continue
                base = ("paths", path, method)
                operation = item[method]
                compiled.append(
                    _compile(contract, spec_name, document, path, method, operation, base, shared)
                )
    return compiled


def _compile(
    contract: Contract,
    spec_name: str,
    document: dict[str, Any],
    path: str,
    method: str,
    op: dict[str, Any],
    base: tuple[Any, ...],
    shared: list[Any],
) -> Operation:
    parameters: dict[tuple[str, str], ParameterSpec] = {}
    sources = [(p, ("paths", path, "parameters", i)) for i, p in enumerate(shared)]
    sources += [(p, (*base, "parameters", i)) for i, p in enumerate(op.get("parameters", []))]
    for raw, where in sources:
        param, at = _resolve(document, raw, where)
        validator = contract.spec_validator(spec_name, pointer_of((*at, "schema")))
        spec = compile_parameter(param, validator)
        parameters[(spec.location, spec.name.lower())] = spec
    body = None
    body_required = False
    if "requestBody" in op:
        request_body, at = _resolve(document, op["requestBody"], (*base, "requestBody"))
        body_required = bool(request_body.get("required", False))
        media = {
            media_type: contract.spec_validator(
                spec_name, pointer_of((*at, "content", media_type, "schema"))
            )
            for media_type, content in request_body.get("content", {}).items()
            if "schema" in content
        }
        body = BodyValidator(media)
    responses: dict[str, dict[str, str]] = {}
    for status, raw in op.get("responses", {}).items():
        response, at = _resolve(document, raw, (*base, "responses", status))
        responses[str(status)] = {
            media_type: pointer_of((*at, "content", media_type, "schema"))
            for media_type, content in response.get("content", {}).items()
            if "schema" in content
        }
    return Operation(
        spec=spec_name,
        operation_id=op["operationId"],
        method=method.upper(),
        path=path,
        roles=frozenset(op.get("x-egov-roles", ["public"])),
        capability=op.get("x-egov-capability"),
        parameters=tuple(parameters.values()),
        body=body,
        body_required=body_required,
        responses=responses,
    )
