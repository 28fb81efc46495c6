"""Every broken or hostile token is refused with the right reason and status, and never crashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from runtime_core.auth import AuthError, AuthReason, TokenVerifier
from runtime_core.config import JwtSettings
from tests.auth.tokens import SECRET, JwksServer, claims, public_pem


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], key: bytes | None = None) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def hs(payload: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256", **headers: Any) -> str:
    return jwt.encode(payload, secret, algorithm=algorithm, headers=headers or None)


def tamper_payload(token: str) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64(json.dumps(claims(app_id='someone-else')).encode())}.{signature}"


def tamper_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = "A" if signature[5] != "A" else "B"
    return f"{header}.{payload}.{signature[:5]}{flipped}{signature[6:]}"


HS_CORPUS: list[tuple[str, Callable[[], str], AuthReason, int]] = [
    (
        "alg none",
        lambda: forge({"alg": "none", "typ": "JWT"}, claims()),
        AuthReason.unsupported_algorithm,
        401,
    ),
    ("alg None capitalised", lambda: forge({"alg": "None"}, claims()), AuthReason.unsupported_algorithm, 401),
    (
        "no alg in header",
        lambda: forge({"typ": "JWT"}, claims(), SECRET.encode()),
        AuthReason.unsupported_algorithm,
        401,
    ),
    ("expired", lambda: hs(claims(exp=int(time.time()) - 3600)), AuthReason.expired, 401),
    ("not yet valid (nbf)", lambda: hs(claims(nbf=int(time.time()) + 3600)), AuthReason.not_yet_valid, 401),
    ("issued in the future", lambda: hs(claims(iat=int(time.time()) + 3600)), AuthReason.not_yet_valid, 401),
    ("wrong audience", lambda: hs(claims(aud="someone-else")), AuthReason.wrong_audience, 401),
    ("missing audience", lambda: hs(claims(aud=...)), AuthReason.wrong_audience, 401),
    ("wrong issuer", lambda: hs(claims(iss="https://evil.test/")), AuthReason.wrong_issuer, 401),
    ("missing issuer", lambda: hs(claims(iss=...)), AuthReason.wrong_issuer, 401),
    ("tampered payload", lambda: tamper_payload(hs(claims())), AuthReason.invalid_signature, 401),
    ("tampered signature", lambda: tamper_signature(hs(claims())), AuthReason.invalid_signature, 401),
    (
        "wrong key",
        lambda: hs(claims(), secret="another-secret-that-is-long-enough-000"),
        AuthReason.invalid_signature,
        401,
    ),
    ("missing exp", lambda: hs(claims(exp=...)), AuthReason.missing_expiry, 401),
    ("exp not a number", lambda: hs(claims(exp="tomorrow")), AuthReason.malformed_token, 401),
    (
        "HS512 not allowed",
        lambda: hs(claims(), secret=SECRET * 2, algorithm="HS512"),
        AuthReason.unsupported_algorithm,
        401,
    ),
    ("garbage", lambda: "not-a-jwt", AuthReason.malformed_token, 401),
    ("empty", lambda: "", AuthReason.malformed_token, 401),
    ("two segments", lambda: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0", AuthReason.malformed_token, 401),
    ("header not JSON", lambda: f"{b64(b'not json')}.{b64(b'{}')}.c2ln", AuthReason.malformed_token, 401),
    ("whitespace inside", lambda: hs(claims()).replace(".", ". ", 1), AuthReason.malformed_token, 401),
    ("non-ASCII", lambda: "é" + hs(claims()), AuthReason.malformed_token, 401),
    ("oversized", lambda: hs(claims(pad="x" * 9000)), AuthReason.token_too_large, 401),
    ("missing app_id", lambda: hs(claims(app_id=...)), AuthReason.missing_claim, 403),
    ("missing sub", lambda: hs(claims(sub=...)), AuthReason.missing_claim, 403),
    ("empty app_id", lambda: hs(claims(app_id="")), AuthReason.invalid_claim, 403),
    ("blank sub", lambda: hs(claims(sub="   ")), AuthReason.invalid_claim, 403),
    ("numeric app_id", lambda: hs(claims(app_id=42)), AuthReason.invalid_claim, 403),
    ("list sub", lambda: hs(claims(sub=["a", "b"])), AuthReason.invalid_claim, 403),
    ("app_id too long", lambda: hs(claims(app_id="a" * 300)), AuthReason.invalid_claim, 403),
    ("control char in sub", lambda: hs(claims(sub="user\n1")), AuthReason.invalid_claim, 403),
    ("bidi override in app_id", lambda: hs(claims(app_id="app\u202e1")), AuthReason.invalid_claim, 403),
]


@pytest.mark.parametrize(("name", "make", "reason", "status"), HS_CORPUS, ids=[c[0] for c in HS_CORPUS])
def test_hs256_corpus_is_refused(
    hs_settings: JwtSettings, name: str, make: Callable[[], str], reason: AuthReason, status: int
) -> None:
    with pytest.raises(AuthError) as caught:
        TokenVerifier(hs_settings).verify(make())
    assert caught.value.reason == reason, caught.value
    assert caught.value.status == status


def test_corpus_is_large_enough() -> None:
    assert len(HS_CORPUS) >= 15


def test_hs256_signed_with_the_rsa_public_key_is_refused(rs_settings: JwtSettings, rsa_key: Any) -> None:
    # The classic key-confusion attack: the public key (which anyone has) used as an HMAC secret.
    token = forge({"alg": "HS256", "typ": "JWT"}, claims(), public_pem(rsa_key).encode())
    with pytest.raises(AuthError) as caught:
        TokenVerifier(rs_settings).verify(token)
    assert caught.value.reason == AuthReason.unsupported_algorithm
    assert caught.value.status == 401


def test_rs256_signed_by_another_key_is_refused(rs_settings: JwtSettings, other_rsa_key: Any) -> None:
    token = jwt.encode(claims(), other_rsa_key, algorithm="RS256")
    with pytest.raises(AuthError) as caught:
        TokenVerifier(rs_settings).verify(token)
    assert caught.value.reason == AuthReason.invalid_signature


def test_kid_not_in_jwks_is_refused(es_jwks_settings: JwtSettings, ec_key: Any) -> None:
    token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "unknown-kid"})
    with pytest.raises(AuthError) as caught:
        TokenVerifier(es_jwks_settings).verify(token)
    assert (caught.value.reason, caught.value.status) == (AuthReason.unknown_key, 401)


def test_jwks_token_without_kid_is_refused(es_jwks_settings: JwtSettings, ec_key: Any) -> None:
    token = jwt.encode(claims(), ec_key, algorithm="ES256")
    with pytest.raises(AuthError) as caught:
        TokenVerifier(es_jwks_settings).verify(token)
    assert caught.value.status == 401


def test_jwks_token_signed_by_another_ec_key_is_refused(es_jwks_settings: JwtSettings) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    stranger = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(claims(), stranger, algorithm="ES256", headers={"kid": "ec-1"})
    with pytest.raises(AuthError) as caught:
        TokenVerifier(es_jwks_settings).verify(token)
    assert caught.value.reason == AuthReason.invalid_signature


def test_unreachable_jwks_is_a_503_not_a_401(jwks_server: JwksServer, ec_key: Any) -> None:
    url = jwks_server.url
    jwks_server.close()
    settings = JwtSettings.from_env(
        {
            "MOZAIKS_JWT_JWKS_URL": url,
            "MOZAIKS_JWT_ALGORITHMS": "ES256",
            "MOZAIKS_JWT_JWKS_TIMEOUT_SECONDS": "1",
        }
    )
    token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})
    with pytest.raises(AuthError) as caught:
        TokenVerifier(settings).verify(token)
    assert (caught.value.reason, caught.value.status) == (AuthReason.keys_unavailable, 503)


@pytest.mark.parametrize(
    "kid", [123, None, "", "x" * 2000, ["ec-1"]], ids=["int", "null", "empty", "long", "list"]
)
def test_hostile_kid_values_are_refused_not_crashing(es_jwks_settings: JwtSettings, kid: Any) -> None:
    header = {"alg": "ES256", "kid": kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}"
    token = f"{signing_input}.{b64(b'x' * 64)}"
    with pytest.raises(AuthError) as caught:
        TokenVerifier(es_jwks_settings).verify(token)
    assert caught.value.status == 401


def test_mutated_tokens_only_ever_raise_auth_error(hs_settings: JwtSettings) -> None:
    # Deterministic mutation fuzzing: whatever the bytes, the answer is an AuthError, never a crash.
    import random

    rng = random.Random(5)
    valid = hs(claims())
    verifier = TokenVerifier(hs_settings)
    alphabet = "ABCxyz019-_.=+/ \x00é"
    for _ in range(400):
        chars = list(valid)
        for _ in range(rng.randint(1, 4)):
            chars[rng.randrange(len(chars))] = rng.choice(alphabet)
        try:
            verifier.verify("".join(chars))
        except AuthError as error:
            assert error.status in (401, 403)
