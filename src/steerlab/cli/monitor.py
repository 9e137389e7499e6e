"""``steerlab monitor``: is the live release still serving the traffic it was measured on?"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from steerlab.cli.app import JsonOption, app, console, err_console

if TYPE_CHECKING:
    from steerlab.serving.drift import DriftStatus
    from steerlab.serving.outcomes import ReleaseOutcome

__all__ = ["monitor_command"]

STYLE = {"ok": "green", "watch": "yellow", "drift": "bold red", "n/a": "dim", "insufficient": "yellow"}


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _verdict(verdict: str) -> Text:
    return Text(verdict, style=STYLE.get(verdict, ""))


def _print(status: DriftStatus) -> None:
    reference = status.reference
    console.print(
        f"[bold]{status.task}[/bold]: release {status.release}, last {status.n} answered requests"
        + (f" (confidence threshold {status.threshold:.2f})" if status.threshold is not None else "")
    )
    current = status.current
    if current is not None:
        console.print(
            f"reference: {reference['inputs']} {reference['split']} inputs of dataset "
            f"{reference['dataset_version']}, {reference['predictions']} predictions ({reference['source']})"
        )
        table = Table(title=f"current window: {_when(current.start)} to {_when(current.end)} UTC")
        for column in ("signal", "window", "reference", "statistic", "verdict", "what to do"):
            table.add_column(column, overflow="fold")
        for s in current.signals:
            table.add_row(s.name, s.window, s.reference, s.statistic, _verdict(s.verdict), s.action)
        console.print(table)
    if len(status.trend) > 1:
        names = [s.name for s in status.trend[-1].signals]
        trend = Table(title="trend (oldest first)")
        trend.add_column("window")
        trend.add_column("n", justify="right")
        for name in names:
            trend.add_column(name)
        for window in status.trend:
            cells = {s.name: Text(s.headline, style=STYLE[s.verdict]) for s in window.signals}
            trend.add_row(
                f"{_when(window.start)} to {_when(window.end)}",
                str(window.n),
                *(cells.get(name, Text("-")) for name in names),
            )
        console.print(trend)
    if status.novel_inputs:
        console.print("inputs least like the evaluation data:")
        for text in status.novel_inputs:
            console.print(Text("  " + text.replace("\n", " | ")[:120]))
    console.print(Text(status.recommendation, style=STYLE[status.verdict]))


def _print_outcomes(outcomes: list[ReleaseOutcome], window: int) -> None:
    """Releases side by side over the same recent requests: the A/B or canary comparison."""

    def share(value: float) -> str:
        return f"{value:.1%}"

    table = Table(
        title=f"releases over the last {window} requests (a fallback counts against the release asked)"
    )
    for column in ("release", "requests", "share", "answered", "fallback", "escalated", "refused"):
        table.add_column(column, justify="right" if column != "release" else "left")
    for column in ("5xx", "mean confidence", "p50 / p95 s"):
        table.add_column(column, justify="right")
    for o in outcomes:
        confidence = f"{o.mean_confidence:.3f}" if o.mean_confidence is not None else "-"
        latency = f"{o.p50_latency_s:.2f} / {o.p95_latency_s:.2f}" if o.p50_latency_s is not None else "-"
        table.add_row(
            o.release,
            str(o.requests),
            share(o.share),
            share(o.primary),
            share(o.fallback),
            share(o.escalated),
            share(o.refused),
            str(o.server_errors),
            confidence,
            latency,
        )
    console.print(table)


@app.command("monitor")
def monitor_command(
    task_dir: Annotated[Path, typer.Argument(help="A task folder (with task.yaml).")],
    workspace: Annotated[
        Path | None, typer.Option(envvar="STEERLAB_WORKSPACE", help="Default TASK_DIR/.steerlab.")
    ] = None,
    log: Annotated[
        str | None,
        typer.Option(
            help="The request log: a SQLite path, sqlite:///PATH or postgresql://… "
            "(default WORKSPACE/serving/requests.sqlite)."
        ),
    ] = None,
    window: Annotated[int, typer.Option(help="Answered requests per window.")] = 500,
    windows: Annotated[int, typer.Option(help="Windows shown in the trend, the current one included.")] = 4,
    hours: Annotated[float | None, typer.Option(help="Only requests of the last H hours.")] = None,
    min_requests: Annotated[
        int, typer.Option(help="Fewer answered requests than this in the window: no verdict.")
    ] = 50,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="The server's confidence threshold (default: the release's calibrated one, "
            "or the one the escalation reasons state)."
        ),
    ] = None,
    release: Annotated[
        str | None, typer.Option(help="Monitor this release (the canary) instead of the active one.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Compare recent requests with the evaluation behind the live release: input drift (sentence
    embeddings, MMD) and output drift (labels, confidence, escalation and fallback rates).

    Exit code: 0 when nothing drifts (ok, watch, or too little traffic to judge); 4 when a signal
    drifts, so a cron job or CI step can alert; 1 to 3 for an error (2: no active release, no
    request log or no requests in it).
    Example: [bold]steerlab monitor examples/ticket-triage --window 300 || notify-team[/bold]
    """
    from steerlab.data.check import workspace_for
    from steerlab.serving.drift import check_drift
    from steerlab.serving.outcomes import release_outcomes
    from steerlab.serving.requestlog import RequestLog
    from steerlab.task import load_task

    task = load_task(task_dir)
    root = workspace_for(task, workspace)
    request_log = RequestLog.open_existing(root, log)
    try:
        with err_console.status("comparing recent requests with the evaluation"):
            status = check_drift(
                task,
                root,
                request_log,
                release_id=release,
                window=window,
                hours=hours,
                windows=windows,
                min_requests=min_requests,
                threshold=threshold,
            )
            since = time.time() - hours * 3600 if hours is not None else None
            outcomes = release_outcomes(request_log.recent(task.name, since=since, limit=window))
    finally:
        request_log.close()
    if as_json:
        payload = {**status.to_dict(), "releases": [o.to_dict() for o in outcomes]}
        console.print_json(json.dumps(payload, default=str))
    else:
        _print(status)
        if len(outcomes) > 1:  # an A/B split or a canary, or a switch within the window
            _print_outcomes(outcomes, window)
    if status.exit_code:
        raise typer.Exit(code=status.exit_code)
