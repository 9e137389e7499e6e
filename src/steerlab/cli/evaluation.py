"""``steerlab eval``: measure candidates on the held-out split and print the comparison."""

from __future__ import annotations

import json
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
from rich.table import Table

from steerlab.cli.app import JsonOption, app, console, err_console
from steerlab.cli.progress import LoggedProgress

__all__ = ["eval_command"]


@app.command("eval")
def eval_command(
    task_dir: Annotated[Path, typer.Argument(help="A task folder (with task.yaml).")],
    candidates: Annotated[
        Path | None,
        typer.Option(help="YAML list of candidate recipes (default: zero-shot, fixed and nearest few-shot)."),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model for the default candidates.")
    ] = None,
    split: Annotated[str, typer.Option(help="test or dev.")] = "test",
    per_label: Annotated[
        int | None, typer.Option(help="Stratified slice: this many examples per label.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many examples.")] = None,
    batch_size: Annotated[int, typer.Option(help="Examples per model call.")] = 8,
    consistency: Annotated[
        int, typer.Option(help="Rerun sampling candidates with N seeds and report self-agreement.")
    ] = 0,
    calibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate",
            help="Also predict the dev split and fit each candidate's confidence threshold for "
            "fallback and escalation (measured on test; a release pins it).",
        ),
    ] = False,
    workspace: Annotated[
        Path | None, typer.Option(envvar="STEERLAB_WORKSPACE", help="Default TASK_DIR/.steerlab.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run every candidate on the same held-out examples; predictions are cached and resumable.

    Example: [bold]steerlab eval examples/banking77 --per-label 10[/bold]
    """
    from steerlab.candidate import default_candidates, load_candidates
    from steerlab.evaluation.evaluate import evaluate
    from steerlab.task import load_task

    task = load_task(task_dir)
    if candidates is not None:
        chosen = load_candidates(candidates)
    else:
        chosen = default_candidates(task, model) if model else default_candidates(task)
    with LoggedProgress(
        SpinnerColumn(),
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=err_console,
    ) as bar:
        tasks: dict[str, TaskID] = {}
        started: dict[str, tuple[float, int]] = {}

        def update(name: str, done: int, total: int) -> None:
            import time

            now = time.perf_counter()
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total, rate="")
                started[name] = (now, done)
            t0, d0 = started[name]
            rate = (
                f"{(done - d0) / (now - t0):.1f} ex/s" if done > d0 and now > t0 else "cached" if done else ""
            )
            bar.update(tasks[name], completed=done, rate=rate)

        results = evaluate(
            task,
            chosen,
            split=split,
            per_label=per_label,
            limit=limit,
            workspace=workspace,
            batch_size=batch_size,
            consistency_repeats=consistency,
            progress=update,
            calibrate=calibrate,
        )
    if as_json:
        console.print_json(results.to_json())
        return
    primary = results.primary
    table = Table(title=f"{task.name}: {results.n} {split} examples, dataset {results.dataset_version}")
    for column in (primary + " [95% CI]", "valid", "p50 / p95 s", "tokens in/out", "$ / 1k", "$ / success"):
        table.add_column(column, justify="right")
    table.add_column("failures")
    for c in results.candidates:
        ops = c.metrics[primary]
        cost = c.ops["cost_per_1k_usd"]
        success = c.ops["cost_per_success_usd"]
        failures = ", ".join(f"{k} {v}" for k, v in c.failures.items() if v) or "-"
        table.add_row(
            f"[bold]{c.name}[/bold]  {ops.show()}",
            f"{c.validity_rate:.0%}",
            f"{c.ops['latency_p50_s']:.2f} / {c.ops['latency_p95_s']:.2f}",
            f"{c.ops['input_tokens_mean']:.0f} / {c.ops['output_tokens_mean']:.0f}",
            "-" if cost is None else f"{cost:.4f}",
            "-" if success is None else f"{success:.6f}",
            failures,
        )
    console.print(table)
    for c in results.candidates:
        guards = [f"{name} {value.show()}" for name, value in c.metrics.items() if name != primary]
        retrieval = c.details.get("retrieval")
        if retrieval:
            guards.append(
                f"retrieval hit rate@{retrieval['k']} {retrieval['hit_rate'][0]:.1%}, "
                f"MRR {retrieval['mrr'][0]:.2f}, context precision {retrieval['context_precision'][0]:.1%}"
            )
        if guards:
            console.print(f"{c.name}: " + "; ".join(guards))
    for comparison in results.comparisons[:1]:
        console.print(comparison.get("summary", json.dumps(comparison)))
    for name, value in results.consistency.items():
        kind, _, subject = name.partition(":")
        what = "agrees with itself across seeds" if kind == "self" else "variants agree with each other"
        note = " (deterministic)" if value.get("deterministic") else ""
        console.print(
            f"consistency: {subject} {what} on {value['exact']:.0%} of examples, "
            f"same structure on {value['structure']:.0%}{note}"
        )
    for name, fitted in results.calibration.items():
        if fitted["threshold"] is None:
            console.print(f"threshold: {name}: none ({fitted['reason']})")
            continue
        dev, test = fitted["dev"], fitted["test"] or {}
        served = "-" if test.get("quality") is None else f"{test['quality']:.1%}"
        console.print(
            f"threshold: {name}: {fitted['threshold']:.3g} on dev ({fitted['reason']}); on test "
            f"{served} {fitted['metric']} served, {test.get('escalation_rate', 0):.0%} escalated "
            f"(dev: {dev['escalation_rate']:.0%})"
        )
    if results.minimum_detectable_difference is not None:
        console.print(
            f"With {results.n} examples a paired test detects differences of about "
            f"{results.minimum_detectable_difference:.1%} or more (80% power, alpha 0.05)."
        )
