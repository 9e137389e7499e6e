"""Exact and near-duplicate matching of texts, shared by cleaning and the leakage check.

Exact matching compares a normalised form (Unicode NFKC, case-folded, whitespace collapsed, edge
punctuation stripped) so "Where is my card?" and "where is my card" count as the same input.
Near matching estimates Jaccard similarity of character 5-gram sets with MinHash and
locality-sensitive hashing (Broder 1997; Leskovec et al., *Mining of Massive Datasets*, ch. 3),
then confirms each candidate with the exact Jaccard, so reported pairs are never LSH false
positives. Character shingles suit short support messages better than word shingles: one
changed word in a ten-word message still leaves most 5-grams shared.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Iterable

__all__ = ["NearDuplicateIndex", "jaccard", "normalise_text", "shingles"]

_SPACE = re.compile(r"\s+")
_EDGE_PUNCT = " \t\n.,;:!?\"'()[]{}"
SHINGLE = 5
NUM_PERM = 128
LSH_MARGIN = 0.2


def normalise_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", text).strip(_EDGE_PUNCT)


def shingles(text: str, size: int = SHINGLE) -> set[str]:
    norm = normalise_text(text)
    if len(norm) <= size:
        return {norm}
    return {norm[i : i + size] for i in range(len(norm) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class NearDuplicateIndex:
    """Texts indexed for "which stored texts are at least ``threshold`` Jaccard-similar to this?"."""

    def __init__(self, threshold: float = 0.9, num_perm: int = NUM_PERM) -> None:
        from datasketch import MinHashLSH

        if not 0 < threshold <= 1:
            raise ValueError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self.num_perm = num_perm
        # LSH banding tuned at the threshold itself misses many pairs just above it (the S-curve
        # is only ~50% there). Banding for a lower threshold finds them; the exact Jaccard check
        # in ``query`` then drops the extra candidates, so precision is unchanged.
        self._lsh = MinHashLSH(threshold=max(0.3, threshold - LSH_MARGIN), num_perm=num_perm)
        self._shingles: dict[Hashable, set[str]] = {}

    def _minhash(self, grams: set[str]):  # -> datasketch.MinHash
        from datasketch import MinHash

        signature = MinHash(num_perm=self.num_perm, seed=1)
        signature.update_batch([g.encode() for g in grams])
        return signature

    def add(self, key: Hashable, text: str) -> None:
        if key in self._shingles:
            raise KeyError(f"key {key!r} already indexed")
        grams = shingles(text)
        self._shingles[key] = grams
        self._lsh.insert(key, self._minhash(grams))

    def add_many(self, items: Iterable[tuple[Hashable, str]]) -> None:
        with self._lsh.insertion_session() as session:
            for key, text in items:
                grams = shingles(text)
                self._shingles[key] = grams
                session.insert(key, self._minhash(grams))

    def query(self, text: str, *, exclude: Hashable | None = None) -> list[tuple[Hashable, float]]:
        """Stored keys whose text is near ``text``, with their exact Jaccard, most similar first."""
        grams = shingles(text)
        found = []
        for key in self._lsh.query(self._minhash(grams)):
            if key == exclude:
                continue
            score = jaccard(grams, self._shingles[key])
            if score >= self.threshold:
                found.append((key, score))
        return sorted(found, key=lambda pair: -pair[1])

    def __len__(self) -> int:
        return len(self._shingles)
