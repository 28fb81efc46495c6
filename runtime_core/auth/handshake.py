"""Getting the token out of an API Gateway $connect event, and the response that completes the handshake.

Browsers cannot set headers on a WebSocket, so the token travels either

* in the query string: ``wss://HOST/STAGE?token=<jwt>``, or
* in ``Sec-WebSocket-Protocol`` as two offered subprotocols: ``new WebSocket(url, ["mozaiks.jwt", jwt])``.
  The server then must echo ``mozaiks.jwt`` (never the token) in the $connect response, or the browser drops
  the socket. A compact JWT is made of characters that are legal in a subprotocol token, so it needs no
  escaping.

Both at once is accepted only when they carry the same token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from runtime_core.auth.errors import AuthError, AuthReason

TOKEN_SUBPROTOCOL = "mozaiks.jwt"
SUBPROTOCOL_HEADER = "Sec-WebSocket-Protocol"
QUERY_PARAMETER = "token"


class ConnectToken(BaseModel):
    model_config = ConfigDict(frozen=True)

    token: str
    source: str  # "query" or "subprotocol"
    # What the $connect response must put in Sec-WebSocket-Protocol (None: send no such header).
    subprotocol: str | None = None


def _header(event: Mapping[str, Any], name: str) -> str | None:
    lowered = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == lowered and isinstance(value, str):
            return value
    for key, values in (event.get("multiValueHeaders") or {}).items():
        if key.lower() == lowered and isinstance(values, list) and values:
            return ",".join(str(v) for v in values)
    return None


def offered_subprotocols(event: Mapping[str, Any]) -> list[str]:
    raw = _header(event, SUBPROTOCOL_HEADER) or ""
    return [p.strip() for p in raw.split(",") if p.strip()]


def extract_token(event: Mapping[str, Any]) -> ConnectToken:
    """The token of a $connect event and the subprotocol to echo. Raises ``AuthError`` (401) when absent."""
    query = event.get("queryStringParameters") or {}
    multi = (event.get("multiValueQueryStringParameters") or {}).get(QUERY_PARAMETER) or []
    if len(multi) > 1:
        raise AuthError(AuthReason.ambiguous_token, "more than one token in the query string")
    query_token = query.get(QUERY_PARAMETER) if isinstance(query, Mapping) else None

    offered = offered_subprotocols(event)
    header_token: str | None = None
    if TOKEN_SUBPROTOCOL in offered:
        index = offered.index(TOKEN_SUBPROTOCOL)
        rest = [p for p in offered[index + 1 :] if p != TOKEN_SUBPROTOCOL]
        if not rest:
            raise AuthError(
                AuthReason.missing_token, f"subprotocol {TOKEN_SUBPROTOCOL!r} is not followed by a token"
            )
        header_token = rest[0]

    if query_token and header_token and query_token != header_token:
        raise AuthError(
            AuthReason.ambiguous_token, "the query string and the subprotocol carry different tokens"
        )
    if header_token:
        return ConnectToken(token=header_token, source="subprotocol", subprotocol=TOKEN_SUBPROTOCOL)
    if query_token:
        return ConnectToken(token=query_token, source="query")
    raise AuthError(
        AuthReason.missing_token,
        f"no token: use ?{QUERY_PARAMETER}= or the {TOKEN_SUBPROTOCOL!r} subprotocol",
    )


def connect_response(subprotocol: str | None) -> dict[str, Any]:
    """The $connect result that accepts the socket (echoing the subprotocol when the token came that way)."""
    response: dict[str, Any] = {"statusCode": 200}
    if subprotocol:
        response["headers"] = {SUBPROTOCOL_HEADER: subprotocol}
    return response


def refusal_response(error: AuthError) -> dict[str, Any]:
    """The $connect result that refuses the socket; API Gateway makes it the HTTP status of the upgrade."""
    return {"statusCode": error.status, "body": f"{error.reason}: {error.message}"}
