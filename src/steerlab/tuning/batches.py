"""Length-grouped batches: examples of similar length share a batch, so little compute is padding.

On CPU every padded token costs as much as a real one. Training examples for one task vary a lot
in length (a two-word ticket next to a pasted email), so random batches would be mostly padding.
Each epoch the examples are shuffled, cut into groups of a few batches' worth, sorted by length
within each group and cut into batches; then the batch order is shuffled. Batches pad only to
their own longest example, while which examples meet in a batch still varies from epoch to epoch.

The plan is a pure function of (lengths, batch size, seed, epoch), so a resumed run rebuilds
exactly the batches the interrupted one would have seen.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from steerlab.tuning.examples import TrainingSequence

__all__ = ["Batch", "collate", "epoch_batches", "padding_fraction"]

BUCKET_BATCHES = 32
"""Batches' worth of examples sorted together: larger pads less, smaller mixes more. Measured on
500 examples of 20-600 tokens, batch 8: random batches 42% padding; 16 → 5.1%, 32 → 2.5%, 64 → 1.3%."""


def epoch_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Indices of each batch of one epoch, in the order they are trained."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    bucket = batch_size * BUCKET_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), bucket):
        chunk = sorted(order[start : start + bucket], key=lengths.__getitem__)  # stable: ties stay shuffled
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def padding_fraction(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Share of the tokens in padded batches that are padding."""
    padded = sum(max(lengths[i] for i in batch) * len(batch) for batch in batches)
    return 1.0 - sum(lengths) / padded if padded else 0.0


@dataclass(frozen=True)
class Batch:
    """Right-padded ids and mask; ``predictors`` marks the positions whose next token is an answer token."""

    input_ids: torch.Tensor  # (batch, width)
    attention_mask: torch.Tensor  # (batch, width)
    predictors: torch.Tensor  # (batch, width) bool
    targets: torch.Tensor  # (n_answer_tokens,) in row-major order of ``predictors``

    @property
    def tokens(self) -> int:
        return int(self.attention_mask.sum())

    @property
    def answer_tokens(self) -> int:
        return int(self.targets.numel())

    def to(self, device: torch.device) -> Batch:
        return Batch(
            *(t.to(device) for t in (self.input_ids, self.attention_mask, self.predictors, self.targets))
        )


def collate(sequences: Sequence[TrainingSequence], pad_id: int) -> Batch:
    """Pad to the longest sequence in the batch (right padding, so positions start at 0)."""
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    predictors = torch.zeros((len(sequences), width), dtype=torch.bool)
    targets: list[int] = []
    for row, sequence in enumerate(sequences):
        n = len(sequence)
        input_ids[row, :n] = torch.tensor(sequence.input_ids)
        attention[row, :n] = 1
        # Answer token t is predicted from position t - 1.
        predictors[row, sequence.answer_start - 1 : n - 1] = True
        targets.extend(sequence.answer_ids)
    return Batch(input_ids, attention, predictors, torch.tensor(targets, dtype=torch.long))
