"""Leakage: test inputs that also appear, exactly or nearly, where a candidate could see them.

A test example whose input is in the training data, the few-shot pool or the knowledge base
measures recall, not skill, and inflates every candidate that can see that source (Elangovan et
al. 2021, "Memorization vs. Generalization: Quantifying Data Leakage in NLP Performance
Evaluation"). The test split is the fixed point of the measurement, so the fix is applied to the
other side: leaked rows are removed from train and dev (and so from the few-shot pool, which is
drawn from train). Knowledge-base overlap is reported, not changed: the documents are the
user's, and a policy page quoting a customer question may be legitimate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from steerlab.data.example import Example
from steerlab.data.similarity import NearDuplicateIndex, normalise_text

__all__ = ["LeakageReport", "find_leaks", "find_leaks_in_documents"]

SHOWN = 20


@dataclass
class LeakageReport:
    """Overlap between the test split and one other source."""

    against: str
    checked: int
    exact: list[tuple[str, str]] = field(default_factory=list)  # (test where, other where)
    near: list[tuple[str, str, float]] = field(default_factory=list)  # (test where, other where, jaccard)
    leaked_ids: set[str] = field(default_factory=set)  # ids on the *other* side

    def as_dict(self) -> dict[str, object]:
        return {
            "against": self.against,
            "checked": self.checked,
            "exact": len(self.exact),
            "near": len(self.near),
            "examples": [{"test": t, "other": o, "kind": "exact"} for t, o in self.exact[:SHOWN]]
            + [
                {"test": t, "other": o, "kind": "near", "jaccard": round(s, 3)}
                for t, o, s in self.near[:SHOWN]
            ],
        }


def find_leaks(
    test: Sequence[Example], other: Sequence[Example], *, against: str, threshold: float = 0.9
) -> LeakageReport:
    """Test inputs equal to (after normalisation) or near an input in ``other``."""
    report = LeakageReport(against, len(other))
    exact_index: dict[str, list[Example]] = {}
    for example in other:
        exact_index.setdefault(normalise_text(example.input_text), []).append(example)
    near_index = NearDuplicateIndex(threshold)
    near_index.add_many((i, ex.input_text) for i, ex in enumerate(other))
    for example in test:
        for match in exact_index.get(normalise_text(example.input_text), []):
            report.exact.append((example.where, match.where))
            report.leaked_ids.add(match.id)
        for position, score in near_index.query(example.input_text):
            match = other[position]
            if match.id in report.leaked_ids or score >= 1.0:
                continue
            report.near.append((example.where, match.where, score))
            report.leaked_ids.add(match.id)
    return report


def find_leaks_in_documents(
    test: Sequence[Example], documents: Iterable[tuple[str, str]], *, threshold: float = 0.9
) -> LeakageReport:
    """Test inputs contained in, or near a paragraph of, knowledge-base documents.

    ``documents`` yields (where, text); paragraphs are split on blank lines.
    """
    paragraphs: list[tuple[str, str]] = []
    whole: list[tuple[str, str]] = []
    for where, text in documents:
        whole.append((where, normalise_text(text)))
        paragraphs += [(where, p) for p in text.split("\n\n") if p.strip()]
    report = LeakageReport("knowledge_base", len(paragraphs))
    near_index = NearDuplicateIndex(threshold)
    near_index.add_many((i, p) for i, (_, p) in enumerate(paragraphs))
    for example in test:
        needle = normalise_text(example.input_text)
        if len(needle) >= 20:  # short inputs ("hi", "refund") appear anywhere by chance
            hit = next((where for where, text in whole if needle in text), None)
            if hit is not None:
                report.exact.append((example.where, hit))
                continue
        matches = near_index.query(example.input_text)
        if matches:
            position, score = matches[0]
            report.near.append((example.where, paragraphs[position][0], score))
    return report
