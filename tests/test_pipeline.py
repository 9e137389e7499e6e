"""`steerlab run` end to end on the tiny model: every stage, a report, and a resumable rerun."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from steerlab.cli import app
from steerlab.decision import ACTIONS
from steerlab.tuning.registry import list_adapters
from test_runner import make_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_run_measures_tunes_decides_and_reports(tiny_chat_dir: Path, tmp_path: Path) -> None:
    task_dir = make_task(tmp_path / "task", rows=150)
    out = tmp_path / "report" / "triage.html"
    args = [
        "run",
        str(task_dir),
        "--model",
        str(tiny_chat_dir),
        "--tune-model",
        str(tiny_chat_dir),
        "--curve",
        "0.5",
        "--tune-tokens",
        "3000",
        "--workspace",
        str(tmp_path / "ws"),
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.is_file() and out.with_suffix(".json").is_file()
    data = json.loads(out.with_suffix(".json").read_text())
    names = [c["name"] for c in data["results"]["candidates"]]
    assert {"zero-shot", "few-shot-nearest-8"} <= set(names) and "few-shot-fixed-8" not in names
    assert any(n.startswith("tuned-") for n in names)
    assert data["decision"]["action"] in ACTIONS
    assert [p["train_examples"] for p in data["learning_curve"]["points"]] == [38, 75]  # half, then all
    assert data["data_card"]["version"] == data["results"]["dataset_version"]
    assert "recommendation" in result.output
    # The recommended candidate's threshold is fitted on dev; the main results are saved last, so
    # `release create` (the newest results by default) pins it, not the curve's results.
    primary = data["results"]["primary"]
    best = max(data["results"]["candidates"], key=lambda c: c["metrics"][primary]["value"])["name"]
    calibrated = data["decision"]["candidate"] or best
    assert list(data["results"]["calibration"]) == [calibrated]
    assert data["results"]["calibration"][calibrated]["dev"]["n"] == 15  # the whole dev split
    newest = json.loads(sorted((tmp_path / "ws" / "runs").glob("*.json"))[-1].read_text())
    assert newest["calibration"] == data["results"]["calibration"] and len(newest["candidates"]) == len(names)
    assert 'id="escalation"' in out.read_text() and f"<h3>{calibrated}" in out.read_text()
    adapters = list_adapters(tmp_path / "ws")
    assert len(adapters) == 2
    # the budget is shared in proportion to the training sets: each run stops at the same share
    # of its epochs, so the curve compares like with like
    steps = sorted(a.lineage["training"]["steps"] for a in adapters)
    assert all(a.config.max_steps is not None for a in adapters)
    assert sum(a.lineage["training"]["tokens_trained"] for a in adapters) <= 3000 * 1.1
    assert steps[0] < steps[1] <= 2 * steps[0] + 1

    again = CliRunner().invoke(app, args)  # everything cached: same adapters, same numbers
    assert again.exit_code == 0, again.output
    rerun = json.loads(out.with_suffix(".json").read_text())
    assert len(list_adapters(tmp_path / "ws")) == 2
    assert rerun["decision"]["action"] == data["decision"]["action"]
    assert [c["metrics"] for c in rerun["results"]["candidates"]] == [
        c["metrics"] for c in data["results"]["candidates"]
    ]


def test_tuned_candidates_use_the_compact_templates() -> None:
    """A tuned model has learned the labels or the schema: the prompt leaves them out."""
    from steerlab.data.example import Example
    from steerlab.pipeline import tuned_template
    from steerlab.prompts import load_template
    from steerlab.task import load_task

    root = Path(__file__).resolve().parents[1] / "examples"
    task = load_task(root / "ticket-triage")
    assert tuned_template(task) == "extract-compact"
    example = Example({"email": "Subject: help\n\nmy K2 is broken", "customer_tier": "pro"}, None)
    compact = json.dumps(load_template("extract-compact").render(task, example))
    full = json.dumps(load_template("extract").render(task, example))
    assert "replacement_under_warranty" in full and "replacement_under_warranty" not in compact
    assert len(compact) < len(full) / 3
