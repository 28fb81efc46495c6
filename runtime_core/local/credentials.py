"""Development credentials: an HS256 secret kept under ``.mozaiks/`` and a long-lived token signed with it.

Only for a local server with no ``MOZAIKS_JWT_*`` configuration. The secret is generated once and reused, so
tokens (and browser tabs holding them) survive restarts. The token is also written next to the secret, which
is where ``mozaiks chat`` looks for it.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import jwt
from pydantic import BaseModel, ConfigDict

from runtime_core.config import MIN_HMAC_SECRET_BYTES

SECRET_FILE = "dev-secret"
TOKEN_FILE = "dev-token"
DEV_APP_ID = "local"
DEV_USER_ID = "developer"
DEV_TOKEN_DAYS = 365
JWT_VARIABLES = (
    "MOZAIKS_JWT_SECRET",
    "MOZAIKS_JWT_SECRET_ARN",
    "MOZAIKS_JWT_PUBLIC_KEY",
    "MOZAIKS_JWT_JWKS_URL",
    "MOZAIKS_JWT_ALGORITHMS",
)


class DevCredentials(BaseModel):
    model_config = ConfigDict(frozen=True)

    secret: str
    token: str
    token_file: Path


def jwt_configured(env: dict[str, str] | None = None) -> bool:
    """True when the operator set any verification key or algorithm: then tokens are checked as in AWS."""
    values = os.environ if env is None else env
    return any(values.get(name, "").strip() for name in JWT_VARIABLES)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def load_or_create_secret(data_dir: Path) -> str:
    path = data_dir / SECRET_FILE
    if path.is_file():
        secret = path.read_text().strip()
        if len(secret.encode()) >= MIN_HMAC_SECRET_BYTES:
            return secret
    # 48 random bytes, base64url: 64 characters, twice the HS256 minimum.
    secret = secrets.token_urlsafe(48)
    _write_private(path, secret + "\n")
    return secret


def mint_token(
    secret: str,
    app_id: str = DEV_APP_ID,
    user_id: str = DEV_USER_ID,
    days: int = DEV_TOKEN_DAYS,
) -> str:
    now = int(time.time())
    claims = {"app_id": app_id, "sub": user_id, "iat": now, "exp": now + days * 86400}
    return jwt.encode(claims, secret, algorithm="HS256")


def dev_credentials(data_dir: Path) -> DevCredentials:
    secret = load_or_create_secret(data_dir)
    token = mint_token(secret)
    token_file = data_dir / TOKEN_FILE
    _write_private(token_file, token + "\n")
    return DevCredentials(secret=secret, token=token, token_file=token_file)


def read_dev_token(data_dir: Path) -> str | None:
    path = data_dir / TOKEN_FILE
    if not path.is_file():
        return None
    return path.read_text().strip() or None
