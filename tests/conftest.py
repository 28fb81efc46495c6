"""Test-wide guards. Tests never reach a real model: any attempt to open a connection to an LLM API fails.

The guard sits at the socket: a connection to anything but the loopback interface (local servers such as the
embedded MongoDB wire server are fine) raises at once, whatever library tried it. Model API keys are removed
from the environment so nothing picks a real provider by accident.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

MODEL_KEY_VARIABLES = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OAI_CONFIG_LIST")


class NetworkBlocked(RuntimeError):
    pass


def _is_loopback(address: Any) -> bool:
    if isinstance(address, str):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) and address else address
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise NetworkBlocked(f"tests may not open network connections (tried {address!r})")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise NetworkBlocked(f"tests may not open network connections (tried {address!r})")
    return _real_connect_ex(self, address)


_real_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    # Refuse before DNS: resolving a model API's host name is already a network call.
    name = host.decode() if isinstance(host, bytes) else host
    if not _is_loopback((name,)) and name != socket.gethostname():
        raise NetworkBlocked(f"tests may not resolve network host names (tried {name!r})")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _guarded_getaddrinfo
socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _no_model_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in MODEL_KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield
