"""Keys and verifier settings for the auth tests."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from runtime_core.config import JwtSettings
from tests.auth.tokens import AUDIENCE, ISSUER, SECRET, JwksServer, public_pem


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def hs_settings() -> JwtSettings:
    return JwtSettings.from_env(
        {
            "MOZAIKS_JWT_SECRET": SECRET,
            "MOZAIKS_JWT_ALGORITHMS": "HS256",
            "MOZAIKS_JWT_AUDIENCE": AUDIENCE,
            "MOZAIKS_JWT_ISSUER": ISSUER,
        }
    )


@pytest.fixture
def rs_settings(rsa_key: rsa.RSAPrivateKey) -> JwtSettings:
    return JwtSettings.from_env(
        {
            "MOZAIKS_JWT_PUBLIC_KEY": public_pem(rsa_key).replace("\n", "\\n"),
            "MOZAIKS_JWT_ALGORITHMS": "RS256",
            "MOZAIKS_JWT_AUDIENCE": AUDIENCE,
            "MOZAIKS_JWT_ISSUER": ISSUER,
        }
    )


@pytest.fixture
def jwks_server(ec_key: ec.EllipticCurvePrivateKey) -> Iterator[JwksServer]:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    jwk.update({"kid": "ec-1", "alg": "ES256", "use": "sig"})
    server = JwksServer([jwk])
    server.thread.start()
    yield server
    server.close()


@pytest.fixture
def es_jwks_settings(jwks_server: JwksServer) -> JwtSettings:
    return JwtSettings.from_env(
        {
            "MOZAIKS_JWT_JWKS_URL": jwks_server.url,
            "MOZAIKS_JWT_ALGORITHMS": "ES256",
            "MOZAIKS_JWT_AUDIENCE": AUDIENCE,
            "MOZAIKS_JWT_ISSUER": ISSUER,
        }
    )
