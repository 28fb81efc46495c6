"""Named points where a test can make the process die, to prove recovery from each of them.

Production code calls ``point("after_commit")`` and the like at the boundaries that matter for delivery
(before the model call, after a reply, between tools, before and after the commit, after the posts, after
queueing the next step). Nothing happens unless a test installed a hook (``install``): the crash-injection
tests install one that kills the process (``os._exit``) at the chosen point, in a fresh worker process or in
``mozaiks serve``. No environment variable can turn this on in a deployment.
"""

from __future__ import annotations

from collections.abc import Callable

POINTS = (
    "before_model",
    "after_reply",
    "between_tools",
    "before_commit",
    "after_commit",
    "after_post",
    "after_enqueue",
)

_hook: Callable[[str], None] | None = None


def point(name: str) -> None:
    if _hook is not None:
        _hook(name)


def install(hook: Callable[[str], None] | None) -> None:
    """Set (or with None, remove) the process-wide hook called at every point."""
    global _hook
    _hook = hook
