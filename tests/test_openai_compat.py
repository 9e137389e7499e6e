"""OpenAICompatModel against real HTTP servers on loopback.

Two kinds of server: steerlab's own OpenAI-compatible app over a deterministic model (the
happy paths, end to end), and a scripted upstream that answers whatever a test tells it to
(503s, 401s, slow replies, missing routes), for the failure paths a real endpoint produces.
"""

from __future__ import annotations

import asyncio
import math
import re
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from steerlab.errors import ConfigError, ModelNotFoundError, UnsupportedError
from steerlab.models.base import (
    Generation,
    GenerationParams,
    LabelScores,
    Model,
    Prompt,
    normalise_prompt,
    truncate_at_stop,
)
from steerlab.models.openai_compat import DEFAULT_BASE_URL, EndpointError, OpenAICompatModel
from steerlab.serving import create_app, run_server_in_thread

pytestmark = pytest.mark.timeout(30)

FAST = {"timeout": 2.0, "max_retries": 2, "backoff_s": 0.01}


class EchoModel(Model):
    """Answers with the last user message, word by word; one token per whitespace-separated word."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[GenerationParams] = []

    def generate(self, prompts: Sequence[Prompt], params: GenerationParams | None = None) -> list[Generation]:
        params = params or GenerationParams()
        self.seen.append(params)
        results = []
        for prompt in prompts:
            normalised = normalise_prompt(prompt)
            text = normalised if isinstance(normalised, str) else normalised[-1]["content"]
            words = text.split()
            cut = len(words) > params.max_new_tokens
            answer = " ".join(words[: params.max_new_tokens])
            answer, stopped = truncate_at_stop(answer, params.stop)
            reason = "length" if cut and not stopped else "stop"
            results.append(Generation(answer, self.count_tokens(prompt), len(answer.split()), reason, 0.0))
        return results

    def score_labels(self, prompts: Sequence[Prompt], labels: Sequence[str]) -> list[LabelScores]:
        raise NotImplementedError("scored through token_logprobs on the server")

    def count_tokens(self, prompt: Prompt) -> int:
        normalised = normalise_prompt(prompt)
        if isinstance(normalised, str):
            return len(normalised.split())
        return sum(len(m["content"].split()) for m in normalised)


class CopyingModel(EchoModel):
    """A "language model" that expects words it has already read: -0.1 for a repeat, else -5."""

    def token_logprobs(self, text: str) -> list[tuple[str, int, float | None]]:
        result: list[tuple[str, int, float | None]] = []
        for match in re.finditer(r"\s*\S+", text):
            word = match.group().strip().strip(".:").lower()
            before = {w.strip(".:").lower() for w in text[: match.start()].split()}
            value = None if match.start() == 0 else (-0.1 if word in before else -5.0)
            result.append((match.group(), match.start(), value))
        return result


@dataclass
class Upstream:
    """A scripted OpenAI-ish server: each request pops the next reply (the last one repeats)."""

    replies: list[dict[str, Any]]
    requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/{path:path}")
        async def handle(path: str, request: Request) -> Response:
            self.requests.append(
                {"path": path, "json": await request.json(), "auth": request.headers.get("authorization")}
            )
            reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
            await asyncio.sleep(reply.get("sleep", 0))
            return JSONResponse(reply.get("body", {}), reply.get("status", 200), reply.get("headers"))

        return app


def chat_body(text: str, finish_reason: str = "stop", usage: dict[str, int] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}
        ]
    }
    if usage is not None:
        body["usage"] = usage
    return body


@pytest.fixture(scope="module")
def steerlab_server() -> Iterator[tuple[str, dict[str, EchoModel]]]:
    models = {"copy": CopyingModel("copy"), "echo": EchoModel("echo")}
    url, stop = run_server_in_thread(create_app(models))
    yield f"{url}/v1", models
    stop()


@pytest.fixture
def upstream() -> Iterator[Any]:
    """Start scripted servers on demand; returns ``start(replies) -> (base_url, Upstream)``."""
    stops = []

    def start(replies: list[dict[str, Any]]) -> tuple[str, Upstream]:
        script = Upstream(replies)
        url, stop = run_server_in_thread(script.app())
        stops.append(stop)
        return f"{url}/v1", script

    yield start
    for stop in stops:
        stop()


# -- the happy path, through steerlab's own server ---------------------------------------------


def test_generate_plain_text_and_messages(steerlab_server: tuple[str, dict[str, EchoModel]]) -> None:
    url, _ = steerlab_server
    with OpenAICompatModel("echo", base_url=url, **FAST) as model:
        plain, chat = model.generate(
            [
                "hello there world",
                [{"role": "system", "content": "be brief"}, {"role": "user", "content": "just this"}],
            ]
        )
    assert plain.text == "hello there world"
    assert (plain.input_tokens, plain.output_tokens, plain.finish_reason) == (3, 3, "stop")
    assert chat.text == "just this"
    assert chat.input_tokens == 4  # "be brief" + "just this", counted by the model behind the server
    assert plain.latency_s > 0
    assert model.name == "openai:echo"


def test_decoding_settings_reach_the_model(steerlab_server: tuple[str, dict[str, EchoModel]]) -> None:
    url, models = steerlab_server
    params = GenerationParams(max_new_tokens=7, temperature=0.7, top_p=0.9, seed=3, stop=("zz",))
    with OpenAICompatModel("echo", base_url=url, **FAST) as model:
        model.generate(["a b"], params)
    assert models["echo"].seen[-1] == params


def test_stop_sequence_and_max_tokens(steerlab_server: tuple[str, dict[str, EchoModel]]) -> None:
    url, _ = steerlab_server
    with OpenAICompatModel("echo", base_url=url, **FAST) as model:
        stopped = model.generate_one("alpha beta END gamma", GenerationParams(stop=("END",)))
        cut = model.generate_one("one two three four", GenerationParams(max_new_tokens=2))
    assert (stopped.text, stopped.finish_reason) == ("alpha beta ", "stop")
    assert (cut.text, cut.finish_reason, cut.output_tokens) == ("one two", "length", 2)


def test_batch_keeps_input_order(steerlab_server: tuple[str, dict[str, EchoModel]]) -> None:
    url, _ = steerlab_server
    prompts = [f"prompt number {i}" for i in range(24)]
    with OpenAICompatModel("echo", base_url=url, max_concurrency=6, **FAST) as model:
        results = model.generate(prompts)
    assert [r.text for r in results] == prompts


def test_label_scoring_picks_the_expected_label(steerlab_server: tuple[str, dict[str, EchoModel]]) -> None:
    url, _ = steerlab_server
    with OpenAICompatModel("copy", base_url=url, **FAST) as model:
        plain = model.score_one(
            "The review says the film was positive. Sentiment:", [" negative", " positive"]
        )
        chat = model.score_one(
            [{"role": "user", "content": "Is this spam? The message is spam indeed."}], [" ham", " spam"]
        )
    assert plain.best == " positive"
    assert plain.logprobs == pytest.approx((-5.0, -0.1))
    assert plain.confidence > 0.99
    assert chat.best == " spam"
    assert plain.input_tokens > 0


def test_label_scoring_unsupported_by_the_model(steerlab_server: tuple[str, dict[str, EchoModel]]) -> None:
    url, _ = steerlab_server
    with (
        OpenAICompatModel("echo", base_url=url, **FAST) as model,
        pytest.raises(UnsupportedError, match="cannot score labels") as caught,
    ):
        model.score_one("Sentiment:", [" yes", " no"])
    assert "generate-and-parse" in str(caught.value)


def test_label_scoring_unsupported_by_the_endpoint(upstream: Any) -> None:
    url, script = upstream([{"status": 404, "body": {"error": {"message": "Not Found"}}}])
    with OpenAICompatModel("gpt-x", base_url=url, **FAST) as model, pytest.raises(UnsupportedError):
        model.score_one("Sentiment:", [" yes", " no"])
    assert len(script.requests) == 1
    assert script.requests[0]["json"]["echo"] is True
    assert script.requests[0]["json"]["max_tokens"] == 0


def test_count_tokens_uses_the_tokenize_route(steerlab_server: tuple[str, dict[str, EchoModel]]) -> None:
    url, _ = steerlab_server
    with OpenAICompatModel("echo", base_url=url, **FAST) as model:
        assert model.count_tokens("one two three four five") == 5
        assert model.count_tokens([{"role": "user", "content": "six seven"}]) == 2
        assert not model.token_counts_are_estimates


def test_count_tokens_falls_back_to_an_estimate_once(upstream: Any) -> None:
    url, script = upstream([{"status": 404, "body": {"detail": "Not Found"}}])
    text = "x" * 41
    with OpenAICompatModel("gpt-x", base_url=url, **FAST) as model:
        assert model.count_tokens(text) == math.ceil(41 / 4)
        assert model.count_tokens(text) == math.ceil(41 / 4)
        assert model.token_counts_are_estimates
    assert len(script.requests) == 1  # the missing route was remembered, not asked again


def test_unknown_model_names_the_model(steerlab_server: tuple[str, dict[str, EchoModel]]) -> None:
    url, _ = steerlab_server
    with (
        OpenAICompatModel("nope", base_url=url, **FAST) as model,
        pytest.raises(ModelNotFoundError, match="'nope'"),
    ):
        model.generate_one("hi")
    listed = httpx.get(f"{url}/models").json()
    assert sorted(m["id"] for m in listed["data"]) == ["copy", "echo"]


# -- failures, through a scripted upstream -------------------------------------------------------


def test_retries_503_honouring_retry_after(upstream: Any) -> None:
    busy = {"status": 503, "headers": {"Retry-After": "0"}, "body": {"error": {"message": "overloaded"}}}
    url, script = upstream([busy, busy, {"body": chat_body("finally")}])
    # A 5 s backoff would blow the time budget below: only Retry-After: 0 keeps it fast.
    with OpenAICompatModel("gpt-x", base_url=url, timeout=2.0, max_retries=3, backoff_s=5.0) as model:
        start = time.perf_counter()
        result = model.generate_one("hi")
        elapsed = time.perf_counter() - start
    assert result.text == "finally"
    assert len(script.requests) == 3
    assert elapsed < 2.0
    assert result.latency_s >= 0


def test_gives_up_after_max_retries(upstream: Any) -> None:
    url, script = upstream([{"status": 503, "body": {"error": {"message": "overloaded"}}}])
    with OpenAICompatModel("gpt-x", base_url=url, **FAST) as model, pytest.raises(EndpointError) as caught:
        model.generate_one("hi")
    message = str(caught.value)
    assert f"{url}/chat/completions" in message
    assert "3 attempts" in message and "HTTP 503: overloaded" in message
    assert len(script.requests) == 3


def test_timeout_is_a_clear_error(upstream: Any) -> None:
    url, _ = upstream([{"sleep": 1.0, "body": chat_body("too late")}])
    with (
        OpenAICompatModel("gpt-x", base_url=url, timeout=0.2, max_retries=0) as model,
        pytest.raises(EndpointError, match=r"timed out after 0\.2 s") as caught,
    ):
        model.generate_one("hi")
    assert "raise timeout" in str(caught.value)


def test_unreachable_server_is_a_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with (
        OpenAICompatModel("gpt-x", base_url=url, **FAST) as model,
        pytest.raises(EndpointError, match="could not connect") as caught,
    ):
        model.generate_one("hi")
    assert url in str(caught.value)


def test_bad_api_key_fails_at_once_naming_the_env_vars(upstream: Any) -> None:
    url, script = upstream([{"status": 401, "body": {"error": {"message": "Incorrect API key"}}}])
    with (
        OpenAICompatModel("gpt-x", base_url=url, api_key="sk-wrong", **FAST) as model,
        pytest.raises(ConfigError, match="STEERLAB_OPENAI_API_KEY") as caught,
    ):
        model.generate_one("hi")
    assert "OPENAI_API_KEY" in str(caught.value) and "sk-wrong" not in str(caught.value)
    assert len(script.requests) == 1
    assert script.requests[0]["auth"] == "Bearer sk-wrong"


def test_client_side_stop_and_estimated_usage(upstream: Any) -> None:
    # A server that ignores stop sequences and reports no usage still yields a sound Generation.
    url, script = upstream([{"body": chat_body("yes. ### ignored", finish_reason="length")}])
    with OpenAICompatModel("gpt-x", base_url=url, **FAST) as model:
        result = model.generate_one("x" * 8, GenerationParams(stop=("###",), seed=5))
    assert (result.text, result.finish_reason) == ("yes. ", "stop")
    assert (result.input_tokens, result.output_tokens) == (2, 2)
    sent = script.requests[0]["json"]
    assert sent["messages"] == [{"role": "user", "content": "x" * 8}]
    assert (sent["stop"], sent["seed"], sent["max_tokens"]) == (["###"], 5, 256)


def test_env_vars_supply_base_url_and_key(upstream: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url, script = upstream([{"body": chat_body("ok", usage={"prompt_tokens": 9, "completion_tokens": 1})}])
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fallback")
    monkeypatch.setenv("STEERLAB_OPENAI_BASE_URL", url)
    monkeypatch.setenv("STEERLAB_OPENAI_API_KEY", "sk-steerlab")
    with OpenAICompatModel("gpt-x", **FAST) as model:
        result = model.generate_one("hi")
        assert model.info() == {
            "name": "openai:gpt-x",
            "backend": "openai_compat",
            "base_url": url,
            "model": "gpt-x",
        }
    assert (result.input_tokens, result.output_tokens) == (9, 1)
    assert script.requests[-1]["auth"] == "Bearer sk-steerlab"

    monkeypatch.delenv("STEERLAB_OPENAI_BASE_URL")
    monkeypatch.delenv("STEERLAB_OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    with OpenAICompatModel("gpt-x", **FAST) as model:
        model.generate_one("hi")
    assert script.requests[-1]["auth"] == "Bearer sk-fallback"

    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    with OpenAICompatModel("gpt-x", api_key="") as model:
        assert model.base_url == DEFAULT_BASE_URL
    with OpenAICompatModel("gpt-x", base_url="http://user:secret@127.0.0.1:1/v1") as model:
        assert "secret" not in str(model.info())


def test_label_trie_decoding_is_refused_before_any_request() -> None:
    """An endpoint cannot decode under a label trie: the error says so and names what works,
    before anything is sent (the address below has no server)."""
    with (
        OpenAICompatModel("gpt-x", base_url="http://127.0.0.1:9/v1", **FAST) as model,
        pytest.raises(UnsupportedError, match="label trie") as caught,
    ):
        model.generate_one("hi", GenerationParams(choices=("a", "b")))
    assert "label_scoring" in (caught.value.hint or "")
