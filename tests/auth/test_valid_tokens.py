from __future__ import annotations

import time
from typing import Any

import jwt

from runtime_core.auth import TokenVerifier
from runtime_core.config import JwtSettings
from runtime_core.session import Tenant
from tests.auth.tokens import SECRET, JwksServer, claims


def test_hs256(hs_settings: JwtSettings) -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert TokenVerifier(hs_settings).verify(token) == Tenant(app_id="app-1", user_id="user-1")


def test_rs256_with_pem_public_key(rs_settings: JwtSettings, rsa_key: Any) -> None:
    token = jwt.encode(claims(sub="u-9", app_id="shop"), rsa_key, algorithm="RS256")
    assert TokenVerifier(rs_settings).verify(token) == Tenant(app_id="shop", user_id="u-9")


def test_es256_through_a_local_jwks_server_fetches_keys_once(
    es_jwks_settings: JwtSettings, ec_key: Any, jwks_server: JwksServer
) -> None:
    verifier = TokenVerifier(es_jwks_settings)
    for user in ("a", "b", "c"):
        token = jwt.encode(claims(sub=user), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        assert verifier.verify(token).user_id == user
    # Keys are cached between calls: one fetch serves every warm invocation.
    assert jwks_server.requests == 1


def test_custom_claim_names_and_no_audience_or_issuer() -> None:
    settings = JwtSettings.from_env(
        {
            "MOZAIKS_JWT_SECRET": SECRET,
            "MOZAIKS_APP_ID_CLAIM": "https://mozaiks.ai/app",
            "MOZAIKS_USER_ID_CLAIM": "uid",
        }
    )
    now = int(time.time())
    token = jwt.encode({"https://mozaiks.ai/app": "tenant-7", "uid": "u-3", "exp": now + 60}, SECRET, "HS256")
    assert TokenVerifier(settings).verify(token) == Tenant(app_id="tenant-7", user_id="u-3")


def test_small_clock_skew_is_tolerated(hs_settings: JwtSettings) -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 5), SECRET, algorithm="HS256")
    assert TokenVerifier(hs_settings).verify(token).user_id == "user-1"


def test_one_of_several_audiences() -> None:
    settings = JwtSettings.from_env({"MOZAIKS_JWT_SECRET": SECRET, "MOZAIKS_JWT_AUDIENCE": "web, mobile"})
    token = jwt.encode(claims(aud="mobile", iss=...), SECRET, algorithm="HS256")
    assert TokenVerifier(settings).verify(token).app_id == "app-1"
