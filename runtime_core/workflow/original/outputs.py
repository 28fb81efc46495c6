"""structured_outputs.yaml of the original dialect: a ``models`` mapping, the agent -> model ``registry``."""

from __future__ import annotations

from typing import Any

from runtime_core.workflow.original.mapping import Translation, Writer
from runtime_core.workflow.suggestions import did_you_mean
from runtime_core.workflow.yaml_source import FieldPath, LineMap

_SCALARS = {
    "str": "str",
    "string": "str",
    "int": "int",
    "integer": "int",
    "float": "float",
    "number": "float",
}
_SCALARS |= {"List": "list", "Dict": "dict"}
_SCALARS |= {
    "bool": "bool",
    "boolean": "bool",
    "dict": "dict",
    "object": "dict",
    "list": "list",
    "array": "list",
}
_FIELD_KEYS = {"type", "description", "default", "items", "variants", "values", "required", "nullable"}


def structured_outputs(data: dict[str, Any], lines: LineMap) -> tuple[Translation, dict[str, Any]]:
    """The models, and the registry (agent -> (model or None, path)) for the cross-file step."""
    w = Writer("structured_outputs.yaml", lines)
    base: FieldPath = ("structured_outputs",) if "structured_outputs" in data else ()
    block = (
        data.get("structured_outputs", data) if isinstance(data.get("structured_outputs", data), dict) else {}
    )
    for extra in sorted(block.keys() - {"models", "registry"}):
        w.error((*base, extra), f"unknown field '{extra}'{did_you_mean(str(extra), ['models', 'registry'])}")
    models = block.get("models") or {}
    out = []
    if not isinstance(models, dict):
        w.error((*base, "models"), "expected a mapping of model name -> model")
        models = {}
    for index, (name, model) in enumerate(models.items()):
        at: FieldPath = (*base, "models", name)
        position: FieldPath = ("models", index)
        w.map(position, at)
        w.map((*position, "name"), at)
        if not isinstance(model, dict):
            w.error(at, "expected a model (type: model, fields: ...)")
            continue
        if model.get("type", "model") != "model":
            w.error((*at, "type"), f"unknown model type {model.get('type')!r}; expected model")
        model_keys = ["type", "description", "fields", "required"]
        for extra in sorted(model.keys() - set(model_keys)):
            w.error(
                (*at, extra),
                f"unknown field '{extra}'{did_you_mean(str(extra), model_keys)}",
            )
        if "required" in model:
            w.warn(
                (*at, "required"),
                "ignored, as in the original runtime: every field without a default is required",
            )
        fields = model.get("fields")
        if not isinstance(fields, dict):
            w.error((*at, "fields"), "expected a mapping of field name -> field")
            continue
        new_fields = []
        for f_index, (f_name, spec) in enumerate(fields.items()):
            f_at: FieldPath = (*at, "fields", f_name)
            f_pos: FieldPath = (*position, "fields", f_index)
            w.map(f_pos, f_at)
            w.map((*f_pos, "name"), f_at)
            made = _field(w, f_at, f_pos, f_name, spec)
            if made is None:
                continue
            new_fields.append(made)
        entry: dict[str, Any] = {"name": name, "fields": new_fields}
        if model.get("description"):
            entry["description"] = model["description"]
            w.map((*position, "description"), (*at, "description"))
        w.map((*position, "fields"), (*at, "fields"))
        out.append(entry)
    registry: dict[str, Any] = {}
    raw_registry = block.get("registry") or {}
    if isinstance(raw_registry, list):
        raw_registry = {
            e.get("agent"): e.get("agent_definition") for e in raw_registry if isinstance(e, dict)
        }
    if not isinstance(raw_registry, dict):
        w.error((*base, "registry"), "expected a mapping of agent name -> model name (or null)")
        raw_registry = {}
    for agent, model_name in raw_registry.items():
        registry[str(agent)] = (model_name, (*base, "registry", agent))
    w.map(("models",), (*base, "models"))
    w.out.data = {"models": out}
    return w.out, registry


def _is_null(variant: Any) -> bool:
    return variant is None or (isinstance(variant, str) and variant.strip().lower() in ("null", "none"))


def _field(w: Writer, at: FieldPath, position: FieldPath, name: str, spec: Any) -> dict[str, Any] | None:
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict):
        w.error(at, "expected a field (type: ..., description: ...)")
        return None
    for extra in sorted(spec.keys() - _FIELD_KEYS):
        w.error((*at, extra), f"unknown field '{extra}'{did_you_mean(str(extra), sorted(_FIELD_KEYS))}")
    out: dict[str, Any] = {"name": name}
    kind = spec.get("type")
    w.map((*position, "type"), (*at, "type"))
    if "required" in spec:
        w.warn(
            (*at, "required"),
            "ignored, as in the original runtime: a field is optional when it has a default",
        )
    for key in ("description", "nullable"):
        if key in spec and spec[key] is not None:
            out[key] = spec[key]
            w.map((*position, key), (*at, key))
    if "default" in spec:
        out["default"] = spec["default"]
        out["required"] = False
        out["nullable"] = out.get("nullable", False) or spec["default"] is None
        w.map((*position, "default"), (*at, "default"))
    items = spec.get("items")
    if kind in ("list", "array", "optional_list"):
        inner = _SCALARS.get(items, items) if isinstance(items, str) else None
        out["type"] = f"list[{inner}]" if inner and inner != "list" else "list"
        if items is not None and not isinstance(items, str):
            w.error((*at, "items"), "expected the name of the item type (str, int, a model name...)")
        if kind == "optional_list":
            # The original built Optional[list[...]] with default None.
            out.update(required=False, nullable=True)
            out.setdefault("default", None)
    elif kind == "literal":
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            w.error((*at, "values"), "a literal field needs values (a list)")
            return None
        out["type"] = "int" if all(isinstance(v, int) and not isinstance(v, bool) for v in values) else "str"
        out["enum"] = values
        w.map((*position, "enum"), (*at, "values"))
    elif kind == "union":
        variants = spec.get("variants")
        if not isinstance(variants, list) or not variants:
            w.error((*at, "variants"), "a union field needs variants (a list of types)")
            return None
        types = [_SCALARS.get(v, v) for v in variants if not _is_null(v)]
        if len(types) < len(variants):
            out["nullable"] = True
        if len(types) == 1:
            out["type"] = types[0]
        else:
            out["type"] = "union"
            out["variants"] = types
            w.map((*position, "variants"), (*at, "variants"))
    elif kind in ("optional_str", "Optional[str]"):
        out.update(type="str", nullable=True)
    elif isinstance(kind, str):
        out["type"] = _SCALARS.get(kind, kind)
    else:
        w.error((*at, "type"), "a field needs a type")
        return None
    return out
