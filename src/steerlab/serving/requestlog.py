"""The request log: one row per served request, in SQLite by default or PostgreSQL by URL.

Monitoring, drift detection and the feedback loop all read from here, so every row carries what
they need: task, release, route (primary, fallback, escalated), HTTP status, latency, tokens,
confidence, the output, and the inputs with PII already redacted (nothing unredacted is ever
written). The same SQL runs on both databases; only the parameter style differs.

Writes are queued and committed by a background thread in small batches, so a request never
waits on the disk and a slow database slows only the log, not the answers.

Reviewers' corrections live beside the requests, in a ``feedback`` table of the same database,
so a correction can be checked against the request it corrects (same task, usable inputs) when
it is made, and read back joined with that request's logged inputs. Corrections are written at
once, not queued: the reviewer is told whether it was accepted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steerlab.errors import ConfigError

if TYPE_CHECKING:
    from steerlab.task import Task

__all__ = ["LogEntry", "RequestLog", "output_problem"]

_log = logging.getLogger("steerlab.requestlog")

COLUMNS = (
    "ts",
    "request_id",
    "task",
    "release",
    "route",
    "status",
    "key_name",
    "latency_s",
    "input_tokens",
    "output_tokens",
    "confidence",
    "inputs",
    "output",
    "reason",
    "routed_to",
)

ADDED_COLUMNS = {"routed_to": "TEXT"}
"""Columns added after the first release of the log; an older database gains them on open."""

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS requests (
    id {serial} PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    request_id TEXT NOT NULL,
    task TEXT NOT NULL,
    release TEXT,
    route TEXT,
    status INTEGER NOT NULL,
    key_name TEXT,
    latency_s DOUBLE PRECISION,
    input_tokens INTEGER,
    output_tokens INTEGER,
    confidence DOUBLE PRECISION,
    inputs TEXT,
    output TEXT,
    reason TEXT,
    routed_to TEXT
)
""",
    # Feedback looks requests up by id; without the index every correction scans the whole log.
    "CREATE INDEX IF NOT EXISTS requests_request_id ON requests (request_id)",
    # One correction per request: a reviewer's later correction replaces the earlier one.
    """
CREATE TABLE IF NOT EXISTS feedback (
    id {serial} PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    task TEXT NOT NULL,
    request_id TEXT NOT NULL,
    output TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    note TEXT,
    UNIQUE (task, request_id)
)
""",
)

FEEDBACK_COLUMNS = ("ts", "task", "request_id", "output", "reviewer", "note")


@dataclass(frozen=True)
class LogEntry:
    request_id: str
    task: str
    status: int
    release: str | None = None
    route: str | None = None
    key_name: str | None = None
    latency_s: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    confidence: float | None = None
    inputs: dict[str, Any] | None = None
    """Already redacted by the caller (the guardrails); stored as JSON."""
    output: Any = None
    reason: str | None = None
    routed_to: str | None = None
    """The release the request was sent to (the canary or the active one); ``release`` is the one
    that answered, which differs when it fell back. A/B comparisons count by this one."""
    ts: float = field(default_factory=time.time)

    def row(self) -> tuple[Any, ...]:
        values = asdict(self)
        values["inputs"] = None if self.inputs is None else json.dumps(self.inputs, ensure_ascii=False)
        values["output"] = None if self.output is None else json.dumps(self.output, ensure_ascii=False)
        return tuple(values[c] for c in COLUMNS)


class RequestLog:
    """Append rows from any thread; read them back for monitoring. ``url``: a SQLite file path,
    ``sqlite:///PATH``, or ``postgresql://…`` (needs the ``psycopg`` package)."""

    def __init__(self, url: str | Path) -> None:
        self.url = str(url)
        self.postgres = self.url.startswith(("postgresql://", "postgres://"))
        self._param = "%s" if self.postgres else "?"
        self._connect(setup=True).close()  # tables now: a bad URL fails at start-up, not later
        self.dropped = 0
        """Rows the database refused twice (reported as warnings), so a server can export it."""
        self._queue: queue.Queue[LogEntry | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name="request-log", daemon=True)
        self._writer.start()

    @classmethod
    def for_workspace(cls, workspace: str | Path, url: str | None = None) -> RequestLog:
        if url:
            return cls(url)
        path = Path(workspace) / "serving" / "requests.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path)

    @classmethod
    def open_existing(cls, workspace: str | Path, url: str | None = None) -> RequestLog:
        """The log a server wrote, for readers (``monitor``, ``feedback``): opening a SQLite path
        creates it, so a mistyped or default path with no log is an error, not an empty log."""
        if url is None or not url.startswith(("postgresql://", "postgres://")):
            path = (
                Path(url.removeprefix("sqlite:///"))
                if url
                else Path(workspace) / "serving" / "requests.sqlite"
            )
            if not path.is_file():
                raise ConfigError(
                    f"no request log at {path}", hint="pass the log `steerlab serve` writes to with --log URL"
                )
        return cls.for_workspace(workspace, url)

    def _connect(self, *, setup: bool = False) -> Any:
        """A connection; ``setup`` (once, when the log is opened) creates and migrates the tables.

        Only once: on PostgreSQL, schema statements from two connections at the same moment (the
        writer thread and a reader) take conflicting table locks and deadlock (seen in CI).
        """
        if self.postgres:
            try:
                import psycopg
            except ImportError as error:
                raise ConfigError("a PostgreSQL request log needs the psycopg package") from error
            try:
                connection = psycopg.connect(self.url, autocommit=False)
            except psycopg.Error as error:
                raise ConfigError(f"cannot connect to the request log database: {error}") from error
            if setup:
                with connection.cursor() as cursor:
                    for statement in SCHEMA:
                        cursor.execute(statement.format(serial="BIGSERIAL"))
                    cursor.execute(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND table_name = 'requests'"
                    )
                    present = {row[0] for row in cursor.fetchall()}
                    for column, kind in ADDED_COLUMNS.items():
                        if column not in present:
                            cursor.execute(f"ALTER TABLE requests ADD COLUMN IF NOT EXISTS {column} {kind}")
                connection.commit()
            return connection
        path = self.url.removeprefix("sqlite:///")
        connection = sqlite3.connect(path, timeout=30, check_same_thread=False)
        if setup:
            connection.execute("PRAGMA journal_mode=WAL")  # persistent: set once per database
            for statement in SCHEMA:
                connection.execute(statement.format(serial="INTEGER"))
            present = {row[1] for row in connection.execute("PRAGMA table_info(requests)")}
            for column, kind in ADDED_COLUMNS.items():
                if column not in present:
                    connection.execute(f"ALTER TABLE requests ADD COLUMN {column} {kind}")
            connection.commit()
        return connection

    def write(self, entry: LogEntry) -> None:
        """Queue ``entry``; it is committed within a few milliseconds."""
        self._queue.put(entry)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is committed."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self) -> None:
        self.flush()
        self._queue.put(None)
        self._writer.join(timeout=10)

    def _write_loop(self) -> None:
        """Commit queued rows in batches. A failed batch (the database restarting, a dropped
        connection) is retried once on a new connection, then counted in ``dropped`` and
        reported: the log must never take the server down with it."""
        connection: Any = None
        insert = (
            f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join([self._param] * len(COLUMNS))})"
        )
        try:
            while True:
                first = self._queue.get()
                batch = [first]
                while len(batch) < 256:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                rows = [e.row() for e in batch if e is not None]
                for attempt in (1, 2):
                    if not rows:
                        break
                    try:
                        connection = connection or self._connect()
                        cursor = connection.cursor()
                        cursor.executemany(insert, rows)
                        connection.commit()
                        break
                    except Exception as error:  # any driver error: report, go on
                        with contextlib.suppress(Exception):
                            connection.close()
                        connection = None
                        if attempt == 2:
                            self.dropped += len(rows)
                            _log.warning("request log: %d rows not written: %s", len(rows), error)
                for _ in batch:
                    self._queue.task_done()
                if any(e is None for e in batch):
                    return
        finally:
            if connection is not None:
                connection.close()

    def recent(self, task: str | None = None, since: float | None = None, limit: int = 10_000) -> list[dict]:
        """Rows, newest last, optionally of one task and after ``since`` (a Unix time)."""
        clauses, params = [], []
        if task is not None:
            clauses.append(f"task = {self._param}")
            params.append(task)
        if since is not None:
            clauses.append(f"ts > {self._param}")
            params.append(since)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {', '.join(COLUMNS)} FROM requests {where} ORDER BY id DESC LIMIT {int(limit)}"
        connection = self._connect()
        try:
            cursor = connection.cursor()
            cursor.execute(sql, params)
            rows: Sequence[Sequence[Any]] = cursor.fetchall()
        finally:
            connection.close()
        out = []
        for row in reversed(rows):
            item = dict(zip(COLUMNS, row, strict=True))
            for key in ("inputs", "output"):
                if item[key] is not None:
                    item[key] = json.loads(item[key])
            out.append(item)
        return out

    def add_feedback(
        self, request_id: str, output: Any, reviewer: str, note: str | None = None, *, task: Task
    ) -> dict[str, Any]:
        """Store a reviewer's corrected ``output`` for a logged request of ``task``.

        Checked before anything is written, so a bad correction never reaches a dataset: the
        request must be in the log, made to this task, with the task's inputs logged (a refused
        request has nothing to learn from), and ``output`` must satisfy the task's output
        contract. Raises :class:`ConfigError` saying which. A later correction of the same
        request replaces the earlier one. Returns the stored correction, with ``replaced``.
        """
        if not isinstance(reviewer, str) or not reviewer.strip():
            raise ConfigError("a correction needs a reviewer name")
        self.flush()  # the request may have been answered a moment ago and still be queued
        p = self._param
        connection = self._connect()
        try:
            cursor = connection.cursor()
            cursor.execute(
                f"SELECT task, status, inputs, reason FROM requests WHERE request_id = {p} "
                "ORDER BY id DESC LIMIT 1",
                (request_id,),
            )
            found = cursor.fetchone()
            if found is None:
                raise ConfigError(
                    f"no request {request_id!r} in the request log",
                    hint="use the X-Request-Id a response carried, or `steerlab feedback list` to see "
                    "corrections already made",
                )
            logged_task, status, inputs, reason = found
            if logged_task != task.name:
                raise ConfigError(
                    f"request {request_id!r} was made to task {logged_task!r}, not {task.name!r}"
                )
            names = [field.name for field in task.inputs]
            inputs = None if inputs is None else json.loads(inputs)
            if not isinstance(inputs, dict) or any(not isinstance(inputs.get(n), str) for n in names):
                why = f" ({reason})" if reason else ""
                raise ConfigError(
                    f"request {request_id!r} (status {status}) has no usable inputs to correct{why}: "
                    f"the task takes {names}"
                )
            problem = output_problem(task, output)
            if problem is not None:
                raise ConfigError(
                    f"the corrected output for request {request_id!r} {problem}", hint=_hint(task, output)
                )
            cursor.execute(
                f"SELECT 1 FROM feedback WHERE task = {p} AND request_id = {p}", (task.name, request_id)
            )
            replaced = cursor.fetchone() is not None
            record = {
                "ts": time.time(),
                "task": task.name,
                "request_id": request_id,
                "output": output,
                "reviewer": reviewer.strip(),
                "note": note or None,
            }
            values = [record[c] for c in FEEDBACK_COLUMNS]
            values[FEEDBACK_COLUMNS.index("output")] = json.dumps(output, ensure_ascii=False)
            updates = ", ".join(f"{c} = excluded.{c}" for c in ("ts", "output", "reviewer", "note"))
            cursor.execute(
                f"INSERT INTO feedback ({', '.join(FEEDBACK_COLUMNS)}) "
                f"VALUES ({', '.join([p] * len(FEEDBACK_COLUMNS))}) "
                f"ON CONFLICT (task, request_id) DO UPDATE SET {updates}",
                values,
            )
            connection.commit()
        finally:
            connection.close()
        return {**record, "replaced": replaced}

    def feedback(self, task: str, since: float | None = None) -> list[dict[str, Any]]:
        """The corrections of ``task`` (a task name), oldest first, optionally only those made
        after ``since`` (a Unix time), each joined with the request it corrects.

        Each row: ``request_id``, ``ts`` (when corrected), ``output`` (the correction),
        ``reviewer``, ``note``, and from the request: ``inputs`` (as logged, so already redacted
        by the server), ``served_output``, ``release``, ``route``, ``status``, ``request_ts``.
        """
        p = self._param
        sql = (
            "SELECT f.request_id, f.ts, f.output, f.reviewer, f.note, "
            "r.inputs, r.output, r.release, r.route, r.status, r.ts "
            "FROM feedback f JOIN requests r ON r.id = "
            "(SELECT MAX(id) FROM requests WHERE request_id = f.request_id AND task = f.task) "
            f"WHERE f.task = {p}" + (f" AND f.ts > {p}" if since is not None else "") + " "
            "ORDER BY f.ts, f.request_id"
        )
        params: list[Any] = [task] if since is None else [task, since]
        connection = self._connect()
        try:
            cursor = connection.cursor()
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        finally:
            connection.close()
        names = (
            "request_id",
            "ts",
            "output",
            "reviewer",
            "note",
            "inputs",
            "served_output",
            "release",
            "route",
            "status",
            "request_ts",
        )
        out = []
        for row in rows:
            item = dict(zip(names, row, strict=True))
            for key in ("output", "inputs", "served_output"):
                if item[key] is not None:
                    item[key] = json.loads(item[key])
            out.append(item)
        return out


def output_problem(task: Task, output: Any) -> str | None:
    """What is wrong with ``output`` as an answer to ``task`` (a phrase completing "the output
    ..."), or None when it satisfies the contract: the same label-set and JSON-schema rule the
    data check applies, plus non-empty text for answer and generate tasks."""
    from steerlab.data.cleaning import output_violation

    if output is None:
        return "is missing"
    if task.kind == "classify":
        problem = output_violation(output, set(task.label_names), None)
    elif task.kind == "extract":
        if not isinstance(output, dict):
            return f"must be a JSON object, not {type(output).__name__}"
        problem = output_violation(output, None, task.json_schema)
    else:
        if not isinstance(output, str) or not output.strip():
            return "must be non-empty text"
        problem = None
    return None if problem is None else f"breaks the task's contract: {problem}"


def _hint(task: Task, output: Any) -> str | None:
    if task.kind == "classify":
        import difflib

        labels = task.label_names
        close = difflib.get_close_matches(output, labels, n=3) if isinstance(output, str) else []
        if close:
            return f"did you mean {' or '.join(close)}?"
        shown = ", ".join(labels[:20]) + (f", ... ({len(labels)} in all)" if len(labels) > 20 else "")
        return f"the labels are: {shown}"
    if task.kind == "extract":
        return "the output must be a JSON object satisfying output.schema in task.yaml"
    return None
