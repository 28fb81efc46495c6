"""The one error type of authentication, mapped to the HTTP status of the $connect (or HTTP API) response."""

from __future__ import annotations

from enum import StrEnum


class AuthReason(StrEnum):
    # 401: the caller has not proved who it is. Retrying with a fresh, valid token can succeed.
    missing_token = "missing_token"
    ambiguous_token = "ambiguous_token"
    token_too_large = "token_too_large"
    malformed_token = "malformed_token"
    unsupported_algorithm = "unsupported_algorithm"
    invalid_signature = "invalid_signature"
    unknown_key = "unknown_key"
    expired = "expired"
    not_yet_valid = "not_yet_valid"
    missing_expiry = "missing_expiry"
    wrong_audience = "wrong_audience"
    wrong_issuer = "wrong_issuer"
    invalid_token = "invalid_token"
    # 403: the token is authentic but does not grant a tenant (missing or unusable app/user claims).
    missing_claim = "missing_claim"
    invalid_claim = "invalid_claim"
    # 503: we could not fetch the keys to check it; the token may well be fine.
    keys_unavailable = "keys_unavailable"


_STATUS = {AuthReason.missing_claim: 403, AuthReason.invalid_claim: 403, AuthReason.keys_unavailable: 503}


class AuthError(Exception):
    """Why a request was refused. ``status`` is 401, 403 or 503; ``message`` is safe to show the client."""

    def __init__(self, reason: AuthReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.status: int = _STATUS.get(reason, 401)
