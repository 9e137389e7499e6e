from __future__ import annotations

import random
from collections import Counter

from steerlab.data.example import Example
from steerlab.data.leakage import find_leaks, find_leaks_in_documents
from steerlab.data.splits import split_examples


def dataset(n_per_label: dict[str, int]) -> list[Example]:
    rows = []
    for label, n in n_per_label.items():
        rows += [
            Example({"text": f"{label} message number {i}"}, label, "d.jsonl", len(rows) + 1)
            for i in range(n)
        ]
    return rows


def test_splits_are_stratified_seeded_and_order_independent() -> None:
    rows = dataset({"a": 100, "b": 30, "c": 3})
    first = split_examples(rows, dev_fraction=0.1, test_fraction=0.2, seed=7)
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    again = split_examples(shuffled, dev_fraction=0.1, test_fraction=0.2, seed=7)
    assert [e.id for e in first.test] == [e.id for e in again.test]
    other_seed = split_examples(rows, dev_fraction=0.1, test_fraction=0.2, seed=8)
    assert {e.id for e in other_seed.test} != {e.id for e in first.test}
    assert Counter(e.output for e in first.test) == {"a": 20, "b": 6, "c": 1}
    assert Counter(e.output for e in first.dev) == {"a": 10, "b": 3, "c": 1}  # rare label still present
    assert len(first.train) + len(first.dev) + len(first.test) == len(rows)
    assert not {e.id for e in first.train} & {e.id for e in first.test}


def test_a_given_test_split_is_respected() -> None:
    rows = dataset({"a": 50, "b": 50})
    given = dataset({"a": 5})
    split = split_examples(rows, dev_fraction=0.1, test_fraction=0.2, seed=1, given_test=given)
    assert split.test == given
    assert len(split.train) == 90 and len(split.dev) == 10


def test_leakage_finds_exact_and_near_overlap() -> None:
    train = [
        Example({"text": "How do I activate my new card?"}, "a", "train.csv", 2),
        Example(
            {"text": "Why was I charged a fee for my transfer to another bank account?"}, "b", "train.csv", 3
        ),
        Example({"text": "Completely unrelated question"}, "c", "train.csv", 4),
    ]
    test = [
        Example({"text": "how do I activate my new card"}, "a", "test.csv", 2),
        Example(
            {"text": "Why was I charged a fee for my transfer to another bank account??"}, "b", "test.csv", 3
        ),
        Example(
            {"text": "Why was I charged a fee for the transfer to another bank account"}, "b", "test.csv", 4
        ),
    ]
    report = find_leaks(test, train, against="train")
    assert ("test.csv:2", "train.csv:2") in report.exact
    assert ("test.csv:3", "train.csv:3") in report.exact
    assert report.leaked_ids == {train[0].id, train[1].id}
    assert report.checked == 3


def test_leakage_into_knowledge_base_documents() -> None:
    test = [Example({"text": "Can I get a refund on a flight booked with points?"}, "x", "test.csv", 2)]
    docs = [
        ("kb/refunds.md", "# Refunds\n\nCan I get a refund on a flight booked with points? Yes, within 24 h.")
    ]
    report = find_leaks_in_documents(test, docs)
    assert report.exact == [("test.csv:2", "kb/refunds.md")]
