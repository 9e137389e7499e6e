"""The evaluation runner on the tiny model: caching, resume after SIGKILL, every lever one path."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from steerlab.candidate import Candidate, FewShot
from steerlab.data.check import check_data
from steerlab.data.dataset import load_dataset
from steerlab.evaluation.runner import run_candidates, stratified_slice
from steerlab.models.local import TransformersModel
from steerlab.task import load_task

LABELS = ["billing", "shipping", "login"]
WORDS = ["card", "parcel", "password", "refund", "box", "account", "charge", "courier", "sign", "invoice"]


def make_task(folder: Path, rows: int = 90) -> Path:
    (folder / "data").mkdir(parents=True)
    lines = []
    for i in range(rows):
        text = f"message {i}: my {WORDS[i % 10]} and {WORDS[(i * 7) % 10]} problem number {i * 13 % 97}"
        lines.append(json.dumps({"text": text, "label": LABELS[i % 3]}))
    (folder / "data" / "train.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "task.yaml").write_text(
        "name: runner\nkind: classify\ndescription: support tickets\ninputs: [text]\n"
        "output:\n  field: label\n  labels: [billing, shipping, login]\n"
        "data:\n  train: data/train.jsonl\nsplit:\n  test_fraction: 0.4\n  dev_fraction: 0.1\n"
        "cleaning:\n  pii_kinds: []\n"
    )
    return folder


@pytest.fixture
def prepared(tmp_path: Path):
    folder = make_task(tmp_path / "task")
    task = load_task(folder)
    check_data(task, workspace=tmp_path / "ws")
    return task, load_dataset(tmp_path / "ws", task.name)


CANDIDATES = [
    Candidate(name="zero", model="tiny"),
    Candidate(name="fixed", model="tiny", few_shot=FewShot(strategy="fixed", k=3)),
    Candidate(name="random", model="tiny", few_shot=FewShot(strategy="random", k=2, seed=1)),
]


def test_a_rerun_reads_the_cache_and_computes_nothing(prepared, tmp_path: Path, tiny_chat_dir: Path) -> None:
    task, dataset = prepared
    loads = []

    def loader(name: str) -> TransformersModel:
        loads.append(name)
        return TransformersModel(tiny_chat_dir, name=name, dtype="float32")

    first = run_candidates(
        task, CANDIDATES, dataset.test, pool=dataset.train, workspace=tmp_path / "ws", model_loader=loader
    )
    assert [run.computed for run in first] == [len(dataset.test)] * 3
    assert loads == ["tiny"]  # one load, shared by all candidates on that model
    for run in first:
        assert all(p.output in LABELS and p.valid and 0 < p.confidence <= 1 for p in run.predictions)
    assert len({run.fingerprint for run in first}) == 3
    again = run_candidates(
        task, CANDIDATES, dataset.test, pool=dataset.train, workspace=tmp_path / "ws", model_loader=loader
    )
    assert [run.computed for run in again] == [0, 0, 0]
    assert loads == ["tiny"]  # nothing to compute, so no model load either
    assert [[p.output for p in r.predictions] for r in again] == [
        [p.output for p in r.predictions] for r in first
    ]


def test_changing_the_recipe_or_template_is_a_new_candidate(prepared, tmp_path: Path) -> None:
    task, _ = prepared
    base = Candidate(name="a")
    assert base.fingerprint(task) == Candidate(name="renamed").fingerprint(task)  # the name is a label only
    assert base.fingerprint(task) != Candidate(name="a", few_shot=FewShot(strategy="fixed", k=2)).fingerprint(
        task
    )
    custom = task.dir / "prompts"
    custom.mkdir()
    (custom / "mine.yaml").write_text(
        "name: mine\nparts:\n  role: You route tickets.\n  format: Label only.\n"
    )
    first = Candidate(name="a", template="mine").fingerprint(task)
    (custom / "mine.yaml").write_text(
        "name: mine\nparts:\n  role: You route tickets.\n  format: The label only.\n"
    )
    assert Candidate(name="a", template="mine").fingerprint(task) != first


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from steerlab.candidate import Candidate
    from steerlab.data.dataset import load_dataset
    from steerlab.evaluation.runner import run_candidates
    from steerlab.models.local import TransformersModel
    from steerlab.task import load_task

    task_dir, workspace, model_dir = map(Path, sys.argv[1:4])
    task = load_task(task_dir)
    dataset = load_dataset(workspace, task.name)

    class Slow(TransformersModel):  # the real model, slowed so the test can kill it mid-run
        def score_labels(self, prompts, labels):
            time.sleep(0.4)
            return super().score_labels(prompts, labels)

    run_candidates(task, [Candidate(name="zero", model="tiny")], dataset.test, pool=dataset.train,
                   workspace=workspace, batch_size=2,
                   model_loader=lambda name: Slow(model_dir, name=name, dtype="float32"))
    """
)


def test_a_run_killed_with_sigkill_resumes_without_recomputing(
    prepared, tmp_path: Path, tiny_chat_dir: Path
) -> None:
    task, dataset = prepared
    workspace = tmp_path / "ws"
    child = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(task.dir), str(workspace), str(tiny_chat_dir)],
        env=os.environ.copy(),
    )
    database = workspace / "predictions.sqlite"
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and done < 4:
        time.sleep(0.1)
        if database.exists():
            try:
                with sqlite3.connect(database) as db:
                    done = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
            except sqlite3.OperationalError:
                pass  # the table is being created
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert 4 <= done < len(dataset.test), "the kill must land mid-run"
    with sqlite3.connect(database) as db:
        survived = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]

    def loader(name: str) -> TransformersModel:
        return TransformersModel(tiny_chat_dir, name=name, dtype="float32")

    zero = [Candidate(name="zero", model="tiny")]
    resumed = run_candidates(
        task, zero, dataset.test, pool=dataset.train, workspace=workspace, model_loader=loader
    )
    assert resumed[0].computed == len(dataset.test) - survived  # nothing that survived is recomputed
    fresh = run_candidates(
        task, zero, dataset.test, pool=dataset.train, workspace=tmp_path / "fresh", model_loader=loader
    )
    assert [p.output for p in resumed[0].predictions] == [p.output for p in fresh[0].predictions]
    # The killed run scored in batches of 2, the fresh one in batches of 8: fp32 sums over
    # differently padded batches round differently (seen: 1.2e-6 on one example of 36).
    assert [p.confidence for p in resumed[0].predictions] == pytest.approx(
        [p.confidence for p in fresh[0].predictions], rel=1e-5
    )


def test_stratified_slice_takes_n_per_label(prepared) -> None:
    _, dataset = prepared
    chosen = stratified_slice(dataset.test, per_label=2, seed=0)
    assert sorted(p.output for p in chosen) == sorted(LABELS * 2)
    assert stratified_slice(dataset.test, per_label=2, seed=0) == chosen


def test_label_decode_is_a_candidate_like_any_other(prepared, tmp_path: Path, tiny_chat_dir: Path) -> None:
    """Greedy decoding down the label trie answers with a label for every input, with a
    confidence, and is its own candidate in the cache (not a reuse of label scoring's answers)."""
    task, dataset = prepared

    def loader(name: str) -> TransformersModel:
        return TransformersModel(tiny_chat_dir, name=name, dtype="float32")

    scoring = Candidate(name="scoring", model="tiny")
    decode = Candidate(name="decode", model="tiny", constraint="label_decode")
    assert decode.fingerprint(task) != scoring.fingerprint(task)
    [run] = run_candidates(
        task, [decode], dataset.test, pool=dataset.train, workspace=tmp_path / "ws", model_loader=loader
    )
    assert run.computed == len(dataset.test)
    for prediction in run.predictions:
        assert prediction.valid and prediction.output in LABELS
        assert prediction.raw_text.strip() == prediction.output
        assert 0 < prediction.confidence <= 1
        assert prediction.output_tokens >= 1
