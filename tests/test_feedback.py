"""The feedback loop on real request logs (SQLite and PostgreSQL), real task folders and real
dataset versions: corrections are checked against the log and the contract, land in train only,
get the task's PII redaction, skip duplicates and leaks, and give the same version twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from steerlab.cli import app
from steerlab.data.check import check_data
from steerlab.data.dataset import load_dataset
from steerlab.errors import ConfigError
from steerlab.serving.feedback import apply_feedback, parse_output, record_feedback
from steerlab.serving.requestlog import LogEntry, RequestLog
from steerlab.task import Task, load_task

LABELS = ["billing", "shipping", "login"]
WORDS = ["card", "parcel", "password", "refund", "box", "account", "charge", "courier", "sign", "invoice"]
# Shared by every row: long texts, so one changed character is a near-duplicate (Jaccard > 0.9).
TAIL = "I have been a customer for many years and would appreciate a quick answer from your support team."


def make_task(folder: Path, rows: int = 30) -> Task:
    (folder / "data").mkdir(parents=True)
    lines = []
    for i in range(rows):
        text = (
            f"message {i}: my {WORDS[i % 10]} and {WORDS[(i * 7) % 10]} problem number {i * 13 % 97}. {TAIL}"
        )
        lines.append(json.dumps({"text": text, "label": LABELS[i % 3]}))
    (folder / "data" / "train.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "task.yaml").write_text(
        "name: tickets\nkind: classify\ndescription: support tickets\ninputs: [text]\n"
        "output:\n  field: label\n  labels: [billing, shipping, login]\n"
        "data:\n  train: data/train.jsonl\nsplit:\n  test_fraction: 0.3\n  dev_fraction: 0.2\n"
        "cleaning:\n  pii_kinds: [EMAIL]\n  redact_pii: true\n"
    )
    return load_task(folder)


def served(log: RequestLog, request_id: str, text: str | None, *, task: str = "tickets", **fields) -> None:
    """A request as the server logs it (inputs as given: here, not redacted by the server)."""
    log.write(
        LogEntry(
            request_id=request_id,
            task=task,
            status=fields.pop("status", 200),
            release="rel-pilot",
            route=fields.pop("route", "primary"),
            inputs=fields.pop("inputs", {"text": text}),
            output=fields.pop("output", "billing"),
            **fields,
        )
    )


def ids(rows) -> list[str]:
    return [ex.id for ex in rows]


def test_corrections_become_a_train_only_dataset_version(tmp_path: Path, log_url: str | None) -> None:
    task = make_task(tmp_path / "task")
    ws = tmp_path / "ws"
    check_data(task, workspace=ws)
    base = load_dataset(ws, task.name)
    log = RequestLog.for_workspace(ws, log_url)
    near_test = base.test[0].input_text.replace("number", "numbr", 1)
    served(log, "r-courier", "The courier left my parcel at the wrong house again", output="billing")
    served(
        log, "r-email", "Please refund ada@example.com for the double charge", route="escalated", output=None
    )
    served(log, "r-train", base.train[0].input_text.upper())  # same input after normalisation
    served(log, "r-test", base.test[1].input_text)
    served(log, "r-near", near_test)
    served(log, "r-app-1", "The app crashes whenever I try to pay")
    served(log, "r-app-2", "the app crashes whenever I try to pay!")
    served(log, "r-other", "an invoice question", task="invoices")
    served(
        log, "r-refused", None, status=422, inputs={"body": "x"}, output=None, reason="missing input field"
    )
    log.flush()

    # Checked against the log and the contract before anything is stored.
    for request_id, output, message in [
        ("r-missing", "billing", "no request 'r-missing'"),
        ("r-other", "billing", "was made to task 'invoices', not 'tickets'"),
        ("r-refused", "billing", r"no usable inputs to correct \(missing input field\)"),
        ("r-courier", "Shipping", "label 'Shipping' is not in the task's label set"),
        ("r-courier", {"label": "shipping"}, "not in the task's label set"),
    ]:
        with pytest.raises(ConfigError, match=message):
            record_feedback(log, task, request_id, output, "ana")
    with pytest.raises(ConfigError, match="did you mean shipping") as wrong:
        record_feedback(log, task, "r-courier", "shiping", "ana")
    assert wrong.value.hint == "did you mean shipping?"
    with pytest.raises(ConfigError, match="reviewer"):
        record_feedback(log, task, "r-courier", "shipping", " ")
    assert log.feedback(task.name) == []

    first = record_feedback(log, task, "r-courier", "login", "bob", "first guess")
    assert first["replaced"] is False
    replaced = record_feedback(log, task, "r-courier", "shipping", "ana", "parcel, not payment")
    assert replaced["replaced"] is True
    for request_id, label in [
        ("r-email", "billing"),
        ("r-train", "login"),
        ("r-test", "login"),
        ("r-near", "login"),
        ("r-app-1", "billing"),
        ("r-app-2", "login"),
    ]:
        record_feedback(log, task, request_id, label, "cy")
    rows = log.feedback(task.name)
    assert [r["request_id"] for r in rows] == [
        "r-courier",  # one row: the replacement took the earlier correction's place
        "r-email",
        "r-train",
        "r-test",
        "r-near",
        "r-app-1",
        "r-app-2",
    ]
    courier = next(r for r in rows if r["request_id"] == "r-courier")
    assert {k: courier[k] for k in ("output", "reviewer", "note", "served_output", "release", "route")} == {
        "output": "shipping",
        "reviewer": "ana",
        "note": "parcel, not payment",
        "served_output": "billing",
        "release": "rel-pilot",
        "route": "primary",
    }
    assert courier["inputs"] == {"text": "The courier left my parcel at the wrong house again"}
    assert next(r for r in rows if r["request_id"] == "r-email")["served_output"] is None
    assert [r["request_id"] for r in log.feedback(task.name, since=courier["ts"])] == [
        r["request_id"] for r in rows[rows.index(courier) + 1 :]
    ]

    applied = apply_feedback(task, log, workspace=ws)
    assert (applied.base, applied.corrections, applied.added, applied.reused) == (base.version, 7, 2, False)
    assert applied.version != base.version
    skipped = {s["request_id"]: s["check"] for s in applied.skipped}
    assert skipped == {
        "r-train": "feedback_duplicate",
        "r-test": "feedback_duplicate",
        "r-near": "leakage_feedback",
        "r-app-1": "conflicting_label",
        "r-app-2": "conflicting_label",
    }
    dataset = load_dataset(ws, task.name)  # now the current version
    assert dataset.version == applied.version and dataset.path == applied.path
    assert ids(dataset.dev) == ids(base.dev) and ids(dataset.test) == ids(base.test)
    assert ids(dataset.train[: len(base.train)]) == ids(base.train)
    added = {ex.source: ex for ex in dataset.train[len(base.train) :]}
    assert set(added) == {"feedback:r-courier", "feedback:r-email"}
    assert added["feedback:r-courier"].output == "shipping"
    assert added["feedback:r-courier"].meta["feedback"]["reviewer"] == "ana"
    assert added["feedback:r-email"].inputs == {"text": "Please refund <EMAIL> for the double charge"}
    assert added["feedback:r-email"].output == "billing"
    assert not any("ada@example.com" in p.read_text() for p in applied.path.iterdir())
    assert dataset.manifest["feedback"] == {"base": base.version, "added": 2}
    assert dataset.manifest["pii"] == {"scanned": True, "redacted": True, "found": {"EMAIL": 1}}
    card = json.loads((applied.path / "card.json").read_text())
    assert card["splits"] == {"train": len(base.train) + 2, "dev": len(base.dev), "test": len(base.test)}
    assert card["feedback"]["skipped_why"] == {
        "feedback_duplicate": 2,
        "leakage_feedback": 1,
        "conflicting_label": 2,
    }
    assert card["feedback"]["reviewers"] == 2  # ana and cy; bob's correction was replaced
    markdown = (applied.path / "card.md").read_text()
    assert "## Lineage" in markdown and f"Built from `{base.version}`" in markdown
    assert "train only" in markdown and "| request log | feedback | 7 | train |" in markdown

    # Idempotent: the same corrections give the same version, reused as it is.
    again = apply_feedback(task, log, workspace=ws)
    assert (again.version, again.base, again.added, again.reused) == (applied.version, base.version, 2, True)

    # A later correction: base + every correction, not stacked on the previous feedback version.
    served(log, "r-late", "My password reset link never arrives in my inbox")
    record_feedback(log, task, "r-late", "login", "ana")
    later = apply_feedback(task, log, workspace=ws)
    assert later.base == base.version and later.added == 3 and later.version not in (applied.version,)
    assert len(load_dataset(ws, task.name).train) == len(base.train) + 3
    log.close()


def test_an_extract_correction_must_satisfy_the_schema(tmp_path: Path) -> None:
    folder = tmp_path / "task"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "train.jsonl").write_text(
        json.dumps({"text": "order A-17 is late", "fields": {"order_id": "A-17"}}) + "\n"
    )
    schema = {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
        "additionalProperties": False,
    }
    (folder / "task.yaml").write_text(
        "name: orders\nkind: extract\ninputs: [text]\n"
        f"output:\n  field: fields\n  schema: {json.dumps(schema)}\ndata:\n  train: data/train.jsonl\n"
    )
    task = load_task(folder)
    log = RequestLog.for_workspace(tmp_path / "ws")
    served(log, "r1", "where is order B-2?", task="orders", output={"order_id": "B-3"})
    log.flush()
    with pytest.raises(ConfigError, match="violates the JSON schema at order_id"):
        record_feedback(log, task, "r1", {"order_id": 2}, "ana")
    with pytest.raises(ConfigError, match="must be a JSON object, not str"):
        record_feedback(log, task, "r1", "B-2", "ana")
    with pytest.raises(ConfigError, match="must be a JSON object for an extract task"):
        parse_output(task, "{order_id: B-2}")
    stored = record_feedback(log, task, "r1", parse_output(task, '{"order_id": "B-2"}'), "ana")
    assert stored["output"] == {"order_id": "B-2"}
    assert log.feedback("orders")[0]["output"] == {"order_id": "B-2"}
    log.close()


def test_cli_add_list_apply(tmp_path: Path) -> None:
    task = make_task(tmp_path / "task")
    ws = tmp_path / "ws"
    check_data(task, workspace=ws)
    base = load_dataset(ws, task.name)
    log = RequestLog.for_workspace(ws)
    served(log, "3f2a9c01b7e4d6a8", "I was charged twice for one order last week", output="shipping")
    log.close()
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["feedback", *args, "--workspace", str(ws)], env={"COLUMNS": "250"})

    no_log = runner.invoke(
        app, ["feedback", "list", str(task.dir), "--workspace", str(tmp_path / "elsewhere")]
    )
    assert no_log.exit_code != 0 and "no request log at" in no_log.exception.message
    assert not (tmp_path / "elsewhere" / "serving").exists()  # looking did not create an empty log
    bad = run("add", str(task.dir), "3f2a9c01b7e4d6a8", "--output", "refund", "--reviewer", "ana")
    assert bad.exit_code != 0 and isinstance(bad.exception, ConfigError)
    assert "'refund' is not in the task's label set" in bad.exception.message
    assert "billing, shipping, login" in bad.exception.hint
    unknown = run("add", str(task.dir), "nope", "--output", "billing", "--reviewer", "ana")
    assert unknown.exit_code != 0 and "no request 'nope'" in unknown.exception.message

    added = run(
        "add",
        str(task.dir),
        "3f2a9c01b7e4d6a8",
        "--output",
        "billing",
        "--reviewer",
        "ana",
        "--note",
        "twice",
    )
    assert added.exit_code == 0, added.output
    assert "Recorded a correction of request 3f2a9c01b7e4d6a8 (tickets): billing" in added.output
    listed = run("list", str(task.dir))
    assert listed.exit_code == 0, listed.output
    assert "3f2a9c01b7e4d6a8" in listed.output and "ana" in listed.output and "twice" in listed.output
    assert [r["output"] for r in json.loads(run("list", str(task.dir), "--json").output)] == ["billing"]

    applied = run("apply", str(task.dir))
    assert applied.exit_code == 0, applied.output
    version = load_dataset(ws, task.name).version
    assert version != base.version
    assert f"Dataset {version} (written, now current): 1 added to train, 0 skipped" in applied.output
    again = json.loads(run("apply", str(task.dir), "--json").output)
    assert again["version"] == version and again["reused"] is True and again["added"] == 1


def test_cli_errors_exit_non_zero_with_a_message(tmp_path: Path) -> None:
    """Through ``main()`` in a fresh process, as a user sees it: exit code 2, no traceback."""
    task = make_task(tmp_path / "task")
    RequestLog.for_workspace(tmp_path / "ws").close()
    result = subprocess.run(
        [
            *(sys.executable, "-m", "steerlab.cli", "feedback", "add", str(task.dir), "r-unknown"),
            *("--output", "billing", "--reviewer", "ana", "--workspace", str(tmp_path / "ws")),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    assert result.returncode == 2
    assert "Error: no request 'r-unknown' in the request log" in result.stderr
    assert "Traceback" not in result.stderr
