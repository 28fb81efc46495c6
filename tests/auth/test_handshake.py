from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runtime_core.auth import (
    TOKEN_SUBPROTOCOL,
    AuthError,
    AuthReason,
    connect_response,
    extract_token,
    refusal_response,
)

EVENTS = Path(__file__).resolve().parents[2] / "infra" / "events"


def connect_event(
    query: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "headers": headers or {"Host": "abc123.execute-api.eu-west-1.amazonaws.com"},
        "queryStringParameters": query,
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": "c1"},
    }


def test_token_from_query_string_echoes_no_subprotocol() -> None:
    found = extract_token(connect_event(query={"token": "aaa.bbb.ccc"}))
    assert (found.token, found.source, found.subprotocol) == ("aaa.bbb.ccc", "query", None)
    assert connect_response(found.subprotocol) == {"statusCode": 200}


def test_token_from_subprotocol_echoes_the_marker_not_the_token() -> None:
    found = extract_token(connect_event(headers={"sec-websocket-protocol": "mozaiks.jwt, aaa.bbb.ccc"}))
    assert (found.token, found.source, found.subprotocol) == ("aaa.bbb.ccc", "subprotocol", TOKEN_SUBPROTOCOL)
    assert connect_response(found.subprotocol) == {
        "statusCode": 200,
        "headers": {"Sec-WebSocket-Protocol": "mozaiks.jwt"},
    }


def test_multi_value_header_form() -> None:
    event = connect_event()
    event["multiValueHeaders"] = {"Sec-WebSocket-Protocol": ["mozaiks.jwt", "x.y.z"]}
    assert extract_token(event).token == "x.y.z"


def test_same_token_in_both_places_is_accepted() -> None:
    event = connect_event(query={"token": "t.t.t"}, headers={"Sec-WebSocket-Protocol": "mozaiks.jwt,t.t.t"})
    assert extract_token(event).subprotocol == TOKEN_SUBPROTOCOL


@pytest.mark.parametrize(
    ("query", "headers", "reason"),
    [
        (None, None, AuthReason.missing_token),
        ({"other": "x"}, None, AuthReason.missing_token),
        (None, {"Sec-WebSocket-Protocol": "mozaiks.jwt"}, AuthReason.missing_token),
        (None, {"Sec-WebSocket-Protocol": "graphql-ws"}, AuthReason.missing_token),
        ({"token": "a.a.a"}, {"Sec-WebSocket-Protocol": "mozaiks.jwt, b.b.b"}, AuthReason.ambiguous_token),
    ],
)
def test_missing_or_ambiguous_token(
    query: dict[str, str] | None, headers: dict[str, str] | None, reason: AuthReason
) -> None:
    with pytest.raises(AuthError) as caught:
        extract_token(connect_event(query=query, headers=headers))
    assert (caught.value.reason, caught.value.status) == (reason, 401)
    assert refusal_response(caught.value)["statusCode"] == 401


def test_two_tokens_in_the_query_string_are_ambiguous() -> None:
    event = connect_event(query={"token": "b.b.b"})
    event["multiValueQueryStringParameters"] = {"token": ["a.a.a", "b.b.b"]}
    with pytest.raises(AuthError) as caught:
        extract_token(event)
    assert caught.value.reason == AuthReason.ambiguous_token


def test_sample_connect_events_carry_extractable_tokens() -> None:
    by_query = extract_token(json.loads((EVENTS / "connect.json").read_text()))
    by_protocol = extract_token(json.loads((EVENTS / "connect_subprotocol.json").read_text()))
    assert by_query.source == "query" and by_query.token.count(".") == 2
    assert by_protocol.subprotocol == TOKEN_SUBPROTOCOL and by_protocol.token.count(".") == 2
