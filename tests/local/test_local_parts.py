"""The local server's parts in process: event shapes the handlers accept, step delivery, dev credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime_core.auth import AuthError, TokenVerifier, extract_token
from runtime_core.config import JwtSettings
from runtime_core.local.connections import ConnectionRegistry
from runtime_core.local.credentials import dev_credentials, jwt_configured, read_dev_token
from runtime_core.local.delivery import StepDelivery, StepDeliveryFailed
from runtime_core.local.environment import choose_auth, describe_model
from runtime_core.local.gateway import SocketInfo, connect_event, disconnect_event, message_event, sqs_event
from runtime_core.queue import StepMessage
from runtime_core.session import Tenant

INFO = SocketInfo(connection_id="abcDEF123456789=", domain_name="localhost:8000", connected_at=1)


def test_connect_event_carries_the_subprotocol_offer_as_the_auth_code_reads_it() -> None:
    event = connect_event(INFO, {"Sec-Websocket-Protocol": ["mozaiks.jwt, a.b.c"]}, {})
    found = extract_token(event)
    assert (found.token, found.source, found.subprotocol) == ("a.b.c", "subprotocol", "mozaiks.jwt")
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"], context["stage"]) == ("$connect", "CONNECT", "local")
    assert context["connectionId"] == INFO.connection_id and context["domainName"] == "localhost:8000"


def test_a_repeated_token_parameter_is_visible_to_the_auth_code() -> None:
    event = connect_event(INFO, {}, {"token": ["a.b.c", "d.e.f"]})
    with pytest.raises(AuthError) as error:
        extract_token(event)
    assert error.value.reason == "ambiguous_token"


def test_message_and_disconnect_events_have_the_api_gateway_shape() -> None:
    text = message_event(INFO, '{"type":"ping"}')
    assert text["body"] == '{"type":"ping"}' and text["isBase64Encoded"] is False
    assert text["requestContext"]["routeKey"] == "$default" and text["requestContext"]["messageId"]
    binary = message_event(INFO, b"\xff\x00")
    assert binary["isBase64Encoded"] is True and binary["body"] == "/wA="
    gone = disconnect_event(INFO, 1001, "Going away")
    assert gone["requestContext"]["eventType"] == "DISCONNECT"
    assert gone["requestContext"]["disconnectStatusCode"] == 1001


def _message() -> StepMessage:
    return StepMessage(session_id="s-1", app_id="local", user_id="dev", reason="start", dedup_id="start")


def test_a_step_reaches_the_worker_as_an_sqs_fifo_record() -> None:
    record = sqs_event(_message())["Records"][0]
    assert StepMessage.model_validate_json(record["body"]) == _message()
    assert record["attributes"]["MessageGroupId"] == "s-1"
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(".fifo")


def test_a_reported_batch_failure_is_redelivered_with_a_higher_receive_count() -> None:
    seen: list[dict[str, Any]] = []

    def worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
        record = event["Records"][0]
        seen.append(record)
        failed = len(seen) == 1
        return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}] if failed else []}

    delivery = StepDelivery(worker)
    with pytest.raises(StepDeliveryFailed):
        delivery(_message())
    delivery(_message())
    assert [r["attributes"]["ApproximateReceiveCount"] for r in seen] == ["1", "2"]
    assert delivery.retrying == 0


def test_posting_to_an_unknown_connection_reports_it_gone() -> None:
    assert ConnectionRegistry().send("nobody", "{}") is False


def test_dev_credentials_are_kept_and_their_token_verifies_as_in_aws(tmp_path: Path) -> None:
    first = dev_credentials(tmp_path)
    second = dev_credentials(tmp_path)
    assert first.secret == second.secret and len(first.secret.encode()) >= 32
    assert oct((tmp_path / "dev-secret").stat().st_mode & 0o777) == "0o600"
    assert read_dev_token(tmp_path) == second.token
    verifier = TokenVerifier(JwtSettings.from_env({"MOZAIKS_JWT_SECRET": first.secret}))
    assert verifier.verify(second.token) == Tenant(app_id="local", user_id="developer")


def test_configured_jwt_settings_replace_the_dev_secret(tmp_path: Path) -> None:
    env = {"MOZAIKS_JWT_JWKS_URL": "https://issuer.example/jwks.json"}
    text, credentials = choose_auth(tmp_path, env)
    assert credentials is None and "MOZAIKS_JWT_JWKS_URL" in text
    assert env == {"MOZAIKS_JWT_JWKS_URL": "https://issuer.example/jwks.json"}
    assert not (tmp_path / "dev-secret").exists()


def test_contradictory_jwt_settings_stop_the_server_at_start(tmp_path: Path) -> None:
    from runtime_core.config import ConfigError

    with pytest.raises(ConfigError) as error:
        choose_auth(tmp_path, {"MOZAIKS_JWT_ALGORITHMS": "HS256"})
    assert "MOZAIKS_JWT_SECRET" in error.value.variables


def test_without_jwt_settings_the_dev_secret_goes_where_the_connect_handler_reads_it(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    text, credentials = choose_auth(tmp_path, env)
    assert credentials is not None and "local use only" in text
    assert env["MOZAIKS_JWT_SECRET"] == credentials.secret
    assert jwt_configured(env)


def test_the_banner_names_the_model_in_use() -> None:
    assert describe_model({"OPENAI_API_KEY"}, {}).startswith("scripted")
    assert "echo model" not in describe_model({"OPENAI_API_KEY"}, {})
    fallback = describe_model({"OPENAI_API_KEY"}, {"MOZAIKS_OFFLINE_MODEL": "echo"}, ["Intake", "Plan"])
    assert fallback.startswith("scripted")
    assert "the echo model (offline) for a workflow without one: Intake, Plan" in fallback
    assert describe_model({"OPENAI_API_KEY"}, {"MOZAIKS_MODEL": "echo"}).startswith("echo:")
    real = describe_model({"OPENAI_API_KEY"}, {"OPENAI_API_KEY": "sk-x"})
    assert real.startswith("real model") and "OPENAI_API_KEY" in real
    assert "sk-x" not in real
