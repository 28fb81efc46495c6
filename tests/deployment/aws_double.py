"""AWS for the deployed-shape test: moto's server (SQS, Secrets Manager, SSM, the API Gateway Management
API) in its own process, as `moto_server` runs it, with two things moto lacks:

* the Management API endpoint as API Gateway gives it, ``https://{api}.execute-api.{region}.amazonaws.com/
  {stage}``, so posts arrive under ``/{stage}/@connections/{id}``: the stage prefix is stripped before moto
  routes the request (moto's server only routes ``/@connections/...`` to the Management API);
* connections that are gone: ``POST /_double/gone/{id}`` makes every later post to ``{id}`` answer 410
  ``GoneException``, as API Gateway does once a client has left (moto never does);

and one read-back for the test: ``GET /_double/posts/{id}`` returns every byte posted to ``{id}`` (moto keeps
them concatenated), ``GET /_double/calls`` the Management API calls received.

Run: ``python -m tests.deployment.aws_double`` prints ``listening <port>`` once it accepts connections.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

STAGE_PREFIX = re.compile(r"^/[^/@]+(/@connections/.+)$")
GONE = re.compile(r"^/_double/gone/(?P<cid>[^/]+)$")
POSTS = re.compile(r"^/_double/posts/(?P<cid>[^/]+)$")
REGION = "us-east-1"

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


class Double:
    """WSGI middleware around moto's dispatcher."""

    def __init__(self, moto_app: Any) -> None:
        self.moto_app = moto_app
        self.gone: set[str] = set()
        self.calls: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if (match := GONE.match(path)) and method == "POST":
            with self.lock:
                self.gone.add(urllib.parse.unquote(match["cid"]))
            return self._json(start_response, "200 OK", {"gone": sorted(self.gone)})
        if (match := POSTS.match(path)) and method == "GET":
            return self._posts(start_response, urllib.parse.unquote(match["cid"]))
        if path == "/_double/calls":
            with self.lock:
                return self._json(start_response, "200 OK", {"calls": list(self.calls)})
        staged = STAGE_PREFIX.match(path)
        if staged:
            path = staged[1]
            environ["PATH_INFO"] = path
            # werkzeug's dev server also passes the raw request line's path on.
            for key in ("RAW_URI", "REQUEST_URI"):
                if key in environ:
                    environ[key] = STAGE_PREFIX.sub(r"\1", environ[key])
        if path.startswith("/@connections/"):
            cid = urllib.parse.unquote(path.removeprefix("/@connections/"))
            with self.lock:
                self.calls.append({"method": method, "connection_id": cid, "stage_path": str(bool(staged))})
                gone = cid in self.gone
            if gone:
                body = json.dumps({"message": f"connection {cid} is gone"}).encode()
                start_response(
                    "410 Gone",
                    [
                        ("Content-Type", "application/json"),
                        ("x-amzn-ErrorType", "GoneException"),
                        ("Content-Length", str(len(body))),
                    ],
                )
                return [body]
        return self.moto_app(environ, start_response)  # type: ignore[no-any-return]

    def _posts(self, start_response: StartResponse, cid: str) -> Iterable[bytes]:
        from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
        from moto.core import DEFAULT_ACCOUNT_ID

        connections = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][REGION].connections
        key = urllib.parse.quote(cid, safe="")
        data = bytes(connections[key].data) if key in connections else b""
        start_response(
            "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(data)))]
        )
        return [data]

    @staticmethod
    def _json(start_response: StartResponse, status: str, value: Any) -> Iterable[bytes]:
        body = json.dumps(value).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def main() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    app = Double(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"listening {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
