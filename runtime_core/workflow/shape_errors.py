"""Turn pydantic's ``ValidationError`` of one file into ``WorkflowError`` s: a line and a readable message.

Pydantic's locations include union branch tags (``system_message.list[PromptSection].0.title``) and its
messages speak Python ("Input should be a valid integer, unable to parse string as an integer"). Here each
location is walked against the model's types to drop those tags and to know the allowed keys (for "did you
mean"), and the common messages are rewritten in YAML terms.
"""

from __future__ import annotations

import re
import types
import typing
from collections import defaultdict
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from runtime_core.workflow.errors import WorkflowError
from runtime_core.workflow.spec import LLMConfig
from runtime_core.workflow.suggestions import did_you_mean
from runtime_core.workflow.yaml_source import FieldPath, LineMap, format_path

# Keys people write when they paste a secret; the answer is always the same.
_SECRET_KEYS = {"api_key", "apikey", "openai_api_key", "key", "secret", "token", "password"}
# Names people bring from other tools (and from the original dialect) for fields that exist under another
# name here; difflib alone finds none of them ("from" is too short to be close to "from_agent").
ALIASES = {
    "from": "from_agent",
    "source": "from_agent",
    "source_agent": "from_agent",
    "to": "to_agent",
    "target": "to_agent",
    "target_agent": "to_agent",
    "when": "condition",
    "prompt": "system_message",
    "instructions": "system_message",
    "system_prompt": "system_message",
    "functions": "tools",
    "strategy": "orchestration_strategy",
    "pattern": "orchestration_strategy",
    "orchestration_pattern": "orchestration_strategy",
    "max_rounds": "max_turns",
    "visual_agents": "visible_agents",
    "type": "kind",
    "tool_type": "kind",
    "env": "env_var",
    "path": "file",
    "filename": "file",
    "value": "default",
    "variables": "context_variables",
    "outputs": "models",
    "output_model": "structured_output",
}
# Values that look like credentials are never echoed: validation output ends up in CI logs.
_SECRET_VALUE = re.compile(r"^(sk-|sk_|pk_|rk_|ghp_|gho_|xox[abp]-|AKIA|AIza)|^[A-Za-z0-9_\-+/=.]{32,}$")


def _unwrap(tp: Any) -> Any:
    """Drop ``Annotated`` and ``None`` from ``X | None``; keep real unions."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


def _tag(tp: Any) -> str:
    """The tag pydantic puts in a location for a union branch of type ``tp``."""
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if origin is list:
        return f"list[{_tag(typing.get_args(tp)[0])}]"
    return getattr(tp, "__name__", str(tp))


def _describe_type(tp: Any, plural: bool = False) -> str:
    tp = _unwrap(tp)
    if typing.get_origin(tp) is list:
        return f"a list of {_describe_type(typing.get_args(tp)[0], plural=True)}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"{tp.__name__} mappings" if plural else f"a {tp.__name__} mapping"
    names = {str: ("text", "texts"), int: ("an integer", "integers"), float: ("a number", "numbers")}
    singular, many = names.get(tp, (_tag(tp), _tag(tp)))
    return many if plural else singular


def describe_value(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        if _SECRET_VALUE.search(value.strip()):
            return "a value that looks like a secret (not shown)"
        return f"'{value}'" if len(value) <= 40 else f"'{value[:37]}...'"
    return repr(value)


class _Walk:
    """Result of walking one error location against the model types."""

    def __init__(self) -> None:
        self.clean: list[str | int] = []
        # (clean location of the union, tag of the branch, the branch types)
        self.union: tuple[FieldPath, str, tuple[Any, ...]] | None = None
        # The model whose fields the last key belongs to (for unknown-key suggestions).
        self.parent_model: type[BaseModel] | None = None


def _walk(model: type[BaseModel], loc: tuple[str | int, ...]) -> _Walk:
    walk = _Walk()
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp) if tp is not None else None
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType) and isinstance(part, str):
            branches = tuple(a for a in typing.get_args(tp) if a is not type(None))
            chosen = next((b for b in branches if _tag(b) == part), None)
            if chosen is not None:
                if walk.union is None:
                    walk.union = (tuple(walk.clean), part, branches)
                tp = chosen
                continue
        walk.clean.append(part)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            walk.parent_model = tp
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            tp = field.annotation if field is not None else None
        elif origin is list:
            tp = typing.get_args(tp)[0]
        else:
            tp = None
    return walk


def _value_at(data: Any, path: FieldPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _message(err: ErrorDetails, walk: _Walk) -> str:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    last = walk.clean[-1] if walk.clean else ""
    if kind == "missing":
        return f"required field '{last}' is missing"
    if kind == "extra_forbidden":
        if str(last).lower() in _SECRET_KEYS:
            return (
                f"unknown field '{last}': never write secrets in YAML; put the key in an environment "
                "variable and name that variable in api_key_env (llm_config)"
            )
        allowed = list(walk.parent_model.model_fields) if walk.parent_model else []
        alias = ALIASES.get(str(last).lower())
        hint = f"; did you mean '{alias}'?" if alias in allowed else did_you_mean(str(last), allowed)
        if not hint and "llm_config" in allowed and last in LLMConfig.model_fields:
            hint = "; it belongs under llm_config"
        return f"unknown field '{last}'{hint}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        where = " at the top of the file" if not walk.clean else ""
        return f"expected a mapping (key: value){where}, got {describe_value(value)}"
    if kind == "list_type":
        return f"expected a list, got {describe_value(value)}"
    if kind == "string_type":
        return f"expected text, got {describe_value(value)}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected an integer, got {describe_value(value)}"
    if kind in ("float_parsing", "float_type"):
        return f"expected a number, got {describe_value(value)}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {describe_value(value)}"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == r"^[A-Z_][A-Z0-9_]*$":
            # The value is not echoed: a key pasted here instead of a variable name must not reach logs.
            return (
                "must name an environment variable (capitals, digits, _), e.g. OPENAI_API_KEY, not hold a key"
            )
        return (
            f"{describe_value(value)} is not a valid name: use letters, digits and underscores, "
            "not starting with a digit"
        )
    if kind == "string_too_long":
        return f"is longer than {ctx.get('max_length')} characters"
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    if kind in bounds:
        limit = next(iter(ctx.values()), "?")
        return f"must be {bounds[kind]} {limit}, got {describe_value(value)}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s), got {ctx.get('actual_length', 0)}"
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", ""))
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",") if o.strip()]
        hint = did_you_mean(str(value), options) if isinstance(value, str) else ""
        return f"unknown value {describe_value(value)}; expected one of: {', '.join(options)}{hint}"
    return err["msg"]


def validation_errors(
    exc: ValidationError, model: type[BaseModel], data: Any, file: str, lines: LineMap
) -> list[WorkflowError]:
    """Every error of ``exc`` as a ``WorkflowError`` of ``file``, in the order of the file."""
    plain: list[tuple[FieldPath, str]] = []
    # Errors inside a union, grouped by the union's location then by branch tag.
    unions: dict[FieldPath, dict[str, list[tuple[FieldPath, str]]]] = defaultdict(lambda: defaultdict(list))
    union_branches: dict[FieldPath, tuple[Any, ...]] = {}
    for err in exc.errors(include_url=False):
        walk = _walk(model, tuple(err["loc"]))
        entry = (tuple(walk.clean), _message(err, walk))
        if walk.union is None:
            plain.append(entry)
        else:
            where, tag, branches = walk.union
            unions[where][tag].append(entry)
            union_branches[where] = branches
    for where, by_tag in unions.items():
        plain.extend(_pick_branch(where, by_tag, union_branches[where], _value_at(data, where)))
    seen: set[tuple[FieldPath, str]] = set()
    out: list[WorkflowError] = []
    for path, message in plain:
        if (path, message) in seen:
            continue
        seen.add((path, message))
        out.append(
            WorkflowError(file=file, line=lines.line_of(path), field=format_path(path), message=message)
        )
    return sorted(out, key=lambda e: e.line or 0)


def _pick_branch(
    where: FieldPath, by_tag: dict[str, list[tuple[FieldPath, str]]], branches: tuple[Any, ...], value: Any
) -> list[tuple[FieldPath, str]]:
    """The errors of the branch the author evidently meant, or one "expected X or Y" error."""
    for branch in branches:
        tp = _unwrap(branch)
        container = typing.get_origin(tp) is list and isinstance(value, list)
        mapping = isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(value, dict)
        if (container or mapping) and _tag(branch) in by_tag:
            return by_tag[_tag(branch)]
    expected = " or ".join(_describe_type(b) for b in branches)
    return [(where, f"expected {expected}, got {describe_value(value)}")]
