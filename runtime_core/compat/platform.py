"""Services of the original MozaiksAI platform that tools import at module level, and this runtime lacks.

They exist so such a tool module loads; a tool that calls one gets a clear error as its tool result (the
model sees it, the client gets a ``tool_error``), never an import failure of the whole workflow.
``SimpleTransport.get_instance()`` returns None: there is no in-process transport between stateless steps
(the original's tools already treat None as "no transport").
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AG2PersistenceManager",
    "PersistenceManager",
    "PlatformUnavailable",
    "SimpleTransport",
    "get_mongo_client",
    "inject_bundle_attachments_into_payload",
    "subscription_manager",
]


class PlatformUnavailable(RuntimeError):
    pass


def _unavailable(what: str) -> PlatformUnavailable:
    return PlatformUnavailable(
        f"{what} is a service of the original MozaiksAI platform; MozaiksAI Runtime does not provide it "
        "(read data through a data_reference context variable, or use your own client in the tool)"
    )


class SimpleTransport:
    @classmethod
    async def get_instance(cls) -> None:
        return None


class PersistenceManager:
    """The original platform's MongoDB persistence (and its AG2 subclass): constructed freely, so a tool that
    makes one at module level loads; any use of it is the clear error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        raise _unavailable(f"{type(self).__name__}.{name}")


class AG2PersistenceManager(PersistenceManager):
    pass


def get_mongo_client(*args: Any, **kwargs: Any) -> Any:
    raise _unavailable("get_mongo_client")


def inject_bundle_attachments_into_payload(*args: Any, **kwargs: Any) -> Any:
    raise _unavailable("inject_bundle_attachments_into_payload")


class _SubscriptionManager:
    """mozaiks-core's subscription service: not part of this runtime."""

    def __getattr__(self, name: str) -> Any:
        raise _unavailable(f"subscription_manager.{name}")


subscription_manager = _SubscriptionManager()
