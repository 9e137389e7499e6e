"""A minimal OpenAI-compatible HTTP API over any :class:`~steerlab.models.base.Model`.

Speaking the OpenAI wire format means every OpenAI client, including steerlab's own
:class:`~steerlab.models.openai_compat.OpenAICompatModel`, can call a steerlab model unchanged.

Routes:

- ``GET /v1/models``: the served model names.
- ``POST /v1/chat/completions``: ``messages``, ``max_tokens`` (or ``max_completion_tokens``),
  ``temperature``, ``top_p``, ``seed``, ``stop``. Defaults follow
  :class:`~steerlab.models.base.GenerationParams` (greedy, 256 tokens), not OpenAI's sampled
  default, because steerlab measures and measurements should be reproducible.
- ``POST /v1/completions``: ``prompt`` as a string or a list of strings. With ``echo=true``,
  ``logprobs`` set and ``max_tokens=0`` it returns the log-probability of every prompt token
  instead of generating (how vLLM exposes prompt logprobs, and how the client scores labels).
- ``POST /v1/tokenize``: ``{"model", "prompt"}`` or ``{"model", "messages"}`` → ``{"count": n}``.

Errors use OpenAI's body, ``{"error": {"message", "type", "param", "code"}}``; an unknown model
is a 404 with code ``model_not_found``.

**The optional ``token_logprobs`` contract.** Prompt logprobs are not part of the ``Model``
interface, because not every backend can produce them (an HTTP backend usually cannot). A model
that can defines::

    def token_logprobs(self, text: str) -> list[tuple[str, int, float | None]]: ...

returning, for each token of ``text`` read as plain text (no chat template, no special tokens
listed): the token's text, its character offset into ``text`` (non-decreasing, so that
``text[offset:]`` starts at that token), and its natural-log probability given every token before
it, or ``None`` where the model has no context for it (the first token). The server checks for the
method (:class:`SupportsTokenLogprobs`) and answers 400 with an OpenAI-style error when a model
lacks it, which clients read as "this endpoint cannot score labels".

The model calls are synchronous, so the routes are plain functions that FastAPI runs in its
thread pool; calls to one model are serialised by a lock, since a local model holds one set of
weights on one device and its backends are not promised to be thread-safe.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, Protocol, runtime_checkable

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from steerlab.errors import SteerlabError, UnsupportedError
from steerlab.models.base import Generation, GenerationParams, Model, Prompt, normalise_prompt

__all__ = ["SupportsTokenLogprobs", "create_app", "run_server_in_thread"]

_DEFAULT_MAX_TOKENS = GenerationParams().max_new_tokens


@runtime_checkable
class SupportsTokenLogprobs(Protocol):
    """A model that can report per-token log-probabilities of a text (see the module docstring)."""

    def token_logprobs(self, text: str) -> list[tuple[str, int, float | None]]: ...


class _APIError(Exception):
    """An error to answer with OpenAI's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str
    content: str


class _Request(BaseModel):
    # OpenAI clients send fields this server ignores (user, n=1, logit_bias...); accept them.
    model_config = ConfigDict(extra="ignore")
    model: str
    max_tokens: int | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int = 1
    stream: bool = False


class _ChatRequest(_Request):
    messages: list[_Message]
    max_completion_tokens: int | None = None


class _CompletionRequest(_Request):
    prompt: str | list[str]
    echo: bool = False
    logprobs: int | None = None


class _TokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str
    prompt: str | None = None
    messages: list[_Message] | None = None


def create_app(models: Mapping[str, Model]) -> FastAPI:
    """An OpenAI-compatible API serving ``models`` under the given names."""
    if not models:
        raise ValueError("create_app needs at least one model to serve")
    served = dict(models)
    locks = {name: threading.Lock() for name in served}
    created = int(time.time())
    app = FastAPI(title="steerlab", summary="OpenAI-compatible API over steerlab models")

    @contextmanager
    def use(name: str) -> Iterator[Model]:
        """The named model, held exclusively, with its input errors answered as 400s."""
        if name not in served:
            raise _APIError(
                404,
                f"The model {name!r} does not exist on this server; it serves: {', '.join(sorted(served))}",
                param="model",
                code="model_not_found",
            )
        with locks[name]:
            try:
                yield served[name]
            except (ValueError, UnsupportedError) as exc:
                raise _APIError(400, str(exc)) from exc

    @app.exception_handler(_APIError)
    async def _api_error(request: Request, exc: _APIError) -> JSONResponse:
        return _error_response(exc.status, exc.message, exc.type, exc.param, exc.code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI answers 422 with its own shape; OpenAI clients expect a 400 with error.message.
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else str(first.get("msg", exc))
        return _error_response(400, message, "invalid_request_error", where or None, None)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error_response(exc.status_code, str(exc.detail), "invalid_request_error", None, None)

    @app.exception_handler(SteerlabError)
    async def _steerlab_error(request: Request, exc: SteerlabError) -> JSONResponse:
        return _error_response(500, str(exc), "server_error", None, None)

    @app.get("/v1/models")
    def list_models() -> dict[str, Any]:
        data = [
            {"id": name, "object": "model", "created": created, "owned_by": "steerlab"} for name in served
        ]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions")
    def chat_completions(request: _ChatRequest) -> dict[str, Any]:
        _check_single(request)
        max_tokens = request.max_completion_tokens or request.max_tokens
        with use(request.model) as model:
            prompt: Prompt = normalise_prompt([m.model_dump() for m in request.messages])
            generation = model.generate([prompt], _params(request, max_tokens))[0]
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": generation.text},
            "finish_reason": generation.finish_reason,
            "logprobs": None,
        }
        return _envelope(
            "chat.completion", request.model, [choice], generation.input_tokens, generation.output_tokens
        )

    @app.post("/v1/completions")
    def completions(request: _CompletionRequest) -> dict[str, Any]:
        _check_single(request)
        prompts = [request.prompt] if isinstance(request.prompt, str) else request.prompt
        if not prompts:
            raise _APIError(400, "prompt must be a string or a non-empty list of strings", param="prompt")
        if request.max_tokens == 0:
            if not (request.echo and request.logprobs is not None):
                raise _APIError(
                    400, "max_tokens=0 is only supported with echo=true and logprobs set", param="max_tokens"
                )
            return _echo_logprobs(request, prompts)
        if request.logprobs is not None:
            raise _APIError(
                400,
                "logprobs are only supported for scoring the prompt (echo=true, max_tokens=0)",
                param="logprobs",
            )
        with use(request.model) as model:
            generations = model.generate(prompts, _params(request, request.max_tokens))
        choices = [
            {
                "index": i,
                "text": (prompt if request.echo else "") + generation.text,
                "finish_reason": generation.finish_reason,
                "logprobs": None,
            }
            for i, (prompt, generation) in enumerate(zip(prompts, generations, strict=True))
        ]
        return _envelope("text_completion", request.model, choices, *_usage(generations))

    def _echo_logprobs(request: _CompletionRequest, prompts: list[str]) -> dict[str, Any]:
        with use(request.model) as model:
            if not isinstance(model, SupportsTokenLogprobs):
                raise _APIError(
                    400,
                    f"The model {request.model!r} cannot return prompt logprobs, so echo with "
                    "logprobs is unsupported; generate and parse the answer instead",
                    param="logprobs",
                    code="logprobs_unsupported",
                )
            scored = [model.token_logprobs(prompt) for prompt in prompts]
        choices = [
            {
                "index": i,
                "text": prompt,
                "finish_reason": "length",
                "logprobs": {
                    "tokens": [token for token, _, _ in tokens],
                    "token_logprobs": [value for _, _, value in tokens],
                    "text_offset": [offset for _, offset, _ in tokens],
                    "top_logprobs": None,
                },
            }
            for i, (prompt, tokens) in enumerate(zip(prompts, scored, strict=True))
        ]
        return _envelope("text_completion", request.model, choices, sum(map(len, scored)), 0)

    @app.post("/v1/tokenize")
    def tokenize(request: _TokenizeRequest) -> dict[str, int]:
        if (request.prompt is None) == (request.messages is None):
            raise _APIError(400, "send exactly one of prompt or messages", param="prompt")
        with use(request.model) as model:
            prompt: Prompt = (
                request.prompt
                if request.prompt is not None
                else normalise_prompt([m.model_dump() for m in request.messages or []])
            )
            return {"count": model.count_tokens(prompt)}

    return app


def run_server_in_thread(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, startup_timeout_s: float = 10.0
) -> tuple[str, Callable[[], None]]:
    """Serve ``app`` with uvicorn on a background thread; return its base URL and a stop function.

    ``port=0`` lets the OS pick a free port, so parallel tests never collide; the URL carries the
    port actually bound. Returns once the server accepts connections.
    """
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"steerlab-server-{host}:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive():
            raise SteerlabError(
                f"the server could not start on {host}:{port}",
                hint="the port may be in use: pick another, or pass port=0 for a free one",
            )
        if time.monotonic() > deadline:
            server.should_exit = True
            raise SteerlabError(f"the server on {host}:{port} did not start within {startup_timeout_s:g} s")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=5)

    return f"http://{url_host}:{bound_port}", stop


def _check_single(request: _Request) -> None:
    if request.stream:
        raise _APIError(400, "stream=true is not supported by this server", param="stream")
    if request.n != 1:
        raise _APIError(400, "only n=1 is supported by this server", param="n")


def _params(request: _Request, max_tokens: int | None) -> GenerationParams:
    stop = (request.stop,) if isinstance(request.stop, str) else tuple(request.stop or ())
    try:
        return GenerationParams(
            max_new_tokens=_DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            seed=request.seed,
            stop=stop,
        )
    except ValueError as exc:
        raise _APIError(400, str(exc)) from exc


def _usage(generations: list[Generation]) -> tuple[int, int]:
    return sum(g.input_tokens for g in generations), sum(g.output_tokens for g in generations)


def _envelope(
    kind: Literal["chat.completion", "text_completion"],
    model: str,
    choices: list[dict[str, Any]],
    prompt_tokens: int,
    completion_tokens: int,
) -> dict[str, Any]:
    prefix = "chatcmpl" if kind == "chat.completion" else "cmpl"
    return {
        "id": f"{prefix}-{uuid.uuid4().hex}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _error_response(
    status: int, message: str, type_: str, param: str | None, code: str | None
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)
