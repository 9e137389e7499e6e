"""Choosing the examples a few-shot prompt shows, from the training split only.

- ``fixed``: the same k examples for every input, picked once by seed (round-robin over labels
  for classification, so the demonstrations cover as many labels as k allows) or given by id;
- ``random``: k examples per input, drawn with a seed derived from the input's id, so a rerun
  shows the same examples;
- ``nearest``: the k training examples most similar to the input by all-MiniLM-L6-v2 cosine
  similarity (Liu et al. 2022, "What Makes Good In-Context Examples for GPT-3?"), most similar
  last, nearest the question.

The pool is the training split; the leakage check has already removed training rows that
overlap the test split, so nearest-k cannot copy a test answer.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from steerlab.candidate import FewShot
from steerlab.data.example import Example
from steerlab.errors import ConfigError

__all__ = ["ShotSelector"]


class ShotSelector:
    def __init__(self, spec: FewShot, pool: Sequence[Example], cache_dir: Path | None = None) -> None:
        self.spec = spec
        self.pool = sorted(pool, key=lambda ex: ex.id)  # order-independent, like the splits
        self.cache_dir = cache_dir
        self._fixed: list[Example] | None = None
        self._vectors: np.ndarray | None = None
        if spec.strategy != "none" and spec.k > len(self.pool):
            raise ConfigError(f"few-shot k={spec.k} but the training pool has only {len(self.pool)} examples")

    def shots(self, example: Example) -> list[Example]:
        strategy, k = self.spec.strategy, self.spec.k
        if strategy == "none" or k == 0:
            return []
        if strategy == "fixed":
            return self._fixed_shots()
        if strategy == "random":
            seed = int(hashlib.sha256(f"{self.spec.seed}:{example.id}".encode()).hexdigest()[:8], 16)
            candidates = [ex for ex in self.pool if ex.id != example.id]
            return random.Random(seed).sample(candidates, k)
        return self._nearest(example)

    def _fixed_shots(self) -> list[Example]:
        if self._fixed is None:
            if self.spec.examples:
                by_id = {ex.id: ex for ex in self.pool}
                missing = [i for i in self.spec.examples if i not in by_id]
                if missing:
                    raise ConfigError(
                        f"few-shot example ids not in the training split: {', '.join(missing[:5])}"
                    )
                self._fixed = [by_id[i] for i in self.spec.examples]
            else:
                self._fixed = _round_robin(self.pool, self.spec.k, self.spec.seed)
        return self._fixed

    def _pool_vectors(self) -> np.ndarray:
        if self._vectors is None:
            key = hashlib.sha256("".join(ex.id for ex in self.pool).encode()).hexdigest()[:16]
            cached = self.cache_dir / f"pool-{key}.npy" if self.cache_dir else None
            if cached is not None and cached.is_file():
                self._vectors = np.load(cached)
            else:
                from steerlab.embeddings import default_embedder

                self._vectors = default_embedder().encode([ex.input_text for ex in self.pool])
                if cached is not None:
                    import io

                    from steerlab.atomic import atomic_write_bytes

                    buffer = io.BytesIO()
                    np.save(buffer, self._vectors)
                    atomic_write_bytes(cached, buffer.getvalue())
        return self._vectors

    def _nearest(self, example: Example) -> list[Example]:
        from steerlab.embeddings import default_embedder

        query = default_embedder().encode([example.input_text])[0]  # (384,)
        similarity = self._pool_vectors() @ query  # (pool,)
        order = np.argsort(-similarity, kind="stable")
        chosen = [self.pool[i] for i in order if self.pool[i].id != example.id][: self.spec.k]
        return chosen[::-1]  # most similar last, next to the question

    def nearest_many(self, examples: Sequence[Example]) -> dict[str, list[Example]]:
        """Nearest shots for many inputs with one batched embedding pass."""
        from steerlab.embeddings import default_embedder

        queries = default_embedder().encode([ex.input_text for ex in examples])  # (n, 384)
        similarity = queries @ self._pool_vectors().T  # (n, pool)
        out = {}
        for row, example in enumerate(examples):
            order = np.argsort(-similarity[row], kind="stable")
            chosen = [self.pool[i] for i in order[: self.spec.k + 1] if self.pool[i].id != example.id]
            out[example.id] = chosen[: self.spec.k][::-1]
        return out


def _round_robin(pool: Sequence[Example], k: int, seed: int) -> list[Example]:
    rng = random.Random(seed)
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in pool:
        by_label[example.output if isinstance(example.output, str) else ""].append(example)
    labels = sorted(by_label)
    rng.shuffle(labels)
    for members in by_label.values():
        rng.shuffle(members)
    chosen: list[Example] = []
    depth = 0
    while len(chosen) < k:
        for label in labels:
            if depth < len(by_label[label]) and len(chosen) < k:
                chosen.append(by_label[label][depth])
        depth += 1
    return chosen
