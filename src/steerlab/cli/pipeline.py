"""``steerlab run``: the whole flow on one task, from data check to the report."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from steerlab.cli.app import DEFAULT_MODEL, JsonOption, app, console, err_console
from steerlab.cli.progress import LoggedProgress
from steerlab.pipeline import DEFAULT_TUNE_TOKENS

__all__ = ["run_command"]


@app.command("run")
def run_command(
    task_dir: Annotated[Path, typer.Argument(help="A task folder (with task.yaml).")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model of the prompt and retrieval candidates.")
    ] = DEFAULT_MODEL,
    tune_model: Annotated[
        str, typer.Option(help="Model to LoRA-tune on the train split; 'none' to skip tuning.")
    ] = "gemma-3-270m",
    candidates: Annotated[
        Path | None, typer.Option(help="YAML of prompt/retrieval candidates instead of the default set.")
    ] = None,
    curve: Annotated[
        str, typer.Option(help="Learning-curve fractions of the train split, comma-separated; '' for none.")
    ] = "0.25,0.5",
    per_label: Annotated[
        int | None, typer.Option(help="Evaluate on this many test examples per label.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Evaluate on at most this many test examples.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Tuning epochs (default: by data size).")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop each tuning run after this many steps.")] = None,
    tune_tokens: Annotated[
        int,
        typer.Option(
            help="Training tokens for all tuning runs together (the curve's and the full split's), "
            "~6.5 min on 2 CPU cores; runs over it train fewer steps. 0: every run its default epochs."
        ),
    ] = DEFAULT_TUNE_TOKENS,
    batch_size: Annotated[int, typer.Option(help="Examples per model call in evaluation.")] = 8,
    out: Annotated[
        Path | None, typer.Option(help="Report path (default WORKSPACE/reports/TASK.html); JSON beside it.")
    ] = None,
    workspace: Annotated[
        Path | None, typer.Option(envvar="STEERLAB_WORKSPACE", help="Default TASK_DIR/.steerlab.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Data check, prompt candidates, retrieval (if the task has a knowledge base), LoRA tuning
    with a learning curve, evaluation, decision and report, in one resumable command.

    Run it again after an interruption: finished work is reused (datasets, indexes, training
    checkpoints, cached predictions).
    Example: [bold]steerlab run examples/ticket-triage[/bold]
    """
    from steerlab.candidate import load_candidates
    from steerlab.pipeline import RunSettings, run_task
    from steerlab.report import summary_table
    from steerlab.task import load_task

    task = load_task(task_dir)
    overrides = {k: v for k, v in {"epochs": epochs, "max_steps": max_steps}.items() if v is not None}
    settings = RunSettings(
        model=model,
        tune_model=None if tune_model.lower() == "none" else tune_model,
        curve=tuple(float(f) for f in curve.split(",") if f.strip()),
        per_label=per_label,
        limit=limit,
        batch_size=batch_size,
        tune_overrides=overrides,
        tune_tokens=tune_tokens or None,
        candidates=tuple(load_candidates(candidates)) if candidates else None,
    )
    started = time.perf_counter()
    with LoggedProgress(
        SpinnerColumn(),
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=err_console,
    ) as bar:
        rows: dict[str, TaskID] = {}

        def stage(name: str, message: str) -> None:
            if message:
                bar.console.print(f"[bold]{name}[/bold]: {message}")

        def eval_progress(name: str, done: int, total: int) -> None:
            if name not in rows:
                rows[name] = bar.add_task(f"eval {name}", total=total, note="")
            bar.update(rows[name], completed=done)

        tuning: list[TaskID] = []

        def tune_progress(step: int, total: int, loss: float, rate: float, eta: float) -> None:
            if not tuning or step == 1:  # each training run (curve sizes, then the full split) gets a row
                tuning.append(bar.add_task("tune", total=total, note=""))
            bar.update(tuning[-1], total=total, completed=step, note=f"loss {loss:.3f} · {rate:.0f} tok/s")

        outcome = run_task(
            task,
            workspace=workspace,
            settings=settings,
            out=out,
            stage=stage,
            eval_progress=eval_progress,
            tune_progress=tune_progress,
        )
    if as_json:
        console.print_json(json.dumps(json.loads(outcome.report_json.read_text())["decision"]))
        return
    console.print(summary_table(outcome.results, outcome.decision))
    seconds = time.perf_counter() - started
    console.print(f"Report: [bold]{outcome.report_html}[/bold] (JSON beside it), {seconds:.0f} s in all")
