"""Stand-in for the ``snapshot_restore_py`` library the Lambda Python runtime ships (aws/snapshot-restore-py),
with the same API: ``register_before_snapshot`` / ``register_after_restore`` (as calls with arguments, or as
decorators) record ``(func, args, kwargs)``; the runtime reads them back with ``get_before_snapshot`` /
``get_after_restore`` and runs them. The deployed-shape harness (``lambda_runtime.BOOTSTRAP``) plays the
runtime's part for functions with SnapStart; for the others, as on Lambda, registered hooks never run.
"""

from collections.abc import Callable
from typing import Any

Hook = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]

_before_snapshot: list[Hook] = []
_after_restore: list[Hook] = []


def register_before_snapshot(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
    _before_snapshot.append((func, args, kwargs))
    return func


def register_after_restore(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
    _after_restore.append((func, args, kwargs))
    return func


def get_before_snapshot() -> list[Hook]:
    return _before_snapshot


def get_after_restore() -> list[Hook]:
    return _after_restore
