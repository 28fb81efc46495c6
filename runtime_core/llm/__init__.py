"""Model providers for the engine: a real OpenAI-compatible endpoint, a script replayed offline, or the
offline echo model."""

from runtime_core.llm.choice import choose_provider
from runtime_core.llm.echo import EchoModel
from runtime_core.llm.provider import ModelConfigError, ModelProvider, OpenAIModel
from runtime_core.llm.script import Script, load_script
from runtime_core.llm.scripted import ScriptedModel, ScriptExhausted

__all__ = [
    "EchoModel",
    "ModelConfigError",
    "ModelProvider",
    "OpenAIModel",
    "Script",
    "ScriptExhausted",
    "ScriptedModel",
    "choose_provider",
    "load_script",
]
