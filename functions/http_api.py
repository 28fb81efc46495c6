"""The HTTP API: API Gateway HTTP API events to the FastAPI app (``runtime_core.http_api``) through Mangum."""

from mangum import Mangum

from runtime_core.http_api import app
from runtime_core.wiring import Role, cold_start

cold_start(Role.http)

handler = Mangum(app, lifespan="off")
