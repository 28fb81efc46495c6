"""Warm containers remember: built AG2 groups (agents, their clients, the group chat) kept per process.

Building a workflow's agents costs milliseconds to tens of milliseconds a step (AG2 builds an OpenAI client
per agent, inspects every tool's signature, prepares the pattern); a warm Lambda or ``mozaiks serve`` can
keep them. A built group holds nothing of a session once ``Group.begin`` has reset it, so any step of the
same workflow can use it.

What a group depends on is its key: the workflow's content hash (the compiled workflow is cached under the
same hash), the provider's client settings for every model the workflow uses (API key, base URL, timeout:
they are baked into AG2's clients; only a digest is kept), and whether the first message names a speaker
(the one thing ``prepare_group_chat`` reads from it). The model transport, counts and hooks are the step's
own and reach the agents through ``MeteredClient.bind``.

Thread safety: ``mozaiks serve`` runs steps of different sessions on different threads at once. A group is
leased to one step at a time: ``acquire`` hands out an idle group of the key (or builds a new one, outside
the lock), ``release`` puts it back. Two concurrent steps of one workflow get two groups (a pool per key, not
a lock: a lock would make one session wait for another's model call, seconds). ``acquire`` refuses a group
that is already leased, so the invariant is checked, not assumed.

A group goes back to the pool only after a step that ended normally (finished, awaiting input or running
on); after a failure or a crash it is dropped and the next step builds a new one. The pool keeps at most
``max_idle`` idle groups per key and ``max_keys`` keys (least recently used first out), so old workflow
versions do not pile up in a long-lived process.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from runtime_core.engine import tuning
from runtime_core.engine.compiler import CompiledWorkflow
from runtime_core.engine.group import Group, build_group
from runtime_core.llm.meter import CallMeter
from runtime_core.llm.provider import ModelProvider
from runtime_core.session import SessionState
from runtime_core.workflow.spec import OrchestrationStrategy

GroupKey = tuple[str, str, bool]


class GroupPool:
    """Idle built groups by key; see the module doc for the rules."""

    def __init__(self, max_keys: int = 16, max_idle: int = 4) -> None:
        self.max_keys = max_keys
        self.max_idle = max_idle
        self._idle: OrderedDict[GroupKey, list[Group]] = OrderedDict()
        self._leased: set[int] = set()
        self._lock = threading.Lock()
        # Counts for tests and the bench.
        self.builds = 0
        self.reuses = 0

    def acquire(self, key: GroupKey, build: Callable[[], Group]) -> Group:
        group: Group | None = None
        if tuning.current().reuse_groups:
            with self._lock:
                idle = self._idle.get(key)
                if idle:
                    group = idle.pop()
                    self._idle.move_to_end(key)
        if group is None:
            group = build()  # slow, and needs no lock: nobody else can see this group yet
            reused = False
        else:
            reused = True
        with self._lock:
            if id(group) in self._leased:
                raise RuntimeError("a built group was handed to two steps at once")
            self._leased.add(id(group))
            if reused:
                self.reuses += 1
            else:
                self.builds += 1
        return group

    def release(self, key: GroupKey, group: Group, *, keep: bool) -> None:
        """The step is over; ``keep`` when it ended normally (see the module doc)."""
        with self._lock:
            self._leased.discard(id(group))
            if not (keep and tuning.current().reuse_groups):
                return
            idle = self._idle.setdefault(key, [])
            self._idle.move_to_end(key)
            if len(idle) < self.max_idle:
                idle.append(group)
            while len(self._idle) > self.max_keys:
                self._idle.popitem(last=False)

    def idle(self, key: GroupKey | None = None) -> int:
        with self._lock:
            if key is not None:
                return len(self._idle.get(key, []))
            return sum(len(groups) for groups in self._idle.values())

    def clear(self) -> None:
        with self._lock:
            self._idle.clear()
            self.builds = self.reuses = 0


POOL = GroupPool()


def group_key(compiled: CompiledWorkflow, provider: ModelProvider, first_message: Any) -> GroupKey:
    """What a built group depends on besides the step (see the module doc). Raises what the provider raises
    for a missing API key, as building the agents would."""
    llms = [agent.llm for agent in compiled.agents]
    if compiled.strategy == OrchestrationStrategy.auto:
        llms.append(compiled.manager_llm)
    options = [provider.client_options(llm.api_key_env, llm.base_url, llm.timeout) for llm in llms]
    digest = hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()
    named = isinstance(first_message, dict) and "name" in first_message
    return (compiled.workflow.instance_key, digest, named)


class Lease:
    """One step's use of a group: ``begin`` it, and give it back (or drop it) when the step is over."""

    def __init__(self, pool: GroupPool, key: GroupKey, group: Group) -> None:
        self.pool, self.key, self.group = pool, key, group

    def release(self, *, keep: bool) -> None:
        # A dropped group (the step failed) is not scrubbed: nothing will use it, and its state may be odd.
        self.group.end(scrub=keep and tuning.current().reuse_groups)
        self.pool.release(self.key, self.group, keep=keep)


def lease_group(
    compiled: CompiledWorkflow,
    state: SessionState,
    provider: ModelProvider,
    meter: CallMeter,
    first_message: dict[str, Any],
    pool: GroupPool = POOL,
) -> Lease:
    """A group for this step, reset for ``state`` and bound to ``meter``."""
    key = group_key(compiled, provider, first_message)
    group = pool.acquire(key, lambda: build_group(compiled, state, provider, first_message))
    lease = Lease(pool, key, group)
    try:
        group.begin(state, meter)
    except BaseException:
        lease.release(keep=False)
        raise
    return lease
