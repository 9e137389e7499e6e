"""Progress where no terminal watches: CI logs, ``nohup``, pipes get plain lines as work goes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, TextColumn

from steerlab.cli.progress import LoggedProgress
from steerlab.task_template import write_example_task


def run_bar(console: Console, every_s: float, disable: bool = False) -> None:
    with LoggedProgress(
        TextColumn("{task.description}"), BarColumn(), console=console, every_s=every_s, disable=disable
    ) as bar:
        handle = bar.add_task("train", total=4, loss=float("nan"), quiet=True, note="")
        for step in range(1, 5):
            bar.update(handle, completed=step, loss=1.0 / step)


def test_a_file_gets_a_line_per_interval_and_one_when_the_task_finishes() -> None:
    out = io.StringIO()
    run_bar(Console(file=out, force_terminal=False, width=120), every_s=0.0)
    lines = [line for line in out.getvalue().splitlines() if line.startswith("train:")]
    assert lines[0].startswith("train: 1/4 (25%), elapsed 0:00:00, remaining")
    assert "loss 1," not in lines[0] and lines[0].endswith("loss 1")
    assert lines[-1] == "train: 4/4 (100%), elapsed 0:00:00, loss 0.25"  # no boolean or empty fields
    assert len(lines) == 4


def test_a_long_interval_logs_the_first_update_and_the_finish_only() -> None:
    out = io.StringIO()
    run_bar(Console(file=out, force_terminal=False, width=120), every_s=3600.0)
    lines = [line for line in out.getvalue().splitlines() if line.startswith("train:")]
    assert [line.split(",")[0] for line in lines] == ["train: 1/4 (25%)", "train: 4/4 (100%)"]


def test_a_file_gets_the_lines_only_not_the_bars_again_when_the_work_ends() -> None:
    out = io.StringIO()
    run_bar(Console(file=out, force_terminal=False, width=120), every_s=3600.0)
    assert "━" not in out.getvalue()
    assert out.getvalue().splitlines()[-1].startswith("train: 4/4 (100%)")
    terminal = Console(file=io.StringIO(), force_terminal=True, width=120)
    run_bar(terminal, every_s=0.0)
    assert "━" in terminal.file.getvalue()  # type: ignore[attr-defined]  # the live bar stays on screen


def test_a_terminal_or_a_disabled_bar_gets_no_log_lines() -> None:
    for console, disable in (
        (Console(file=io.StringIO(), force_terminal=True, width=120), False),
        (Console(file=io.StringIO(), force_terminal=False, width=120), True),
    ):
        run_bar(console, every_s=0.0, disable=disable)
        assert "train: " not in console.file.getvalue()  # type: ignore[attr-defined]


def test_data_check_into_a_pipe_reports_each_phase(tmp_path: Path) -> None:
    write_example_task(tmp_path / "t", "classify")
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "steerlab.cli",
            "data",
            "check",
            str(tmp_path / "t"),
            "--workspace",
            str(tmp_path / "ws"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Loading data files: 1/1 (100%)" in done.stderr
    assert "Checking leakage: 1/1 (100%)" in done.stderr
