"""The smallest useful JSON value a JSON Schema accepts, built deterministically (the echo model's answers).

Rules, in the order they apply to a schema node:

* ``$ref`` (to ``#/$defs/...`` or ``#/definitions/...``) is followed; ``allOf`` parts are merged;
* ``const`` is the value; ``enum`` gives its first value (checked against the node's type);
* ``anyOf``/``oneOf`` (and ``type`` lists) take the first branch that is not ``null`` and can be satisfied,
  so a nullable field gets a value a downstream tool can use; ``null`` only when nothing else fits;
* objects get their ``required`` properties only (optional ones are left out, defaults apply);
* arrays get ``minItems`` items, and one when ``minItems`` is 0 and the item can be built (a list a tool
  or a UI reads then shows something; a self-containing item leaves it empty); ``prefixItems`` come first;
* strings are the property's name (``text`` when it has none), padded to ``minLength`` and cut to
  ``maxLength``; ``format`` date, date-time, time, email, uri and uuid get a fixed valid value;
* numbers are the smallest value the bounds allow (0 when they allow it), a multiple of ``multipleOf``.

What cannot be satisfied (``false``, ``not``, an empty ``enum``, contradictory bounds, a ``pattern`` the
generated string does not match, an unresolvable ``$ref``, a required property that contains itself)
raises ``SchemaUnsatisfiable`` naming the JSON path where it failed.
"""

from __future__ import annotations

import contextlib
import math
import re
from fractions import Fraction
from typing import Any

_FORMATS = {
    "date": "2026-01-01",
    "date-time": "2026-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "echo@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_TYPE_ORDER = ("object", "string", "integer", "number", "boolean", "array", "null")
_MAX_DEPTH = 64


class SchemaUnsatisfiable(ValueError):
    """No value satisfies the schema (as far as these rules go); ``path`` is where it failed (``$.a[0]``)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"at {path}: {reason}")
        self.path = path
        self.reason = reason


def instance_for(schema: Any) -> Any:
    """A value valid against ``schema`` (a JSON Schema as a dict, or ``True``)."""
    root = schema if isinstance(schema, dict) else {}
    return _Builder(root).value(schema, "$", "text", ())


class _Builder:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def value(self, schema: Any, path: str, name: str, refs: tuple[str, ...]) -> Any:
        if schema is True or schema == {}:
            return name
        if schema is False or not isinstance(schema, dict):
            raise SchemaUnsatisfiable(path, "the schema accepts nothing")
        if len(refs) > _MAX_DEPTH:
            raise SchemaUnsatisfiable(path, "the schema nests too deep")
        if "$ref" in schema:
            ref = schema["$ref"]
            if ref in refs:
                raise SchemaUnsatisfiable(path, f"a required value contains itself through {ref}")
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return self.value(_merge(self.resolve(ref, path), rest), path, name, (*refs, ref))
        if "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                while isinstance(part, dict) and "$ref" in part:
                    part = _merge(
                        self.resolve(part["$ref"], path), {k: v for k, v in part.items() if k != "$ref"}
                    )
                if part is False:
                    raise SchemaUnsatisfiable(path, "an allOf part accepts nothing")
                merged = _merge(merged, part if isinstance(part, dict) else {})
            return self.value(merged, path, name, refs)
        if "not" in schema:
            raise SchemaUnsatisfiable(path, "'not' is not supported by the echo model")
        if "const" in schema:
            if "enum" in schema and schema["const"] not in schema["enum"]:
                raise SchemaUnsatisfiable(path, "the const is not among the enum's values")
            return self.enum({**schema, "enum": [schema["const"]]}, path)
        if "enum" in schema:
            return self.enum(schema, path)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                base = {k: v for k, v in schema.items() if k != key}
                branches = [_merge(base, b) if isinstance(b, dict) else b for b in schema[key]]
                return self.first(branches, path, name, refs, key)
        kind = schema.get("type")
        if isinstance(kind, list):
            ordered = sorted(kind, key=lambda t: _TYPE_ORDER.index(t) if t in _TYPE_ORDER else 99)
            branches = [{**schema, "type": t} for t in ordered]
            return self.first(branches, path, name, refs, "type")
        if kind is None:
            kind = _implied_type(schema)
        match kind:
            case "object":
                return self.object(schema, path, refs)
            case "array":
                return self.array(schema, path, name, refs)
            case "string":
                return _string(schema, path, name)
            case "integer" | "number":
                return _number(schema, path, kind)
            case "boolean":
                return False
            case "null":
                return None
        raise SchemaUnsatisfiable(path, f"unknown type {kind!r}")

    def resolve(self, ref: str, path: str) -> Any:
        if not ref.startswith("#"):
            raise SchemaUnsatisfiable(path, f"cannot resolve $ref {ref!r} (only local references)")
        node: Any = self.root
        for part in [p for p in ref[1:].split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise SchemaUnsatisfiable(path, f"cannot resolve $ref {ref!r}")
            node = node[part]
        return node

    def first(self, branches: list[Any], path: str, name: str, refs: tuple[str, ...], key: str) -> Any:
        if not branches:
            raise SchemaUnsatisfiable(path, f"an empty {key}")
        problems: list[str] = []
        nullable = False
        for branch in branches:
            if isinstance(branch, dict) and branch.get("type") == "null":
                nullable = True
                continue
            try:
                return self.value(branch, path, name, refs)
            except SchemaUnsatisfiable as exc:
                problems.append(str(exc))
        if nullable:
            return None
        raise SchemaUnsatisfiable(path, f"no {key} branch can be satisfied ({'; '.join(problems)})")

    def enum(self, schema: dict[str, Any], path: str) -> Any:
        values = schema["enum"]
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind] if kind else None
        for value in values:
            if (
                kinds is None
                or _json_type(value) in kinds
                or (_json_type(value) == "integer" and "number" in kinds)
            ):
                return value
        raise SchemaUnsatisfiable(
            path, "the enum has no value of the schema's type" if values else "an empty enum"
        )

    def object(self, schema: dict[str, Any], path: str, refs: tuple[str, ...]) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties") or {}
        required: list[str] = list(schema.get("required") or [])
        result: dict[str, Any] = {}
        for key in required:
            if key in properties:
                sub = properties[key]
            elif schema.get("additionalProperties") is False:
                raise SchemaUnsatisfiable(path, f"property {key!r} is required but not allowed")
            else:
                extra = schema.get("additionalProperties")
                sub = extra if isinstance(extra, dict) else True
            result[key] = self.value(sub, f"{path}.{key}", key, refs)
        wanted = int(schema.get("minProperties") or 0)
        if len(result) < wanted:
            raise SchemaUnsatisfiable(path, f"minProperties {wanted} exceeds the required properties")
        return result

    def array(self, schema: dict[str, Any], path: str, name: str, refs: tuple[str, ...]) -> list[Any]:
        low = int(schema.get("minItems") or 0)
        high = schema.get("maxItems")
        if high is not None and low > high:
            raise SchemaUnsatisfiable(path, f"minItems {low} > maxItems {high}")
        prefix = list(schema.get("prefixItems") or [])
        items = schema.get("items", True)
        values: list[Any] = []
        for index in range(low):
            sub = prefix[index] if index < len(prefix) else items
            if sub is False:
                raise SchemaUnsatisfiable(f"{path}[{index}]", "the array needs an item but allows none")
            values.append(self.value(sub, f"{path}[{index}]", name, refs))
        if not values and (high is None or high >= 1) and items is not False:
            # One item where none is required: a tool or UI reading the list gets something to show.
            # An item that cannot be built (a model that contains itself) leaves the list empty instead.
            with contextlib.suppress(SchemaUnsatisfiable):
                values.append(self.value(prefix[0] if prefix else items, f"{path}[0]", name, refs))
        if schema.get("uniqueItems") and len({repr(v) for v in values}) != len(values):
            raise SchemaUnsatisfiable(path, "uniqueItems with identical generated items")
        return values


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if key in ("properties",) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        elif key == "required" and key in merged:
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        else:
            merged[key] = value
    return merged


def _implied_type(schema: dict[str, Any]) -> str:
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema or "minItems" in schema:
        return "array"
    if {"minLength", "maxLength", "pattern", "format"} & schema.keys():
        return "string"
    if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"} & schema.keys():
        return "number"
    return "string"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _string(schema: dict[str, Any], path: str, name: str) -> str:
    low = int(schema.get("minLength") or 0)
    high = schema.get("maxLength")
    if high is not None and low > high:
        raise SchemaUnsatisfiable(path, f"minLength {low} > maxLength {high}")
    text = _FORMATS.get(str(schema.get("format")), name or "text")
    if len(text) < low:
        text = text + "x" * (low - len(text))
    if high is not None:
        text = text[: int(high)]
    pattern = schema.get("pattern")
    if pattern is not None and not re.search(pattern, text):
        raise SchemaUnsatisfiable(
            path,
            f"cannot write a string matching pattern {pattern!r} (the echo model does not invert patterns)",
        )
    return text


def _number(schema: dict[str, Any], path: str, kind: str) -> int | float:
    low, low_open = _bound(schema, "minimum", "exclusiveMinimum")
    high, high_open = _bound(schema, "maximum", "exclusiveMaximum")
    step = schema.get("multipleOf")
    integral = kind == "integer"
    unit: float | None = step if step else (1 if integral else None)
    if integral and step:
        # The smallest integer that is a multiple of the step: p for a step of p/q.
        unit = Fraction(step).limit_denominator(10**6).numerator
    candidate: float = 0
    if low is not None and (candidate < low or (low_open and candidate <= low)):
        if unit:
            candidate = math.floor(low / unit) * unit
            while candidate < low or (low_open and candidate <= low):
                candidate += unit
        else:
            candidate = low + 1 if low_open else low
            if high is not None and (candidate > high or (high_open and candidate >= high)):
                candidate = (low + high) / 2
    elif high is not None and (candidate > high or (high_open and candidate >= high)):
        if unit:
            candidate = math.ceil(high / unit) * unit
            while candidate > high or (high_open and candidate >= high):
                candidate -= unit
        else:
            candidate = high - 1 if high_open else high
            if low is not None and (candidate < low or (low_open and candidate <= low)):
                candidate = (low + high) / 2
    too_low = low is not None and (candidate < low or (low_open and candidate <= low))
    too_high = high is not None and (candidate > high or (high_open and candidate >= high))
    if too_low or too_high:
        raise SchemaUnsatisfiable(path, f"no {kind} lies within the bounds {low}..{high}")
    return int(candidate) if integral else candidate


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str) -> tuple[float | None, bool]:
    value = schema.get(exclusive)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value, True
    value = schema.get(inclusive)
    return (value, False) if isinstance(value, int | float) and not isinstance(value, bool) else (None, False)
