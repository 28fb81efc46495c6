"""JWT verification and tenant extraction for $connect and the HTTP API."""

from runtime_core.auth.errors import AuthError, AuthReason
from runtime_core.auth.handshake import (
    TOKEN_SUBPROTOCOL,
    ConnectToken,
    connect_response,
    extract_token,
    refusal_response,
)
from runtime_core.auth.verifier import TokenVerifier, tenant_from_claims

__all__ = [
    "TOKEN_SUBPROTOCOL",
    "AuthError",
    "AuthReason",
    "ConnectToken",
    "TokenVerifier",
    "connect_response",
    "extract_token",
    "refusal_response",
    "tenant_from_claims",
]
