"""``steerlab models list|pull``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from steerlab.cli.app import JsonOption, console, human_bytes, human_params, models_app, progress_display

__all__ = ["models_list", "models_pull"]


@models_app.command("list")
def models_list(as_json: JsonOption = False) -> None:
    """List known models: the embedded defaults and everything in the cache.

    Example: [bold]steerlab models list[/bold]
    """
    from steerlab.models.catalog import list_models

    rows = list_models()
    if as_json:
        payload = [{**row.__dict__, "path": str(row.path) if row.path else None} for row in rows]
        console.print_json(json.dumps(payload))
        return
    table = Table(title="steerlab models")
    for column in ("name", "source", "parameters", "chat template", "cached", "size on disk", "licence"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.name,
            row.source,
            human_params(row.parameters),
            {True: "yes", False: "no", None: "?"}[row.chat_template],
            "yes" if row.cached else "no",
            human_bytes(row.size_bytes),
            row.license or "-",
        )
    console.print(table)


@models_app.command("pull")
def models_pull(
    name: Annotated[str, typer.Argument(help="An embedded model name, or a path to a .gguf file.")],
) -> None:
    """Assemble, verify (sha256) and convert a model into the cache, so later loads take seconds.

    Example: [bold]steerlab models pull qwen2.5-coder-0.5b-instruct[/bold]
    """
    from steerlab.models.cache import read_manifest
    from steerlab.models.catalog import pull

    with progress_display() as progress:
        path = pull(name, progress=progress)
    manifest = read_manifest(path)
    console.print(f"[green]Ready:[/green] {manifest['name']} at {path}")
