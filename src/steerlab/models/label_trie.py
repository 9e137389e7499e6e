"""Decoding constrained to a fixed set of strings: greedy search down a token trie of the labels.

The other way to classify with a local model is label scoring (``score_labels``), which reads
every candidate label's tokens and ranks them by mean log-probability. Constrained decoding reads
only the path it takes: one forward step per token of the chosen label, each step allowed only
the tokens that continue some label (and an end-of-turn token where a label is complete). It is
the cheap end of the trade: fewer tokens read per input, but one model call per step, and the
greedy path is not always the label with the best mean log-probability. ``bench/banking77.py``
measures both on the same inputs; the choice and its numbers are in bench/RESULTS.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import LogitsProcessor

__all__ = ["LabelTrie", "TrieConstraint"]


class LabelTrie:
    """The token sequences of a label set as a prefix tree; ``end_ids`` close a complete label."""

    def __init__(self, sequences: Sequence[Sequence[int]], end_ids: Sequence[int]) -> None:
        if not sequences or any(not s for s in sequences):
            raise ValueError("a label trie needs at least one label, each of at least one token")
        if not end_ids:
            raise ValueError("a label trie needs an end-of-turn token to close a label")
        self.end_ids = tuple(end_ids)
        self._children: dict[tuple[int, ...], set[int]] = {}
        self._complete: set[tuple[int, ...]] = set()
        for tokens in sequences:
            tokens = tuple(tokens)
            for depth in range(len(tokens)):
                self._children.setdefault(tokens[:depth], set()).add(tokens[depth])
            self._complete.add(tokens)
        self.depth = max(len(s) for s in sequences)

    def allowed(self, prefix: Sequence[int]) -> list[int]:
        """Tokens that may follow ``prefix``: label continuations, plus the end tokens where
        ``prefix`` is a whole label. Empty once the prefix has left the trie."""
        prefix = tuple(prefix)
        tokens = sorted(self._children.get(prefix, ()))
        if prefix in self._complete:
            tokens.extend(self.end_ids)
        return tokens


class TrieConstraint(LogitsProcessor):
    """Masks every token a row's label trie does not allow at its current depth.

    ``tries`` holds one trie per row (rows whose prompts end alike share one); ``start`` is the
    column where generation began in the left-padded batch. A row that has emitted an end token is
    left alone: ``generate`` pads finished rows itself.
    """

    def __init__(self, tries: Sequence[LabelTrie], start: int) -> None:
        self.tries = list(tries)
        self.start = start

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        mask = torch.zeros_like(scores, dtype=torch.bool)
        for row, trie in enumerate(self.tries):
            generated = input_ids[row, self.start :].tolist()
            if any(token in trie.end_ids for token in generated):
                mask[row] = True
                continue
            allowed = trie.allowed(generated)
            if allowed:
                mask[row, allowed] = True
            else:  # cannot happen under this processor; end the row rather than decode freely
                mask[row, list(trie.end_ids)] = True
        return scores.masked_fill(~mask, float("-inf"))
