"""A small model of a CloudFormation/SAM template, for tests that read template.yaml.

``load_template`` reads the YAML with CloudFormation's short tags (``!Ref``, ``!Sub``...) turned into their
long form, so the rest of the code sees one JSON-like shape. ``Resolver`` evaluates that shape for one set of
parameter values and made-up resource values: conditions, every intrinsic the template uses, each function's
environment (SAM ``Globals`` merged in) and its inline IAM statements. It is deliberately partial: anything it
does not model (SAM policy templates, managed policies, ``NotAction``) raises ``TemplateError`` instead of
being silently treated as "allowed" or "denied". Only pyyaml is needed: this runs in the unit-test
environment, not in the one holding cfn-lint and the SAM CLI.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class TemplateError(ValueError):
    """The template (or what the test asked of it) is outside what this model understands or allows."""


class _NoValue:
    def __repr__(self) -> str:
        return "NO_VALUE"


# What ``!Ref AWS::NoValue`` resolves to; dropped from the list or mapping that holds it.
NO_VALUE: Any = _NoValue()

_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in ("Sub", "GetAtt", "If", "Not", "Equals", "And", "Or", "Select", "Split", "Join", "Base64")
    },
}


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short tags (a fresh subclass, so yaml.SafeLoader stays untouched)."""


def _short_tag(loader: _TemplateLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if suffix not in _SHORT_TAGS:
        raise TemplateError(f"unknown tag !{suffix} at line {node.start_mark.line + 1}")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "GetAtt" and isinstance(value, str):
        # "Resource.Attribute": the attribute may contain dots (Endpoint.Address), the logical id cannot.
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {_SHORT_TAGS[suffix]: value}


_TemplateLoader.add_multi_constructor("!", _short_tag)


def load_template(path: Path) -> dict[str, Any]:
    """The template at ``path`` with every short tag in its long form (``{"Fn::Sub": ...}``)."""
    loaded = yaml.load(path.read_text(), Loader=_TemplateLoader)  # a SafeLoader: no arbitrary objects
    if not isinstance(loaded, dict):
        raise TemplateError(f"{path} is not a YAML mapping")
    return loaded


@dataclass
class Statement:
    """One IAM statement, resolved: actions and resources as written (wildcards kept)."""

    effect: str
    actions: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)

    def matches(self, action: str, resource: str) -> bool:
        # IAM action names are case-insensitive, ARNs are not; only * and ? are wildcards in IAM, so a "["
        # in a pattern is escaped before fnmatch would read it as a character class.
        return any(
            fnmatch.fnmatchcase(action.lower(), a.lower().replace("[", "[[]")) for a in self.actions
        ) and any(fnmatch.fnmatchcase(resource, r.replace("[", "[[]")) for r in self.resources)


DEFAULT_PSEUDO: dict[str, str] = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "mozaiks",
}
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    """Evaluates a loaded template for one set of parameter values.

    ``refs`` is the value of ``!Ref Resource`` for each resource the template refers to, ``attributes`` the
    value of ``!GetAtt Resource.Attr`` keyed ``"Resource.Attr"``: CloudFormation would only know them after
    creating the stack, so the caller makes them up (in a realistic shape, when ARNs are matched against
    policies).
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        refs: Mapping[str, str],
        attributes: Mapping[str, str],
        pseudo: Mapping[str, str] | None = None,
    ) -> None:
        self.template = template
        self.refs = dict(refs)
        self.attributes = dict(attributes)
        self.pseudo = {**DEFAULT_PSEUDO, **(pseudo or {})}
        self.resources: dict[str, Any] = dict(template.get("Resources") or {})
        self.parameters = self._parameter_values(template.get("Parameters") or {}, parameters)
        self._conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    @staticmethod
    def _parameter_values(declared: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, Any]:
        unknown = sorted(set(given) - set(declared))
        if unknown:
            # A misspelt parameter would otherwise leave the default silently in place.
            raise TemplateError(f"parameters {unknown} are not declared by the template")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in given:
                value = str(given[name])
            elif "Default" in spec:
                value = str(spec["Default"])
            else:
                raise TemplateError(f"parameter {name} has no default and no value was given")
            pattern = spec.get("AllowedPattern")
            # CloudFormation refuses such a stack; a test using the value would prove nothing.
            if pattern is not None and value != "" and not re.fullmatch(pattern, value):
                raise TemplateError(f"parameter {name}={value!r} does not match AllowedPattern {pattern}")
            if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
                raise TemplateError(f"parameter {name}={value!r} is not one of {spec['AllowedValues']}")
            is_list = str(spec.get("Type", "String")) == "CommaDelimitedList"
            values[name] = value.split(",") if is_list else value
        return values

    # --- intrinsics ---

    def condition(self, name: str) -> bool:
        if name in self._conditions:
            return self._conditions[name]
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise TemplateError(f"unknown condition {name}")
        if name in self._evaluating:
            raise TemplateError(f"condition {name} refers to itself")
        self._evaluating.add(name)
        try:
            result = self.value(conditions[name])
        finally:
            self._evaluating.discard(name)
        if not isinstance(result, bool):
            raise TemplateError(f"condition {name} is not a boolean: {result!r}")
        self._conditions[name] = result
        return result

    def value(self, node: Any) -> Any:
        """``node`` with every intrinsic resolved; ``NO_VALUE`` items are dropped from lists and mappings."""
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Ref" or key == "Condition" or key.startswith("Fn::"):
                return self._intrinsic(key, argument)
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}

    def _intrinsic(self, key: str, arg: Any) -> Any:
        match key:
            case "Ref":
                return self._ref(arg)
            case "Condition":
                return self.condition(arg)
            case "Fn::GetAtt":
                resource, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self._get_att(self.value(resource), self.value(attribute))
            case "Fn::Sub":
                return self._sub(arg)
            case "Fn::If":
                name, when_true, when_false = arg
                return self.value(when_true if self.condition(name) else when_false)
            case "Fn::Not":
                (inner,) = arg
                return not self._boolean(inner)
            case "Fn::And":
                return all(self._boolean(item) for item in arg)
            case "Fn::Or":
                return any(self._boolean(item) for item in arg)
            case "Fn::Equals":
                left, right = (self.value(item) for item in arg)
                return str(left) == str(right)
            case "Fn::Select":
                index, items = self.value(arg[0]), self.value(arg[1])
                return items[int(index)]
            case "Fn::Split":
                delimiter, text = self.value(arg[0]), self.value(arg[1])
                return str(text).split(str(delimiter))
            case "Fn::Join":
                delimiter, items = self.value(arg[0]), self.value(arg[1])
                return str(delimiter).join(str(item) for item in items)
        raise TemplateError(f"intrinsic {key} is not modelled")

    def _boolean(self, node: Any) -> bool:
        result = self.value(node)
        if not isinstance(result, bool):
            raise TemplateError(f"expected a condition, got {result!r}")
        return result

    def _ref(self, name: Any) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        if name in self.resources:
            raise TemplateError(f"no value was given for !Ref {name} (pass it in refs)")
        raise TemplateError(f"!Ref {name}: no such parameter, resource or pseudo parameter")

    def _get_att(self, resource: str, attribute: str) -> str:
        key = f"{resource}.{attribute}"
        if key in self.attributes:
            return self.attributes[key]
        if resource not in self.resources:
            raise TemplateError(f"!GetAtt {key}: no such resource")
        raise TemplateError(f"no value was given for !GetAtt {key} (pass it in attributes)")

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.value(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} is how Sub writes a literal "${Literal}"
            if name in variables:
                return str(variables[name])
            if "." in name and name not in self.pseudo:
                resource, attribute = name.split(".", 1)
                return self._get_att(resource, attribute)
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text)

    # --- functions ---

    def function_ids(self) -> list[str]:
        """Logical ids of the AWS::Serverless::Function resources the stack creates, in template order."""
        return [
            fid
            for fid, resource in self.resources.items()
            if resource.get("Type") == "AWS::Serverless::Function"
            and ("Condition" not in resource or self.condition(resource["Condition"]))
        ]

    def _properties(self, fid: str) -> dict[str, Any]:
        resource = self.resources.get(fid)
        if resource is None or resource.get("Type") != "AWS::Serverless::Function":
            raise TemplateError(f"{fid} is not an AWS::Serverless::Function")
        return dict(resource.get("Properties") or {})

    def _globals(self) -> dict[str, Any]:
        return dict((self.template.get("Globals") or {}).get("Function") or {})

    def handler(self, fid: str) -> str:
        handler = self._properties(fid).get("Handler", self._globals().get("Handler"))
        if handler is None:
            raise TemplateError(f"{fid} has no Handler")
        return str(self.value(handler))

    def code_uri(self, fid: str) -> str:
        uri = self._properties(fid).get("CodeUri", self._globals().get("CodeUri", "."))
        return str(self.value(uri))

    def setting(self, fid: str, name: str, default: Any = None) -> Any:
        """A scalar or structured property of the function, resolved; the Globals' when it has none."""
        properties, globals_ = self._properties(fid), self._globals()
        node = properties[name] if name in properties else globals_.get(name, default)
        value = self.value(node)
        return default if value is NO_VALUE else value

    def layer_ids(self, fid: str) -> list[str]:
        """Logical ids of the function's layers, in the order Lambda stacks them: SAM puts the function's own
        ``Layers`` after the Globals' (as its transform does; tests/deployment checks it on the transform)."""
        layers: list[str] = []
        for properties in (self._globals(), self._properties(fid)):
            for item in properties.get("Layers") or []:
                if not (isinstance(item, dict) and set(item) == {"Ref"} and item["Ref"] in self.resources):
                    raise TemplateError(f"{fid}: only a !Ref to a layer of the template is modelled: {item}")
                layers.append(str(item["Ref"]))
        return layers

    def snapstart(self, fid: str) -> bool:
        """Whether Lambda takes a snapshot of the function's published versions."""
        setting = self.setting(fid, "SnapStart", {})
        return isinstance(setting, dict) and setting.get("ApplyOn") == "PublishedVersions"

    def _variables(self, fid: str) -> dict[str, Any]:
        """The function's environment as written, Globals first: SAM merges maps, the function's keys win."""
        merged: dict[str, Any] = {}
        for properties in (self._globals(), self._properties(fid)):
            variables = (properties.get("Environment") or {}).get("Variables") or {}
            if not isinstance(variables, dict):
                raise TemplateError(f"{fid}: Environment.Variables must be a mapping, not an intrinsic")
            merged.update(variables)
        return merged

    def declared(self, fid: str) -> set[str]:
        """Every variable the template names for the function, whatever its value (even ``AWS::NoValue``).

        ``sam local invoke --env-vars`` can set exactly these: its resolver turns NoValue into a blank."""
        return set(self._variables(fid))

    def environment(self, fid: str) -> dict[str, str]:
        """The function's environment as Lambda gets it: resolved, NoValue dropped, every value a str."""
        resolved: dict[str, str] = {}
        for name, node in self._variables(fid).items():
            value = self.value(node)
            if value is NO_VALUE:
                continue
            if isinstance(value, (dict, list)):
                raise TemplateError(f"{fid}: {name} does not resolve to a scalar: {value!r}")
            # CloudFormation writes YAML booleans as "true"/"false", not Python's "True".
            resolved[name] = str(value).lower() if isinstance(value, bool) else str(value)
        return resolved

    def statements(self, fid: str) -> list[Statement]:
        """The statements of the function's inline policy documents (``Policies``)."""
        policies = self._properties(fid).get("Policies", self._globals().get("Policies", []))
        policies = self.value(policies)
        if not isinstance(policies, list):
            policies = [policies]
        statements: list[Statement] = []
        for policy in policies:
            if isinstance(policy, str):
                raise TemplateError(f"{fid}: managed policy {policy!r} is not modelled (statements unknown)")
            if not isinstance(policy, dict) or "Statement" not in policy:
                names = sorted(policy) if isinstance(policy, dict) else policy
                raise TemplateError(
                    f"{fid}: policy {names} is not an inline policy document; SAM policy templates "
                    "(e.g. SQSSendMessagePolicy) are not modelled: write the statement out"
                )
            body = policy["Statement"]
            for raw in body if isinstance(body, list) else [body]:
                statements.append(self._statement(fid, raw))
        return statements

    @staticmethod
    def _statement(fid: str, raw: Any) -> Statement:
        if not isinstance(raw, dict):
            raise TemplateError(f"{fid}: a statement is not a mapping: {raw!r}")
        unsupported = sorted({"NotAction", "NotResource", "NotPrincipal"} & set(raw))
        if unsupported:
            raise TemplateError(f"{fid}: {unsupported} in a statement are not modelled")
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise TemplateError(f"{fid}: statement Effect must be Allow or Deny, got {effect!r}")

        def strings(key: str) -> list[str]:
            value = raw.get(key, [])
            items = value if isinstance(value, list) else [value]
            if not items or not all(isinstance(item, str) and item for item in items):
                raise TemplateError(f"{fid}: statement {key} must be non-empty strings, got {value!r}")
            return list(items)

        return Statement(effect=effect, actions=strings("Action"), resources=strings("Resource"))

    def allows(self, fid: str, action: str, resource: str) -> bool:
        """Whether the function's policies allow ``action`` on ``resource`` (an explicit Deny wins)."""
        statements = self.statements(fid)
        if any(s.effect == "Deny" and s.matches(action, resource) for s in statements):
            return False
        return any(s.effect == "Allow" and s.matches(action, resource) for s in statements)
