"""``steerlab feedback add|list|apply``: reviewers' corrections of served requests, and the
dataset version that adds them to train."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from steerlab.cli.app import JsonOption, app, console, err_console

if TYPE_CHECKING:
    from steerlab.serving.requestlog import RequestLog
    from steerlab.task import Task

__all__ = ["feedback_app"]

feedback_app = typer.Typer(
    help="Reviewers' corrections of served requests, turned into a new dataset version for tuning.",
    no_args_is_help=True,
)
app.add_typer(feedback_app, name="feedback")

TaskDir = Annotated[Path, typer.Argument(help="A task folder (with task.yaml).")]
WorkspaceOption = Annotated[
    Path | None, typer.Option(envvar="STEERLAB_WORKSPACE", help="Default TASK_DIR/.steerlab.")
]
LogOption = Annotated[
    str | None,
    typer.Option(
        "--log",
        envvar="STEERLAB_REQUEST_LOG",
        help="The request log `steerlab serve` writes: a SQLite path or postgresql://... URL "
        "(default WORKSPACE/serving/requests.sqlite).",
    ),
]


def _open(task_dir: Path, workspace: Path | None, log: str | None) -> tuple[Task, Path, RequestLog]:
    from steerlab.data.check import workspace_for
    from steerlab.serving.requestlog import RequestLog
    from steerlab.task import load_task

    task = load_task(task_dir)
    root = workspace_for(task, workspace)
    return task, root, RequestLog.open_existing(root, log)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@feedback_app.command("add")
def add_command(
    task_dir: TaskDir,
    request_id: Annotated[
        str, typer.Argument(help="The request's id (the X-Request-Id its response carried).")
    ],
    output: Annotated[
        str,
        typer.Option(
            "--output",
            help="The correct output: a label (classify), a JSON object (extract) or the text.",
        ),
    ],
    reviewer: Annotated[str, typer.Option(help="Who made the correction.")],
    note: Annotated[str | None, typer.Option(help="Why, for whoever reads the corrections later.")] = None,
    workspace: WorkspaceOption = None,
    log: LogOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record the correct output for a served request; a later correction of it replaces this one.

    The output must fit the task's contract (a label of the set, JSON satisfying the schema).
    Example: [bold]steerlab feedback add tickets 3f2a9c01b7e4d6a8 --output billing --reviewer ana[/bold]
    """
    from steerlab.serving.feedback import parse_output, record_feedback

    task, _, request_log = _open(task_dir, workspace, log)
    try:
        stored = record_feedback(
            request_log, task, request_id, parse_output(task, output), reviewer, note=note
        )
    finally:
        request_log.close()
    if as_json:
        console.print_json(json.dumps(stored))
        return
    verb = "Replaced the correction of" if stored["replaced"] else "Recorded a correction of"
    console.print(
        f"[green]{verb}[/green] request {stored['request_id']} ({task.name}): {_short(stored['output'])}"
    )
    err_console.print(f"`steerlab feedback apply {task_dir}` adds the corrections to a new dataset version.")


@feedback_app.command("list")
def list_command(
    task_dir: TaskDir,
    workspace: WorkspaceOption = None,
    log: LogOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a task's corrections, oldest first, beside what was served.

    Example: [bold]steerlab feedback list examples/ticket-triage[/bold]
    """
    task, _, request_log = _open(task_dir, workspace, log)
    try:
        rows = request_log.feedback(task.name)
    finally:
        request_log.close()
    if as_json:
        console.print_json(json.dumps(rows))
        return
    if not rows:
        console.print(f"No corrections for {task.name} yet (steerlab feedback add TASK_DIR REQUEST_ID ...).")
        return
    table = Table(title=f"{task.name}: {len(rows)} corrections")
    for column in ("request", "corrected (UTC)", "reviewer", "served", "correction", "inputs", "note"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["request_id"],
            _when(row["ts"]),
            row["reviewer"],
            "-" if row["served_output"] is None else _short(row["served_output"], 30),
            _short(row["output"], 30),
            _short(row["inputs"], 50),
            row["note"] or "",
        )
    console.print(table)


@feedback_app.command("apply")
def apply_command(
    task_dir: TaskDir,
    workspace: WorkspaceOption = None,
    log: LogOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a new dataset version: the current one plus every correction, in train only.

    Dev and test stay as they are, so results stay comparable; corrections whose input is already
    an example, or would leak into test, are skipped and listed. Applying the same corrections
    again gives the same version. Tune on it next: `steerlab tune TASK_DIR`. `steerlab data check`
    makes the raw data's version current again; apply again after it.
    Example: [bold]steerlab feedback apply examples/ticket-triage[/bold]
    """
    from steerlab.serving.feedback import apply_feedback

    task, root, request_log = _open(task_dir, workspace, log)
    try:
        result = apply_feedback(task, request_log, workspace=root)
    finally:
        request_log.close()
    if as_json:
        payload = {
            "version": result.version,
            "base": result.base,
            "path": str(result.path),
            "corrections": result.corrections,
            "added": result.added,
            "skipped": result.skipped,
            "reused": result.reused,
        }
        console.print_json(json.dumps(payload))
        return
    for skip in result.skipped:
        err_console.print(f"[yellow]skipped[/yellow] {skip['request_id']}: {skip['reason']}")
    if result.added == 0:
        console.print(
            f"Dataset {result.version} (unchanged): {result.corrections} corrections, "
            f"0 added, {len(result.skipped)} skipped."
        )
        return
    state = "unchanged, reused" if result.reused else "written"
    console.print(
        f"[green]Dataset {result.version}[/green] ({state}, now current): {result.added} added to train, "
        f"{len(result.skipped)} skipped, from {result.corrections} corrections on {result.base}."
    )
    console.print(f"card: {result.path / 'card.md'}")
