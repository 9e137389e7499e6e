"""The ``steerlab`` command: a thin layer over the library.

Every command calls one library function and formats its result; anything the CLI does, Python
code can do in one call. Errors meant for users (:class:`~steerlab.errors.SteerlabError`) print
as a message and a hint, with a non-zero exit code, never a traceback. One module per command
group; importing them registers their commands on :data:`app`.
"""

from __future__ import annotations

import sys

from rich.text import Text

from steerlab.cli import (  # noqa: F401  (registers commands)
    data,
    decision,
    evaluation,
    feedback,
    kb,
    models,
    monitor,
    pipeline,
    prompting,
    prompts,
    release,
    serve,
    tuning,
)
from steerlab.cli.app import app, err_console
from steerlab.errors import SteerlabError

__all__ = ["app", "main"]


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
