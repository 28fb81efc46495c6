"""The settings groups, each validated from the environment on its own.

Each handler loads only the groups its role needs (the connect handler needs ``JwtSettings``, which lives in
``jwt_settings``; the worker does not), so a missing variable fails the function that uses it and no other.
Every problem names the variable to fix, and all problems of a group are reported at once. Which variables
exist, and what unset means for each, is ``runtime_core.config.variables``.
"""

from __future__ import annotations

import re
from typing import Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from runtime_core.config.reader import Environ, Reader, SecretFetcher

API_GATEWAY_MAX_MESSAGE_BYTES = 128 * 1024
# The least a step's model work may be given (one model call's worth).
MIN_MODEL_SECONDS = 20
API_GATEWAY_MAX_FRAME_BYTES = 32 * 1024

_SETTINGS = ConfigDict(frozen=True, extra="forbid")


class StoreSettings(BaseModel):
    model_config = _SETTINGS

    mongodb_uri: SecretStr
    db_name: str = "mozaiks"
    recovery_grace_seconds: int = Field(default=30, ge=1, le=3600)

    @classmethod
    def from_env(cls, env: Environ | None = None, fetch: SecretFetcher | None = None) -> Self:
        r = Reader(env, fetch)
        uri = r.secret("MONGODB_URI")
        if uri is None and not r.problems:
            r.fail("MONGODB_URI", "is required (or MONGODB_URI_ARN: a Secrets Manager / SSM parameter ARN)")
        elif uri is not None and not uri.startswith(("mongodb://", "mongodb+srv://")):
            r.fail("MONGODB_URI", "must start with mongodb:// or mongodb+srv://")
        db_name = r.text("MOZAIKS_DB_NAME", "mozaiks") or "mozaiks"
        # MongoDB refuses these characters in database names; say so at start, not at the first query.
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,63}", db_name):
            r.fail(
                "MOZAIKS_DB_NAME", f"must be 1-63 characters of letters, digits, '_' or '-', got {db_name!r}"
            )
        grace = r.integer("MOZAIKS_RECOVERY_GRACE_SECONDS", 30, 1, 3600)
        r.done()
        return cls(mongodb_uri=SecretStr(uri or ""), db_name=db_name, recovery_grace_seconds=grace)


class QueueSettings(BaseModel):
    model_config = _SETTINGS

    step_queue_url: str

    @classmethod
    def from_env(cls, env: Environ | None = None) -> Self:
        r = Reader(env, None)
        url = r.required("MOZAIKS_STEP_QUEUE_URL", "the SQS FIFO step queue URL")
        if url and not url.endswith(".fifo"):
            r.fail(
                "MOZAIKS_STEP_QUEUE_URL",
                "must be a FIFO queue (URL ending in .fifo): steps are ordered per session by MessageGroupId",
            )
        r.done()
        return cls(step_queue_url=url)


class WorkerSettings(BaseModel):
    """The step worker's time settings, checked against each other: a contradiction is refused at start.

    The lease is short and renewed by a heartbeat (a third of it) while the step runs, so a dead step loses
    its session within one lease. The model work of a step must end ``margin_seconds`` before the invocation's
    deadline (the function's timeout) so that the commit, the posts and an error event always happen.
    """

    model_config = _SETTINGS

    lease_seconds: int = Field(default=30, ge=10, le=900)
    margin_seconds: int = Field(default=10, ge=1, le=300)
    timeout_seconds: int = Field(default=300, ge=10, le=900)

    @classmethod
    def from_env(cls, env: Environ | None = None) -> Self:
        r = Reader(env, None)
        lease = r.integer("MOZAIKS_STEP_LEASE_SECONDS", 30, 10, 900)
        margin = r.integer("MOZAIKS_STEP_MARGIN_SECONDS", 10, 1, 300)
        timeout = r.integer("MOZAIKS_WORKER_TIMEOUT_SECONDS", 300, 10, 900)
        if not r.problems:
            if lease > timeout:
                r.fail(
                    "MOZAIKS_STEP_LEASE_SECONDS",
                    f"is {lease}, longer than the worker's timeout ({timeout} s, "
                    "MOZAIKS_WORKER_TIMEOUT_SECONDS): a killed step would keep its session locked for longer "
                    "than any step can run; the heartbeat renews a short lease while the step is alive",
                )
            if margin + MIN_MODEL_SECONDS > timeout:
                r.fail(
                    "MOZAIKS_STEP_MARGIN_SECONDS",
                    f"is {margin}: with a {timeout} s worker timeout (MOZAIKS_WORKER_TIMEOUT_SECONDS) fewer "
                    f"than {MIN_MODEL_SECONDS} s are left for the model",
                )
        r.done()
        return cls(lease_seconds=lease, margin_seconds=margin, timeout_seconds=timeout)


class EndpointSettings(BaseModel):
    """Where events are posted: the Management API endpoint, when it cannot be taken from the event."""

    model_config = _SETTINGS

    callback_url: str | None = None

    @classmethod
    def from_env(cls, env: Environ | None = None) -> Self:
        r = Reader(env, None)
        callback = r.text("MOZAIKS_WS_CALLBACK_URL")
        if callback and urlsplit(callback).scheme not in ("https", "http"):
            r.fail(
                "MOZAIKS_WS_CALLBACK_URL",
                "must be the https://{api}.execute-api.{region}.amazonaws.com/{stage} "
                "Management API endpoint",
            )
        r.done()
        return cls(callback_url=callback)


class WorkflowSettings(BaseModel):
    model_config = _SETTINGS

    workflows_dir: str = "workflows"

    @classmethod
    def from_env(cls, env: Environ | None = None) -> Self:
        r = Reader(env, None)
        directory = r.text("MOZAIKS_WORKFLOWS_DIR", "workflows") or "workflows"
        r.done()
        return cls(workflows_dir=directory)


class ModelSettings(BaseModel):
    """Which model the worker's steps run on (see ``runtime_core.worker.models``)."""

    model_config = _SETTINGS

    # An offline model for every workflow (MOZAIKS_MODEL=scripted or echo); ``echo``: the echo model.
    scripted: bool = False
    echo: bool = False
    # MOZAIKS_OFFLINE_MODEL=echo: a workflow with neither a key nor a script.yaml runs on the echo model.
    offline_echo: bool = False
    # Whether OPENAI_API_KEY (directly or from its ARN) is available; the key itself stays in the environment,
    # where the OpenAI client reads it.
    has_default_key: bool = False

    @classmethod
    def from_env(cls, env: Environ | None = None, fetch: SecretFetcher | None = None) -> Self:
        r = Reader(env, fetch)
        mode = (r.text("MOZAIKS_MODEL") or "").lower()
        if mode not in ("", "scripted", "echo"):
            r.fail("MOZAIKS_MODEL", f"must be 'scripted', 'echo' or unset, got {mode!r}")
        offline = (r.text("MOZAIKS_OFFLINE_MODEL") or "").lower()
        if offline not in ("", "echo"):
            r.fail("MOZAIKS_OFFLINE_MODEL", f"must be 'echo' or unset, got {offline!r}")
        # Resolved now so that an unreadable key ARN fails the cold start, not the first model call.
        key = r.secret("OPENAI_API_KEY")
        r.done()
        return cls(
            scripted=mode in ("scripted", "echo"),
            echo=mode == "echo",
            offline_echo=offline == "echo",
            has_default_key=bool(key),
        )


class FrameSettings(BaseModel):
    """Limits on what crosses the WebSocket (the $default handler and the posters)."""

    model_config = _SETTINGS

    max_frame_bytes: int = Field(
        default=API_GATEWAY_MAX_FRAME_BYTES, ge=1024, le=API_GATEWAY_MAX_MESSAGE_BYTES
    )
    max_post_bytes: int = Field(
        default=API_GATEWAY_MAX_MESSAGE_BYTES, ge=1024, le=API_GATEWAY_MAX_MESSAGE_BYTES
    )
    connection_ttl_seconds: int = Field(default=7800, ge=60, le=86400)

    @classmethod
    def from_env(cls, env: Environ | None = None) -> Self:
        r = Reader(env, None)
        values = {
            "max_frame_bytes": r.integer(
                "MOZAIKS_MAX_FRAME_BYTES", API_GATEWAY_MAX_FRAME_BYTES, 1024, API_GATEWAY_MAX_MESSAGE_BYTES
            ),
            "max_post_bytes": r.integer(
                "MOZAIKS_MAX_POST_BYTES", API_GATEWAY_MAX_MESSAGE_BYTES, 1024, API_GATEWAY_MAX_MESSAGE_BYTES
            ),
            # API Gateway closes every connection within 2 hours; the record outlives it a little.
            "connection_ttl_seconds": r.integer("MOZAIKS_CONNECTION_TTL_SECONDS", 7800, 60, 86400),
        }
        r.done()
        return cls(**values)


class TelemetrySettings(BaseModel):
    model_config = _SETTINGS

    metrics_namespace: str = "MozaiksAI"

    @classmethod
    def from_env(cls, env: Environ | None = None) -> Self:
        r = Reader(env, None)
        namespace = _namespace(r)
        r.done()
        return cls(metrics_namespace=namespace)


def _namespace(r: Reader) -> str:
    namespace = r.text("MOZAIKS_METRICS_NAMESPACE", "MozaiksAI") or "MozaiksAI"
    if not re.fullmatch(r"[A-Za-z0-9._#:/-]{1,255}", namespace) or namespace.startswith("AWS/"):
        r.fail("MOZAIKS_METRICS_NAMESPACE", f"is not a valid CloudWatch namespace: {namespace!r}")
    return namespace


class TracingSettings(BaseModel):
    """Whether to trace, and where to: the standard ``OTEL_*`` variables. The SDK itself reads the rest
    (``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_TRACES_SAMPLER``, ``OTEL_RESOURCE_ATTRIBUTES`` ...)."""

    model_config = _SETTINGS

    exporter: str | None = None  # "otlp" or "console"; None: tracing off
    service_name: str | None = None

    @property
    def enabled(self) -> bool:
        return self.exporter is not None

    @classmethod
    def from_env(cls, env: Environ | None = None) -> Self:
        r = Reader(env, None)
        disabled = (r.text("OTEL_SDK_DISABLED") or "false").lower()
        if disabled not in ("true", "false"):
            r.fail("OTEL_SDK_DISABLED", f"must be true or false, got {disabled!r}")
        endpoint = r.text("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or r.text("OTEL_EXPORTER_OTLP_ENDPOINT")
        if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
            variable = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
            if r.text(variable) is None:
                variable = "OTEL_EXPORTER_OTLP_ENDPOINT"
            r.fail(variable, f"must be an http(s) URL, got {endpoint!r}")
        exporter = (r.text("OTEL_TRACES_EXPORTER") or ("otlp" if endpoint else "none")).lower()
        if exporter not in ("otlp", "console", "none"):
            r.fail("OTEL_TRACES_EXPORTER", f"must be otlp, console or none, got {exporter!r}")
        service = r.text("OTEL_SERVICE_NAME")
        r.done()
        on = disabled != "true" and exporter in ("otlp", "console")
        return cls(exporter=exporter if on else None, service_name=service)
