"""Shared pieces of the CLI: the app object, consoles, common options and progress display."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    DownloadColumn,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from steerlab import __version__
from steerlab.cli.progress import LoggedProgress

__all__ = [
    "DEFAULT_MODEL",
    "app",
    "console",
    "err_console",
    "human_bytes",
    "human_params",
    "progress_display",
]

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
kb_app = typer.Typer(
    help="Knowledge bases for retrieval: ingest documents, search them, show index stats.",
    no_args_is_help=True,
)
app.add_typer(kb_app, name="kb")

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
def progress_display() -> Iterator[Callable[[str, int, int | None], None]]:
    """A Rich progress display driven by the library's ``progress(phase, done, total)`` callback."""
    labels = {
        "verify": "Verifying and assembling chunks",
        "tokenizer": "Reading the tokenizer",
        "convert": "Dequantizing tensors",
        "save": "Writing the cached model",
        "embed": "Embedding chunks",
    }
    with LoggedProgress(
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


def human_bytes(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def human_params(count: int | None) -> str:
    if not count:
        return "-"
    return f"{count / 1e9:.2f}B" if count >= 1e9 else f"{count / 1e6:.0f}M"
