"""Data-parallel tuning under `accelerate launch` with two CPU processes (gloo).

Two processes with one batch each per step must take the same steps as one process
accumulating two batches, and the CLI run must register an adapter that works as a candidate.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from steerlab.candidate import Candidate
from steerlab.data.check import check_data
from steerlab.data.dataset import load_dataset
from steerlab.evaluation.runner import run_candidates
from steerlab.models.local import TransformersModel
from steerlab.task import load_task
from steerlab.tuning.config import TrainConfig
from steerlab.tuning.registry import list_adapters
from steerlab.tuning.trainer import TrainResult
from test_runner import LABELS, make_task
from test_tuning_trainer import run_training as trainer_run

ACCELERATE = shutil.which("accelerate") or str(Path(sys.executable).parent / "accelerate")

# Dropout off: each process draws its own masks, so only without dropout are the two runs
# comparable step for step. 45 examples in batches of 5 make 9 batches: the last step of each
# epoch has one batch, so the second process has nothing to do on it and must still agree.
CONFIG = TrainConfig(
    rank=4,
    alpha=8,
    dropout=0.0,
    learning_rate=2e-3,
    epochs=2,
    batch_size=5,
    eval_every=3,
    checkpoint_every=2,
    patience=5,
    seed=3,
)

SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from test_tuning_distributed import CONFIG, run_training

    task_dir, workspace, model_dir, run_dir = map(Path, sys.argv[2:6])
    marker = Path(sys.argv[6]) if len(sys.argv) > 6 else None

    def park_after_step_5(step, total, loss, tokens_per_s, eta_s):
        if marker is not None and step == 5:  # checkpoint-4 is on disk, step 5 is not
            marker.write_text("5")
            time.sleep(120)

    _, result = run_training(task_dir, workspace, model_dir, run_dir, CONFIG, progress=park_after_step_5)
    # One file a process: two processes printing to one pipe can interleave their lines.
    report = {"steps": result.steps, "world_size": result.world_size}
    (run_dir / f"report-{os.environ.get('RANK', '0')}.json").write_text(json.dumps(report))
    """
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("tuning-ddp")
    task = load_task(make_task(root / "task"))
    check_data(task, workspace=root / "ws")
    return task, root / "ws"


def run_training(
    task_dir: Path, workspace: Path, model_dir: Path, run_dir: Path, config: TrainConfig, progress=None
) -> tuple[TransformersModel, TrainResult]:
    """One training run as both this test and each launched process do it (the trainer tests' run)."""
    return trainer_run(task_dir, workspace, model_dir, run_dir, progress=progress, config=config)


def launch_command(args: list[str]) -> list[str]:
    """Two processes on this CPU, as a user would start them."""
    with socket.socket() as probe:  # a free port, so parallel test runs do not collide
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return [
        ACCELERATE,
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(port),
        *args,
    ]


ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def launch(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        launch_command(args), cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_two_processes_take_the_same_steps_as_one_accumulating_two_batches(
    prepared, tiny_chat_dir: Path, tmp_path: Path
) -> None:
    """Also across a SIGKILL of both processes mid-run: the relaunch resumes from the checkpoint
    (each process restores its own random state) and still lands on the same weights."""
    task, workspace = prepared
    run_dir, script, marker = tmp_path / "ddp", tmp_path / "launched.py", tmp_path / "parked"
    script.write_text(SCRIPT)
    args = [
        str(script),
        str(Path(__file__).parent),
        str(task.dir),
        str(workspace),
        str(tiny_chat_dir),
        str(run_dir),
    ]
    killed = subprocess.Popen(
        launch_command([*args, str(marker)]),
        cwd=tmp_path,
        env=ENV,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while not marker.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the launched run never reached step 5"
    os.killpg(killed.pid, signal.SIGKILL)  # the launcher and both training processes
    killed.wait(timeout=30)
    assert [p.name for p in run_dir.glob("checkpoint-*")] == ["checkpoint-00000004"]
    launch(args, cwd=tmp_path)
    reports = [json.loads(p.read_text()) for p in sorted(run_dir.glob("report-*.json"))]
    assert reports == [{"steps": 10, "world_size": 2}] * 2  # both processes, 5 steps an epoch
    together = TrainResult.from_dict(json.loads((run_dir / "result.json").read_text()))
    assert together.resumed_from == 4

    _, alone = run_training(
        task.dir, workspace, tiny_chat_dir, tmp_path / "alone", CONFIG.with_overrides(grad_accum=2)
    )
    assert together.world_size == 2 and alone.world_size == 1
    assert together.steps == alone.steps == 10
    assert together.tokens_trained == alone.tokens_trained
    assert torch.allclose(
        torch.tensor([p.loss for p in together.curve]), torch.tensor([p.loss for p in alone.curve]), atol=1e-5
    )
    assert [(e.step, e.metric) for e in together.evals] == [(e.step, e.metric) for e in alone.evals]
    assert torch.allclose(
        torch.tensor([e.dev_loss for e in together.evals]),
        torch.tensor([e.dev_loss for e in alone.evals]),
        atol=1e-5,
    )
    a = load_file(together.adapter_dir / "adapter_model.safetensors")
    b = load_file(alone.adapter_dir / "adapter_model.safetensors")
    assert a.keys() == b.keys() and a
    assert all(torch.allclose(a[name], b[name], atol=1e-5) for name in a)
    assert not list(run_dir.glob("checkpoint-*"))  # written during the run, removed at the end


def test_accelerate_launch_of_steerlab_tune_registers_an_adapter_that_runs_as_a_candidate(
    prepared, tiny_chat_dir: Path, tmp_path: Path
) -> None:
    task, _ = prepared
    workspace = tmp_path / "ws"
    out = launch(
        [
            "-m",
            "steerlab.cli",
            "tune",
            str(task.dir),
            "--model",
            str(tiny_chat_dir),
            "--max-steps",
            "3",
            "--batch-size",
            "4",
            "--workspace",
            str(workspace),
            "--json",
        ],
        cwd=tmp_path,
    )
    (record,) = list_adapters(workspace)
    assert json.loads(out.stdout)["id"] == record.id  # one JSON document: one process reports
    assert record.lineage["training"]["world_size"] == 2
    assert record.lineage["training"]["steps"] == 3

    dataset = load_dataset(workspace, task.name)
    tuned = Candidate(name="tuned", model=str(tiny_chat_dir), adapter=record.id)

    def loader(name: str) -> TransformersModel:
        return TransformersModel(name, name=name, dtype="float32")

    (run,) = run_candidates(
        task, [tuned], dataset.test, pool=dataset.train, workspace=workspace, model_loader=loader
    )
    assert run.candidate.adapter == record.id
    assert all(p.output in LABELS for p in run.predictions)
