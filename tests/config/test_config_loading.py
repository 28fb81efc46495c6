"""Missing or contradictory configuration fails at start, naming the variable to fix."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from runtime_core.config import (
    ConfigError,
    EndpointSettings,
    FrameSettings,
    JwtSettings,
    ModelSettings,
    QueueSettings,
    StoreSettings,
    TelemetrySettings,
    WorkerSettings,
    WorkflowSettings,
    clear_secret_cache,
)

SECRET = "0123456789abcdef0123456789abcdef-test"
PEM = (
    ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def problems(loader: object, env: dict[str, str]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        loader.from_env(env)  # type: ignore[attr-defined]
    assert all(v in str(caught.value) for v in caught.value.variables)
    return {p.variable: p.message for p in caught.value.problems}


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        ({}, "MOZAIKS_JWT_SECRET", "no verification key"),
        ({"MOZAIKS_JWT_ALGORITHMS": "HS256"}, "MOZAIKS_JWT_SECRET", "no verification key"),
        (
            {"MOZAIKS_JWT_ALGORITHMS": "HS256", "MOZAIKS_JWT_JWKS_URL": "https://idp.test/jwks"},
            "MOZAIKS_JWT_SECRET",
            "allows ['HS256']",
        ),
        (
            {"MOZAIKS_JWT_SECRET": SECRET, "MOZAIKS_JWT_ALGORITHMS": "RS256"},
            "MOZAIKS_JWT_SECRET",
            "has no HS* algorithm",
        ),
        (
            {"MOZAIKS_JWT_PUBLIC_KEY": PEM, "MOZAIKS_JWT_JWKS_URL": "https://idp.test/jwks"},
            "MOZAIKS_JWT_JWKS_URL",
            "contradicts MOZAIKS_JWT_PUBLIC_KEY",
        ),
        (
            {"MOZAIKS_JWT_SECRET": SECRET, "MOZAIKS_JWT_PUBLIC_KEY": PEM},
            "MOZAIKS_JWT_PUBLIC_KEY",
            "contradicts MOZAIKS_JWT_SECRET",
        ),
        (
            {"MOZAIKS_JWT_SECRET": SECRET, "MOZAIKS_JWT_ALGORITHMS": "HS256,RS256"},
            "MOZAIKS_JWT_ALGORITHMS",
            "mixes HMAC",
        ),
        (
            {"MOZAIKS_JWT_SECRET": SECRET, "MOZAIKS_JWT_ALGORITHMS": "none"},
            "MOZAIKS_JWT_ALGORITHMS",
            "'none' is never accepted",
        ),
        (
            {"MOZAIKS_JWT_SECRET": SECRET, "MOZAIKS_JWT_ALGORITHMS": "HS256,XS1"},
            "MOZAIKS_JWT_ALGORITHMS",
            "unsupported algorithm",
        ),
        (
            {"MOZAIKS_JWT_SECRET": SECRET, "MOZAIKS_JWT_ALGORITHMS": " , "},
            "MOZAIKS_JWT_ALGORITHMS",
            "is empty",
        ),
        ({"MOZAIKS_JWT_SECRET": "short"}, "MOZAIKS_JWT_SECRET", "at least 32 bytes"),
        (
            {
                "MOZAIKS_JWT_SECRET": SECRET,
                "MOZAIKS_JWT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
            },
            "MOZAIKS_JWT_SECRET",
            "not both",
        ),
        (
            {"MOZAIKS_JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"},
            "MOZAIKS_JWT_PUBLIC_KEY",
            "not a PEM public key",
        ),
        (
            {"MOZAIKS_JWT_PUBLIC_KEY": PEM, "MOZAIKS_JWT_ALGORITHMS": "HS256"},
            "MOZAIKS_JWT_SECRET",
            "is required",
        ),
        (
            {"MOZAIKS_JWT_PUBLIC_KEY": PEM, "MOZAIKS_JWT_ALGORITHMS": "RS256"},
            "MOZAIKS_JWT_PUBLIC_KEY",
            "cannot verify ['RS256']",
        ),
        ({"MOZAIKS_JWT_JWKS_URL": "http://idp.example.com/jwks"}, "MOZAIKS_JWT_JWKS_URL", "https://"),
        ({"MOZAIKS_JWT_JWKS_URL": "idp.example.com/jwks"}, "MOZAIKS_JWT_JWKS_URL", "https://"),
        (
            {"MOZAIKS_JWT_SECRET": SECRET, "MOZAIKS_APP_ID_CLAIM": "sub"},
            "MOZAIKS_USER_ID_CLAIM",
            "must differ",
        ),
        (
            {"MOZAIKS_JWT_SECRET": SECRET, "MOZAIKS_USER_ID_CLAIM": "a b"},
            "MOZAIKS_USER_ID_CLAIM",
            "not a valid claim name",
        ),
        (
            {"MOZAIKS_JWT_SECRET": SECRET, "MOZAIKS_JWT_LEEWAY_SECONDS": "soon"},
            "MOZAIKS_JWT_LEEWAY_SECONDS",
            "must be an integer",
        ),
        (
            {"MOZAIKS_JWT_SECRET": SECRET, "MOZAIKS_JWT_MAX_BYTES": "100"},
            "MOZAIKS_JWT_MAX_BYTES",
            "between 256 and 65536",
        ),
    ],
)
def test_jwt_configuration_errors(env: dict[str, str], variable: str, fragment: str) -> None:
    found = problems(JwtSettings, env)
    assert variable in found, found
    assert fragment in found[variable], found[variable]


def test_all_problems_are_reported_at_once() -> None:
    found = problems(
        JwtSettings,
        {
            "MOZAIKS_JWT_SECRET": "short",
            "MOZAIKS_JWT_LEEWAY_SECONDS": "-1",
            "MOZAIKS_USER_ID_CLAIM": "app_id",
        },
    )
    assert set(found) == {"MOZAIKS_JWT_SECRET", "MOZAIKS_JWT_LEEWAY_SECONDS", "MOZAIKS_USER_ID_CLAIM"}


def test_jwt_defaults_follow_the_key_material() -> None:
    hs = JwtSettings.from_env({"MOZAIKS_JWT_SECRET": SECRET})
    assert hs.algorithms == ("HS256",) and (hs.app_id_claim, hs.user_id_claim) == ("app_id", "sub")
    assert hs.leeway_seconds == 30 and hs.max_token_bytes == 8192 and hs.audience == () and hs.issuer is None
    # The secret never shows in a repr or a log line.
    assert SECRET not in repr(hs)
    es = JwtSettings.from_env(
        {"MOZAIKS_JWT_PUBLIC_KEY": PEM.replace("\n", "\\n"), "MOZAIKS_JWT_ALGORITHMS": "es256"}
    )
    assert es.algorithms == ("ES256",) and es.public_key == PEM
    # CloudFormation cannot omit a variable, only blank it: blank means unset.
    assert JwtSettings.from_env(
        {"MOZAIKS_JWT_SECRET": SECRET, "MOZAIKS_JWT_JWKS_URL": "", "MOZAIKS_JWT_AUDIENCE": ""}
    )


def test_each_group_reads_only_its_own_variables() -> None:
    # The worker's environment has no JWT settings; the connect handler's has no queue: both load fine.
    assert QueueSettings.from_env({"MOZAIKS_STEP_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q.fifo"})
    assert JwtSettings.from_env({"MOZAIKS_JWT_SECRET": SECRET})
    assert WorkerSettings.from_env({}).lease_seconds == 30
    assert WorkflowSettings.from_env({}).workflows_dir == "workflows"


@pytest.mark.parametrize(
    ("loader", "env", "variable", "fragment"),
    [
        (StoreSettings, {}, "MONGODB_URI", "is required"),
        (StoreSettings, {"MONGODB_URI": "postgres://x"}, "MONGODB_URI", "mongodb://"),
        (StoreSettings, {"MONGODB_URI": "mongodb://h", "MOZAIKS_DB_NAME": "a/b"}, "MOZAIKS_DB_NAME", "1-63"),
        (
            StoreSettings,
            {
                "MONGODB_URI": "mongodb://h",
                "MONGODB_URI_ARN": "arn:aws:ssm:us-east-1:123456789012:parameter/x",
            },
            "MONGODB_URI",
            "not both",
        ),
        (QueueSettings, {}, "MOZAIKS_STEP_QUEUE_URL", "is required"),
        (
            QueueSettings,
            {"MOZAIKS_STEP_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q"},
            "MOZAIKS_STEP_QUEUE_URL",
            "FIFO",
        ),
        (
            WorkerSettings,
            {"MOZAIKS_STEP_LEASE_SECONDS": "5"},
            "MOZAIKS_STEP_LEASE_SECONDS",
            "between 10 and 900",
        ),
        (
            EndpointSettings,
            {"MOZAIKS_WS_CALLBACK_URL": "wss://x/prod"},
            "MOZAIKS_WS_CALLBACK_URL",
            "https://",
        ),
        (ModelSettings, {"MOZAIKS_MODEL": "gpt"}, "MOZAIKS_MODEL", "'scripted', 'echo' or unset"),
        (ModelSettings, {"MOZAIKS_OFFLINE_MODEL": "scripted"}, "MOZAIKS_OFFLINE_MODEL", "'echo' or unset"),
        (FrameSettings, {"MOZAIKS_MAX_FRAME_BYTES": "999999"}, "MOZAIKS_MAX_FRAME_BYTES", "between 1024"),
        (
            TelemetrySettings,
            {"MOZAIKS_METRICS_NAMESPACE": "AWS/Lambda"},
            "MOZAIKS_METRICS_NAMESPACE",
            "not a valid CloudWatch namespace",
        ),
    ],
)
def test_other_groups(loader: object, env: dict[str, str], variable: str, fragment: str) -> None:
    found = problems(loader, env)
    assert fragment in found[variable], found


def test_frame_defaults_match_api_gateway_limits() -> None:
    frames = FrameSettings.from_env({})
    assert (frames.max_frame_bytes, frames.max_post_bytes) == (32 * 1024, 128 * 1024)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    clear_secret_cache()
    with mock_aws():
        yield
    clear_secret_cache()


def test_secrets_resolve_from_secrets_manager_and_ssm_once(aws: None) -> None:
    arn = boto3.client("secretsmanager").create_secret(Name="mozaiks/jwt", SecretString=SECRET)["ARN"]
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/mozaiks/mongodb-uri", Value="mongodb://db.internal:27017", Type="SecureString")
    parameter_arn = "arn:aws:ssm:us-east-1:123456789012:parameter/mozaiks/mongodb-uri"

    jwt_settings = JwtSettings.from_env({"MOZAIKS_JWT_SECRET_ARN": arn})
    store = StoreSettings.from_env({"MONGODB_URI_ARN": parameter_arn, "MOZAIKS_DB_NAME": "tenant_data"})
    assert jwt_settings.secret is not None and jwt_settings.secret.get_secret_value() == SECRET
    assert store.mongodb_uri.get_secret_value() == "mongodb://db.internal:27017"

    # Warm containers do not call AWS again: the value is cached for the container's life.
    boto3.client("secretsmanager").delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert JwtSettings.from_env({"MOZAIKS_JWT_SECRET_ARN": arn}).secret == jwt_settings.secret


def test_unresolvable_secret_names_the_arn_variable(aws: None) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mozaiks/none-AbCdEf"
    found = problems(JwtSettings, {"MOZAIKS_JWT_SECRET_ARN": missing})
    assert "cannot be resolved" in found["MOZAIKS_JWT_SECRET_ARN"]
    found = problems(StoreSettings, {"MONGODB_URI_ARN": "arn:aws:s3:::bucket/key"})
    assert "not a Secrets Manager or SSM parameter ARN" in found["MONGODB_URI_ARN"]


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        (
            {"MOZAIKS_STEP_LEASE_SECONDS": "400"},
            "MOZAIKS_STEP_LEASE_SECONDS",
            "longer than the worker's timeout",
        ),
        (
            {"MOZAIKS_WORKER_TIMEOUT_SECONDS": "30", "MOZAIKS_STEP_MARGIN_SECONDS": "15"},
            "MOZAIKS_STEP_MARGIN_SECONDS",
            "are left for the model",
        ),
    ],
)
def test_worker_time_settings_that_contradict_each_other_are_refused(
    env: dict[str, str], variable: str, fragment: str
) -> None:
    found = problems(WorkerSettings, env)
    assert fragment in found[variable], found
    # Consistent values pass: a short lease renewed by the heartbeat, the margin inside the timeout.
    assert WorkerSettings.from_env(
        {"MOZAIKS_STEP_LEASE_SECONDS": "10", "MOZAIKS_WORKER_TIMEOUT_SECONDS": "60"}
    )
