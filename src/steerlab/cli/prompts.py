"""``steerlab prompts list|show|diff``: the prompt templates candidates use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.syntax import Syntax

from steerlab.cli.app import app, console

__all__ = ["prompts_app"]

prompts_app = typer.Typer(help="Inspect and compare prompt templates.", no_args_is_help=True)
app.add_typer(prompts_app, name="prompts")

TaskDir = Annotated[
    Path | None, typer.Option("--task", help="Task folder whose prompts/ may override built-ins.")
]


@prompts_app.command("list")
def prompts_list(task: TaskDir = None) -> None:
    """List built-in templates (and the task's own, with --task) with their versions.

    Example: [bold]steerlab prompts list[/bold]
    """
    from steerlab.prompts import load_template
    from steerlab.prompts.template import builtin_names

    names = set(builtin_names())
    if task is not None and (task / "prompts").is_dir():
        names |= {p.stem for p in (task / "prompts").glob("*.yaml")}
    for name in sorted(names):
        template = load_template(name, task)
        console.print(f"{template.version:<32} {template.source}")


@prompts_app.command("show")
def prompts_show(
    name: Annotated[str, typer.Argument(help="Template name or path.")], task: TaskDir = None
) -> None:
    """Print a template's parts.

    Example: [bold]steerlab prompts show classify[/bold]
    """
    from steerlab.prompts import PART_NAMES, load_template

    template = load_template(name, task)
    console.print(f"[bold]{template.version}[/bold]  ({template.source})")
    for part in PART_NAMES:
        if template.parts.get(part):
            console.print(f"[cyan]{part}:[/cyan]")
            console.print(Syntax(template.parts[part], "jinja", word_wrap=True))


@prompts_app.command("diff")
def prompts_diff(
    a: Annotated[str, typer.Argument(help="First template (name or path).")],
    b: Annotated[str, typer.Argument(help="Second template (name or path).")],
    task: TaskDir = None,
) -> None:
    """Show what differs between two templates, part by part.

    Example: [bold]steerlab prompts diff classify classify-reasoning[/bold]
    """
    from steerlab.prompts import diff_templates, load_template

    diff = diff_templates(load_template(a, task), load_template(b, task))
    if diff:
        console.print(Syntax(diff, "diff"))
    else:
        console.print("The templates are identical.")
