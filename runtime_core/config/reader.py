"""Reading variables: every problem collected, each naming the variable to fix, secrets resolved from ARNs.

Secrets convention: a variable ``NAME`` may instead be given as ``NAME_ARN``, the ARN of a Secrets Manager
secret (its SecretString is the value) or of an SSM parameter
(``arn:aws:ssm:REGION:ACCOUNT:parameter/NAME``, decrypted). It is resolved with boto3 when the settings are
loaded and cached for the life of the container. Setting both ``NAME`` and ``NAME_ARN`` is an error.
(CloudFormation ``{{resolve:...}}`` references are not used: they would put the plain secret into the
function's environment, visible to anyone who can read the function configuration.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

from pydantic import BaseModel, ConfigDict

from runtime_core.config.variables import VARIABLES

Environ = Mapping[str, str]
SecretFetcher = Callable[[str], str]


class ConfigProblem(BaseModel):
    model_config = ConfigDict(frozen=True)

    variable: str
    message: str


class ConfigError(ValueError):
    """Configuration is missing or contradictory. ``problems`` name each variable to fix.

    The message is one line, so a failed cold start shows every variable to fix in one log line.
    """

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        listed = "; ".join(f"{p.variable}: {p.message}" for p in problems)
        super().__init__(f"invalid configuration ({len(problems)} problem(s)): {listed}")

    @property
    def variables(self) -> list[str]:
        return [p.variable for p in self.problems]


# --- secrets ---

_SECRET_CACHE: dict[str, str] = {}
_ARN = re.compile(
    r"^arn:aws[a-z-]*:(?P<service>secretsmanager|ssm):(?P<region>[a-z0-9-]+):\d{12}:(?P<rest>.+)$"
)


def fetch_secret(arn: str) -> str:
    """Resolve a Secrets Manager or SSM parameter ARN, once per container (warm calls hit a cache)."""
    if arn in _SECRET_CACHE:
        return _SECRET_CACHE[arn]
    match = _ARN.match(arn)
    if match is None:
        raise ValueError("is not a Secrets Manager or SSM parameter ARN")
    # boto3 is imported here, not at module level: handlers that need no secret never pay for it.
    import boto3

    region = match["region"]
    if match["service"] == "secretsmanager":
        response = boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=arn)
        value = response.get("SecretString")
        if value is None:
            raise ValueError("the secret has no SecretString (binary secrets are not supported)")
    else:
        rest = match["rest"]
        if not rest.startswith("parameter/"):
            raise ValueError("an SSM ARN must name a parameter (…:parameter/NAME)")
        name = "/" + rest.removeprefix("parameter/").lstrip("/")
        client = boto3.client("ssm", region_name=region)
        value = client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    _SECRET_CACHE[arn] = value
    return value


def clear_secret_cache() -> None:
    _SECRET_CACHE.clear()


class Reader:
    """Reads variables and collects every problem, so one failed deploy shows them all.

    Only variables declared in ``VARIABLES`` may be read: the declaration is what the template check and the
    deployment docs are built from, so an undeclared read is a programming error, caught by any test.
    """

    def __init__(self, env: Environ | None, fetch: SecretFetcher | None) -> None:
        self.env: Environ = os.environ if env is None else env
        self.fetch = fetch_secret if fetch is None else fetch
        self.problems: list[ConfigProblem] = []

    def fail(self, variable: str, message: str) -> None:
        self.problems.append(ConfigProblem(variable=variable, message=message))

    def text(self, name: str, default: str | None = None) -> str | None:
        if name not in VARIABLES:
            raise KeyError(f"{name} is not declared in runtime_core/config/variables.py")
        # An empty value means unset: CloudFormation cannot omit a variable from a parameter, only blank it.
        value = self.env.get(name, "").strip()
        return value or default

    def required(self, name: str, hint: str) -> str:
        value = self.text(name)
        if value is None:
            self.fail(name, f"is required ({hint})")
            return ""
        return value

    def secret(self, name: str) -> str | None:
        """``NAME`` directly or ``NAME_ARN`` resolved; both is a contradiction."""
        direct, arn_name = self.text(name), f"{name}_ARN"
        arn = self.text(arn_name)
        if direct and arn:
            self.fail(name, f"set either {name} or {arn_name}, not both")
            return None
        if arn is None:
            return direct
        try:
            return self.fetch(arn)
        except Exception as exc:  # any SDK or parse failure must name the variable, not crash the import
            self.fail(arn_name, f"cannot be resolved: {exc}")
            return None

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.fail(name, f"must be an integer, got {raw!r}")
            return default
        if not low <= value <= high:
            self.fail(name, f"must be between {low} and {high}, got {value}")
            return default
        return value

    def done(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)
