"""``steerlab init`` and ``steerlab data check``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from steerlab.cli.app import JsonOption, app, console, data_app, err_console
from steerlab.cli.progress import LoggedProgress

__all__ = ["data_check", "init"]


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new task (created if missing).")] = Path(
        "."
    ),
    kind: Annotated[str, typer.Option(help="classify, extract, answer or generate.")] = "classify",
    force: Annotated[bool, typer.Option(help="Overwrite an existing task.yaml and example data.")] = False,
) -> None:
    """Write a commented example task.yaml and a few example rows to start from.

    Example: [bold]steerlab init tickets --kind classify && steerlab data check tickets[/bold]
    """
    from steerlab.task_template import write_example_task

    path = write_example_task(directory, kind, force=force)
    console.print(
        f"[green]Wrote[/green] {path} and example data. Edit it, then run: steerlab data check {directory}"
    )


@data_app.command("check")
def data_check(
    task_dir: Annotated[Path, typer.Argument(help="A task folder (with task.yaml) or the task.yaml itself.")],
    workspace: Annotated[
        Path | None,
        typer.Option(
            help="Where datasets are stored (default TASK_DIR/.steerlab).", envvar="STEERLAB_WORKSPACE"
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Report only; write nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Validate, clean, redact PII, split and version a task's data, and write its data card.

    Example: [bold]steerlab data check examples/banking77[/bold]
    """
    from steerlab.data.check import check_data
    from steerlab.task import load_task

    task = load_task(task_dir)
    labels = {
        "load": "Loading data files",
        "pii": "Scanning and redacting PII",
        "clean": "Cleaning",
        "leakage": "Checking leakage",
    }
    with LoggedProgress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err_console
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(labels.get(phase, phase), total=1)
            if total is not None and done >= total:
                bar.update(tasks[phase], completed=1)

        result = check_data(task, workspace=workspace, dry_run=dry_run, progress=update)
    card = result.card
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "version": result.version,
                    "path": str(result.path) if result.path else None,
                    "reused": result.reused,
                    "card": card,
                }
            )
        )
        return
    table = Table(title=f"{task.name}: dataset {result.version}")
    table.add_column("split")
    table.add_column("examples", justify="right")
    for name, count in card["splits"].items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    for source in card["sources"]:
        console.print(f"read {source['rows']:,} rows from {source['path']} ({source['role']})")
    if card["labels"]:
        console.print(
            f"labels: {card['labels']['count']} in the contract, {card['labels']['present']} present"
        )
    removed = ", ".join(f"{check} {n}" for check, n in sorted(card["removed"].items())) or "nothing"
    console.print(f"removed: {removed}")
    pii = card["pii"]
    if pii["scanned"]:
        found = ", ".join(f"{k} {v}" for k, v in sorted(pii["found"].items())) or "none"
        action = "redacted" if pii["redacted"] else "[yellow]kept[/yellow] (cleaning.redact_pii is off)"
        console.print(f"PII found: {found}; {action}" if pii["found"] else "PII found: none")
    for report in card["leakage"]:
        console.print(
            f"leakage vs {report['against']}: {report['exact']} exact, "
            f"{report['near']} near ({report['action']})"
        )
    if result.path:
        state = "unchanged, reused" if result.reused else "written"
        console.print(f"[green]Dataset {state}:[/green] {result.path} (card: {result.path / 'card.md'})")
    else:
        console.print("[yellow]Dry run: nothing written.[/yellow]")
