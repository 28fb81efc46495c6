"""The engine: a compiled workflow + a session state + a model provider -> one step's result.

``run_step`` is the whole interface a step worker needs; AG2 is imported only when a step runs.
"""

from runtime_core.engine.step import StepResult, cancel_step, run_step
from runtime_core.session import new_session

__all__ = ["StepResult", "cancel_step", "new_session", "run_step"]
