"""JWT verification: a token in, a ``Tenant`` out, or an ``AuthError``.

Algorithms come from configuration only; the token header merely selects a key from a JWKS. ``exp`` is
required, ``aud`` and ``iss`` are required and checked when configured, and tokens over the configured size
are refused before any decoding, so a hostile client cannot make us parse megabytes of base64.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from jwt import PyJWKClient

from runtime_core.auth.errors import AuthError, AuthReason
from runtime_core.config import JwtSettings
from runtime_core.session import Tenant

MAX_CLAIM_LENGTH = 256
# Three base64url segments; anything else is refused without calling the decoder.
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


class TokenVerifier:
    """Build once per container (it holds the parsed key or the JWKS cache); call ``verify`` per request."""

    def __init__(self, settings: JwtSettings, jwks_client: PyJWKClient | None = None) -> None:
        self.settings = settings
        self._key: Any = None
        self._jwks: PyJWKClient | None = None
        if settings.secret is not None:
            self._key = settings.secret.get_secret_value()
        elif settings.public_key is not None:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            self._key = load_pem_public_key(settings.public_key.encode())
        elif settings.jwks_url is not None:
            self._jwks = jwks_client or PyJWKClient(
                settings.jwks_url,
                cache_keys=True,
                cache_jwk_set=True,
                lifespan=max(settings.jwks_cache_seconds, 1),
                timeout=settings.jwks_timeout_seconds,
            )
        else:  # JwtSettings.from_env refuses this; a hand-built settings object might not
            raise ValueError("JwtSettings has no secret, public key or JWKS URL")

    def verify(self, token: str) -> Tenant:
        return self.verify_until(token)[0]

    def verify_until(self, token: str) -> tuple[Tenant, datetime]:
        """The tenant, and the moment the token stops being accepted (``exp`` plus the leeway): a connection
        opened with it is closed then."""
        claims = self.decode(token)
        tenant = tenant_from_claims(claims, self.settings.app_id_claim, self.settings.user_id_claim)
        # decode() required exp and checked it is a number in the future.
        expires = datetime.fromtimestamp(float(claims["exp"]), UTC)
        return tenant, expires + timedelta(seconds=self.settings.leeway_seconds)

    def decode(self, token: str) -> dict[str, Any]:
        s = self.settings
        if len(token.encode("utf-8", "surrogatepass")) > s.max_token_bytes:
            raise AuthError(AuthReason.token_too_large, f"token is larger than {s.max_token_bytes} bytes")
        if not _COMPACT_JWS.match(token):
            raise AuthError(
                AuthReason.malformed_token, "token is not a compact JWS (header.payload.signature)"
            )
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError(AuthReason.malformed_token, "token header is not valid") from exc
        alg = header.get("alg")
        if alg not in s.algorithms:
            # The header is attacker-controlled: quote only a short, plain value back.
            shown = alg if isinstance(alg, str) and alg.isalnum() and len(alg) <= 16 else "?"
            raise AuthError(AuthReason.unsupported_algorithm, f"algorithm {shown!r} is not accepted")

        key = self._key if self._jwks is None else self._signing_key(token)
        required = ["exp"] + (["aud"] if s.audience else []) + (["iss"] if s.issuer else [])
        try:
            return jwt.decode(
                token,
                key,
                algorithms=list(s.algorithms),
                audience=list(s.audience) or None,
                issuer=s.issuer,
                leeway=s.leeway_seconds,
                # verify_sub off: tenant claims are checked below, with a 403 and one rule for every claim.
                options={"require": required, "verify_aud": bool(s.audience), "verify_sub": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError(AuthReason.expired, "token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthError(
                AuthReason.not_yet_valid, "token is not valid yet (nbf/iat in the future)"
            ) from exc
        except jwt.MissingRequiredClaimError as exc:
            if exc.claim == "exp":
                raise AuthError(AuthReason.missing_expiry, "token has no exp claim") from exc
            reason = AuthReason.wrong_audience if exc.claim == "aud" else AuthReason.wrong_issuer
            raise AuthError(reason, f"token has no {exc.claim} claim") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError(AuthReason.wrong_audience, "token audience is not accepted") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError(AuthReason.wrong_issuer, "token issuer is not accepted") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError(AuthReason.invalid_signature, "token signature does not verify") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise AuthError(
                AuthReason.unsupported_algorithm, "token algorithm does not match the key"
            ) from exc
        except jwt.DecodeError as exc:
            raise AuthError(AuthReason.malformed_token, "token cannot be decoded") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError(AuthReason.invalid_token, f"token is invalid: {exc}") from exc
        except jwt.PyJWTError as exc:
            # Key errors and the like: still the client's token that failed, never a crash of $connect.
            raise AuthError(AuthReason.invalid_token, "token cannot be verified") from exc

    def _signing_key(self, token: str) -> Any:
        assert self._jwks is not None
        try:
            signing = self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthError(AuthReason.keys_unavailable, "signing keys cannot be fetched right now") from exc
        except jwt.PyJWKClientError as exc:
            raise AuthError(AuthReason.unknown_key, "token key id is not in the key set") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(AuthReason.malformed_token, "token header does not name a usable key") from exc
        # PyJWK carries the JWK's own algorithm; refuse a key published for an algorithm we do not accept.
        if signing.algorithm_name not in self.settings.algorithms:
            raise AuthError(AuthReason.unsupported_algorithm, "the key's algorithm is not accepted")
        return signing


def tenant_from_claims(claims: dict[str, Any], app_id_claim: str, user_id_claim: str) -> Tenant:
    """The tenant comes from these two claims only; they must be non-empty, bounded, printable strings."""
    values: dict[str, str] = {}
    for field, claim in (("app_id", app_id_claim), ("user_id", user_id_claim)):
        if claim not in claims:
            raise AuthError(AuthReason.missing_claim, f"token has no {claim!r} claim")
        value = claims[claim]
        if not isinstance(value, str) or not value.strip():
            raise AuthError(AuthReason.invalid_claim, f"claim {claim!r} must be a non-empty string")
        if len(value) > MAX_CLAIM_LENGTH:
            raise AuthError(AuthReason.invalid_claim, f"claim {claim!r} is longer than {MAX_CLAIM_LENGTH}")
        # Control and format characters in an id would end up in logs, metric dimensions and queries.
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in value):
            raise AuthError(AuthReason.invalid_claim, f"claim {claim!r} contains control characters")
        values[field] = value
    return Tenant(**values)
