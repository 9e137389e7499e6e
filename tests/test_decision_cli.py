"""`steerlab decide` and `steerlab report` over saved results."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from steerlab.cli import app
from steerlab.evaluation.results import EvalResults
from test_decision import cand, results
from test_runner import make_task


def saved_results(tmp_path: Path) -> tuple[Path, Path]:
    task_dir = make_task(tmp_path / "task")
    evaluated = results(
        cand("zero-shot", 0.5, failures={"behaviour": 200, "prompt_sensitive": 50}),
        cand("few-shot", 0.55, failures={"behaviour": 180, "prompt_sensitive": 45}),
    )
    evaluated.task = "runner"
    path = evaluated.save(tmp_path / "ws" / "runs" / "20260101T000000Z-abc.json")
    return task_dir, path


def test_saved_results_round_trip(tmp_path: Path) -> None:
    _, path = saved_results(tmp_path)
    loaded = EvalResults.load(path)
    assert loaded.to_dict() == json.loads(path.read_text())
    assert loaded.candidates[0].metrics["accuracy"].show() == "50.0% [48.0%, 52.0%]"


def test_decide_reads_the_latest_results_and_report_writes_the_page(tmp_path: Path) -> None:
    task_dir, _ = saved_results(tmp_path)
    runner = CliRunner()
    decided = runner.invoke(app, ["decide", str(task_dir), "--workspace", str(tmp_path / "ws"), "--json"])
    assert decided.exit_code == 0, decided.output
    decision = json.loads(decided.output)
    assert decision["action"] == "collect_data"  # behaviour failures, 45 training examples
    assert decision["examples_needed"] == 200
    out = tmp_path / "r.html"
    reported = runner.invoke(
        app, ["report", str(task_dir), "--workspace", str(tmp_path / "ws"), "--out", str(out)]
    )
    assert reported.exit_code == 0, reported.output
    assert "<svg" in out.read_text() and json.loads(out.with_suffix(".json").read_text())["decision"]


def test_decide_without_results_says_what_to_run(tmp_path: Path) -> None:
    task_dir = make_task(tmp_path / "task")
    result = CliRunner().invoke(app, ["decide", str(task_dir), "--workspace", str(tmp_path / "ws")])
    assert result.exit_code != 0
    assert "no saved results" in str(result.exception) and "steerlab eval" in result.exception.hint
