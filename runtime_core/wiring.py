"""Which function plays which role, what each role needs, and the cold start that checks it.

Every Lambda entry point in ``functions/`` calls ``cold_start(role)`` when Lambda imports it. In Lambda (the
runtime sets ``AWS_LAMBDA_FUNCTION_NAME``) that validates, together, every settings group the role needs,
resolving secrets from their ARNs; one bad or missing setting fails the cold start with one log line naming
every variable to fix, instead of the first request failing somewhere deep in a handler. Outside Lambda (the
local server, tests) the services are installed by their owner and validated on first use.

``ROLE_AWS_ACTIONS`` lists the AWS API calls each role makes, as IAM actions: the template check compares it
with each function's policy, and the deployed-shape test with the calls the built artifact really makes.
"""

from __future__ import annotations

import os
from enum import StrEnum

from runtime_core.config import ConfigError, Group
from runtime_core.services import Services, get_services
from runtime_core.telemetry import runtime_logger, tracing


class Role(StrEnum):
    connect = "connect"
    default = "default"
    disconnect = "disconnect"
    worker = "worker"
    http = "http"
    sweeper = "sweeper"


ROLE_GROUPS: dict[Role, frozenset[Group]] = {
    Role.connect: frozenset({Group.store, Group.jwt, Group.frames, Group.endpoint, Group.tracing}),
    Role.default: frozenset(
        {Group.store, Group.queue, Group.frames, Group.endpoint, Group.workflows, Group.tracing}
    ),
    Role.disconnect: frozenset({Group.store, Group.tracing}),
    Role.worker: frozenset(
        {
            Group.store,
            Group.queue,
            Group.worker,
            Group.endpoint,
            Group.workflows,
            Group.frames,
            Group.telemetry,
            Group.model,
            Group.tracing,
        }
    ),
    Role.http: frozenset({Group.store, Group.jwt, Group.workflows, Group.tracing}),
    # Carries out outboxes (posts) and queues steps; never runs one.
    Role.sweeper: frozenset({Group.store, Group.queue, Group.endpoint, Group.frames, Group.tracing}),
}

# The template's Handler strings, as Lambda resolves them (path/module.attribute).
HANDLERS: dict[str, Role] = {
    "functions/connect.handler": Role.connect,
    "functions/default.handler": Role.default,
    "functions/disconnect.handler": Role.disconnect,
    "functions/worker.handler": Role.worker,
    "functions/http_api.handler": Role.http,
    "functions/sweeper.handler": Role.sweeper,
}

# Reading a secret: which IAM action, by the service its ARN names.
SECRET_ACTIONS = frozenset({"secretsmanager:GetSecretValue", "ssm:GetParameter"})
POST_ACTION = "execute-api:ManageConnections"
# Releasing a dead delivery's message at once, or a failed one after a short backoff.
VISIBILITY_ACTION = "sqs:ChangeMessageVisibility"

# What each role calls besides reading its secrets (which depends on the ARNs configured).
ROLE_AWS_ACTIONS: dict[Role, frozenset[str]] = {
    Role.connect: frozenset(),
    # Acks, pongs, errors and replays go back to the sender's connection; steps go to the queue; a resume
    # re-arms a session whose step died.
    Role.default: frozenset({"sqs:SendMessage", VISIBILITY_ACTION, POST_ACTION}),
    Role.disconnect: frozenset(),
    Role.worker: frozenset({"sqs:SendMessage", VISIBILITY_ACTION, POST_ACTION}),
    Role.http: frozenset(),
    Role.sweeper: frozenset({"sqs:SendMessage", VISIBILITY_ACTION, POST_ACTION}),
}

# Roles that close connections whose token expired (DELETE @connections/{id}: the same IAM action as a post,
# on the DELETE resource path).
ROLES_CLOSING_CONNECTIONS: frozenset[Role] = frozenset({Role.default, Role.sweeper})

LAMBDA_MARKER = "AWS_LAMBDA_FUNCTION_NAME"


def in_lambda() -> bool:
    return bool(os.environ.get(LAMBDA_MARKER))


def cold_start(role: Role) -> Services:
    """Validate what ``role`` needs now, in Lambda; log one line and raise when anything is wrong."""
    services = get_services()
    if not in_lambda():
        return services
    try:
        services.settings.require(ROLE_GROUPS[role])
    except ConfigError as exc:
        # One line, every variable: what an operator reads in CloudWatch after a failed deploy.
        runtime_logger().error(str(exc), extra={"role": role.value, "variables": exc.variables})
        raise
    # With tracing off (no OTEL_* asks for it) this imports nothing: route cold starts stay small.
    tracing.enable_from_settings(services.settings.tracing, role.value)
    return services
