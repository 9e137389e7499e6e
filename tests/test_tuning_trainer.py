"""The LoRA training loop on the tiny chat model: it learns, and a SIGKILLed run resumes exactly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from steerlab.data.check import check_data
from steerlab.data.dataset import load_dataset
from steerlab.errors import ConfigError
from steerlab.models.local import TransformersModel
from steerlab.prompts import load_template
from steerlab.task import load_task
from steerlab.tuning.batches import collate
from steerlab.tuning.config import TrainConfig
from steerlab.tuning.examples import TrainingSequence, encode_splits
from steerlab.tuning.loss import answer_loss_sum
from steerlab.tuning.trainer import TrainResult, train
from test_runner import make_task

RESUME_CONFIG = TrainConfig(
    rank=4,
    alpha=8,
    dropout=0.1,  # dropout draws from torch's generator: resume must restore it
    learning_rate=2e-3,
    epochs=2,
    batch_size=4,
    grad_accum=2,
    eval_every=3,
    checkpoint_every=2,
    patience=5,
    seed=7,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("tuning-trainer")
    task = load_task(make_task(root / "task"))
    check_data(task, workspace=root / "ws")
    return task, root / "ws"


def run_training(
    task_dir: Path,
    workspace: Path,
    model_dir: Path,
    run_dir: Path,
    progress=None,
    config: TrainConfig = RESUME_CONFIG,
) -> tuple[TransformersModel, TrainResult]:
    """One training run as both the test and its killed child process (or launched processes) do it."""
    task = load_task(task_dir)
    dataset = load_dataset(workspace, task.name)
    template = load_template("classify")
    model = TransformersModel(model_dir, dtype="float32")
    train_set, dev_set = encode_splits(model, task, template, dataset)
    dev_prompts = [template.render(task, ex) for ex in dataset.dev]

    def accuracy(_adapter_model) -> float:
        scores = model.score_labels(dev_prompts, task.label_names)
        return sum(s.best == ex.output for s, ex in zip(scores, dataset.dev, strict=True)) / len(scores)

    result = train(model, train_set, run_dir, config, dev_set=dev_set, metric=accuracy, progress=progress)
    return model, result


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from test_tuning_trainer import run_training

    task_dir, workspace, model_dir, run_dir, marker = map(Path, sys.argv[2:7])

    def park_after_step_3(step, total, loss, tokens_per_s, eta_s):
        if step == 3:  # checkpoint-2 is on disk, step 3 is not: the kill loses real work
            marker.write_text("3")
            time.sleep(120)

    run_training(task_dir, workspace, model_dir, run_dir, progress=park_after_step_3)
    """
)


def mean_answer_loss(model: TransformersModel, sequences: list[TrainingSequence]) -> float:
    batch = collate(sequences, model.tokenizer.pad_token_id)
    with torch.no_grad():
        summed = answer_loss_sum(
            model.model, batch.input_ids, batch.attention_mask, batch.predictors, batch.targets
        )
    return float(summed) / batch.answer_tokens


def test_a_short_run_lowers_the_training_loss(prepared, tiny_chat_dir: Path, tmp_path: Path) -> None:
    task, workspace = prepared
    dataset = load_dataset(workspace, task.name)
    model = TransformersModel(tiny_chat_dir, dtype="float32")
    train_set, _ = encode_splits(model, task, load_template("classify"), dataset)
    before = mean_answer_loss(model, train_set.sequences)
    seen = []
    config = TrainConfig.for_task(
        "classify", len(train_set), learning_rate=5e-3, epochs=4, precision="float32"
    )
    result = train(model, train_set, tmp_path / "run", config, progress=lambda *args: seen.append(args))
    after = mean_answer_loss(model, train_set.sequences)
    assert after < 0.5 * before, (before, after)
    assert result.steps == result.total_steps == 4 * 6 and len(result.curve) == result.steps
    assert [s[0] for s in seen] == list(range(1, result.steps + 1))
    assert all(total == result.steps and tps > 0 and eta >= 0 for _, total, _, tps, eta in seen)
    assert result.tokens_trained == 4 * sum(len(s) for s in train_set)
    assert result.answer_tokens == 4 * sum(len(s.answer_ids) for s in train_set)
    assert result.precision == "float32" and result.best_step is None  # no dev set: last weights kept
    peak = max(p.lr for p in result.curve)
    assert peak == pytest.approx(5e-3) and result.curve[-1].lr < peak / 10  # warm-up, then linear decay
    assert sorted(result.target_modules) == sorted(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()
    assert not list((tmp_path / "run").glob("checkpoint-*"))  # removed once the run is complete


def test_a_run_killed_with_sigkill_resumes_to_the_same_adapter(
    prepared, tiny_chat_dir: Path, tmp_path: Path
) -> None:
    task, workspace = prepared
    run_dir, marker = tmp_path / "killed", tmp_path / "parked"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILL_SCRIPT,
            str(Path(__file__).parent),
            str(task.dir),
            str(workspace),
            str(tiny_chat_dir),
            str(run_dir),
            str(marker),
        ],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the child never reached step 3"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert [p.name for p in run_dir.glob("checkpoint-*")] == ["checkpoint-00000002"]
    assert not (run_dir / "result.json").exists()

    _, resumed = run_training(task.dir, workspace, tiny_chat_dir, run_dir)
    _, fresh = run_training(task.dir, workspace, tiny_chat_dir, tmp_path / "uninterrupted")
    assert resumed.resumed_from == 2 and fresh.resumed_from is None
    assert resumed.steps == fresh.steps == 12  # 45 examples, 4 per batch, 2 batches per step, 2 epochs
    assert torch.allclose(
        torch.tensor([p.loss for p in resumed.curve]), torch.tensor([p.loss for p in fresh.curve])
    )
    assert [(e.step, e.metric) for e in resumed.evals] == [(e.step, e.metric) for e in fresh.evals]
    assert torch.allclose(
        torch.tensor([e.dev_loss for e in resumed.evals]), torch.tensor([e.dev_loss for e in fresh.evals])
    )
    assert resumed.best_step == fresh.best_step
    a = load_file(resumed.adapter_dir / "adapter_model.safetensors")
    b = load_file(fresh.adapter_dir / "adapter_model.safetensors")
    assert a.keys() == b.keys() and a
    assert all(torch.allclose(a[name], b[name]) for name in a)
    assert any(float(t.abs().max()) > 0 for name, t in a.items() if "lora_B" in name)  # it did train


def test_a_finished_run_is_returned_not_retrained(prepared, tiny_chat_dir: Path, tmp_path: Path) -> None:
    task, workspace = prepared
    dataset = load_dataset(workspace, task.name)
    config = TrainConfig(rank=2, alpha=4, learning_rate=5e-3, epochs=1, batch_size=16, precision="float32")

    def run(progress=None, settings: TrainConfig = config) -> tuple[TransformersModel, TrainResult]:
        model = TransformersModel(tiny_chat_dir, dtype="float32")
        train_set, _ = encode_splits(model, task, load_template("classify"), dataset)
        return model, train(model, train_set, tmp_path / "run", settings, progress=progress)

    first_model, first = run()
    calls = []
    again_model, again = run(progress=lambda *args: calls.append(args))
    assert not calls and again.to_dict() == first.to_dict()
    train_set, _ = encode_splits(again_model, task, load_template("classify"), dataset)
    assert mean_answer_loss(again_model, train_set.sequences) == pytest.approx(
        mean_answer_loss(first_model, train_set.sequences)
    )
    with pytest.raises(ConfigError, match="different config"):
        run(settings=config.with_overrides(learning_rate=1e-3))
