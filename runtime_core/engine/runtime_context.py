"""The runtime's own context variables: who the session belongs to, which session, which workflow.

Every tool sees them in ``context_variables`` (published MozaiksAI tools read ``app_id``, ``user_id``,
``chat_id`` and ``workflow_name`` there). They come from the session record, whose ``app_id`` and ``user_id``
the verified JWT set when the session was created; they are put into the group's context at the start of
every step (``Group.begin``) and taken out before the context is persisted, so nothing stored (nor anything
a client frame could ever put in the stored context) decides them. A tool that changes one is undone at
once, with a warning naming the tool and the keys.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import Any

from runtime_core.session import SessionState

# ``chat_id`` is the original runtime's name for the session id.
RUNTIME_KEYS = ("app_id", "user_id", "session_id", "chat_id", "workflow_name")

LOG = logging.getLogger("runtime_core.tools")


def runtime_values(state: SessionState, workflow_name: str) -> dict[str, str]:
    return {
        "app_id": state.app_id,
        "user_id": state.user_id,
        "session_id": state.session_id,
        "chat_id": state.session_id,
        "workflow_name": workflow_name,
    }


def without_runtime(context: Mapping[str, Any]) -> dict[str, Any]:
    """``context`` as it may be persisted: without the runtime's keys."""
    return {k: v for k, v in context.items() if k not in RUNTIME_KEYS}


def restore_runtime(data: MutableMapping[str, Any], runtime: Mapping[str, str], changed_by: str) -> list[str]:
    """Put back every runtime key ``changed_by`` changed or removed; the keys it touched, in order."""
    touched = [k for k, v in runtime.items() if k not in data or data[k] != v]
    if touched:
        data.update(runtime)
        LOG.warning(
            "%s changed the runtime context (%s); the change is ignored: these keys are read-only",
            changed_by,
            ", ".join(touched),
        )
    return touched
