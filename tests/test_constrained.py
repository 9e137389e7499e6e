"""JSON-schema constrained decoding, and free text + parse as the baseline it is measured against.

The tiny random-weight models write garbage, which is the point: whatever the weights, the
constraint must yield schema-valid JSON, while free text from the same model almost never
parses. The slow test repeats the comparison on the real embedded instruct model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from fastapi import FastAPI, Request

from steerlab.errors import ConfigError
from steerlab.evaluation.parsing import ParseResult, parse_json_output, parse_label, repair_prompt
from steerlab.models.base import Generation, GenerationParams, Model, Prompt
from steerlab.models.constrained import compile_json_schema
from steerlab.models.local import TransformersModel
from steerlab.models.openai_compat import OpenAICompatModel
from steerlab.serving import run_server_in_thread

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "category": {"enum": ["billing", "shipping", "login"]},
        "priority": {"enum": ["low", "high"]},
        "order_id": {"type": "string", "maxLength": 12},
    },
    "required": ["category", "priority"],
    "additionalProperties": False,
}

TICKETS = [
    "I was charged twice for order A1234 this month.",
    "My parcel B-77 has not arrived, it was due on Monday.",
    "I cannot log in since I reset my password.",
    "The refund for order 5512 never reached my card.",
    "Where is my delivery? Tracking has not moved in a week.",
    "The app says my account is locked.",
    "Please cancel the invoice you sent by mistake.",
    "The courier left my package at the wrong address.",
    "Two-factor codes never arrive, so I cannot sign in.",
    "Why was I billed for a plan I downgraded?",
    "Order 99-X arrived damaged and I need a replacement.",
    "I forgot my username and the recovery email bounces.",
    "The payment page errors out when I enter my card.",
    "My shipment was split and only half arrived.",
    "Login works on the web but not in the mobile app.",
    "You charged VAT on a business account, order Q-42.",
    "Delivery was marked as done but nothing came.",
    "Password reset link says it has expired.",
    "I want an itemised receipt for order 20240517.",
    "The parcel locker code you sent does not work.",
]


def ticket_prompt(ticket: str) -> list[dict[str, str]]:
    # The schema is in the prompt for both decoding modes, so free text gets every chance.
    request = f"Extract the support ticket as JSON matching this JSON schema:\n{json.dumps(SCHEMA)}"
    return [{"role": "user", "content": f"{request}\n\nTicket: {ticket}"}]


def validity_rate(texts: Sequence[str]) -> float:
    return sum(parse_json_output(text, SCHEMA).valid for text in texts) / len(texts)


# -- constrained decoding on the tiny models ---------------------------------------------------


def test_constrained_decoding_is_always_valid_and_free_text_is_not(tiny_chat_dir: Path) -> None:
    # One batch of 20: free text never emits EOS, so every row runs to max_new_tokens. 64 tokens
    # are enough here for the constrained outputs (all of them end with "stop", checked below).
    model = TransformersModel(tiny_chat_dir, dtype="float32", batch_size=len(TICKETS))
    prompts = [ticket_prompt(ticket) for ticket in TICKETS]
    constrained = model.generate(prompts, GenerationParams(max_new_tokens=64, json_schema=SCHEMA))
    free = model.generate(prompts, GenerationParams(max_new_tokens=64))
    constrained_rate = validity_rate([g.text for g in constrained])
    free_rate = validity_rate([g.text for g in free])
    print(
        f"\ntiny chat model, {len(prompts)} prompts: constrained {constrained_rate:.0%}, free {free_rate:.0%}"
    )
    assert constrained_rate == 1.0
    assert free_rate < constrained_rate
    assert all(g.finish_reason == "stop" for g in constrained)
    for generation in constrained:  # the fixed layout, and EOS only after the closing brace
        assert generation.text == json.dumps(json.loads(generation.text), ensure_ascii=False)


def test_sampling_and_base_models_stay_valid(
    tiny_chat: TransformersModel, tiny_base: TransformersModel
) -> None:
    # Temperature and top-p run after the mask, so sampling only ever sees allowed tokens. The
    # base model pads with its EOS token, so finished rows must be told apart from running ones.
    prompts = [ticket_prompt(ticket) for ticket in TICKETS[:4]]
    sampled = GenerationParams(max_new_tokens=256, temperature=1.5, top_p=0.9, seed=3, json_schema=SCHEMA)
    for model, params in [
        (tiny_chat, sampled),
        (tiny_base, GenerationParams(max_new_tokens=256, json_schema=SCHEMA)),
    ]:
        generations = model.generate(prompts, params)
        assert validity_rate([g.text for g in generations]) == 1.0, [g.text for g in generations]
        assert all(g.finish_reason == "stop" for g in generations)


def test_batched_equals_one_by_one(tiny_chat: TransformersModel) -> None:
    # Prompts of different lengths, so the batch is left-padded.
    prompts = [ticket_prompt(ticket) for ticket in TICKETS[:4]]
    params = GenerationParams(max_new_tokens=256, json_schema=SCHEMA)
    batched = tiny_chat.generate(prompts, params)
    single = [tiny_chat.generate_one(prompt, params) for prompt in prompts]
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.output_tokens for g in batched] == [g.output_tokens for g in single]


def test_cut_off_output_reports_length_and_is_invalid(tiny_chat: TransformersModel) -> None:
    generations = tiny_chat.generate(
        [ticket_prompt(t) for t in TICKETS[:3]], GenerationParams(max_new_tokens=6, json_schema=SCHEMA)
    )
    for generation in generations:
        assert generation.finish_reason == "length"
        assert generation.output_tokens == 6
        assert generation.text.startswith("{")
        result = parse_json_output(generation.text, SCHEMA)
        assert not result.valid and result.error


def test_eos_is_allowed_only_once_the_document_is_complete(tiny_chat: TransformersModel) -> None:
    tokenizer = tiny_chat.tokenizer
    constraint = compile_json_schema(tokenizer, SCHEMA, eos_token_ids=tiny_chat._eos_ids)
    (eos,) = constraint.eos_token_ids
    processor = constraint.processor()
    prompt = torch.tensor([tokenizer("x")["input_ids"]])
    scores = processor(prompt, torch.zeros(1, len(tokenizer)))
    allowed = torch.isfinite(scores[0]).nonzero().flatten().tolist()
    assert eos not in allowed
    assert all(
        tokenizer.decode([t]).startswith("{") or "{".startswith(tokenizer.decode([t])) for t in allowed
    )
    done = tokenizer('{"category": "login", "priority": "low"}', add_special_tokens=False)["input_ids"]
    scores = processor(torch.tensor([prompt[0].tolist() + done]), torch.zeros(1, len(tokenizer)))
    assert torch.isfinite(scores[0]).nonzero().flatten().tolist() == [eos]
    assert constraint.is_complete(done)
    assert constraint.finish_reason(done) == "stop"
    assert constraint.finish_reason(done[:-1]) == "length"


def test_compiled_schemas_are_cached(tiny_chat: TransformersModel) -> None:
    tokenizer = tiny_chat.tokenizer
    first = compile_json_schema(tokenizer, SCHEMA, eos_token_ids=tiny_chat._eos_ids)
    # Same schema as text: same compilation. Another key order is another grammar.
    assert compile_json_schema(tokenizer, json.dumps(SCHEMA), eos_token_ids=tiny_chat._eos_ids) is first
    reordered = {**SCHEMA, "properties": dict(reversed(SCHEMA["properties"].items()))}
    assert compile_json_schema(tokenizer, reordered, eos_token_ids=tiny_chat._eos_ids) is not first
    schema_ms, tokenizer_ms = first.compile_seconds * 1000, first.tokenizer_seconds * 1000
    print(f"\ncompile: schema {schema_ms:.2f} ms, tokenizer {tokenizer_ms:.1f} ms")


def test_invalid_schemas_are_actionable_errors(tiny_chat: TransformersModel) -> None:
    with pytest.raises(ConfigError, match="not a valid JSON Schema at properties/a/type"):
        compile_json_schema(tiny_chat.tokenizer, {"type": "object", "properties": {"a": {"type": "text"}}})
    with pytest.raises(ValueError, match="must be a JSON object"):
        GenerationParams(json_schema="[1, 2]")


def test_generation_params_keep_the_schema_as_canonical_text() -> None:
    params = GenerationParams(json_schema=SCHEMA)
    assert isinstance(params.json_schema, str)
    assert params.schema == SCHEMA
    assert list(params.schema["properties"]) == ["category", "priority", "order_id"]  # order kept
    assert params == GenerationParams(json_schema=json.dumps(SCHEMA, indent=2))
    assert hash(params) == hash(GenerationParams(json_schema=SCHEMA))
    assert GenerationParams().schema is None


def test_openai_endpoint_gets_response_format() -> None:
    seen: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        seen.append(await request.json())
        message = {"role": "assistant", "content": '{"category": "login", "priority": "low"}'}
        return {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}

    url, stop = run_server_in_thread(app)
    try:
        with OpenAICompatModel("gpt-x", base_url=f"{url}/v1", max_retries=0) as model:
            result = model.generate_one("ticket", GenerationParams(json_schema=SCHEMA))
            model.generate_one("ticket")
    finally:
        stop()
    assert parse_json_output(result.text, SCHEMA).valid
    assert seen[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": SCHEMA, "strict": True},
    }
    assert "response_format" not in seen[1]


# -- free text: parse, validate, repair -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"category": "login", "priority": "low"}',
        '```json\n{"category": "login", "priority": "low"}\n```',
        'Sure! Here is the JSON:\n```\n{"category": "login", "priority": "low"}\n```\nAnything else?',
        'The ticket is about logging in. {"category": "login", "priority": "low"} Hope this helps {',
        'Thinking {not json} then {"category": "login", "priority": "low"}',
    ],
)
def test_parse_finds_the_json_object(text: str) -> None:
    assert parse_json_output(text, SCHEMA) == ParseResult(
        {"category": "login", "priority": "low"}, True, None
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "empty"),
        ("I cannot help with that.", "no JSON object found"),
        ('{"category": "login", "priority": low}', "invalid JSON starting at character 0"),
        ("[1, 2]", "expected a JSON object, got a JSON array"),
    ],
)
def test_parse_reports_unreadable_output(text: str, error: str) -> None:
    result = parse_json_output(text, SCHEMA)
    assert (result.value, result.valid) == (None, False)
    assert result.error is not None and error in result.error


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (
            {"category": "login", "priority": "urgent"},
            "at $.priority: 'urgent' is not one of ['low', 'high']",
        ),
        ({"category": "login"}, "'priority' is a required property"),
        (
            {"category": "login", "priority": "low", "order_id": 12},
            "at $.order_id: 12 is not of type 'string'",
        ),
        ({"category": "login", "priority": "low", "extra": 1}, "Additional properties are not allowed"),
    ],
)
def test_parse_reports_schema_violations(value: dict[str, Any], error: str) -> None:
    result = parse_json_output(f"Answer: {json.dumps(value)}", SCHEMA)
    assert result.value == value and not result.valid
    assert result.error is not None and error in result.error


def test_parse_without_schema_and_with_a_bad_schema() -> None:
    assert parse_json_output('{"a": 1}').valid
    with pytest.raises(ConfigError, match="not valid JSON Schema"):
        parse_json_output('{"a": 1}', {"type": 5})


def test_repair_prompt_replays_the_turn_and_names_the_error() -> None:
    bad = '{"category": "login", "priority": "urgent"}'
    error = parse_json_output(bad, SCHEMA).error
    assert error is not None
    messages = repair_prompt("Extract the ticket.", bad, error, schema=SCHEMA)
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == "Extract the ticket." and messages[1]["content"] == bad
    assert error in messages[2]["content"] and '"enum":["low","high"]' in messages[2]["content"]
    chat = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Extract."}]
    assert [m["role"] for m in repair_prompt(chat, "nope", "no JSON object found")] == [
        "system",
        "user",
        "assistant",
        "user",
    ]


class ScriptedModel(Model):
    """Answers each call with the next scripted reply; records the prompts it was given."""

    name = "scripted"

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.prompts: list[Prompt] = []

    def generate(self, prompts: Sequence[Prompt], params: GenerationParams | None = None) -> list[Generation]:
        self.prompts.extend(prompts)
        return [Generation(self.replies.pop(0), 1, 1, "stop", 0.0) for _ in prompts]

    def score_labels(self, prompts: Sequence[Prompt], labels: Sequence[str]) -> list[Any]:
        raise NotImplementedError

    def count_tokens(self, prompt: Prompt) -> int:
        return 1


def test_one_repair_attempt_fixes_a_schema_violation() -> None:
    bad = 'Here: {"category": "Login", "priority": "low"}'
    model = ScriptedModel([bad, '{"category": "login", "priority": "low"}'])
    prompt = ticket_prompt(TICKETS[2])
    first = parse_json_output(model.generate_one(prompt).text, SCHEMA)
    assert not first.valid and first.error is not None
    second = parse_json_output(model.generate_one(repair_prompt(prompt, bad, first.error)).text, SCHEMA)
    assert second == ParseResult({"category": "login", "priority": "low"}, True, None)
    assert [m["role"] for m in model.prompts[1]] == ["user", "assistant", "user"]


# -- classify by generation -----------------------------------------------------------------------

LABELS = ["billing", "shipping", "login", "not_spam", "spam"]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("billing", "billing"),
        ("  **Billing.**\n", "billing"),
        ('"SHIPPING"', "shipping"),
        ("not-spam", "not_spam"),
        ("The category is login.", "login"),
        ("This message is not spam.", "not_spam"),
        ("Label: spam", "spam"),
        ("billing or shipping", None),
        ("logins", None),
        ("I am not sure.", None),
        ("", None),
    ],
)
def test_parse_label(text: str, label: str | None) -> None:
    assert parse_label(text, LABELS) == label


def test_parse_label_prefers_the_literal_label_among_lookalikes() -> None:
    assert parse_label("Billing", ["billing", "Billing"]) == "Billing"
    assert parse_label("BILLING", ["billing", "Billing"]) is None


# -- the real embedded instruct model ------------------------------------------------------------

QWEN = "qwen2.5-coder-0.5b-instruct"


@pytest.fixture
def qwen() -> Iterator[Model]:
    # Function-scoped, so it runs after conftest has pointed STEERLAB_HOME at the slow home.
    from steerlab.errors import ModelNotFoundError
    from steerlab.models.catalog import load_model

    try:
        yield load_model(QWEN)  # pulled into the slow tests' shared home on first use
    except ModelNotFoundError as error:
        pytest.skip(f"{QWEN} is not available: {error}")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_real_model_constrained_beats_free_text(qwen: Model) -> None:
    prompts = [ticket_prompt(ticket) for ticket in TICKETS[:10]]
    started = time.perf_counter()
    constrained = qwen.generate(prompts, GenerationParams(max_new_tokens=96, json_schema=SCHEMA))
    constrained_s = time.perf_counter() - started
    started = time.perf_counter()
    free = qwen.generate(prompts, GenerationParams(max_new_tokens=96))
    free_s = time.perf_counter() - started
    constrained_rate = validity_rate([g.text for g in constrained])
    free_rate = validity_rate([g.text for g in free])
    print(
        f"\n{QWEN}, {len(prompts)} prompts: constrained {constrained_rate:.0%} ({constrained_s:.1f} s), "
        f"free text + parse {free_rate:.0%} ({free_s:.1f} s)"
    )
    for generation in free:
        result = parse_json_output(generation.text, SCHEMA)
        if not result.valid:
            print(f"  free text failed: {result.error}")
    assert constrained_rate == 1.0
    assert free_rate < constrained_rate
