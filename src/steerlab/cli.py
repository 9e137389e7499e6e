"""The ``steerlab`` command: a thin layer over the library.

Every command calls one library function and formats its result; anything the CLI does, Python
code can do in one call. Errors meant for users (:class:`~steerlab.errors.SteerlabError`) print
as a message and a hint, with a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from steerlab import __version__
from steerlab.errors import SteerlabError

__all__ = ["app", "main"]

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="steerlab",
    help="Measure prompting, retrieval and fine-tuning side by side, and say which lever to pull.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(
    help="List and pull models (embedded defaults, local folders, GGUF files).", no_args_is_help=True
)
app.add_typer(models_app, name="models")
data_app = typer.Typer(help="Validate, clean, redact, split and version a task's data.", no_args_is_help=True)
app.add_typer(data_app, name="data")

ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="Embedded name, model folder, .gguf file, hub id (org/name) or openai:MODEL.",
        envvar="STEERLAB_MODEL",
    ),
]
DeviceOption = Annotated[str, typer.Option(help="auto, cpu or cuda.")]
DtypeOption = Annotated[
    str, typer.Option(help="auto, bfloat16, float16 or float32 (auto: bf16 where native).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]

DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"


def _quiet_libraries(verbose: bool) -> None:
    """transformers prints load bars and advisory warnings; keep them for --verbose only."""
    from transformers.utils import logging as hf_logging

    if verbose:
        hf_logging.set_verbosity_warning()
    else:
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()


def _version(value: bool) -> None:
    if value:
        console.print(f"steerlab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what steerlab decides and why.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, show_time=False)],
        force=True,
    )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _quiet_libraries(verbose)


class _AmountColumn(ProgressColumn):
    """Bytes and speed for byte-counting tasks, ``done/total`` for the rest."""

    def __init__(self) -> None:
        super().__init__()
        self._bytes, self._speed = DownloadColumn(), TransferSpeedColumn()

    def render(self, task: Task) -> Text:
        if task.fields.get("bytes"):
            return Text.assemble(self._bytes.render(task), " ", self._speed.render(task))
        if task.total is None:
            return Text("")
        return Text(f"{task.completed:.0f}/{task.total:.0f}", style="progress.download")


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int | None], None]]:
    """A Rich progress display driven by the library's ``progress(phase, done, total)`` callback."""
    labels = {
        "verify": "Verifying and assembling chunks",
        "tokenizer": "Reading the tokenizer",
        "convert": "Dequantizing tensors",
        "save": "Writing the cached model",
    }
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<32}"),
        BarColumn(),
        _AmountColumn(),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def update(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(
                    labels.get(phase, phase), total=total, bytes=phase == "verify"
                )
            progress.update(tasks[phase], completed=done, total=total)

        yield update


def _human_bytes(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _human_params(count: int | None) -> str:
    if not count:
        return "-"
    return f"{count / 1e9:.2f}B" if count >= 1e9 else f"{count / 1e6:.0f}M"


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
            _human_params(row.parameters),
            {True: "yes", False: "no", None: "?"}[row.chat_template],
            "yes" if row.cached else "no",
            _human_bytes(row.size_bytes),
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

    with _progress() as progress:
        path = pull(name, progress=progress)
    manifest = read_manifest(path)
    console.print(f"[green]Ready:[/green] {manifest['name']} at {path}")


def _load(model: str, device: str, dtype: str, **options: Any):
    from steerlab.models.catalog import load_model

    with _progress() as progress:
        loaded = load_model(model, device=device, dtype=dtype, progress=progress, **options)
    logging.getLogger("steerlab").info("Model info: %s", loaded.info())
    return loaded


def _read_prompt(prompt: str) -> str:
    return sys.stdin.read() if prompt == "-" else prompt


@app.command()
def generate(
    prompt: Annotated[str, typer.Argument(help="The prompt text, or - to read it from standard input.")],
    model: ModelOption = DEFAULT_MODEL,
    system: Annotated[str | None, typer.Option(help="A system message (chat models).")] = None,
    max_tokens: Annotated[int, typer.Option(help="Most tokens to generate.")] = 256,
    temperature: Annotated[float, typer.Option(help="0 for greedy decoding; > 0 samples.")] = 0.0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling mass (with temperature > 0).")] = 1.0,
    seed: Annotated[int | None, typer.Option(help="Seed for sampling.")] = None,
    stop: Annotated[list[str] | None, typer.Option(help="Stop sequence (repeatable).")] = None,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "auto",
    as_json: JsonOption = False,
) -> None:
    """Send one prompt to a model and print the completion.

    Example: [bold]steerlab generate "Summarise: the parcel arrived damaged."[/bold]
    """
    from steerlab.models.base import GenerationParams

    text = _read_prompt(prompt)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": text}] if system else text
    params = GenerationParams(
        max_new_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed, stop=tuple(stop or ())
    )
    loaded = _load(model, device, dtype)
    result = loaded.generate_one(messages, params)
    if as_json:
        console.print_json(json.dumps({**result.__dict__, "model": loaded.info()}))
        return
    console.print(result.text, markup=False, highlight=False)
    err_console.print(
        f"[dim]{result.input_tokens} in, {result.output_tokens} out, {result.latency_s:.2f} s, "
        f"finish={result.finish_reason}[/dim]"
    )


@app.command()
def classify(
    text: Annotated[str, typer.Argument(help="The text to classify, or - for standard input.")],
    labels: Annotated[str, typer.Option("--labels", "-l", help="Comma-separated label set.")],
    model: ModelOption = DEFAULT_MODEL,
    instruction: Annotated[
        str, typer.Option(help="What to decide; the label list is appended.")
    ] = "Classify the text into exactly one of these labels",
    device: DeviceOption = "auto",
    dtype: DtypeOption = "auto",
    as_json: JsonOption = False,
) -> None:
    """Rank labels by the model's probability for each, in one forward pass (no sampling).

    Example: [bold]steerlab classify "My card was charged twice" -l billing,shipping,login[/bold]
    """
    label_list = [label.strip() for label in labels.split(",") if label.strip()]
    if len(label_list) < 2:
        raise SteerlabError(
            "--labels needs at least two comma-separated labels", hint="e.g. -l billing,shipping"
        )
    body = _read_prompt(text)
    prompt = f"{instruction}: {', '.join(label_list)}.\n\nText: {body}\n\nAnswer with the label only."
    loaded = _load(model, device, dtype)
    scores = loaded.score_one(prompt, label_list)
    if as_json:
        console.print_json(
            json.dumps({"label": scores.best, "confidence": scores.confidence, "ranked": scores.ranked()})
        )
        return
    table = Table(title=f"{loaded.name}: label probabilities")
    table.add_column("label")
    table.add_column("probability", justify="right")
    for label, prob in scores.ranked():
        table.add_row(label, f"{prob:.3f}")
    console.print(table)
    console.print(f"[bold]{scores.best}[/bold] ({scores.confidence:.0%})")


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
    from steerlab.task import write_example_task

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
    with Progress(
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
        console.print(f"PII found and redacted: {found}")
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


def main() -> None:
    """Entry point: run the app, turning user-facing errors into a message and an exit code."""
    try:
        app()
    except SteerlabError as error:
        _print_error(error.message, error.hint)
        sys.exit(error.exit_code)
    except ValueError as error:
        _print_error(str(error), None)
        sys.exit(2)


def _print_error(message: str, hint: str | None) -> None:
    # Text objects, not markup: paths and messages may contain square brackets.
    err_console.print(Text.assemble(("Error: ", "bold red"), message))
    if hint:
        err_console.print(Text.assemble(("Hint: ", "yellow"), hint))


if __name__ == "__main__":
    main()
