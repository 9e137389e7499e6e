"""``steerlab decide`` and ``steerlab report``: from saved evaluation results to a recommendation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from steerlab.cli.app import JsonOption, app, console

__all__ = ["decide_command", "report_command"]

ResultsOption = Annotated[
    Path | None,
    typer.Option(help="A results file from `steerlab eval` (default: the task's latest in WORKSPACE/runs)."),
]
WorkspaceOption = Annotated[
    Path | None, typer.Option(envvar="STEERLAB_WORKSPACE", help="Default TASK_DIR/.steerlab.")
]


def _inputs(task_dir: Path, results_file: Path | None, workspace: Path | None) -> tuple[Any, Any, Any, dict]:
    from steerlab.data.check import current_dataset, workspace_for
    from steerlab.decision import decide
    from steerlab.errors import ConfigError
    from steerlab.evaluation.results import EvalResults, latest_results_file
    from steerlab.task import load_task
    from steerlab.tuning.registry import load_adapter

    task = load_task(task_dir)
    root = workspace_for(task, workspace)
    if results_file is None:
        results_file = latest_results_file(root / "runs", task.name)
        if results_file is None:
            raise ConfigError(
                f"no saved results for {task.name} in {root / 'runs'}",
                hint=f"run `steerlab eval {task_dir}` first, or pass --results FILE",
            )
    results = EvalResults.load(results_file)
    dataset = current_dataset(task, root)
    walls = {}
    for candidate in results.candidates:
        adapter = candidate.recipe.get("adapter")
        if adapter:
            walls[candidate.name] = float(load_adapter(root, adapter).lineage.get("wall_s") or 0.0)
    decision = decide(task, results, train_examples=len(dataset.train), training_wall_s=walls)
    card_path = dataset.path / "card.json"
    card = json.loads(card_path.read_text()) if card_path.is_file() else None
    return task, results, decision, {"card": card, "root": root, "file": results_file}


@app.command("decide")
def decide_command(
    task_dir: Annotated[Path, typer.Argument(help="A task folder (with task.yaml).")],
    results: ResultsOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recommend a lever (prompt, retrieval, fine-tune, collect data…) from measured results.

    Reads the results `steerlab eval` saved, the task's targets and volume, and the measured
    training time of tuned candidates; prints the recommendation with its evidence.
    Example: [bold]steerlab decide examples/banking77[/bold]
    """
    from steerlab.report import summary_table

    _, evaluated, decision, _ = _inputs(task_dir, results, workspace)
    if as_json:
        console.print_json(json.dumps(decision.to_dict(), default=str))
        return
    console.print(summary_table(evaluated, decision))


@app.command("report")
def report_command(
    task_dir: Annotated[Path, typer.Argument(help="A task folder (with task.yaml).")],
    results: ResultsOption = None,
    out: Annotated[
        Path | None, typer.Option(help="HTML path (default WORKSPACE/reports/TASK.html); JSON beside it.")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Write the self-contained HTML report (and its JSON) for saved results.

    Example: [bold]steerlab report examples/banking77 --out banking77.html[/bold]
    """
    from steerlab.report import build_report

    task, evaluated, decision, extra = _inputs(task_dir, results, workspace)
    target = out or extra["root"] / "reports" / f"{task.name}.html"
    html, data = build_report(task, evaluated, decision, card=extra["card"]).write(target)
    console.print(f"[green]Wrote[/green] {html} and {data.name} ({decision.headline})")
