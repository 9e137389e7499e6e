"""``steerlab serve``: tasks' active releases behind an HTTP API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from steerlab.cli.app import app, console, err_console

__all__ = ["serve_command"]

keys_app = typer.Typer(help="API keys for `steerlab serve` (stored hashed; a key is shown once).")
app.add_typer(keys_app, name="keys")


@app.command("serve")
def serve_command(
    task_dirs: Annotated[list[Path], typer.Argument(help="Task folders whose active releases to serve.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    max_batch: Annotated[
        int, typer.Option(help="Concurrent requests answered in one model call; 1 turns batching off.")
    ] = 8,
    max_wait_ms: Annotated[float, typer.Option(help="How long a batch waits to fill.")] = 5.0,
    fallback: Annotated[
        str | None, typer.Option(help="Release id answering when the active release cannot (one task only).")
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Confidence below which answers fall back or escalate (default: each release's "
            "threshold fitted on dev; 0 turns thresholding off)."
        ),
    ] = None,
    log: Annotated[
        str | None,
        typer.Option(
            envvar="STEERLAB_REQUEST_LOG",
            help="Request log: postgresql:// URL or SQLite path (default WORKSPACE/serving/requests.sqlite).",
        ),
    ] = None,
    max_body_kb: Annotated[int, typer.Option(help="Largest request body accepted, in KiB.")] = 64,
    workspace: Annotated[
        Path | None, typer.Option(envvar="STEERLAB_WORKSPACE", help="Default TASK_DIR/.steerlab.")
    ] = None,
) -> None:
    """Serve each task's active release: POST /v1/tasks/TASK/predict, /v1/chat/completions
    (model = task name), /healthz, /readyz and Prometheus /metrics.

    Every request is logged (inputs PII-redacted) for `steerlab monitor` and `steerlab feedback`;
    the task's `policy` refuses and screens requests before a model sees them.

    Promote or roll back a release while it runs: the server switches within a second, without
    a restart and without dropping requests in flight.
    Example: [bold]steerlab serve examples/ticket-triage --port 8000[/bold]
    """
    import uvicorn

    from steerlab.data.check import workspace_for
    from steerlab.errors import ConfigError
    from steerlab.serving.app import create_serving_app
    from steerlab.serving.requestlog import RequestLog
    from steerlab.serving.security import KeyStore
    from steerlab.serving.service import ServiceSettings, TaskService
    from steerlab.task import load_task

    if fallback and len(task_dirs) > 1:
        raise ConfigError("--fallback names one task's release: serve that task alone")
    settings = ServiceSettings(
        max_batch=max_batch, max_wait_s=max_wait_ms / 1000, fallback=fallback, threshold=threshold
    )
    services = {}
    for folder in task_dirs:
        task = load_task(folder)
        if task.name in services:
            raise ConfigError(f"two task folders are called {task.name!r}")
        services[task.name] = TaskService(task, workspace_for(task, workspace), settings)
    roots = {s.workspace for s in services.values()}
    if len(roots) > 1:
        raise ConfigError("the tasks live in different workspaces: pass one --workspace for all of them")
    root = next(iter(roots))
    keys = KeyStore.load(root)
    if keys.open:
        err_console.print("[yellow]no API keys: the server is open[/yellow] (steerlab keys add NAME)")
    request_log = RequestLog.for_workspace(root, log)
    shown = re.sub(r"//[^@/]*@", "//", log) if log else root / "serving" / "requests.sqlite"
    err_console.print(f"serving {', '.join(services)} on http://{host}:{port}; request log: {shown}")
    served = create_serving_app(services, keys=keys, log=request_log, max_body_bytes=max_body_kb * 1024)
    uvicorn.run(served, host=host, port=port, log_level="warning")


WorkspaceOption = Annotated[Path, typer.Option(envvar="STEERLAB_WORKSPACE", help="The served workspace.")]


@keys_app.command("add")
def keys_add(
    name: Annotated[str, typer.Argument(help="Who the key is for, e.g. crm-prod.")],
    workspace: WorkspaceOption,
    rate: Annotated[int, typer.Option(help="Requests per minute allowed.")] = 600,
) -> None:
    """Create an API key and print it (only now: the workspace keeps its salted hash)."""
    from steerlab.serving.security import KeyStore

    console.print(KeyStore.add(workspace, name, rate_per_minute=rate))


@keys_app.command("revoke")
def keys_revoke(name: Annotated[str, typer.Argument()], workspace: WorkspaceOption) -> None:
    """Remove a key (a running server drops it at its next restart)."""
    from steerlab.serving.security import KeyStore

    KeyStore.revoke(workspace, name)
    err_console.print(f"revoked {name}")
