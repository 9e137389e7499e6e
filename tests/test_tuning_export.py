"""Chat-JSONL export for hosted fine-tuning: one conversation per line, same template as local runs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from steerlab.data.check import check_data
from steerlab.data.dataset import load_dataset
from steerlab.errors import DataError
from steerlab.prompts import load_template
from steerlab.task import load_task
from steerlab.tuning.export import chat_record, export_chat_jsonl
from test_runner import LABELS, make_task


@pytest.fixture
def prepared(tmp_path: Path):
    task = load_task(make_task(tmp_path / "task", rows=30))
    check_data(task, workspace=tmp_path / "ws")
    return task, load_dataset(tmp_path / "ws", task.name)


def test_export_writes_system_user_assistant_per_training_example(prepared, tmp_path: Path) -> None:
    task, dataset = prepared
    template = load_template("classify")
    out = tmp_path / "out" / "train.jsonl"
    assert export_chat_jsonl(dataset, task, template, out) == len(dataset.train)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(dataset.train)
    for line, example in zip(lines, dataset.train, strict=True):
        record = json.loads(line)
        assert list(record) == ["messages"]
        roles = [m["role"] for m in record["messages"]]
        assert roles == ["system", "user", "assistant"]
        assert all(isinstance(m["content"], str) and m["content"] for m in record["messages"])
        assert example.inputs["text"] in record["messages"][1]["content"]
        assert record["messages"][2]["content"] == example.output and example.output in LABELS
        # Exactly the prompt a candidate sends, plus the gold answer.
        assert record == {"messages": [*template.render(task, example), record["messages"][2]]}


def test_export_of_the_reasoning_template_formats_the_answer_as_it_parses(prepared) -> None:
    task, dataset = prepared
    record = chat_record(task, load_template("classify-reasoning"), dataset.train[0])
    assert record["messages"][-1]["content"] == f"Label: {dataset.train[0].output}"


def test_export_refuses_unredacted_pii_and_the_test_split(prepared, tmp_path: Path) -> None:
    task, dataset = prepared
    template = load_template("classify")
    leaky = dataclasses.replace(dataset, manifest={**dataset.manifest, "pii": {"found": {"PHONE": 1}}})
    with pytest.raises(DataError, match="unredacted personal data"):
        export_chat_jsonl(leaky, task, template, tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()
    assert export_chat_jsonl(dataset, task, template, tmp_path / "dev.jsonl", split="dev") == len(dataset.dev)
    with pytest.raises(DataError, match="only the train and dev"):
        export_chat_jsonl(dataset, task, template, tmp_path / "test.jsonl", split="test")  # type: ignore[arg-type]
