"""All settings of one process: each group validated from the environment on first use, or all at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from runtime_core.config.groups import (
    EndpointSettings,
    FrameSettings,
    ModelSettings,
    QueueSettings,
    StoreSettings,
    TelemetrySettings,
    TracingSettings,
    WorkerSettings,
    WorkflowSettings,
)
from runtime_core.config.jwt_settings import JwtSettings
from runtime_core.config.reader import ConfigError, ConfigProblem, Environ, SecretFetcher
from runtime_core.config.variables import Group

_LOADERS: dict[Group, Callable[[Environ | None, SecretFetcher | None], Any]] = {
    Group.store: lambda env, fetch: StoreSettings.from_env(env, fetch),
    Group.jwt: lambda env, fetch: JwtSettings.from_env(env, fetch),
    Group.queue: lambda env, fetch: QueueSettings.from_env(env),
    Group.worker: lambda env, fetch: WorkerSettings.from_env(env),
    Group.endpoint: lambda env, fetch: EndpointSettings.from_env(env),
    Group.workflows: lambda env, fetch: WorkflowSettings.from_env(env),
    Group.frames: lambda env, fetch: FrameSettings.from_env(env),
    Group.telemetry: lambda env, fetch: TelemetrySettings.from_env(env),
    Group.model: lambda env, fetch: ModelSettings.from_env(env, fetch),
    Group.tracing: lambda env, fetch: TracingSettings.from_env(env),
}


class RuntimeSettings:
    """The settings groups of one process (one Lambda container, the local server, a test).

    A group is read and validated on first use and kept for the life of the object (a warm container reads the
    environment, and resolves secrets, once). ``require`` validates several groups together and raises one
    ``ConfigError`` listing every problem of all of them: what a cold start calls for its role.
    """

    def __init__(self, env: Environ | None = None, fetch: SecretFetcher | None = None) -> None:
        self._env = env
        self._fetch = fetch
        self._loaded: dict[Group, Any] = {}

    def group(self, group: Group) -> Any:
        if group not in self._loaded:
            self._loaded[group] = _LOADERS[group](self._env, self._fetch)
        return self._loaded[group]

    def require(self, groups: Iterable[Group]) -> None:
        problems: list[ConfigProblem] = []
        wanted = set(groups)
        # In the declaration order of Group, so the same problems always read the same way.
        for group in [g for g in Group if g in wanted]:
            try:
                self.group(group)
            except ConfigError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)

    @property
    def store(self) -> StoreSettings:
        return self.group(Group.store)  # type: ignore[no-any-return]

    @property
    def jwt(self) -> JwtSettings:
        return self.group(Group.jwt)  # type: ignore[no-any-return]

    @property
    def queue(self) -> QueueSettings:
        return self.group(Group.queue)  # type: ignore[no-any-return]

    @property
    def worker(self) -> WorkerSettings:
        return self.group(Group.worker)  # type: ignore[no-any-return]

    @property
    def endpoint(self) -> EndpointSettings:
        return self.group(Group.endpoint)  # type: ignore[no-any-return]

    @property
    def workflows(self) -> WorkflowSettings:
        return self.group(Group.workflows)  # type: ignore[no-any-return]

    @property
    def frames(self) -> FrameSettings:
        return self.group(Group.frames)  # type: ignore[no-any-return]

    @property
    def telemetry(self) -> TelemetrySettings:
        return self.group(Group.telemetry)  # type: ignore[no-any-return]

    @property
    def model(self) -> ModelSettings:
        return self.group(Group.model)  # type: ignore[no-any-return]

    @property
    def tracing(self) -> TracingSettings:
        return self.group(Group.tracing)  # type: ignore[no-any-return]
