"""Runtime configuration read from environment variables, validated once per container.

``variables`` declares every variable; ``reader`` reads them (resolving ``NAME_ARN`` secrets) and collects
problems; ``groups`` holds one pydantic model per concern; ``runtime`` loads the groups a process needs.
"""

from runtime_core.config.groups import (
    API_GATEWAY_MAX_FRAME_BYTES,
    API_GATEWAY_MAX_MESSAGE_BYTES,
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
from runtime_core.config.jwt_settings import (
    HMAC_ALGORITHMS,
    MIN_HMAC_SECRET_BYTES,
    PUBLIC_KEY_ALGORITHMS,
    JwtSettings,
)
from runtime_core.config.reader import (
    ConfigError,
    ConfigProblem,
    Environ,
    SecretFetcher,
    clear_secret_cache,
    fetch_secret,
)
from runtime_core.config.runtime import RuntimeSettings
from runtime_core.config.variables import VARIABLES, Group, Variable, variables_of

__all__ = [
    "API_GATEWAY_MAX_FRAME_BYTES",
    "API_GATEWAY_MAX_MESSAGE_BYTES",
    "HMAC_ALGORITHMS",
    "MIN_HMAC_SECRET_BYTES",
    "PUBLIC_KEY_ALGORITHMS",
    "VARIABLES",
    "ConfigError",
    "ConfigProblem",
    "EndpointSettings",
    "Environ",
    "FrameSettings",
    "Group",
    "JwtSettings",
    "ModelSettings",
    "QueueSettings",
    "RuntimeSettings",
    "SecretFetcher",
    "StoreSettings",
    "TelemetrySettings",
    "TracingSettings",
    "Variable",
    "WorkerSettings",
    "WorkflowSettings",
    "clear_secret_cache",
    "fetch_secret",
    "variables_of",
]
