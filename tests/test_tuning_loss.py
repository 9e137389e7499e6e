"""The head-at-answer-positions loss equals the full-logits loss; length grouping pads little."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

from steerlab.tuning import loss as loss_module
from steerlab.tuning.batches import collate, epoch_batches, padding_fraction
from steerlab.tuning.examples import TrainingSequence
from steerlab.tuning.trainer import _optimizer_step


def _random_sequences(vocab: int, count: int = 5, seed: int = 0) -> list[TrainingSequence]:
    rng = random.Random(seed)
    sequences = []
    for index in range(count):
        length = rng.randint(12, 40)
        ids = tuple(rng.randrange(4, vocab) for _ in range(length))
        sequences.append(TrainingSequence(str(index), ids, length - rng.randint(1, 8)))
    return sequences


def _full_logits_loss(model, batch) -> torch.Tensor:
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits.float()
    return F.cross_entropy(logits[batch.predictors], batch.targets, reduction="sum")


@pytest.mark.parametrize("flavour", ["chat", "base"])
def test_head_only_at_answer_positions_equals_the_full_logits_loss(
    flavour: str, tiny_chat_dir: Path, tiny_base_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_chat_dir if flavour == "chat" else tiny_base_dir)
    model.float()
    if flavour == "base":
        model.config.final_logit_softcapping = 3.0  # Gemma 2 style capping: must be applied to the rows too
    sequences = _random_sequences(model.config.vocab_size)
    batch = collate(sequences, pad_id=0)
    assert batch.answer_tokens == sum(len(s.answer_ids) for s in sequences)

    expected = _full_logits_loss(model, batch)
    expected.backward()
    expected_grad = model.model.embed_tokens.weight.grad.clone()
    model.zero_grad()
    monkeypatch.setattr(loss_module, "HEAD_CHUNK_ROWS", 4)  # several recomputed chunks
    got = loss_module.answer_loss_sum(
        model, batch.input_ids, batch.attention_mask, batch.predictors, batch.targets
    )
    got.backward()
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-4)
    assert torch.allclose(model.model.embed_tokens.weight.grad, expected_grad, rtol=1e-4, atol=1e-5)


def test_collate_marks_the_positions_that_predict_answer_tokens() -> None:
    sequences = [TrainingSequence("a", (5, 6, 7, 8), 2), TrainingSequence("b", (9, 10, 11), 2)]
    batch = collate(sequences, pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7, 8], [9, 10, 11, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    # Position p predicts token p + 1: answer tokens 7, 8 come from positions 1, 2; token 11 from 1.
    assert batch.predictors.tolist() == [[False, True, True, False], [False, True, False, False]]
    assert batch.targets.tolist() == [7, 8, 11]
    assert (batch.tokens, batch.answer_tokens) == (7, 3)


def test_length_grouped_batches_pad_little_and_cover_every_example_once() -> None:
    rng = random.Random(1)
    lengths = [rng.randint(20, 600) for _ in range(500)]
    batches = epoch_batches(lengths, batch_size=8, seed=3, epoch=0)
    assert sorted(i for batch in batches for i in batch) == list(range(500))
    assert sum(len(batch) != 8 for batch in batches) == 1  # only the last bucket's remainder
    shuffled = list(range(500))
    rng.shuffle(shuffled)
    naive = [shuffled[i : i + 8] for i in range(0, 500, 8)]
    grouped_padding = padding_fraction(lengths, batches)
    assert grouped_padding < 0.05 < 0.3 < padding_fraction(lengths, naive)
    # A pure function of its inputs (resume rebuilds it), yet a different order every epoch.
    assert epoch_batches(lengths, 8, seed=3, epoch=0) == batches
    assert epoch_batches(lengths, 8, seed=3, epoch=1) != batches
    assert epoch_batches(lengths, 8, seed=4, epoch=0) != batches


def test_gradient_accumulation_takes_the_same_step_as_one_big_batch(tiny_chat_dir: Path) -> None:
    sequences = _random_sequences(300, count=4, seed=2)
    outcomes = []
    for split in ([sequences], [sequences[:1], sequences[1:]]):  # 1 batch of 4, or batches of 1 and 3
        model = AutoModelForCausalLM.from_pretrained(tiny_chat_dir, dtype=torch.float32)
        params = list(model.parameters())
        optimizer = torch.optim.SGD(params, lr=0.1)
        batches = [collate(part, pad_id=0) for part in split]
        loss = _optimizer_step(model, batches, params, optimizer, None, contextlib.nullcontext)
        outcomes.append((loss, [p.detach().clone() for p in params]))
    (loss_one, after_one), (loss_two, after_two) = outcomes
    assert loss_one == pytest.approx(loss_two, rel=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(after_one, after_two, strict=True))
