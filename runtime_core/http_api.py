"""The HTTP API: health, workflows, and a tenant's sessions, transcripts, events and usage (FastAPI behind
Mangum).

Every route but ``/health`` takes ``Authorization: Bearer <jwt>``, verified with the same settings as
``$connect``. Sessions are tenant-scoped: another tenant's session is a 404 exactly like a missing one. Usage
is the caller's own (its app and user), from the daily rollups (``/usage``) or a session's ledger rows.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from runtime_core.auth import AuthError
from runtime_core.services import get_services
from runtime_core.session import ChatMessage, SessionState, Tenant, UsageTotals
from runtime_core.telemetry import bind_invocation, runtime_logger, unbind_invocation
from runtime_core.usage import Dimension, SessionUsage, UsageRange, UsageReport

MAX_EVENTS_PAGE = 500
MAX_SESSIONS_PAGE = 200

app = FastAPI(title="MozaiksAI Runtime", docs_url=None, redoc_url=None, openapi_url=None)

_loop: asyncio.AbstractEventLoop | None = None


def current_event_loop() -> asyncio.AbstractEventLoop:
    """Set (and return) the loop Mangum runs the app on. Mangum takes ``asyncio.get_event_loop()``, which
    raises in the main thread once anything in the process ran a loop to completion (``asyncio.run`` closes
    it and leaves none set) and, from Python 3.14, whenever none is set; one loop of our own, kept for the
    container's life, makes each invocation independent of what else the process did."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_loop)
    return _loop


class Problem(BaseModel):
    file: str
    line: int | None
    field: str
    message: str


class WorkflowInfo(BaseModel):
    name: str
    valid: bool
    description: str = ""
    content_hash: str | None = None
    errors: list[Problem] = []


class SessionView(BaseModel):
    session_id: str
    workflow: str
    status: str
    turn: int
    last_event_seq: int
    next_speaker: str | None
    pending_request: dict[str, Any] | None
    usage: UsageTotals
    error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, state: SessionState) -> SessionView:
        return cls(
            session_id=state.session_id,
            workflow=state.workflow_name,
            status=state.status.value,
            turn=state.turn,
            last_event_seq=state.last_event_seq,
            next_speaker=state.next_speaker,
            pending_request=state.pending_input.model_dump(mode="json") if state.pending_input else None,
            usage=state.usage,
            error=state.error,
            created_at=state.created_at,
            updated_at=state.updated_at,
        )


class MessageView(BaseModel):
    seq: int
    speaker: str
    role: str
    content: str | None
    tool_calls: list[dict[str, Any]]
    tool_call_id: str | None
    turn: int
    created_at: datetime

    @classmethod
    def of(cls, message: ChatMessage) -> MessageView:
        return cls(
            seq=message.seq,
            speaker=message.speaker,
            role=message.role,
            content=message.content,
            tool_calls=[c.model_dump() for c in message.tool_calls],
            tool_call_id=message.tool_call_id,
            turn=message.turn,
            created_at=message.created_at,
        )


class Unauthorized(Exception):
    def __init__(self, error: AuthError) -> None:
        self.error = error


@app.exception_handler(Unauthorized)
async def _unauthorized(request: Request, exc: Unauthorized) -> JSONResponse:
    err = exc.error
    headers = {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{err.reason}"'}
    return JSONResponse(
        {"error": str(err.reason), "message": err.message}, status_code=err.status, headers=headers
    )


@app.middleware("http")
async def _correlate(request: Request, call_next: Any) -> Any:
    log = runtime_logger()
    event = request.scope.get("aws.event") or {}
    request_id = (event.get("requestContext") or {}).get("requestId")
    bind_invocation(log, request_id=request_id)
    try:
        return await call_next(request)
    finally:
        unbind_invocation(log)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        from runtime_core.auth import AuthReason

        raise Unauthorized(AuthError(AuthReason.missing_token, "send Authorization: Bearer <jwt>"))
    return token.strip()


def tenant(request: Request) -> Tenant:
    token = _bearer(request)
    try:
        verified: Tenant = get_services().verifier.verify(token)
    except AuthError as err:
        raise Unauthorized(err) from None
    runtime_logger().append_keys(app_id=verified.app_id)
    return verified


Caller = Annotated[Tenant, Depends(tenant)]


def _not_found(session_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no session {session_id!r}")


def _owned(caller: Tenant, session_id: str) -> SessionState:
    from runtime_core.store.protocol import SessionNotFound

    # Tenant-scoped lookup: someone else's session and a missing one are the same 404.
    try:
        return get_services().store.get_session(caller, session_id)
    except SessionNotFound:
        raise _not_found(session_id) from None


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


class TokenStatus(BaseModel):
    valid: bool
    app_id: str
    user_id: str
    # When connections opened with it are closed (exp plus the accepted clock skew).
    expires_at: datetime


@app.get("/token")
def check_token(request: Request) -> TokenStatus:
    """What a page asks when its socket would not open: a browser cannot read the upgrade's status, so
    "401 expired" here (the same reasons and statuses as $connect) tells a stale token from an outage."""
    token = _bearer(request)
    try:
        verified, expires_at = get_services().verifier.verify_until(token)
    except AuthError as err:
        raise Unauthorized(err) from None
    return TokenStatus(valid=True, app_id=verified.app_id, user_id=verified.user_id, expires_at=expires_at)


def _describe(name: str) -> WorkflowInfo:
    from runtime_core.workflow import WorkflowValidationError

    services = get_services()
    if name not in services.workflow_names():
        raise HTTPException(status_code=404, detail=f"no workflow {name!r}")
    try:
        # The services cache a loaded workflow until its files change: listing does not re-parse YAML.
        workflow = services.workflow(name)
    except WorkflowValidationError as exc:
        return WorkflowInfo(name=name, valid=False, errors=[Problem(**e.model_dump()) for e in exc.errors])
    return WorkflowInfo(
        name=name,
        valid=True,
        description=workflow.orchestrator.description,
        content_hash=workflow.content_hash,
    )


@app.get("/workflows")
def list_workflows(caller: Caller) -> dict[str, list[WorkflowInfo]]:
    return {"workflows": [_describe(name) for name in get_services().workflow_names()]}


@app.get("/workflows/{name}")
def get_workflow(name: str, caller: Caller) -> WorkflowInfo:
    return _describe(name)


@app.post("/workflows/{name}/validate")
def validate_workflow(name: str, caller: Caller) -> WorkflowInfo:
    return _describe(name)


@app.get("/sessions")
def list_sessions(
    caller: Caller, limit: Annotated[int, Query(ge=1, le=MAX_SESSIONS_PAGE)] = 50
) -> dict[str, list[dict[str, Any]]]:
    summaries = get_services().store.list_sessions(caller, limit=limit)
    return {"sessions": [s.model_dump(mode="json") for s in summaries]}


@app.get("/sessions/{session_id}")
def get_session(session_id: str, caller: Caller) -> SessionView:
    return SessionView.of(_owned(caller, session_id))


@app.get("/sessions/{session_id}/messages")
def get_messages(session_id: str, caller: Caller) -> dict[str, list[MessageView]]:
    _owned(caller, session_id)
    messages = get_services().store.history(caller, session_id)
    return {"messages": [MessageView.of(m) for m in messages]}


@app.get("/sessions/{session_id}/events")
def get_events(
    session_id: str,
    caller: Caller,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS_PAGE)] = MAX_EVENTS_PAGE,
) -> dict[str, Any]:
    _owned(caller, session_id)
    events = get_services().store.events_after(caller, session_id, after, limit=limit)
    return {"events": [e.model_dump(mode="json") for e in events]}


@app.get("/usage")
def get_usage(
    caller: Caller,
    since: date | None = None,
    until: date | None = None,
    by: Dimension = "day",
) -> UsageReport:
    """The caller's usage per UTC day (``by=day``) or per day and model / workflow / agent, over
    ``since``..``until`` (inclusive; default the last 30 days), with totals per key and overall."""
    try:
        span = UsageRange.of(since, until)
    except ValidationError as exc:
        raise HTTPException(status_code=400, detail=exc.errors()[0]["msg"]) from None
    return get_services().store.usage_report(caller.app_id, caller.user_id, span, by)


@app.get("/sessions/{session_id}/usage")
def get_session_usage(session_id: str, caller: Caller) -> SessionUsage:
    _owned(caller, session_id)
    return get_services().store.session_usage(caller, session_id)
