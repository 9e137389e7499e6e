"""Train/dev/test splits: stratified, fixed by seed, independent of file order.

Examples are ordered by content id before shuffling, so the same data in another row order, or
in another file format, gives the same split. Stratifying by label keeps rare labels present in
every split: a label absent from the test set cannot be measured, and one absent from train
cannot be learned. Per label, each split gets its share rounded by largest remainder, and when
a label has enough examples every split gets at least one.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from steerlab.data.example import Example

__all__ = ["SPLITS", "Split", "split_examples"]

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Split:
    train: list[Example]
    dev: list[Example]
    test: list[Example]

    def items(self) -> list[tuple[str, list[Example]]]:
        return [("train", self.train), ("dev", self.dev), ("test", self.test)]


def _shares(n: int, fractions: Sequence[float]) -> list[int]:
    """Integer sizes summing to ``n`` for the given fractions, by largest remainder."""
    raw = [n * f for f in fractions]
    sizes = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - sizes[i], reverse=True)[: n - sum(sizes)]:
        sizes[i] += 1
    # Guarantee one example in every non-zero share when the stratum can afford it.
    for i, fraction in enumerate(fractions):
        if fraction > 0 and sizes[i] == 0 and n >= len([f for f in fractions if f > 0]):
            donor = max(range(len(sizes)), key=lambda j: sizes[j])
            sizes[donor] -= 1
            sizes[i] += 1
    return sizes


def split_examples(
    examples: Sequence[Example],
    *,
    dev_fraction: float,
    test_fraction: float,
    seed: int,
    stratify: bool = True,
    given_test: Sequence[Example] | None = None,
) -> Split:
    """Split ``examples``; with ``given_test``, that is the test split and only dev is carved out.

    Stratification applies when outputs are labels (strings); JSON or free-text outputs are
    split uniformly at random.
    """
    test_share = 0.0 if given_test is not None else test_fraction
    train_share = 1.0 - dev_fraction - test_share
    if train_share <= 0:
        raise ValueError("dev_fraction + test_fraction must leave a training split")
    strata: dict[str, list[Example]] = defaultdict(list)
    for example in sorted(examples, key=lambda ex: ex.id):
        key = example.output if stratify and isinstance(example.output, str) else ""
        strata[key].append(example)
    rng = random.Random(seed)
    parts: dict[str, list[Example]] = {name: [] for name in SPLITS}
    for key in sorted(strata):
        members = strata[key]
        rng.shuffle(members)
        n_train, n_dev, n_test = _shares(len(members), [train_share, dev_fraction, test_share])
        parts["train"] += members[:n_train]
        parts["dev"] += members[n_train : n_train + n_dev]
        parts["test"] += members[n_train + n_dev : n_train + n_dev + n_test]
    test = list(given_test) if given_test is not None else parts["test"]
    return Split(parts["train"], parts["dev"], test)
