from __future__ import annotations

import pytest

from steerlab.data.cleaning import CleaningSettings, clean
from steerlab.data.example import Example
from steerlab.errors import DataError


def ex(text: str, label: str, line: int) -> Example:
    return Example({"text": text}, label, "train.jsonl", line)


def test_cleaning_reports_what_it_removes_and_why() -> None:
    rows = [
        ex("Where is my card?", "card", 1),
        ex("where is my card", "card", 2),  # exact duplicate after normalisation
        ex("I want a refund", "refund", 3),
        ex("I want a refund", "card", 4),  # conflict, 1 vs 1: no majority
        ex("   ", "card", 5),  # empty
        ex("x" * 95, "card", 6),  # over-long for the limit below
        ex("How do I reset the password for my online banking account from the mobile app", "login", 7),
        ex(
            "How do I reset the password for my online banking account from the mobile app?!", "login", 8
        ),  # same after normalisation
        ex(
            "How do I reset the password for my online banking acount from the mobile app", "login", 9
        ),  # typo
    ]
    result = clean(rows, settings=CleaningSettings(max_input_chars=90), labels=["card", "refund", "login"])
    kept_lines = [e.line for e in result.kept]
    assert kept_lines == [1, 7, 9]
    assert result.count("exact_duplicate", "dropped") == 2
    assert result.count("conflicting_label", "dropped") == 2
    assert result.count("empty_input", "dropped") == 1
    assert result.count("overlong_input", "dropped") == 1
    assert result.count("near_duplicate", "kept") == 1
    duplicate = next(f for f in result.findings if f.check == "exact_duplicate")
    assert duplicate.where == "train.jsonl:2" and "train.jsonl:1" in duplicate.detail


def test_conflicts_keep_a_strict_majority() -> None:
    rows = [ex("refund me", "refund", 1), ex("refund me", "refund", 2), ex("refund me", "card", 3)]
    result = clean(rows, labels=["refund", "card"])
    assert [e.line for e in result.kept] == [1]  # line 2 is then an exact duplicate of line 1
    assert {f.where for f in result.findings if f.action == "dropped"} == {"train.jsonl:2", "train.jsonl:3"}


def test_unknown_label_stops_with_file_line_and_field() -> None:
    rows = [ex("a", "card", 1), ex("b", "crad", 7), ex("c", "nope", 9)]
    with pytest.raises(DataError) as caught:
        clean(rows, labels=["card"], output_field="category")
    message = str(caught.value)
    assert message.startswith("train.jsonl:7: field 'category': label 'crad' is not in the task's label set")
    assert "(2 rows in all)" in message and "train.jsonl:9" in message


def test_unknown_labels_can_be_dropped_and_reported() -> None:
    rows = [ex("a", "card", 1), ex("b", "crad", 7)]
    result = clean(rows, labels=["card"], settings=CleaningSettings(on_invalid_output="drop"))
    assert [e.line for e in result.kept] == [1]
    assert result.count("unknown_label", "dropped") == 1


def test_schema_violations_name_the_json_path() -> None:
    schema = {
        "type": "object",
        "properties": {"priority": {"enum": ["low", "high"]}},
        "required": ["priority"],
    }
    rows = [
        Example({"text": "a"}, {"priority": "low"}, "x.jsonl", 1),
        Example({"text": "b"}, {"priority": "urgent"}, "x.jsonl", 2),
    ]
    with pytest.raises(
        DataError, match=r"x\.jsonl:2: field 'output': output violates the JSON schema at priority"
    ):
        clean(rows, schema=schema)
