"""``steerlab serve``'s HTTP API: tasks' active releases behind a task endpoint and an
OpenAI-compatible chat endpoint.

Routes:

- ``POST /v1/tasks/{task}/predict`` with ``{"inputs": {field: text, ...}}``: the contract-valid
  output, its confidence and citations, the release that answered, and the route (``primary``,
  ``fallback``, or ``escalated`` with ``output: null`` and the reason, for a human queue).
- ``POST /v1/chat/completions``: OpenAI's wire format with ``model`` = the task name; the last
  user message is the task's input (its only input field, or a JSON object of fields), and the
  reply's content is the output as JSON. Any OpenAI client can call a release unchanged.
- ``GET /healthz`` (the process is up) and ``GET /readyz`` (every task has a release loaded).
- ``POST /v1/tasks/{task}/feedback`` with ``{"request_id", "output", "reviewer", "note"?}``: a
  reviewer's correction of a logged request, stored in the request log; ``steerlab feedback
  apply`` turns the corrections into a new dataset version.
- ``GET /metrics``: Prometheus metrics (:mod:`.metrics`), every answer series by release.

Before any model reads a request, the task's guardrails run (:mod:`.guardrails`): a policy
refusal is answered with ``route: "refused"`` and the rule's message; an input that looks like a
prompt injection gets a 400 (``code: "prompt_injection"``) unless the task escalates those.

Every ``/v1/`` request needs an API key (``Authorization: Bearer KEY`` or ``X-API-Key``) when the
workspace has keys (:mod:`.security`), is held to its key's rate (429 with ``Retry-After``), and
must declare a body no larger than ``max_body_bytes`` (413; 411 without a Content-Length).
Every ``/v1/`` request, answered or refused, is written to the request log with its inputs
redacted by the task's guardrails (or ``redactor``), with an ``X-Request-Id`` the client also gets.

Errors are JSON ``{"error": {"message", "type", "code"}}`` with a 4xx status for anything the
client can fix; an unexpected failure is a 500 with a request id and never a stack trace.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from steerlab.errors import SteerlabError
from steerlab.serving.guardrails import InjectionBlocked
from steerlab.serving.metrics import CONTENT_TYPE_LATEST, ServingMetrics
from steerlab.serving.requestlog import LogEntry, RequestLog
from steerlab.serving.security import KeyStore, RateLimiter
from steerlab.serving.service import TaskService

__all__ = ["create_serving_app"]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: dict[str, Any]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: str
    output: Any
    reviewer: str
    note: str | None = None


class ChatMessage(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage]


def _error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": code}}, status_code=status)


Redactor = Callable[[dict[str, Any]], dict[str, Any]]


def create_serving_app(
    services: dict[str, TaskService],
    *,
    keys: KeyStore | None = None,
    max_body_bytes: int = 65_536,
    log: RequestLog | None = None,
    redactor: Redactor | None = None,
) -> FastAPI:
    """The API over ``services`` (task name → service); they are started with the app."""
    keys = keys or KeyStore([])
    limiter = RateLimiter()
    metrics = ServingMetrics()
    for name, service in services.items():
        service.on_switch.append(lambda shares, name=name: metrics.shares(name, shares))
        metrics.shares(name, service.shares)  # a service started before the app was made

    async def scanned(service: TaskService, inputs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The inputs as the log keeps them, and their PII findings: one scan per request serves
        the log here and the model's redaction in the service."""
        text = {k: v for k, v in inputs.items() if isinstance(v, str)}
        spans = await asyncio.to_thread(service.guardrails.spans, text) if text else {}
        if redactor is not None:
            return await asyncio.to_thread(redactor, inputs), spans
        return service.guardrails.for_log(inputs, spans), spans

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for service in services.values():
            await service.start()
        yield
        for service in services.values():
            await service.close()
        if log is not None:
            log.close()

    app = FastAPI(title="steerlab", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.metrics = metrics

    def service_for(task: str) -> TaskService | JSONResponse:
        if task not in services:
            served = ", ".join(sorted(services))
            return _error(404, f"unknown task {task!r}; served: {served}", "not_found", "task_not_found")
        return services[task]

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        if not request.url.path.startswith("/v1/"):
            return await call_next(request)
        if request.method == "POST":
            length = request.headers.get("content-length")
            if length is None:
                return _error(411, "a Content-Length header is required", "invalid_request_error")
            if not length.isdigit() or int(length) > max_body_bytes:
                return _error(413, f"request body over {max_body_bytes} bytes", "invalid_request_error")
        if not keys.open:
            header = request.headers.get("authorization", "")
            given = header.removeprefix("Bearer ").strip() if header else request.headers.get("x-api-key")
            record = keys.find(given)
            if record is None:
                return _error(401, "missing or unknown API key", "authentication_error", "invalid_api_key")
            request.state.key_name = record.name  # logged with the request, limited or not
            allowed, wait = limiter.allow(record.name, record.rate_per_minute)
            if not allowed:
                response = _error(429, f"rate limit of {record.rate_per_minute}/min", "rate_limit_error")
                response.headers["Retry-After"] = str(max(1, round(wait)))
                return response
            request.state.key_name = record.name
        return await call_next(request)

    # Registered last, so outermost (Starlette runs the last-added middleware first): requests
    # the guard refuses (401, 411, 413, 429) are logged and counted too.
    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Response:
        """Outermost: give every /v1/ request an id and log how it ended, whoever answered."""
        if not request.url.path.startswith("/v1/"):
            return await call_next(request)
        request_id = uuid.uuid4().hex[:16]
        request.state.request_id = request_id
        request.state.entry = {}
        started = time.perf_counter()
        metrics.in_flight.inc()
        try:
            response = await call_next(request)
        finally:
            metrics.in_flight.dec()
        response.headers["X-Request-Id"] = request_id
        latency = time.perf_counter() - started
        entry = request.state.entry
        path = request.url.path.split("/")
        task = entry.pop("task", None) or (path[3] if len(path) > 3 and path[2] == "tasks" else "-")
        batch_size = entry.pop("batch_size", None)
        if task in services:  # unknown names are the client's, not a series to keep forever
            metrics.observe(
                task=task,
                release=entry.get("release") or "-",
                route=entry.get("route") or "-",
                status=response.status_code,
                latency_s=latency,
                confidence=entry.get("confidence"),
                input_tokens=entry.get("input_tokens") or 0,
                output_tokens=entry.get("output_tokens") or 0,
                batch_size=batch_size,
            )
        if log is not None:
            log.write(
                LogEntry(
                    request_id=request_id,
                    task=task,
                    status=response.status_code,
                    key_name=getattr(request.state, "key_name", None),
                    **{"latency_s": latency, **entry},
                )
            )
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}", "invalid_request_error")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail), "invalid_request_error")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", None) or uuid.uuid4().hex[:16]
        return _error(500, f"internal error (request {request_id})", "server_error")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def prometheus() -> Response:
        if log is not None:
            metrics.log_dropped.set(log.dropped)
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        state = {name: (s.active.id if s.active else None) for name, s in services.items()}
        ready = all(state.values())
        return JSONResponse({"ready": ready, "releases": state}, status_code=200 if ready else 503)

    async def answer_for(request: Request, service: TaskService, inputs: dict[str, Any]) -> Any:
        """The service's answer, with what the log needs put on the request."""
        entry = request.state.entry
        logged, spans = await scanned(service, inputs)
        entry.update(task=service.task.name, inputs=logged)
        try:
            answer = await service.predict(inputs, spans=spans)
        except InjectionBlocked as error:
            entry.update(reason=error.message, route="blocked")
            metrics.guardrails.labels(service.task.name, "injection").inc()
            raise
        except SteerlabError as error:
            entry["reason"] = error.message
            raise
        if answer.guardrail is not None:
            kind = "refusal" if answer.route == "refused" else "injection"
            metrics.guardrails.labels(service.task.name, kind).inc()
        entry.update(
            release=answer.release,
            route=answer.route,
            confidence=answer.confidence,
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
            output=answer.output,
            reason=answer.reason,
            batch_size=answer.batch_size,
            routed_to=answer.routed_to or answer.release,
        )
        return answer

    @app.post("/v1/tasks/{task}/predict")
    async def predict(task: str, body: PredictRequest, request: Request) -> JSONResponse:
        service = service_for(task)
        if isinstance(service, JSONResponse):
            return service
        try:
            answer = await answer_for(request, service, body.inputs)
        except InjectionBlocked as error:
            return _error(400, error.message, "invalid_request_error", "prompt_injection")
        except SteerlabError as error:
            return _error(422, error.message, "invalid_request_error", "invalid_inputs")
        return JSONResponse({"task": task, "request_id": request.state.request_id, **answer.to_dict()})

    @app.post("/v1/tasks/{task}/feedback")
    async def feedback(task: str, body: FeedbackRequest, request: Request) -> JSONResponse:
        from steerlab.serving.feedback import record_feedback

        service = service_for(task)
        if isinstance(service, JSONResponse):
            return service
        if log is None:
            return _error(404, "this server keeps no request log, so it takes no feedback", "not_found")
        request.state.entry.update(task=task, reason=f"feedback on {body.request_id}")
        try:
            stored = await asyncio.to_thread(
                record_feedback, log, service.task, body.request_id, body.output, body.reviewer, body.note
            )
        except SteerlabError as error:
            if error.message.startswith("cannot connect"):
                return _error(503, "the request log database is unavailable", "server_error")
            code = "request_not_found" if "no request" in error.message else "invalid_feedback"
            return _error(
                404 if code == "request_not_found" else 422, error.message, "invalid_request_error", code
            )
        return JSONResponse({"task": task, "feedback": stored})

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, request: Request) -> JSONResponse:
        service = service_for(body.model)
        if isinstance(service, JSONResponse):
            return service
        user = [m.content for m in body.messages if m.role == "user"]
        if not user:
            return _error(422, "messages: no user message", "invalid_request_error")
        names = [f.name for f in service.task.inputs]
        try:
            inputs = _chat_inputs(user[-1], names)
            answer = await answer_for(request, service, inputs)
        except InjectionBlocked as error:
            return _error(400, error.message, "invalid_request_error", "prompt_injection")
        except SteerlabError as error:
            return _error(422, error.message, "invalid_request_error", "invalid_inputs")
        content = json.dumps(answer.output) if answer.output is not None else ""
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop" if answer.output is not None else "content_filter",
                    }
                ],
                "usage": {
                    "prompt_tokens": answer.input_tokens,
                    "completion_tokens": answer.output_tokens,
                    "total_tokens": answer.input_tokens + answer.output_tokens,
                },
                "steerlab": answer.to_dict(),
            }
        )

    return app


def _chat_inputs(content: str, names: list[str]) -> dict[str, Any]:
    """A chat message as task inputs: the text itself for a one-field task, else a JSON object."""
    if len(names) == 1:
        return {names[0]: content}
    from steerlab.errors import ConfigError

    try:
        value = json.loads(content)
    except ValueError as error:
        raise ConfigError(
            f"this task takes {names}: send them as a JSON object in the user message"
        ) from error
    if not isinstance(value, dict):
        raise ConfigError(f"this task takes {names}: send them as a JSON object in the user message")
    return value
