"""Every environment variable the runtime reads, in one table: its settings group, whether it is required, and
what leaving it unset means.

The table is the contract between the code and the deployment: ``Reader`` refuses to read a variable that is
not declared here, the template check (``tests/deployment``) compares it with each function's environment in
template.yaml, and docs/deployment.md lists every variable it declares. Libraries' own variables (``AWS_*``,
``POWERTOOLS_*``) are documented by those libraries and are not listed; of the OpenTelemetry SDK's ``OTEL_*``
variables, those the runtime reads itself (to decide whether to trace at all) are declared (group
``tracing``), and the SDK reads the rest (headers, sampler, resource attributes) as its docs say.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Group(StrEnum):
    """Settings groups; each function loads only the groups its role needs (``runtime_core.wiring``)."""

    store = "store"
    jwt = "jwt"
    queue = "queue"
    worker = "worker"
    endpoint = "endpoint"
    workflows = "workflows"
    frames = "frames"
    telemetry = "telemetry"
    model = "model"
    tracing = "tracing"


class Variable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    group: Group
    # Required variables fail the cold start when unset (a secret: unless its ``_ARN`` twin is set).
    required: bool = False
    # A secret may be given directly or as ``<name>_ARN`` (Secrets Manager or SSM parameter ARN).
    secret: bool = False
    # What an unset (or empty) variable means: the documented default.
    unset: str
    doc: str


_DECLARED = [
    Variable(
        name="MONGODB_URI",
        group=Group.store,
        required=True,
        secret=True,
        unset="required (directly, or as MONGODB_URI_ARN)",
        doc="MongoDB connection URI (Atlas, a replica set, or a standalone mongod).",
    ),
    Variable(name="MOZAIKS_DB_NAME", group=Group.store, unset="mozaiks", doc="MongoDB database name."),
    Variable(
        name="MOZAIKS_RECOVERY_GRACE_SECONDS",
        group=Group.store,
        unset="30",
        doc="How long a session that should be moving (a new session, a recorded input, a committed step "
        "with work left) may go without a sign of life before the sweeper re-arms it.",
    ),
    Variable(
        name="MOZAIKS_JWT_SECRET",
        group=Group.jwt,
        secret=True,
        unset="no HMAC key (then MOZAIKS_JWT_PUBLIC_KEY or MOZAIKS_JWT_JWKS_URL is required)",
        doc="HS256/384/512 signing secret, at least 32 bytes.",
    ),
    Variable(
        name="MOZAIKS_JWT_PUBLIC_KEY",
        group=Group.jwt,
        unset="no public key",
        doc="PEM public key for RS*/PS*/ES* tokens (newlines may be written as \\n).",
    ),
    Variable(
        name="MOZAIKS_JWT_JWKS_URL",
        group=Group.jwt,
        unset="no JWKS",
        doc="https URL of the identity provider's JWKS for RS*/PS*/ES* tokens.",
    ),
    Variable(
        name="MOZAIKS_JWT_ALGORITHMS",
        group=Group.jwt,
        unset="HS256 with a secret, RS256 with a public key or JWKS",
        doc="Comma list of accepted algorithms (never taken from the token header; 'none' is refused).",
    ),
    Variable(
        name="MOZAIKS_JWT_AUDIENCE",
        group=Group.jwt,
        unset="no audience check",
        doc="Comma list of accepted `aud` values.",
    ),
    Variable(
        name="MOZAIKS_JWT_ISSUER", group=Group.jwt, unset="no issuer check", doc="Required `iss` value."
    ),
    Variable(
        name="MOZAIKS_APP_ID_CLAIM", group=Group.jwt, unset="app_id", doc="Claim holding the tenant app."
    ),
    Variable(name="MOZAIKS_USER_ID_CLAIM", group=Group.jwt, unset="sub", doc="Claim holding the user id."),
    Variable(
        name="MOZAIKS_JWT_LEEWAY_SECONDS",
        group=Group.jwt,
        unset="30",
        doc="Clock skew allowed on exp/nbf/iat.",
    ),
    Variable(name="MOZAIKS_JWT_MAX_BYTES", group=Group.jwt, unset="8192", doc="Longest token accepted."),
    Variable(
        name="MOZAIKS_JWT_JWKS_TIMEOUT_SECONDS", group=Group.jwt, unset="3", doc="Timeout of a JWKS fetch."
    ),
    Variable(
        name="MOZAIKS_JWT_JWKS_CACHE_SECONDS",
        group=Group.jwt,
        unset="300",
        doc="How long JWKS keys are kept.",
    ),
    Variable(
        name="MOZAIKS_STEP_QUEUE_URL",
        group=Group.queue,
        required=True,
        unset="required",
        doc="URL of the SQS FIFO step queue (ends in .fifo).",
    ),
    Variable(
        name="MOZAIKS_STEP_LEASE_SECONDS",
        group=Group.worker,
        unset="30",
        doc="A running step's hold on its session, renewed every third of it while the step is alive; a "
        "dead step's session is taken over within it. At most the worker timeout.",
    ),
    Variable(
        name="MOZAIKS_STEP_MARGIN_SECONDS",
        group=Group.worker,
        unset="10",
        doc="Kept back from the invocation's deadline for the commit and the posts: model calls (and their "
        "retries) stop this long before it, so a timeout becomes an error event, not a killed step.",
    ),
    Variable(
        name="MOZAIKS_WORKER_TIMEOUT_SECONDS",
        group=Group.worker,
        unset="300",
        doc="The worker function's Timeout (template.yaml keeps them equal): settings are checked against it "
        "at start.",
    ),
    Variable(
        name="MOZAIKS_WS_CALLBACK_URL",
        group=Group.endpoint,
        unset="derived from the event (domainName/stage); the worker uses the one recorded at $connect",
        doc="Management API endpoint https://{api}.execute-api.{region}.amazonaws.com/{stage}.",
    ),
    Variable(
        name="MOZAIKS_WORKFLOWS_DIR",
        group=Group.workflows,
        unset="workflows (relative to the working directory: the function's code root on Lambda)",
        doc="Folder holding one folder per workflow.",
    ),
    Variable(
        name="MOZAIKS_MAX_FRAME_BYTES",
        group=Group.frames,
        unset="32768",
        doc="Largest client frame accepted.",
    ),
    Variable(
        name="MOZAIKS_MAX_POST_BYTES", group=Group.frames, unset="131072", doc="Largest post to a connection."
    ),
    Variable(
        name="MOZAIKS_CONNECTION_TTL_SECONDS",
        group=Group.frames,
        unset="7800",
        doc="Lifetime of a connection record ($disconnect is best effort).",
    ),
    Variable(
        name="MOZAIKS_METRICS_NAMESPACE",
        group=Group.telemetry,
        unset="MozaiksAI",
        doc="CloudWatch namespace of the step metrics (EMF).",
    ),
    Variable(
        name="OTEL_SDK_DISABLED",
        group=Group.tracing,
        unset="false",
        doc="`true` turns tracing off whatever else is set (the OpenTelemetry SDK's switch).",
    ),
    Variable(
        name="OTEL_TRACES_EXPORTER",
        group=Group.tracing,
        unset="otlp when an OTLP endpoint is set, else no tracing (the SDK is not even imported)",
        doc="`otlp` (OTLP over HTTP/protobuf), `console` (spans as JSON on stdout) or `none`.",
    ),
    Variable(
        name="OTEL_EXPORTER_OTLP_ENDPOINT",
        group=Group.tracing,
        unset="no OTLP export",
        doc="OTLP/HTTP base URL of a collector (the ADOT collector layer: http://localhost:4318); setting it "
        "turns tracing on. See docs/observability.md.",
    ),
    Variable(
        name="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        group=Group.tracing,
        unset="OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces",
        doc="Full OTLP/HTTP URL for spans only; setting it turns tracing on.",
    ),
    Variable(
        name="OTEL_SERVICE_NAME",
        group=Group.tracing,
        unset="mozaiks-<role> (mozaiks-worker, mozaiks-default ...)",
        doc="The `service.name` of the spans.",
    ),
    Variable(
        name="MOZAIKS_MODEL",
        group=Group.model,
        unset="a real model when the workflow's API key is set, else its script.yaml",
        doc="`scripted` forces every workflow onto its script.yaml (offline demos and tests); `echo` onto "
        "the offline echo model (placeholder replies, valid structured outputs; see docs/quickstart.md).",
    ),
    Variable(
        name="MOZAIKS_OFFLINE_MODEL",
        group=Group.model,
        unset="a workflow with neither an API key nor a script.yaml fails its model calls "
        "(`mozaiks serve` sets `echo`)",
        doc="`echo`: a workflow with neither an API key nor a script.yaml runs on the offline echo model.",
    ),
    Variable(
        name="MOZAIKS_PRICES",
        group=Group.model,
        unset="the built-in table (runtime_core/llm/prices.py)",
        doc="Model prices in USD per million tokens, merged over the built-in table: a JSON object "
        "(inline or a file path) of model -> [input, output]; see docs/observability.md.",
    ),
    Variable(
        name="OPENAI_API_KEY",
        group=Group.model,
        secret=True,
        unset="workflows run on their script.yaml",
        doc="API key of the OpenAI-compatible endpoint (a workflow may name another variable in api_key_env; "
        "its <NAME>_ARN is resolved the same way).",
    ),
]


def _with_arn_twins(declared: list[Variable]) -> dict[str, Variable]:
    table: dict[str, Variable] = {}
    for variable in declared:
        table[variable.name] = variable
        if variable.secret:
            twin = f"{variable.name}_ARN"
            table[twin] = Variable(
                name=twin,
                group=variable.group,
                unset=f"{variable.name} is read directly",
                doc=f"Secrets Manager secret or SSM parameter ARN holding {variable.name}.",
            )
    return table


VARIABLES: dict[str, Variable] = _with_arn_twins(_DECLARED)


def variables_of(groups: set[Group] | frozenset[Group]) -> list[Variable]:
    return [v for v in VARIABLES.values() if v.group in groups]
