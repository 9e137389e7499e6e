"""Errors a user can act on.

Every failure that reaches a user says what was wrong, where (file, line, field when there is
one) and what to do next. The CLI prints these without a traceback and exits non-zero; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConfigError",
    "DataError",
    "EndpointError",
    "IntegrityError",
    "ModelNotFoundError",
    "SteerlabError",
    "UnsupportedError",
]


class SteerlabError(Exception):
    """Base class: an error whose message is meant for the user, with an optional hint."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, path: str | Path | None = None) -> None:
        self.message = message
        self.hint = hint
        self.path = Path(path) if path is not None else None
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text += f"\nHint: {self.hint}"
        return text


class ConfigError(SteerlabError):
    """A setting, option or input file is wrong."""

    exit_code = 2


class ModelNotFoundError(SteerlabError):
    """A model name resolves to nothing: not in the catalog, not a directory, not reachable."""

    exit_code = 2


class IntegrityError(SteerlabError):
    """Data on disk is not what it claims to be (wrong hash, truncated or missing file)."""

    exit_code = 3


class UnsupportedError(SteerlabError):
    """The backend cannot do what was asked (e.g. label scoring on an endpoint without logprobs)."""

    exit_code = 2


class EndpointError(SteerlabError):
    """An HTTP endpoint could not be reached or did not answer usefully (after retries)."""


class DataError(SteerlabError):
    """An input file is malformed. Says where: ``file:line: field 'name': what was expected``.

    Line numbers are 1-based, as editors show them. ``line`` and ``field`` are optional because
    some problems belong to a whole file (empty, wrong encoding) or a whole row.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.line = line
        self.field = field
        where = "".join(
            [
                str(path) if path is not None else "",
                f":{line}" if line is not None else "",
                ": " if path is not None or line is not None else "",
                f"field {field!r}: " if field else "",
            ]
        )
        super().__init__(where + message, hint=hint, path=path)
