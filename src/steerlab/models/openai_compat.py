"""A :class:`~steerlab.models.base.Model` behind any OpenAI-compatible HTTP endpoint.

One client covers OpenAI, vLLM, Ollama, the llama.cpp server and steerlab's own server
(:mod:`steerlab.serving.openai_api`), because they all speak ``/chat/completions``. What they do
not share is handled explicitly rather than guessed at:

- label scoring needs prompt logprobs, which only the legacy ``/completions`` endpoint returns
  (``echo=True, max_tokens=0``); endpoints without it raise :class:`UnsupportedError` so the
  caller can switch to generate-and-parse;
- token counting uses a ``/tokenize`` endpoint where one exists (vLLM, steerlab) and otherwise
  an estimate, which :attr:`OpenAICompatModel.token_counts_are_estimates` reports.

Remote endpoints fail transiently (rate limits, restarts, overloaded GPUs), so requests retry
with exponential backoff and jitter, and honour ``Retry-After``; failures that retrying cannot
fix (a bad key, an unknown model) fail at once with a message that says what to change.
"""

from __future__ import annotations

import email.utils
import math
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from steerlab.errors import ConfigError, EndpointError, ModelNotFoundError, UnsupportedError
from steerlab.models.base import (
    Generation,
    GenerationParams,
    LabelScores,
    Model,
    Prompt,
    flatten_messages,
    normalise_prompt,
    truncate_at_stop,
)

__all__ = ["DEFAULT_BASE_URL", "EndpointError", "OpenAICompatModel"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
BASE_URL_ENV = ("STEERLAB_OPENAI_BASE_URL", "OPENAI_BASE_URL")
API_KEY_ENV = ("STEERLAB_OPENAI_API_KEY", "OPENAI_API_KEY")

# 408 timeout, 409 conflict (OpenAI uses it for transient lock contention), 429 rate limit, 5xx.
_RETRYABLE_STATUS = frozenset({408, 409, 429})
# A server asking for a longer pause than this is better reported than waited on silently.
_MAX_RETRY_AFTER_S = 60.0
_MAX_BACKOFF_S = 30.0
# Statuses that mean "this endpoint has no tokenizer route", as opposed to a transient failure.
_NO_TOKENIZE_STATUS = frozenset({400, 404, 405, 422, 501})

_T = TypeVar("_T")
_R = TypeVar("_R")


class OpenAICompatModel(Model):
    """A model served over the OpenAI HTTP API.

    ``base_url`` is the API root including its version prefix (``http://localhost:8000/v1``);
    it defaults to ``$STEERLAB_OPENAI_BASE_URL``, then ``$OPENAI_BASE_URL``, then OpenAI. The API
    key defaults to ``$STEERLAB_OPENAI_API_KEY``, then ``$OPENAI_API_KEY``, and may be empty for
    local servers. A batch is sent as up to ``max_concurrency`` parallel requests.
    """

    # The endpoint applies its own chat template (or none); callers can always send messages.
    has_chat_template = True
    # Label scoring goes through /completions on a flattened transcript ("Assistant: refund").
    label_prefix = " "

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        max_concurrency: int = 8,
    ) -> None:
        if not model:
            raise ConfigError("an OpenAI-compatible model needs a model name, e.g. 'gpt-4o-mini'")
        if timeout <= 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {timeout}")
        if max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {max_retries}")
        if backoff_s < 0:
            raise ConfigError(f"backoff_s must be >= 0, got {backoff_s}")
        if max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be >= 1, got {max_concurrency}")
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = (base_url or _first_env(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"base URL {self.base_url!r} is not an http(s) URL",
                hint="pass e.g. base_url='http://localhost:8000/v1' or set STEERLAB_OPENAI_BASE_URL",
            )
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_concurrency = max_concurrency
        key = api_key if api_key is not None else (_first_env(API_KEY_ENV) or "")
        headers = {"User-Agent": "steerlab"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        limits = httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency)
        self._client = httpx.Client(headers=headers, timeout=timeout, limits=limits)
        # None until /tokenize has been tried; False once the endpoint showed it has none.
        self._tokenize_supported: bool | None = None
        self._tokenize_lock = threading.Lock()

    # -- Model interface ---------------------------------------------------------------------

    def generate(self, prompts: Sequence[Prompt], params: GenerationParams | None = None) -> list[Generation]:
        """Complete each prompt through ``/chat/completions``; plain text is one user message.

        ``latency_s`` is the wall time the caller waited, retries included. Stop sequences are
        also applied here, because not every server honours them exactly.
        """
        settings = params or GenerationParams()
        return _map_ordered(
            lambda prompt: self._generate_one(prompt, settings), prompts, self.max_concurrency
        )

    def score_labels(self, prompts: Sequence[Prompt], labels: Sequence[str]) -> list[LabelScores]:
        """Score labels from prompt logprobs returned by the legacy ``/completions`` endpoint.

        Chat completions cannot score an arbitrary continuation, so the endpoint is treated as
        a base-model completion: chat prompts are rendered with :func:`flatten_messages` (no
        chat template), and each label is scored as the text that follows. One request per
        prompt carries every ``prompt + label``. Needs ``echo`` + ``logprobs`` with
        ``max_tokens=0``, which vLLM and steerlab's server support and OpenAI's chat models do
        not; without it this raises :class:`UnsupportedError`.
        """
        label_tuple = tuple(labels)
        if not label_tuple or any(not label for label in label_tuple):
            raise ValueError("labels must be a non-empty list of non-empty strings")
        return _map_ordered(
            lambda prompt: self._score_one(prompt, label_tuple), prompts, self.max_concurrency
        )

    def count_tokens(self, prompt: Prompt) -> int:
        """Tokens the endpoint reads for ``prompt``, from its ``/tokenize`` route if it has one.

        There is no standard tokenize endpoint: vLLM and steerlab's server have one, OpenAI and
        Ollama do not. Without one this returns an *estimate*, ``ceil(characters / 4)`` (a
        common rule of thumb for English with BPE vocabularies), and stops asking the endpoint;
        :attr:`token_counts_are_estimates` then reads True.
        """
        normalised = normalise_prompt(prompt)
        if self._tokenize_supported is not False:
            count = self._tokenize(normalised)
            if count is not None:
                return count
        return _estimate_tokens(_prompt_text(normalised))

    def info(self) -> dict[str, Any]:
        """Backend, endpoint and model; never the API key (nor credentials inside the URL)."""
        return {
            "name": self.name,
            "backend": "openai_compat",
            "base_url": _redact_url(self.base_url),
            "model": self.model,
        }

    @property
    def token_counts_are_estimates(self) -> bool:
        """True once the endpoint showed it has no ``/tokenize`` route."""
        return self._tokenize_supported is False

    def close(self) -> None:
        """Close pooled connections; the model must not be used afterwards."""
        self._client.close()

    def __enter__(self) -> OpenAICompatModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenAICompatModel(model={self.model!r}, base_url={_redact_url(self.base_url)!r})"

    # -- one request per prompt --------------------------------------------------------------

    def _generate_one(self, prompt: Prompt, params: GenerationParams) -> Generation:
        if params.choices:
            raise UnsupportedError(
                f"{self.base_url} cannot decode under a label trie for model {self.model!r}",
                hint="use constraint: label_scoring (vLLM, `steerlab serve`) or free_text for this model",
            )
        normalised = normalise_prompt(prompt)
        messages = [{"role": "user", "content": normalised}] if isinstance(normalised, str) else normalised
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.seed is not None:
            payload["seed"] = params.seed
        if params.stop:
            payload["stop"] = list(params.stop)
        if params.json_schema is not None:
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": params.schema, "strict": True},
            }
        start = time.perf_counter()
        response = self._post("/chat/completions", payload)
        latency = time.perf_counter() - start
        body = self._json_or_raise(response, "/chat/completions")
        url = self._url("/chat/completions")
        try:
            choice = body["choices"][0]
            text = choice["message"].get("content") or ""
            raw_reason = choice.get("finish_reason")
            usage = body.get("usage") or {}
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise _bad_shape(url, "choices[0].message.content", exc) from exc
        text, stopped = truncate_at_stop(text, params.stop)
        # Only "length" means the answer was cut short; "stop", "eos", "content_filter" and the
        # rest all mean the model finished the turn, or a stop sequence ended it.
        reason: Literal["stop", "length"] = "length" if raw_reason == "length" and not stopped else "stop"
        input_tokens = usage.get("prompt_tokens")
        output_tokens = usage.get("completion_tokens")
        return Generation(
            text=text,
            input_tokens=int(input_tokens)
            if input_tokens is not None
            else _estimate_tokens(_prompt_text(normalised)),
            output_tokens=int(output_tokens) if output_tokens is not None else _estimate_tokens(text),
            finish_reason=reason,
            latency_s=latency,
        )

    def _score_one(self, prompt: Prompt, labels: tuple[str, ...]) -> LabelScores:
        normalised = normalise_prompt(prompt)
        prompt_text = normalised if isinstance(normalised, str) else flatten_messages(normalised)
        payload = {
            "model": self.model,
            "prompt": [prompt_text + label for label in labels],
            "echo": True,
            "logprobs": 1,
            "max_tokens": 0,
            "temperature": 0,
        }
        path = "/completions"
        url = self._url(path)
        start = time.perf_counter()
        response = self._post(path, payload)
        latency = time.perf_counter() - start
        if response.status_code in (400, 404) and _error_code(response) != "model_not_found":
            raise UnsupportedError(
                f"{url} cannot score labels for model {self.model!r} "
                f"(HTTP {response.status_code}: {_server_message(response)})",
                hint="label scoring needs /completions with echo=true, logprobs and max_tokens=0 "
                "(vLLM and `steerlab serve` have it, OpenAI chat models do not); "
                "use a generate-and-parse output constraint for this model instead",
            )
        body = self._json_or_raise(response, path)
        try:
            choices = sorted(body["choices"], key=lambda choice: choice.get("index", 0))
            if len(choices) != len(labels):
                raise ValueError(f"expected {len(labels)} choices, got {len(choices)}")
            means = [
                _label_mean_logprob(choice["logprobs"], len(prompt_text), len(prompt_text + label))
                for choice, label in zip(choices, labels, strict=True)
            ]
            usage = body.get("usage") or {}
            input_tokens = usage.get("prompt_tokens")
            if input_tokens is None:
                input_tokens = sum(len(choice["logprobs"]["tokens"]) for choice in choices)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise UnsupportedError(
                f"{url} did not return prompt logprobs for model {self.model!r} ({exc})",
                hint="the endpoint must support echo=true with logprobs on /completions; "
                "use a generate-and-parse output constraint for this model instead",
            ) from exc
        return LabelScores(
            labels=labels, logprobs=tuple(means), input_tokens=int(input_tokens), latency_s=latency
        )

    def _tokenize(self, prompt: str | list[dict[str, str]]) -> int | None:
        """Ask ``/tokenize``; None when it cannot answer (and remember if it never will)."""
        payload: dict[str, Any] = {"model": self.model}
        payload["prompt" if isinstance(prompt, str) else "messages"] = prompt
        try:
            # One attempt only: a fallback exists, so there is nothing worth waiting for.
            response = self._client.post(self._url("/tokenize"), json=payload)
        except httpx.TransportError:
            return None
        if response.status_code in _NO_TOKENIZE_STATUS:
            self._remember_no_tokenize()
            return None
        if response.status_code != 200:
            return None
        try:
            body = response.json()
            count = body["count"] if "count" in body else len(body["tokens"])
            return int(count)
        except (ValueError, KeyError, TypeError):
            self._remember_no_tokenize()
            return None

    def _remember_no_tokenize(self) -> None:
        with self._tokenize_lock:
            self._tokenize_supported = False

    # -- HTTP --------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.base_url + path

    def _post(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        """POST with retries; returns the first non-retryable response, or raises once spent.

        Authentication failures raise here, since every caller would say the same thing.
        """
        url = self._url(path)
        last_failure = ""
        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            try:
                response = self._client.post(url, json=payload)
            except httpx.TimeoutException:
                last_failure = f"timed out after {self.timeout:g} s"
            except httpx.ConnectError as exc:
                last_failure = f"could not connect ({exc})"
            except httpx.TransportError as exc:
                last_failure = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status in (401, 403):
                    raise ConfigError(
                        f"{_redact_url(url)} refused the API key "
                        f"(HTTP {status}: {_server_message(response)})",
                        hint=f"set {API_KEY_ENV[0]} (or {API_KEY_ENV[1]}) to a valid key for this "
                        "endpoint, or pass api_key=...; local servers usually need none",
                    )
                if status not in _RETRYABLE_STATUS and status < 500:
                    return response
                last_failure = f"HTTP {status}: {_server_message(response)}"
                retry_after = _parse_retry_after(response.headers.get("Retry-After"))
            if attempt < self.max_retries:
                time.sleep(retry_after if retry_after is not None else self._backoff(attempt))
        attempts = self.max_retries + 1
        raise EndpointError(
            f"POST {_redact_url(url)} failed after {attempts} attempt{'s' * (attempts > 1)}: {last_failure}",
            hint=_give_up_hint(last_failure, self.base_url),
        )

    def _backoff(self, attempt: int) -> float:
        # Exponential backoff with jitter, so that parallel requests that failed together do
        # not all come back at the same instant (AWS Architecture Blog, "Exponential Backoff
        # and Jitter", 2015: the "equal jitter" variant keeps a floor of half the delay).
        delay = min(_MAX_BACKOFF_S, self.backoff_s * 2**attempt)
        return delay / 2 + random.uniform(0, delay / 2)

    def _json_or_raise(self, response: httpx.Response, path: str) -> dict[str, Any]:
        """The JSON body of a 2xx response; any other status becomes an actionable error."""
        url = _redact_url(self._url(path))
        status = response.status_code
        if status == 404 or _error_code(response) == "model_not_found":
            raise ModelNotFoundError(
                f"{url} has no model {self.model!r} (HTTP {status}: {_server_message(response)})",
                hint=f"check the model name (GET {_redact_url(self.base_url)}/models lists what the "
                "server has) and that the base URL includes the API prefix, e.g. http://host:8000/v1",
            )
        if not 200 <= status < 300:
            raise EndpointError(
                f"POST {url} rejected the request for model {self.model!r} "
                f"(HTTP {status}: {_server_message(response)})",
                hint="the server's message above says which field it did not accept",
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise _bad_shape(url, "a JSON object", exc) from exc
        if not isinstance(body, dict):
            raise _bad_shape(url, "a JSON object", TypeError(type(body).__name__))
        return body


def _map_ordered(fn: Callable[[_T], _R], items: Sequence[_T], max_workers: int) -> list[_R]:
    """``[fn(x) for x in items]`` with bounded parallelism; the first failure cancels the rest."""
    if len(items) <= 1 or max_workers == 1:
        return [fn(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=min(max_workers, len(items)), thread_name_prefix="steerlab-http")
    try:
        futures = [pool.submit(fn, item) for item in items]
        return [future.result() for future in futures]
    finally:
        # On failure, do not send the requests that have not started yet.
        pool.shutdown(wait=True, cancel_futures=True)


def _label_mean_logprob(logprobs: dict[str, Any], label_start: int, text_end: int) -> float:
    """Mean logprob of the tokens that overlap ``text[label_start:text_end]``.

    A token that straddles the boundary (``"Answer: " + "yes"`` read as ``"Answer:"``,
    ``" yes"``) belongs to the label: it is where the model commits to it, and dropping it
    could leave a label with no tokens at all.
    """
    tokens: list[str] = logprobs["tokens"]
    values: list[float | None] = logprobs["token_logprobs"]
    offsets: list[int] = logprobs["text_offset"]
    ends = [*offsets[1:], text_end]
    picked = [
        float(value)
        for value, start, end in zip(values, offsets, ends, strict=True)
        if end > label_start and value is not None and start < text_end
    ]
    if not picked or len(tokens) != len(values):
        raise ValueError("no label tokens with logprobs in the echoed prompt")
    return sum(picked) / len(picked)


def _prompt_text(prompt: str | list[dict[str, str]]) -> str:
    return prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt)


def _estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _first_env(names: Sequence[str]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _redact_url(url: str) -> str:
    """Drop ``user:password@`` from a URL so that it can be logged and recorded."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), capped."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_S)


def _error_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_code(response: httpx.Response) -> str | None:
    body = _error_body(response)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        return str(code) if code is not None else None
    return None


def _server_message(response: httpx.Response) -> str:
    """The server's own explanation: OpenAI-style ``error.message``, FastAPI ``detail``, or text."""
    body = _error_body(response)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if "detail" in body:
            return str(body["detail"])
    text = response.text.strip()
    return text[:300] if text else response.reason_phrase or "no message"


def _give_up_hint(last_failure: str, base_url: str) -> str:
    where = _redact_url(base_url)
    if last_failure.startswith("HTTP 429"):
        return "the endpoint is rate-limiting: lower max_concurrency, or raise max_retries/backoff_s"
    if last_failure.startswith("HTTP 5"):
        return f"the server at {where} is failing; check its logs, or raise max_retries/backoff_s"
    if last_failure.startswith("timed out"):
        return f"check that {where} is responsive, or raise timeout for slow models or long outputs"
    return (
        f"check that a server is running at {where} (e.g. `steerlab serve`, vLLM or Ollama) "
        "and that STEERLAB_OPENAI_BASE_URL or base_url points at it"
    )


def _bad_shape(url: str, expected: str, exc: BaseException) -> EndpointError:
    return EndpointError(
        f"{url} answered with an unexpected response: missing {expected} ({type(exc).__name__}: {exc})",
        hint="check that the base URL points at an OpenAI-compatible API (it usually ends in /v1)",
    )
