"""A real transformers model behind steerlab's OpenAI-compatible server answers as it does locally."""

from __future__ import annotations

import pytest

from steerlab.models.base import GenerationParams
from steerlab.models.local import TransformersModel
from steerlab.models.openai_compat import OpenAICompatModel
from steerlab.serving import create_app, run_server_in_thread


@pytest.fixture
def served(tiny_chat: TransformersModel):
    base_url, stop = run_server_in_thread(create_app({"tiny": tiny_chat}))
    client = OpenAICompatModel("tiny", base_url=f"{base_url}/v1", api_key="", timeout=30)
    try:
        yield client
    finally:
        client.close()
        stop()


def test_greedy_generation_over_http_equals_local(
    served: OpenAICompatModel, tiny_chat: TransformersModel
) -> None:
    prompts = ["hello", [{"role": "user", "content": "refund please"}]]
    params = GenerationParams(max_new_tokens=8)
    remote = served.generate(prompts, params)
    local = tiny_chat.generate(prompts, params)
    assert [g.text for g in remote] == [g.text for g in local]
    assert [g.input_tokens for g in remote] == [g.input_tokens for g in local]


def test_label_scores_over_http_match_local_token_logprobs(
    served: OpenAICompatModel, tiny_chat: TransformersModel
) -> None:
    # Over HTTP the prompt is scored as plain text (no chat template): the expected score of a
    # label is the mean log-prob of the tokens that overlap it when the model reads prompt+label.
    prompt, labels = "The answer is", [" refund", " billing", " x"]
    remote = served.score_one(prompt, labels)
    expected = []
    for label in labels:
        tokens = tiny_chat.token_logprobs(prompt + label)
        overlapping = [lp for text, start, lp in tokens if start + len(text) > len(prompt)]
        expected.append(sum(overlapping) / len(overlapping))
    assert remote.logprobs == pytest.approx(expected, abs=1e-3)
