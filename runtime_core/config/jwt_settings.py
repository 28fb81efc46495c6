"""How $connect and the HTTP API verify tokens (``JwtSettings``), validated from the environment alone."""

from __future__ import annotations

import re
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from runtime_core.config.reader import Environ, Reader, SecretFetcher

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PUBLIC_KEY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
# A shorter HMAC key can be brute-forced offline from any token a client holds.
MIN_HMAC_SECRET_BYTES = 32

_SETTINGS = ConfigDict(frozen=True, extra="forbid")
_CLAIM_NAME = re.compile(r"^[A-Za-z0-9_:./-]{1,128}$")


def _is_loopback(host: str | None) -> bool:
    return host in {"127.0.0.1", "localhost", "::1"}


class JwtSettings(BaseModel):
    """How $connect (and the HTTP API) verify tokens."""

    model_config = _SETTINGS

    algorithms: tuple[str, ...]
    secret: SecretStr | None = None
    public_key: str | None = None
    jwks_url: str | None = None
    audience: tuple[str, ...] = ()
    issuer: str | None = None
    app_id_claim: str = "app_id"
    user_id_claim: str = "sub"
    leeway_seconds: int = Field(default=30, ge=0, le=300)
    max_token_bytes: int = Field(default=8192, ge=256, le=65536)
    jwks_timeout_seconds: int = Field(default=3, ge=1, le=20)
    jwks_cache_seconds: int = Field(default=300, ge=0, le=86400)

    @property
    def uses_hmac(self) -> bool:
        return self.secret is not None

    @classmethod
    def from_env(cls, env: Environ | None = None, fetch: SecretFetcher | None = None) -> Self:
        r = Reader(env, fetch)
        before = len(r.problems)
        secret = r.secret("MOZAIKS_JWT_SECRET")
        # A secret that could not be read is already reported; the key checks below would only add noise.
        secret_failed = len(r.problems) > before
        public_key = r.text("MOZAIKS_JWT_PUBLIC_KEY")
        jwks_url = r.text("MOZAIKS_JWT_JWKS_URL")
        if public_key:
            # A PEM squeezed into one environment line usually arrives with literal "\n".
            public_key = public_key.replace("\\n", "\n")

        key_sources = [
            n
            for n, v in (
                ("MOZAIKS_JWT_SECRET", secret),
                ("MOZAIKS_JWT_PUBLIC_KEY", public_key),
                ("MOZAIKS_JWT_JWKS_URL", jwks_url),
            )
            if v
        ]
        raw_algorithms = r.text("MOZAIKS_JWT_ALGORITHMS")
        if raw_algorithms is None:
            # Defaults follow the key material, so a bare secret means HS256 and a bare key means RS256.
            algorithms = ["HS256"] if secret else ["RS256"]
        else:
            algorithms = [a.strip().upper() for a in raw_algorithms.split(",") if a.strip()]

        unknown = [a for a in algorithms if a not in HMAC_ALGORITHMS | PUBLIC_KEY_ALGORITHMS]
        if "NONE" in unknown:
            r.fail("MOZAIKS_JWT_ALGORITHMS", "'none' is never accepted: unsigned tokens prove nothing")
        elif unknown:
            r.fail(
                "MOZAIKS_JWT_ALGORITHMS",
                f"unsupported algorithm(s) {unknown}; choose from "
                f"{sorted(HMAC_ALGORITHMS | PUBLIC_KEY_ALGORITHMS)}",
            )
        if not algorithms:
            r.fail("MOZAIKS_JWT_ALGORITHMS", "is empty")
        hmac = [a for a in algorithms if a in HMAC_ALGORITHMS]
        asymmetric = [a for a in algorithms if a in PUBLIC_KEY_ALGORITHMS]

        if secret_failed:
            pass
        elif not key_sources:
            r.fail(
                "MOZAIKS_JWT_SECRET",
                "no verification key: set MOZAIKS_JWT_SECRET (or MOZAIKS_JWT_SECRET_ARN) "
                "for HS256, or MOZAIKS_JWT_PUBLIC_KEY / MOZAIKS_JWT_JWKS_URL for RS256/ES256",
            )
        elif len(key_sources) > 1:
            r.fail(
                key_sources[1], f"contradicts {key_sources[0]}: configure exactly one verification key source"
            )
        elif hmac and asymmetric:
            # One key for two families is how key-confusion attacks start.
            r.fail("MOZAIKS_JWT_ALGORITHMS", f"mixes HMAC {hmac} and public-key {asymmetric} algorithms")
        elif secret and not hmac and not unknown:
            r.fail(
                "MOZAIKS_JWT_SECRET",
                f"is set but MOZAIKS_JWT_ALGORITHMS={','.join(algorithms)} has no HS* "
                "algorithm: remove the secret or use HS256",
            )
        elif not secret and hmac:
            r.fail("MOZAIKS_JWT_SECRET", f"is required: MOZAIKS_JWT_ALGORITHMS allows {hmac}")
        elif (public_key or jwks_url) and not asymmetric and not unknown:
            r.fail("MOZAIKS_JWT_ALGORITHMS", "has no RS*/ES*/PS* algorithm for the configured public key")

        if secret and len(secret.encode()) < MIN_HMAC_SECRET_BYTES:
            r.fail("MOZAIKS_JWT_SECRET", f"is too short: at least {MIN_HMAC_SECRET_BYTES} bytes")
        if public_key:
            from cryptography.hazmat.primitives.asymmetric import ec, rsa
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            try:
                key = load_pem_public_key(public_key.encode())
            except ValueError:
                r.fail("MOZAIKS_JWT_PUBLIC_KEY", "is not a PEM public key (-----BEGIN PUBLIC KEY-----)")
            else:
                # A key that cannot serve the configured algorithms would fail every token, at request time.
                usable = {"RS", "PS"} if isinstance(key, rsa.RSAPublicKey) else set()
                usable |= {"ES"} if isinstance(key, ec.EllipticCurvePublicKey) else set()
                wrong = [a for a in asymmetric if a[:2] not in usable]
                if wrong:
                    kind = type(key).__name__.removeprefix("_")
                    r.fail("MOZAIKS_JWT_PUBLIC_KEY", f"a {kind} cannot verify {wrong}")
        if jwks_url:
            parts = urlsplit(jwks_url)
            # Plain http only on loopback (tests, local servers): keys fetched in clear can be swapped.
            if not parts.hostname or not (
                parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname))
            ):
                r.fail("MOZAIKS_JWT_JWKS_URL", f"must be an https:// URL, got {jwks_url!r}")

        app_claim = r.text("MOZAIKS_APP_ID_CLAIM", "app_id") or "app_id"
        user_claim = r.text("MOZAIKS_USER_ID_CLAIM", "sub") or "sub"
        for name, value in (("MOZAIKS_APP_ID_CLAIM", app_claim), ("MOZAIKS_USER_ID_CLAIM", user_claim)):
            if not _CLAIM_NAME.match(value):
                r.fail(name, f"is not a valid claim name: {value!r}")
        if app_claim == user_claim:
            r.fail("MOZAIKS_USER_ID_CLAIM", "must differ from MOZAIKS_APP_ID_CLAIM")

        audience = tuple(a.strip() for a in (r.text("MOZAIKS_JWT_AUDIENCE") or "").split(",") if a.strip())
        values: dict[str, Any] = {
            "algorithms": tuple(algorithms),
            "secret": SecretStr(secret) if secret else None,
            "public_key": public_key,
            "jwks_url": jwks_url,
            "audience": audience,
            "issuer": r.text("MOZAIKS_JWT_ISSUER"),
            "app_id_claim": app_claim,
            "user_id_claim": user_claim,
            "leeway_seconds": r.integer("MOZAIKS_JWT_LEEWAY_SECONDS", 30, 0, 300),
            "max_token_bytes": r.integer("MOZAIKS_JWT_MAX_BYTES", 8192, 256, 65536),
            "jwks_timeout_seconds": r.integer("MOZAIKS_JWT_JWKS_TIMEOUT_SECONDS", 3, 1, 20),
            "jwks_cache_seconds": r.integer("MOZAIKS_JWT_JWKS_CACHE_SECONDS", 300, 0, 86400),
        }
        r.done()
        return cls(**values)
