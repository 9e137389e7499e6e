"""The transformers backend on tiny random-weight models: real code paths, no real weights."""

from __future__ import annotations

import pytest
import torch

from steerlab.models.base import GenerationParams
from steerlab.models.local import TransformersModel

LABELS = ["refund", "billing", "technical account", "x"]


def naive_label_logprobs(model: TransformersModel, prompt, labels: list[str]) -> list[float]:
    """The reference: one full forward pass per label, mean log-prob of the label tokens."""
    text, templated = model.render(prompt)
    prompt_ids = model.tokenizer(text, add_special_tokens=not templated)["input_ids"]
    means = []
    for label in labels:
        cont = model._continuation_ids(text, label)
        with torch.inference_mode():
            logits = model.model(input_ids=torch.tensor([prompt_ids + cont])).logits[0].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        picked = [logprobs[len(prompt_ids) - 1 + j, token] for j, token in enumerate(cont)]
        means.append(float(torch.stack(picked).mean()))
    return means


PROMPTS = [
    "Classify: the card payment failed twice and I want my money back. " * 2,  # crosses the window
    [{"role": "system", "content": "Answer with a label."}, {"role": "user", "content": "refund please"}],
    "x",
]


@pytest.mark.parametrize("flavour", ["tiny_chat", "tiny_base"])
def test_packed_label_scoring_matches_one_pass_per_label(
    flavour: str, request: pytest.FixtureRequest
) -> None:
    model: TransformersModel = request.getfixturevalue(flavour)
    packed = model.score_labels(PROMPTS, LABELS)
    for prompt, scores in zip(PROMPTS, packed, strict=True):
        assert scores.labels == tuple(LABELS)
        assert scores.logprobs == pytest.approx(naive_label_logprobs(model, prompt, LABELS), abs=1e-4)
        assert sum(scores.probs) == pytest.approx(1.0)


@pytest.mark.parametrize("flavour", ["tiny_chat", "tiny_base"])
def test_label_tokens_from_the_prompt_tail_equal_those_from_the_whole_prompt(
    flavour: str, request: pytest.FixtureRequest
) -> None:
    model: TransformersModel = request.getfixturevalue(flavour)
    labels = [model.label_prefix + label for label in [*LABELS, "card_payment_fee_charged", "Refund!"]]
    for prompt in PROMPTS:
        text, templated = model.render(prompt)
        prompt_ids = model.tokenizer(text, add_special_tokens=not templated)["input_ids"]
        for label in labels:
            joint = model.tokenizer(text + label, add_special_tokens=not templated)["input_ids"]
            assert joint[: len(prompt_ids)] == prompt_ids
            assert model._continuation_ids(text, label) == joint[len(prompt_ids) :]


def test_scoring_a_batch_equals_scoring_one_at_a_time(tiny_chat: TransformersModel) -> None:
    batched = tiny_chat.score_labels(PROMPTS, LABELS)
    single = [tiny_chat.score_one(p, LABELS) for p in PROMPTS]
    for b, s in zip(batched, single, strict=True):
        assert b.logprobs == pytest.approx(s.logprobs, abs=1e-5)


def test_label_scoring_rejects_bad_label_sets(tiny_chat: TransformersModel) -> None:
    with pytest.raises(ValueError, match="distinct"):
        tiny_chat.score_one("hi", ["a", "a"])
    with pytest.raises(ValueError, match="at least one"):
        tiny_chat.score_one("hi", [])


def test_greedy_generation_is_deterministic_and_batch_invariant(tiny_chat: TransformersModel) -> None:
    prompts = ["hello", "the customer asked for a refund because the card failed", "x"]
    params = GenerationParams(max_new_tokens=10)
    batched = tiny_chat.generate(prompts, params)
    single = [tiny_chat.generate_one(p, params) for p in prompts]
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.text for g in tiny_chat.generate(prompts, params)] == [g.text for g in batched]
    assert len({g.text for g in batched}) > 1  # real outputs, not a constant
    for prompt, generation in zip(prompts, batched, strict=True):
        assert generation.input_tokens == tiny_chat.count_tokens(prompt)


def test_max_new_tokens_ends_with_length(tiny_chat: TransformersModel) -> None:
    generation = tiny_chat.generate_one("hello", GenerationParams(max_new_tokens=7))
    assert generation.output_tokens == 7
    assert generation.finish_reason == "length"


def test_stop_sequence_cuts_the_output(tiny_chat: TransformersModel) -> None:
    free = tiny_chat.generate_one("hello", GenerationParams(max_new_tokens=16)).text
    stop = free[4:7]
    assert stop and free.find(stop) >= 1
    stopped = tiny_chat.generate_one("hello", GenerationParams(max_new_tokens=16, stop=(stop,)))
    assert stopped.text == free[: free.find(stop)]
    assert stopped.finish_reason == "stop"


def test_sampling_with_a_seed_is_reproducible(tiny_chat: TransformersModel) -> None:
    def sample(seed: int) -> str:
        params = GenerationParams(max_new_tokens=12, temperature=1.0, seed=seed)
        return tiny_chat.generate_one("hello", params).text

    assert sample(1) == sample(1)
    assert len({sample(seed) for seed in range(4)}) > 1


def test_chat_template_wraps_plain_text(tiny_chat: TransformersModel) -> None:
    text, templated = tiny_chat.render("hi")
    assert templated
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    messages = [{"role": "user", "content": "hi"}]
    assert tiny_chat.count_tokens(messages) == tiny_chat.count_tokens("hi")


def test_base_model_flattens_messages_and_adds_bos(tiny_base: TransformersModel) -> None:
    text, templated = tiny_base.render([{"role": "user", "content": "hi"}])
    assert (text, templated) == ("User: hi\nAssistant:", False)
    assert tiny_base.encode("hi")[0] == tiny_base.tokenizer.bos_token_id


def test_token_logprobs_cover_the_text(tiny_chat: TransformersModel) -> None:
    text = "refund please"
    tokens = tiny_chat.token_logprobs(text)
    assert "".join(token for token, _, _ in tokens) == text
    assert tokens[0][2] is None  # no BOS in the chat flavour: the first token has no context
    assert all(lp is not None and lp < 0 for _, _, lp in tokens[1:])


def test_info_reports_placement(tiny_chat: TransformersModel) -> None:
    info = tiny_chat.info()
    assert info["backend"] == "transformers"
    assert info["dtype"] == "float32"
    assert info["device"] == "cpu" or torch.cuda.is_available()
    assert info["chat_template"] is True
    assert info["parameters"] > 0


SYSTEM = "You route support tickets. The labels are refund, billing, technical account and x. " * 2


@pytest.mark.parametrize("flavour", ["tiny_chat", "tiny_base"])
def test_shared_prefix_cache_gives_the_same_scores(flavour: str, request: pytest.FixtureRequest) -> None:
    model: TransformersModel = request.getfixturevalue(flavour)
    prompts = [
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]
        for text in ("my card payment failed twice", "refund please", "x", "the app crashes when I log in")
    ]
    packs = [model._pack(p, LABELS) for p in prompts]
    prefix = model._shared_prefix(packs)
    assert prefix is not None and prefix[0] > 16  # the shared system message is cached
    first = model.score_labels(prompts, LABELS)
    again = model.score_labels(prompts, LABELS)  # reuses the kept prefix cache
    for prompt, a, b in zip(prompts, first, again, strict=True):
        expected = naive_label_logprobs(model, prompt, LABELS)
        assert a.logprobs == pytest.approx(expected, abs=1e-4)
        assert b.logprobs == pytest.approx(a.logprobs, abs=1e-6)
        assert a.input_tokens == model.count_tokens(prompt)


def test_bf16_label_scores_have_no_rounding_ties(tiny_chat_dir) -> None:
    """Label logits are recomputed in fp32, so bf16 rounding of the head cannot tie two labels.

    (How far bf16 is from fp32 overall is the model's own precision, not asserted here: this
    random-weight model amplifies rounding far more than a trained one.)
    """
    bf16 = TransformersModel(tiny_chat_dir, dtype="bfloat16")
    labels = ["a", "b", "c", "d", "e", "f"]  # single-token labels, all scored at one position
    for prompt in ("refund please", "the card payment failed twice"):
        low = bf16.score_one(prompt, labels)
        assert len(set(low.logprobs)) == len(labels)


MANY_LABELS = [
    *"abcdefghijklmnop",  # single tokens: scored exactly in stage 1, they set a high bar
    "refund",
    "technical account",
    "card payment fee charged",
    "lost or stolen card",
    "top up failed",
    "exchange rate",
]


@pytest.mark.parametrize("flavour", ["tiny_chat", "tiny_base"])
@pytest.mark.parametrize("shared", [False, True])
def test_two_stage_scoring_picks_the_same_label_as_full_scoring(
    flavour: str, shared: bool, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pruned scoring reads fewer label tokens, yet its best label is exactly full scoring's;
    scored labels keep their exact score, unscored ones report an upper bound below the best."""
    model: TransformersModel = request.getfixturevalue(flavour)
    prompts = (
        [[{"role": "system", "content": SYSTEM}, {"role": "user", "content": p}] for p in ("refund", "x y")]
        if shared
        else PROMPTS
    )
    labels = [model.label_prefix + label for label in MANY_LABELS]  # as the harness passes them
    monkeypatch.setattr(model, "prune_labels_above", 1_000)
    full = model.score_labels(prompts, labels)
    monkeypatch.setattr(model, "prune_labels_above", 2)
    monkeypatch.setattr("steerlab.models.label_search.FIRST_ROUND_LABELS", 2)  # force later rounds
    pruned = model.score_labels(prompts, labels)
    for prompt, f, p in zip(prompts, full, pruned, strict=True):
        assert p.best == f.best
        assert p.confidence <= f.confidence + 1e-6
        assert p.input_tokens == f.input_tokens == model.count_tokens(prompt)
        best = max(f.logprobs)
        for label, exact, reported in zip(labels, f.logprobs, p.logprobs, strict=True):
            if label in p.bounded:
                assert exact <= reported + 1e-5 and reported < best
            else:
                assert reported == pytest.approx(exact, abs=1e-4)
    if flavour == "tiny_chat" and not shared:  # random weights rarely allow pruning; this case does
        assert any(p.bounded for p in pruned)


@pytest.mark.parametrize("flavour", ["tiny_chat", "tiny_base"])
def test_label_trie_decoding_outputs_one_label_and_follows_the_greedy_path(
    flavour: str, request: pytest.FixtureRequest
) -> None:
    """Constrained decoding writes exactly one label, whatever random weights prefer, and the label
    is the greedy walk down the trie: each token the best-scoring allowed continuation."""
    from steerlab.models.label_trie import LabelTrie

    model: TransformersModel = request.getfixturevalue(flavour)
    labels = [model.label_prefix + label for label in MANY_LABELS]
    outputs = model.generate(PROMPTS, GenerationParams(choices=tuple(labels)))
    for prompt, output in zip(PROMPTS, outputs, strict=True):
        assert output.text.strip() in MANY_LABELS
        assert output.finish_reason == "stop"
        assert output.confidence is not None and 0 < output.confidence <= 1
        # The reference walk, one full forward pass per step.
        text, templated = model.render(prompt)
        ids = model.tokenizer(text, add_special_tokens=not templated)["input_ids"]
        trie = LabelTrie([model._continuation_ids(text, label) for label in labels], model._eos_ids)
        path: list[int] = []
        while True:
            with torch.inference_mode():
                logits = model.model(input_ids=torch.tensor([ids + path])).logits[0, -1].float()
            allowed = trie.allowed(path)
            token = max(allowed, key=lambda t: float(logits[t]))
            if token in model._eos_ids:
                break
            path.append(token)
        assert output.text == model.tokenizer.decode(path, skip_special_tokens=True)


def test_label_trie_allows_ends_only_after_whole_labels() -> None:
    from steerlab.models.label_trie import LabelTrie

    trie = LabelTrie([[5, 6], [5, 6, 7], [8]], end_ids=[0])
    assert trie.allowed([]) == [5, 8]
    assert trie.allowed([5]) == [6]
    assert trie.allowed([5, 6]) == [7, 0]  # a whole label that is also another's prefix
    assert trie.allowed([5, 6, 7]) == [0]
    assert trie.allowed([9]) == []
    assert trie.depth == 3
    with pytest.raises(ValueError, match="end-of-turn"):
        LabelTrie([[1]], end_ids=[])
