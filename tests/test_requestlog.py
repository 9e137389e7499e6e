"""The request log keeps every row, from many threads, and reads them back by task and time, on
SQLite and on a real PostgreSQL server (the ``log_url`` fixture in conftest.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from steerlab.errors import ConfigError
from steerlab.serving.requestlog import LogEntry, RequestLog


def test_rows_from_many_threads_are_all_committed_and_read_back(tmp_path: Path, log_url: str | None) -> None:
    log = RequestLog.for_workspace(tmp_path, log_url)
    assert log.postgres == (log_url is not None)
    assert log.recent() == []  # a fresh database (PostgreSQL: a fresh schema) per test

    def serve(worker: int) -> None:
        for i in range(50):
            log.write(
                LogEntry(
                    request_id=f"{worker}-{i}",
                    task="triage" if i % 2 else "invoices",
                    status=200,
                    release="rel-abc",
                    route="primary",
                    latency_s=0.01,
                    confidence=0.9,
                    inputs={"email": "[EMAIL] asked for a refund"},
                    output={"category": "billing"},
                    ts=1000.0 + i,
                )
            )

    threads = [threading.Thread(target=serve, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.flush()
    rows = log.recent()
    assert len(rows) == 200 and len({r["request_id"] for r in rows}) == 200
    triage = log.recent(task="triage", since=1040.0)
    assert {r["task"] for r in triage} == {"triage"} and all(r["ts"] > 1040.0 for r in triage)
    assert len(triage) == 4 * 5  # i = 41, 43, ..., 49 in each worker
    assert triage[0]["inputs"] == {"email": "[EMAIL] asked for a refund"}
    assert triage[0]["output"] == {"category": "billing"}
    log.close()
    reopened = RequestLog.for_workspace(tmp_path, log_url)  # the rows persist
    assert len(reopened.recent()) == 200
    reopened.close()


def test_an_unreachable_database_fails_at_start(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(ConfigError, match="cannot connect"):
        RequestLog("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_a_log_from_before_feedback_gains_the_table_and_keeps_its_rows(
    tmp_path: Path, log_url: str | None
) -> None:
    """Workspaces logged by an earlier steerlab have only ``requests``: opening one adds the rest."""
    from steerlab.serving.requestlog import SCHEMA

    old_table = SCHEMA[0]
    row = "INSERT INTO requests (ts, request_id, task, status) VALUES (1.0, 'old-1', 'triage', 200)"
    if log_url is None:
        import sqlite3

        path = tmp_path / "serving" / "requests.sqlite"
        path.parent.mkdir()
        with sqlite3.connect(path) as connection:
            connection.execute(old_table.format(serial="INTEGER"))
            connection.execute(row)
    else:
        import psycopg

        with psycopg.connect(log_url) as connection:
            connection.execute(old_table.format(serial="BIGSERIAL"))
            connection.execute(row)
    log = RequestLog.for_workspace(tmp_path, log_url)
    assert [r["request_id"] for r in log.recent()] == ["old-1"]
    assert log.feedback("triage") == []
    log.close()


def test_a_log_written_before_routed_to_existed_gains_the_column(tmp_path) -> None:
    import sqlite3

    from steerlab.serving.requestlog import LogEntry, RequestLog

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE requests (id INTEGER PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, request_id TEXT "
            "NOT NULL, task TEXT NOT NULL, release TEXT, route TEXT, status INTEGER NOT NULL, key_name TEXT, "
            "latency_s DOUBLE PRECISION, input_tokens INTEGER, output_tokens INTEGER, confidence DOUBLE "
            "PRECISION, inputs TEXT, output TEXT, reason TEXT)"
        )
        old.execute("INSERT INTO requests (ts, request_id, task, status) VALUES (1.0, 'a', 't', 200)")
    log = RequestLog(path)
    log.write(LogEntry(request_id="b", task="t", status=200, release="r2", routed_to="r1", route="fallback"))
    log.close()
    rows = RequestLog(path).recent("t")
    assert [(r["request_id"], r["routed_to"]) for r in rows] == [("a", None), ("b", "r1")]


def test_a_failing_database_drops_rows_with_a_warning_and_the_writer_lives_on(tmp_path, caplog) -> None:
    import sqlite3

    from steerlab.serving.requestlog import SCHEMA, LogEntry, RequestLog

    path = tmp_path / "log.sqlite"
    log = RequestLog(path)
    with sqlite3.connect(path) as other:
        other.execute("DROP TABLE requests")
    log.write(LogEntry(request_id="lost", task="t", status=200))
    log.flush()
    assert log.dropped == 1 and "1 rows not written" in caplog.text
    with sqlite3.connect(path) as other:
        other.execute(SCHEMA[0].format(serial="INTEGER"))
    log.write(LogEntry(request_id="kept", task="t", status=200))
    log.close()
    assert [r["request_id"] for r in RequestLog(path).recent()] == ["kept"]
