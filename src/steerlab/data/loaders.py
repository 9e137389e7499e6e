"""Read examples from JSONL, CSV, Parquet and chat-format JSONL into :class:`Example` rows.

Loaders are strict: the first malformed row stops the load with a :class:`DataError` that names
the file, the line (1-based, as an editor shows it; for Parquet, the row) and the field, and says
what was expected. A silently skipped row would change the measurement without anyone knowing.
Cleaning decisions (duplicates, empty inputs, PII) happen later and are reported, not here.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from steerlab.data.example import Example
from steerlab.errors import DataError

__all__ = ["MAX_LINE_BYTES", "OutputKind", "detect_format", "load_examples"]

OutputKind = Literal["label", "json", "text"]
"""How the expected output is read: a label name, a JSON object, or free text."""

MAX_LINE_BYTES = 1_000_000
"""Longest row accepted. A megabyte is far beyond any real input; longer rows are corrupt files
(or a whole dataset on one line) and would stall tokenisation later."""

FORMATS = ("jsonl", "csv", "parquet", "chat")


def detect_format(path: Path) -> str:
    """Pick a loader from the file name, and tell chat JSONL apart by its first record."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".jsonl", ".ndjson", ".json"):
        with path.open("rb") as handle:
            for raw in handle:
                if raw.strip():
                    try:
                        first = json.loads(raw)
                    except ValueError:
                        return "jsonl"  # the JSONL loader reports the error with its line
                    return "chat" if isinstance(first, dict) and "messages" in first else "jsonl"
        return "jsonl"
    raise DataError(
        f"cannot tell the format of {path.name!r} from its extension",
        path=path,
        hint="use .jsonl, .csv or .parquet, or set data.format in task.yaml",
    )


def load_examples(
    path: str | Path,
    *,
    inputs: Sequence[str],
    output_field: str | None,
    output_kind: OutputKind = "label",
    format: str = "auto",
    max_line_bytes: int = MAX_LINE_BYTES,
    passages_field: str | None = None,
) -> list[Example]:
    """Load every row of ``path`` as an :class:`Example`.

    ``inputs`` are the task's input field names; ``output_field`` the field holding the
    expected output (None for unlabelled data). For chat JSONL the last user message fills the
    (single) input field, the system message goes to ``meta``, and the final assistant message is
    the output. ``passages_field`` (answer tasks) names a list of gold passage ids, kept in
    ``meta["passages"]``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path, hint="check the data paths in task.yaml")
    if path.stat().st_size == 0:
        raise DataError("file is empty", path=path, hint="a data file needs at least one example")
    fmt = detect_format(path) if format == "auto" else format
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", path=path)
    if fmt == "parquet":
        rows = _parquet_rows(path)
    else:
        text = _read_utf8(path, max_line_bytes)
        rows = _csv_rows(path, text) if fmt == "csv" else _jsonl_rows(path, text)
    examples = []
    for line, record in rows:
        if fmt == "chat":
            examples.append(_from_chat(path, line, record, inputs, output_kind))
        else:
            example = _from_record(path, line, record, inputs, output_field, output_kind)
            if passages_field is not None:
                example.meta["passages"] = _passages(path, line, record, passages_field)
            examples.append(example)
    if not examples:
        raise DataError("file has no examples (only blank lines or a header)", path=path)
    return examples


# -- reading ----------------------------------------------------------------------------------


def _read_utf8(path: Path, max_line_bytes: int) -> str:
    data = path.read_bytes()
    longest_start, longest = 0, 0
    start = 0
    while start <= len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if end - start > longest:
            longest_start, longest = start, end - start
        start = end + 1
    if longest > max_line_bytes:
        line = data.count(b"\n", 0, longest_start) + 1
        raise DataError(
            f"line is {longest:,} bytes long, over the {max_line_bytes:,}-byte limit for one example",
            path=path,
            line=line,
            hint="check the file is one example per line and not truncated or concatenated",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"is not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})",
            path=path,
            line=line,
            hint="re-save the file as UTF-8, e.g. iconv -f latin1 -t utf-8",
        ) from error


def _jsonl_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as error:
            raise DataError(
                f"invalid JSON at column {error.colno}: {error.msg}",
                path=path,
                line=line,
                hint="each line must be one complete JSON object",
            ) from error
        if not isinstance(record, dict):
            raise DataError(f"expected a JSON object, got {type(record).__name__}", path=path, line=line)
        yield line, record


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    if not reader.fieldnames:
        raise DataError("CSV file has no header row", path=path, line=1)
    start = 2
    for record in reader:
        if None in record:  # more cells than header names
            raise DataError(
                f"row has {len(reader.fieldnames) + len(record[None])} cells but the header has "
                f"{len(reader.fieldnames)}",
                path=path,
                line=start,
                hint="quote cells that contain commas",
            )
        if any(value is None for value in record.values()):
            missing = [key for key, value in record.items() if value is None]
            raise DataError("row has fewer cells than the header", path=path, line=start, field=missing[0])
        yield start, record
        start = reader.line_num + 1  # line_num counts physical lines, quoted newlines included


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several unrelated types for corrupt files
        raise DataError(f"cannot read Parquet file: {error}", path=path) from error
    yield from enumerate(table.to_pylist(), start=1)


# -- mapping onto the task's fields ---------------------------------------------------------------


def _text_field(path: Path, line: int, record: dict[str, Any], name: str) -> str:
    if name not in record:
        present = ", ".join(sorted(record)) or "none"
        raise DataError(f"missing (fields present: {present})", path=path, line=line, field=name)
    value = record[name]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise DataError(f"expected text, got {type(value).__name__}", path=path, line=line, field=name)
    return value


def _output(path: Path, line: int, value: Any, kind: OutputKind, field: str) -> Any:
    if kind == "json":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as error:
                raise DataError(
                    f"expected a JSON object, got text that is not JSON ({error.msg})",
                    path=path,
                    line=line,
                    field=field,
                ) from error
        if not isinstance(value, dict):
            raise DataError(
                f"expected a JSON object, got {type(value).__name__}", path=path, line=line, field=field
            )
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise DataError(f"expected text, got {type(value).__name__}", path=path, line=line, field=field)
    return value.strip() if kind == "label" else value


def _from_record(
    path: Path,
    line: int,
    record: dict[str, Any],
    inputs: Sequence[str],
    output_field: str | None,
    kind: OutputKind,
) -> Example:
    values = {name: _text_field(path, line, record, name) for name in inputs}
    output = None
    if output_field is not None:
        if output_field not in record:
            present = ", ".join(sorted(record)) or "none"
            raise DataError(f"missing (fields present: {present})", path=path, line=line, field=output_field)
        output = _output(path, line, record[output_field], kind, output_field)
    return Example(values, output, str(path), line)


def _passages(path: Path, line: int, record: dict[str, Any], field: str) -> list[str]:
    value = record.get(field)
    if isinstance(value, str):  # CSV cells: JSON text, or ids separated by ";"
        try:
            value = json.loads(value) if value.strip().startswith("[") else value.split(";")
        except json.JSONDecodeError as error:
            raise DataError(
                f"expected a list of passage ids ({error.msg})", path=path, line=line, field=field
            ) from error
    if value is None:
        raise DataError("missing: a list of passage ids, [] for none", path=path, line=line, field=field)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError("expected a list of passage ids (strings)", path=path, line=line, field=field)
    return [v.strip() for v in value if v.strip()]


def _from_chat(
    path: Path, line: int, record: dict[str, Any], inputs: Sequence[str], kind: OutputKind
) -> Example:
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise DataError("expected a non-empty list of messages", path=path, line=line, field="messages")
    for index, message in enumerate(messages):
        if (
            not isinstance(message, dict)
            or message.get("role") not in ("system", "user", "assistant")
            or not isinstance(message.get("content"), str)
        ):
            raise DataError(
                "expected {role: system|user|assistant, content: text}",
                path=path,
                line=line,
                field=f"messages[{index}]",
            )
    if len(inputs) != 1:
        raise DataError(
            f"chat-format data maps onto exactly one input field, the task has {len(inputs)}",
            path=path,
            line=line,
            hint="use JSONL or CSV with one column per input field",
        )
    users = [m["content"] for m in messages if m["role"] == "user"]
    if not users:
        raise DataError("no user message", path=path, line=line, field="messages")
    output = None
    if messages[-1]["role"] == "assistant":
        output = _output(path, line, messages[-1]["content"], kind, f"messages[{len(messages) - 1}].content")
    system = next((m["content"] for m in messages if m["role"] == "system"), None)
    meta = {"system": system} if system else {}
    return Example({inputs[0]: users[-1]}, output, str(path), line, meta)
