"""The JS client's TypeScript declarations name every field the server sends, and no field it does not.

A TypeScript app reads events through ``mozaiks-client.d.ts``: a field missing there (``request.component``,
which a migrated MozaiksAI workflow's UI tools need) is invisible to it. The server's models are the truth:
each interface that declares a ``type`` literal, and ``InputRequest``, must have exactly the fields of the
model behind it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from runtime_core import events
from runtime_core.deltas import TextDelta
from runtime_core.session import InputRequest

DECLARATIONS = (
    Path(__file__).resolve().parents[2]
    / "runtime_core"
    / "local"
    / "static"
    / "client"
    / "mozaiks-client.d.ts"
)
_INTERFACE = re.compile(r"^(?:export )?interface (\w+)(?: extends (\w+))? \{\n(.*?)^\}", re.M | re.S)
_FIELD = re.compile(r"^  (\w+)\??:", re.M)
_TYPE = re.compile(r'^  type: "(\w+)";', re.M)


def _interfaces() -> dict[str, tuple[str | None, str]]:
    text = DECLARATIONS.read_text(encoding="utf-8")
    return {m.group(1): (m.group(2), m.group(3)) for m in _INTERFACE.finditer(text)}


def _fields(name: str, interfaces: dict[str, tuple[str | None, str]]) -> set[str]:
    parent, body = interfaces[name]
    inherited = _fields(parent, interfaces) if parent else set()
    return inherited | set(_FIELD.findall(body))


def _event_models() -> dict[str, type[BaseModel]]:
    models: dict[str, type[BaseModel]] = {"text_delta": TextDelta}
    for value in vars(events).values():
        if isinstance(value, type) and issubclass(value, events.EventBase) and "type" in value.model_fields:
            models[value.model_fields["type"].default] = value
    return models


def _declared_events() -> dict[str, str]:
    """type literal -> interface name, for the session events (interfaces extending EventBase) and the live
    text (control replies declare types too: an ``error`` reply is not the ``error`` event)."""
    found = {}
    for name, (parent, body) in _interfaces().items():
        match = _TYPE.search(body)
        if match and (parent == "EventBase" or match.group(1) == "text_delta"):
            found[match.group(1)] = name
    return found


def test_every_server_event_has_a_declaration() -> None:
    assert set(_event_models()) <= set(_declared_events())


@pytest.mark.parametrize("event_type", sorted(_event_models()))
def test_an_events_declaration_has_the_fields_of_its_model(event_type: str) -> None:
    interfaces = _interfaces()
    declared = _fields(_declared_events()[event_type], interfaces)

    assert declared == set(_event_models()[event_type].model_fields)


def test_an_input_requests_declaration_has_the_fields_of_its_model() -> None:
    assert _fields("InputRequest", _interfaces()) == set(InputRequest.model_fields)
