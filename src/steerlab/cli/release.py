"""``steerlab release create|list|show|promote|rollback``: pin a measured candidate, choose what is live."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from steerlab.cli.app import JsonOption, app, console
from steerlab.release.record import show_time

if TYPE_CHECKING:
    from steerlab.release import ChannelState, Release
    from steerlab.task import Task

__all__ = ["release_app"]

release_app = typer.Typer(
    help="Releases: a measured candidate pinned with every version it depends on; promote and roll back.",
    no_args_is_help=True,
)
app.add_typer(release_app, name="release")

TaskDir = Annotated[Path, typer.Argument(help="A task folder (with task.yaml).")]
WorkspaceOption = Annotated[
    Path | None, typer.Option(envvar="STEERLAB_WORKSPACE", help="Default TASK_DIR/.steerlab.")
]
NoteOption = Annotated[str, typer.Option(help="A change-log note: why this change.")]


def _open(task_dir: Path, workspace: Path | None) -> tuple[Task, Path]:
    from steerlab.data.check import workspace_for
    from steerlab.task import load_task

    task = load_task(task_dir)
    return task, workspace_for(task, workspace)


def _state_dict(state: ChannelState) -> dict[str, Any]:
    return {
        "active": state.active,
        "generation": state.generation,
        "previous": state.previous,
        "canary": state.canary,
    }


def _print_state(state: ChannelState, verb: str) -> None:
    console.print(
        f"[green]{verb}[/green] {state.active} for {state.task} (generation {state.generation}"
        + (f"; rollback returns to {state.previous})" if state.previous else ")")
    )


@release_app.command("create")
def create_command(
    task_dir: TaskDir,
    candidate: Annotated[str, typer.Option(help="The candidate's name in the results.")],
    results: Annotated[
        Path | None,
        typer.Option(help="Results from `steerlab eval` (default: the task's latest in WORKSPACE/runs)."),
    ] = None,
    note: NoteOption = "",
    promote: Annotated[bool, typer.Option("--promote", help="Make it the active release too.")] = False,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pin a measured candidate: model hash, adapter, template, index, dataset and its evaluation.

    Every pin is checked first (the adapter's weights against its hash, the model present, the
    template unchanged since the evaluation). The same pins twice give the same release.
    Example: [bold]steerlab release create examples/banking77 --candidate zero-shot --note "first"[/bold]
    """
    from steerlab.release import active_state, create_release
    from steerlab.release import promote as promote_release

    task, root = _open(task_dir, workspace)
    release, new = create_release(root, task, candidate, results_file=results, note=note)
    # The note is the creation's change-log entry; the promotion that follows it needs no copy.
    state = promote_release(root, task, release.id) if promote else active_state(root, task.name)
    if as_json:
        payload = {"release": release.record, "new": new, **_state_dict(state)}
        console.print_json(json.dumps(payload, default=str))
        return
    if new:
        summary = release.primary_summary()
        console.print(f"[green]Created[/green] {release.id}: {release.candidate_name}, {summary}")
        if release.threshold is not None:
            console.print(f"Confidence threshold: {release.threshold_summary()}")
    else:
        console.print(f"{release.id} already pins exactly this (created {show_time(release.created)})")
        if note and note != release.note:
            console.print("The note was not recorded: a release's note is written once, when it is created.")
    if promote:
        _print_state(state, "Active:")


@release_app.command("list")
def list_command(task_dir: TaskDir, workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """The task's releases, oldest first, with the active one marked.

    Example: [bold]steerlab release list examples/banking77[/bold]
    """
    from steerlab.release import active_state, list_releases

    task, root = _open(task_dir, workspace)
    releases = list_releases(root, task.name)
    state = active_state(root, task.name)
    if as_json:
        payload = {"releases": [r.record for r in releases], **_state_dict(state)}
        console.print_json(json.dumps(payload, default=str))
        return
    if not releases:
        console.print(f"No releases for {task.name} in {root / 'releases'}.")
        return
    table = Table(title=f"{task.name}: releases (generation {state.generation})")
    for column in ("", "id", "created", "candidate", "measured", "adapter", "index", "note"):
        table.add_column(column)
    for release in releases:
        pins = release.pins
        table.add_row(
            "[bold green]active[/bold green]" if release.id == state.active else "",
            release.id,
            show_time(release.created),
            release.candidate_name,
            release.primary_summary(),
            pins["adapter"]["id"] if pins["adapter"] else "-",
            pins["index"]["version"] if pins["index"] else "-",
            release.note,
        )
    console.print(table)


def _show_table(release: Release, state: ChannelState) -> Table:
    pins, evaluation = release.pins, release.evaluation
    active = " [bold green](active)[/bold green]" if release.id == state.active else ""
    table = Table(title=f"{release.id}{active}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    model_hash = pins["model"]["sha256"] or "endpoint (no local weights)"
    adapter = pins["adapter"]
    rows = [
        ("task", release.task),
        ("candidate", f"{release.candidate_name} (fingerprint {release.fingerprint})"),
        ("model", f"{pins['model']['name']}  sha256 {model_hash}"),
        ("adapter", f"{adapter['id']}  sha256 {adapter['sha256']}" if adapter else "-"),
        ("template", pins["template"]["version"]),
        ("index", f"{pins['index']['name']}@{pins['index']['version']}" if pins["index"] else "-"),
        ("dataset", pins["dataset"]["version"]),
        ("evaluation", f"{evaluation['results']}  sha256 {evaluation['sha256'][:16]}…"),
        ("measured", release.primary_summary()),
        ("threshold", release.threshold_summary()),
    ]
    rows += [
        (name, f"{value['value']:.3f} [{value['low']:.3f}, {value['high']:.3f}]")
        for name, value in evaluation["metrics"].items()
        if name != evaluation["primary"]
    ]
    p95 = evaluation["ops"].get("latency_p95_s")
    if p95 is not None:
        rows.append(("latency p95", f"{p95:.3f} s"))
    rows += [("created", show_time(release.created)), ("note", release.note or "-")]
    for key, value in rows:
        table.add_row(key, value)
    return table


@release_app.command("show")
def show_command(
    task_dir: TaskDir,
    release_id: Annotated[str, typer.Argument(metavar="ID", help="A release id or a unique prefix.")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Everything a release pins, the evaluation behind it, and its promote/rollback history.

    Example: [bold]steerlab release show examples/banking77 rel-3f2a[/bold]
    """
    from steerlab.errors import ConfigError
    from steerlab.release import active_state, load_release

    task, root = _open(task_dir, workspace)
    release = load_release(root, release_id)
    if release.task != task.name:
        raise ConfigError(f"release {release.id} is for task {release.task!r}, not {task.name!r}")
    state = active_state(root, task.name)
    events = [e for e in state.history if e["id"] == release.id or e.get("from") == release.id]
    if as_json:
        payload = {"release": release.record, "active": release.id == state.active, "history": events}
        console.print_json(json.dumps(payload, default=str))
        return
    console.print(_show_table(release, state))
    for event in events:
        if event["id"] == release.id:
            what = "promoted" if event["action"] == "promote" else "made active again by a rollback"
        elif event["action"] == "promote":
            what = f"replaced by {event['id']}"
        else:
            what = f"rolled back (to {event['id']})"
        note = f": {event['note']}" if event.get("note") else ""
        console.print(f"{show_time(event['at'])}  {what} (generation {event['generation']}){note}")


@release_app.command("promote")
def promote_command(
    task_dir: TaskDir,
    release_id: Annotated[str, typer.Argument(metavar="ID", help="A release id or a unique prefix.")],
    note: NoteOption = "",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a release the active one, after checking every pin still holds.

    The channel's generation rises by one, which a running server polls to switch without a restart.
    Example: [bold]steerlab release promote examples/banking77 rel-3f2a --note "beats zero-shot"[/bold]
    """
    from steerlab.release import promote

    task, root = _open(task_dir, workspace)
    state = promote(root, task, release_id, note=note)
    if as_json:
        console.print_json(json.dumps(_state_dict(state)))
        return
    _print_state(state, "Active:")


@release_app.command("rollback")
def rollback_command(
    task_dir: TaskDir,
    note: NoteOption = "",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Return to the release that was active before the last promotion.

    Example: [bold]steerlab release rollback examples/banking77 --note "p95 latency regression"[/bold]
    """
    from steerlab.release import rollback

    task, root = _open(task_dir, workspace)
    state = rollback(root, task, note=note)
    if as_json:
        console.print_json(json.dumps(_state_dict(state)))
        return
    _print_state(state, "Rolled back; active:")


@release_app.command("canary")
def canary_command(
    task_dir: TaskDir,
    release_id: Annotated[
        str | None, typer.Argument(help="The release to try (id or unique prefix).")
    ] = None,
    weight: Annotated[float, typer.Option(help="Share of requests it answers, between 0 and 1.")] = 0.1,
    stop: Annotated[
        bool, typer.Option("--stop", help="End the split: the active release answers all.")
    ] = False,
    note: NoteOption = "",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Split traffic: RELEASE_ID answers WEIGHT of the requests, the active release the rest.

    A running server picks the split up within a second. Compare the two with `steerlab monitor`
    or /metrics (every series is labelled by release); graduate the canary with `release promote`.
    Example: [bold]steerlab release canary examples/banking77 rel-3f2a --weight 0.2[/bold]
    """
    from steerlab.errors import ConfigError
    from steerlab.release import set_canary

    if (release_id is None) != stop:
        raise ConfigError("give a RELEASE_ID to start a canary, or --stop to end one (not both)")
    task, root = _open(task_dir, workspace)
    state = set_canary(root, task, release_id, weight=weight, note=note)
    if as_json:
        console.print_json(json.dumps(_state_dict(state)))
        return
    if state.canary:
        console.print(
            f"Canary {state.canary['id']} answers {state.canary['weight']:.0%} of {task.name}'s requests; "
            f"{state.active} the rest."
        )
    else:
        console.print(f"No canary: {state.active} answers every request.")
