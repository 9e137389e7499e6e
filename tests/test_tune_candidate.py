"""`steerlab tune` end to end on the tiny model: train, register, evaluate the adapter as a candidate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from steerlab.candidate import Candidate
from steerlab.cli import app
from steerlab.data.check import check_data
from steerlab.data.dataset import load_dataset
from steerlab.errors import ConfigError
from steerlab.evaluation.runner import run_candidates
from steerlab.models.local import TransformersModel
from steerlab.task import load_task
from steerlab.tuning.registry import list_adapters
from steerlab.tuning.tune import tune

LABELS = ["billing", "shipping", "login"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def task_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "task"
    folder.mkdir()
    rows = [
        {"text": f"ticket {i}: a question about {LABELS[i % 3]} number {i * 7 % 31}", "label": LABELS[i % 3]}
        for i in range(60)
    ]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "task.yaml").write_text(
        "name: tune-me\nkind: classify\ninputs: [text]\n"
        "output:\n  field: label\n  labels: [billing, shipping, login]\n"
        "data:\n  train: train.jsonl\nsplit:\n  test_fraction: 0.25\n  dev_fraction: 0.15\n"
        "cleaning:\n  pii_kinds: []\n"
    )
    return folder


def test_tune_registers_an_adapter_that_runs_as_a_candidate(
    task_dir: Path, tiny_chat_dir: Path, tmp_path: Path
) -> None:
    task = load_task(task_dir)
    workspace = tmp_path / "ws"
    check_data(task, workspace=workspace)
    overrides = {"max_steps": 4, "batch_size": 4, "checkpoint_every": 2, "eval_every": 2}
    record = tune(task, model_name=str(tiny_chat_dir), workspace=workspace, overrides=overrides)
    assert [a.id for a in list_adapters(workspace)] == [record.id]
    assert record.lineage["training"]["steps"] == 4
    assert record.lineage["dev_metrics"]["metric"] is not None  # dev accuracy by label scoring
    again = tune(task, model_name=str(tiny_chat_dir), workspace=workspace, overrides=overrides)
    assert again.id == record.id  # the finished run is found, not retrained

    dataset = load_dataset(workspace, task.name)
    tuned = Candidate(name="tuned", model=str(tiny_chat_dir), adapter=record.id[:9])
    base = Candidate(name="base", model=str(tiny_chat_dir))

    def loader(name: str) -> TransformersModel:
        return TransformersModel(name, name=name, dtype="float32")

    runs = run_candidates(
        task, [base, tuned], dataset.test, pool=dataset.train, workspace=workspace, model_loader=loader
    )
    assert runs[1].candidate.adapter == record.id  # the prefix resolved and pinned
    assert runs[0].fingerprint != runs[1].fingerprint
    assert all(p.output in LABELS for run in runs for p in run.predictions)
    assert (record.path.parent / f"{record.id}.merged" / "config.json").is_file()
    rerun = run_candidates(
        task, [tuned], dataset.test, pool=dataset.train, workspace=workspace, model_loader=loader
    )
    assert rerun[0].computed == 0


def test_an_adapter_for_another_base_model_is_refused(
    task_dir: Path, tiny_chat_dir: Path, tiny_base_dir: Path, tmp_path: Path
) -> None:
    from steerlab.errors import ConfigError

    task = load_task(task_dir)
    workspace = tmp_path / "ws"
    record = tune(task, model_name=str(tiny_chat_dir), workspace=workspace, overrides={"max_steps": 1})
    dataset = load_dataset(workspace, task.name)
    wrong = Candidate(name="wrong", model=str(tiny_base_dir), adapter=record.id)
    with pytest.raises(ConfigError, match="trained on"):
        run_candidates(task, [wrong], dataset.test, pool=dataset.train, workspace=workspace)


def test_tune_export_writes_chat_jsonl(task_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "train.chat.jsonl"
    result = CliRunner().invoke(
        app, ["tune", str(task_dir), "--workspace", str(tmp_path / "ws"), "--export", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines and all(line["messages"][-1]["role"] == "assistant" for line in lines)
    assert {line["messages"][-1]["content"] for line in lines} <= set(LABELS)


def test_tune_command_trains_and_prints_the_candidate_recipe(
    task_dir: Path, tiny_chat_dir: Path, tmp_path: Path
) -> None:
    args = ["tune", str(task_dir), "--model", str(tiny_chat_dir), "--max-steps", "2", "--batch-size", "4"]
    result = CliRunner().invoke(app, [*args, "--workspace", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    assert "adapter lora-" in result.output and "adapter: lora-" in result.output
    (adapter,) = list_adapters(tmp_path / "ws")
    assert adapter.lineage["training"]["steps"] == 2
    # Not a terminal: the progress is logged as plain lines, the step count once per line.
    finished = next(line for line in result.output.splitlines() if line.startswith("train: 2/2 (100%)"))
    assert "loss " in finished and "2/2" not in finished.removeprefix("train: 2/2")
    # Run again: the adapter is found in the registry, and no empty training bar is left behind.
    again = CliRunner().invoke(app, [*args, "--workspace", str(tmp_path / "ws")])
    assert again.exit_code == 0, again.output
    assert f"adapter: {adapter.id}" in again.output
    assert "0/?" not in again.output and "nan" not in again.output and "━" not in again.output


@pytest.mark.parametrize(("precision", "trained_in"), [(None, "bfloat16"), ("float32", "float32")])
def test_tune_precision_float32_trains_in_float32_where_the_device_defaults_to_bf16(
    task_dir: Path,
    tiny_chat_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    precision: str | None,
    trained_in: str,
) -> None:
    """Where bf16 is native (a GPU, or a CPU with AMX) models load in bf16; ``--precision float32``
    loads the weights in float32 so the recipe is the one a plain CPU trains."""
    import steerlab.models.device

    monkeypatch.setattr(steerlab.models.device, "cpu_supports_bf16", lambda: True)
    args = ["tune", str(task_dir), "--model", str(tiny_chat_dir), "--max-steps", "1", "--batch-size", "4"]
    if precision is not None:
        args += ["--precision", precision]
    result = CliRunner().invoke(app, [*args, "--workspace", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    (adapter,) = list_adapters(tmp_path / "ws")
    assert adapter.lineage["precision"] == trained_in


def test_a_tuned_candidate_can_use_the_compact_template(
    task_dir: Path, tiny_chat_dir: Path, tmp_path: Path
) -> None:
    """The compact template leaves the label list out: the adapter learns the labels, so the
    prompt (and every training and inference step) is a fraction of the length."""
    from steerlab.data.example import Example

    task = load_task(task_dir)
    compact = Candidate(name="tuned", model=str(tiny_chat_dir), template="classify-compact")
    full = Candidate(name="tuned", model=str(tiny_chat_dir))
    example = Example({"text": "where is my parcel"}, "shipping")
    short = compact.load_template(task).render(task, example)
    long = full.load_template(task).render(task, example)
    assert "billing" not in json.dumps(short) and "billing" in json.dumps(long)
    record = tune(task, candidate=compact, workspace=tmp_path / "ws", overrides={"max_steps": 1})
    assert record.lineage["template"]["name"] == "classify-compact"


def test_continued_training_starts_from_the_parent_adapter(
    task_dir: Path, tiny_chat_dir: Path, tmp_path: Path
) -> None:
    """A warm restart: the child starts at the parent's weights (not the seed's, where LoRA B is
    zero), keeps its rank, names it in the lineage and counts its training time."""
    from safetensors.torch import load_file

    task = load_task(task_dir)
    workspace = tmp_path / "ws"
    model = str(tiny_chat_dir)
    parent = tune(
        task, model_name=model, workspace=workspace, overrides={"max_steps": 3, "rank": 4, "alpha": 8}
    )

    def continue_from_parent(**overrides: object) -> Any:
        return tune(task, model_name=model, workspace=workspace, overrides=overrides, init_adapter=parent.id)

    # A vanishing learning rate: what the child holds is what it started from.
    child = continue_from_parent(max_steps=1, learning_rate=1e-12)
    assert child.id != parent.id
    assert child.lineage["init_adapter"] == parent.id and child.config.rank == 4
    assert child.total_wall_s == pytest.approx(child.lineage["wall_s"] + parent.lineage["wall_s"], abs=1e-2)
    before, after = (
        load_file(parent.path / "adapter_model.safetensors"),
        load_file(child.path / "adapter_model.safetensors"),
    )
    assert before.keys() == after.keys()
    lora_b = [k for k in before if "lora_B" in k]
    assert lora_b and any(before[k].abs().max() > 0 for k in lora_b)
    for key in before:
        assert after[key].float().allclose(before[key].float(), atol=1e-6), key
    # The same continuation again is found, not retrained.
    assert continue_from_parent(max_steps=1, learning_rate=1e-12).id == child.id
    with pytest.raises(ConfigError, match="does not fit"):
        continue_from_parent(max_steps=1, rank=8)


def test_continued_training_refuses_another_base_model(
    task_dir: Path, tiny_chat_dir: Path, tiny_base_dir: Path, tmp_path: Path
) -> None:
    task = load_task(task_dir)
    workspace = tmp_path / "ws"
    parent = tune(task, model_name=str(tiny_chat_dir), workspace=workspace, overrides={"max_steps": 1})
    args = ["tune", str(task_dir), "--model", str(tiny_base_dir), "--init-adapter", parent.id]
    result = CliRunner().invoke(app, [*args, "--max-steps", "1", "--workspace", str(workspace)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    assert "was trained on" in str(result.exception) and parent.id in str(result.exception)
