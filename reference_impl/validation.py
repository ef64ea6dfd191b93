"""Request validation against the spec: parameters coerced and checked, bodies checked.

Every failure becomes a `FieldError` naming where (a JSON pointer) and which rule, so a 400
lists everything wrong with a request at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from egov_contract import pointer_of

from .problems import FieldError, Problem, bad_request

_MAX_ERRORS = 25


def schema_errors(
    validator: Draft202012Validator, instance: Any, prefix: str = ""
) -> list[FieldError]:
    """Every way ``instance`` breaks the schema, as field errors under ``prefix``."""
    found = []
    for error in validator.iter_errors(instance):
        found.append(_field_error(error, prefix))
        if len(found) >= _MAX_ERRORS:
            break
    return found


def dereferenced(validator: Draft202012Validator) -> Draft202012Validator:
    """The same validator with the ``$ref`` chain at its root followed once, when compiled.

    A validator built for ``{"$ref": uri}`` looks the reference up again on every validation
    (a parameter's schema is often two such hops from its definition). Following the chain
    here leaves only the target schema's own keywords to check per request; references nested
    inside it still resolve, against the resource they live in. Errors are the same, since a
    pure ``$ref`` adds no keyword of its own.
    """
    schema: Any = validator.schema
    # jsonschema keeps the `referencing` resolver private; evolve() takes it back by that name.
    resolver: Any = validator._resolver  # type: ignore[attr-defined]
    for _ in range(32):  # a cycle of bare references is a broken contract; stop following
        reference = schema.get("$ref") if isinstance(schema, dict) and len(schema) == 1 else None
        if not isinstance(reference, str):
            break
        resolved = resolver.lookup(reference)
        schema, resolver = resolved.contents, resolved.resolver
    if schema is validator.schema:
        return validator
    return cast(Draft202012Validator, validator.evolve(schema=schema, _resolver=resolver))


def _field_error(error: ValidationError, prefix: str) -> FieldError:
    if error.validator in ("oneOf", "anyOf") and error.context:
        # "not valid under any of the given schemas" names no field; the alternative that came
        # closest to matching does (e.g. /file/fileName inside one branch of a oneOf).
        error = _closest_alternative(error)
    pointer = prefix + pointer_of(error.absolute_path)
    message = error.message
    if len(message) > 300:  # messages quote the instance; keep them readable
        message = message[:297] + "..."
    return FieldError(pointer=pointer or "/", detail=message, rule=str(error.validator))


_SHAPE_RULES = frozenset({"required", "additionalProperties", "type", "const", "enum"})


def _closest_alternative(error: ValidationError) -> ValidationError:
    """The most telling error of the alternative whose shape the instance has.

    An alternative the instance misses at its top (a required member absent, a member it does
    not allow) is a worse fit than one that only fails deeper down: an upload whose file name
    breaks the pattern is an upload with a bad name, not a Repository reference lacking its id.
    """
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context or ():
        key = sub.relative_schema_path[0] if sub.relative_schema_path else None
        branches.setdefault(key, []).append(sub)

    def misfit(errors: list[ValidationError]) -> tuple[int, int]:
        at_top = sum(1 for e in errors if e.validator in _SHAPE_RULES and not e.relative_path)
        return at_top, len(errors)

    closest = min(branches.values(), key=misfit)
    return best_match(closest) or closest[0]


@dataclass(frozen=True)
class ParameterSpec:
    """A path, query or header parameter and how to read it."""

    name: str
    location: str
    required: bool
    kind: str
    validator: Draft202012Validator

    def read(self, raw: str) -> Any:
        """Coerce the raw text to the schema's type; leave it a string if it does not parse."""
        if self.kind == "integer":
            try:
                return int(raw)
            except ValueError:
                return raw
        if self.kind == "number":
            try:
                return float(raw)
            except ValueError:
                return raw
        if self.kind == "boolean" and raw in ("true", "false"):
            return raw == "true"
        return raw


def compile_parameter(param: dict[str, Any], validator: Draft202012Validator) -> ParameterSpec:
    """Build a `ParameterSpec` from an OpenAPI parameter object."""
    schema = param.get("schema", {})
    kind = schema.get("type", "string") if isinstance(schema, dict) else "string"
    return ParameterSpec(
        name=param["name"],
        location=param["in"],
        required=bool(param.get("required", param["in"] == "path")),
        kind=kind if isinstance(kind, str) else "string",
        validator=dereferenced(validator),
    )


def read_parameters(
    specs: tuple[ParameterSpec, ...],
    path: dict[str, str],
    query: dict[str, str],
    headers: Any,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[FieldError]]:
    """Read and validate every declared parameter; unknown query parameters are ignored."""
    values: dict[str, dict[str, Any]] = {"path": {}, "query": {}, "header": {}}
    sources = {"path": path, "query": query, "header": headers}
    errors: list[FieldError] = []
    for spec in specs:
        source = sources.get(spec.location)
        if source is None:
            continue
        raw = source.get(spec.name)
        if raw is None:
            if spec.required:
                where = f"#/{spec.location}/{spec.name}"
                errors.append(FieldError(where, f"{spec.name} is required.", "required"))
            continue
        value = spec.read(raw)
        found = schema_errors(spec.validator, value)
        if found:
            where = f"#/{spec.location}/{spec.name}"
            errors.extend(FieldError(where, e.detail, e.rule) for e in found)
            continue
        values[spec.location][spec.name] = value
    return values["path"], values["query"], values["header"], errors


class BodyValidator:
    """The request body's media types and their compiled schemas."""

    def __init__(self, media: dict[str, Draft202012Validator]) -> None:
        self.media = {media_type: dereferenced(v) for media_type, v in media.items()}

    def parse(self, content_type: str, raw: bytes) -> tuple[str, Any]:
        """Decode the body according to its content type, or raise a 400/415 problem."""
        media_type = content_type.split(";")[0].strip().lower()
        if media_type not in self.media:
            accepted = ", ".join(sorted(self.media))
            raise Problem(
                415, f"Content-Type {media_type or '(none)'} is not accepted; send {accepted}."
            )
        if media_type == "application/x-www-form-urlencoded":
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise bad_request("The form body is not UTF-8.") from None
            return media_type, dict(parse_qsl(text, keep_blank_values=True))
        try:
            value = json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            # ValueError covers JSONDecodeError and NaN/Infinity, which RFC 8259 does not allow;
            # RecursionError is a body nested deeper than any document of the contract.
            detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise bad_request(
                f"The body is not valid JSON: {detail}.",
                [FieldError("/", "The body is not valid JSON.", "json")],
            ) from None
        # Only a \uD800-\uDFFF escape can smuggle a lone surrogate past json.loads (raw
        # surrogate bytes are not UTF-8): such a string is no Unicode text (RFC 8259 Sec. 8.2)
        # and could not be stored, so it is refused here instead of failing later as a 500.
        if b"\\ud" in raw.lower():
            pointer = _lone_surrogate(value, "")
            if pointer is not None:
                raise bad_request(
                    "A string of the body holds an unpaired UTF-16 surrogate; send Unicode text.",
                    [FieldError(pointer or "/", "An unpaired surrogate is not text.", "unicode")],
                )
        return media_type, value

    def errors(self, media_type: str, value: Any) -> list[FieldError]:
        """Every schema violation of a decoded body."""
        return schema_errors(self.media[media_type], value)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (RFC 8259 Sec. 6)")


def _lone_surrogate(value: Any, pointer: str) -> str | None:
    """The JSON pointer of the first string (or key) holding an unpaired surrogate."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return pointer
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            escaped = str(key).replace("~", "~0").replace("/", "~1")
            found = _lone_surrogate(key, pointer) or _lone_surrogate(item, f"{pointer}/{escaped}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _lone_surrogate(item, f"{pointer}/{index}")
            if found is not None:
                return found
    return None
