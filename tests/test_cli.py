"""The CLI as a user runs it: real commands, real models (tiny ones), real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from steerlab.cli import app

runner = CliRunner()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Through ``main()`` in a fresh process, so exit codes and stderr are exactly a user's."""
    return subprocess.run(
        [sys.executable, "-m", "steerlab.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )


def test_models_list_json_shows_the_embedded_defaults() -> None:
    result = runner.invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert {"gemma-3-270m", "qwen2.5-coder-0.5b-instruct"} <= set(rows)
    assert rows["qwen2.5-coder-0.5b-instruct"]["chat_template"] is True
    assert rows["gemma-3-270m"]["source"] == "embedded"


def test_models_list_table_has_the_promised_columns() -> None:
    result = runner.invoke(app, ["models", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for column in ("name", "source", "parameters", "chat template", "cached", "size on disk"):
        assert column in result.output


def test_generate_prints_a_completion_as_json(tiny_chat_dir: Path) -> None:
    args = ["generate", "hello there", "-m", str(tiny_chat_dir), "--max-tokens", "5", "--dtype", "float32"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["output_tokens"] == 5 and payload["finish_reason"] == "length"
    assert payload["model"]["backend"] == "transformers"


def test_classify_ranks_every_label(tiny_chat_dir: Path) -> None:
    args = [
        "classify",
        "my card was charged twice",
        "-l",
        "billing, shipping ,login",
        "-m",
        str(tiny_chat_dir),
    ]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["ranked"][0][0] == payload["label"]
    assert {label for label, _ in payload["ranked"]} == {"billing", "shipping", "login"}
    assert 1 / 3 <= payload["confidence"] <= 1


def test_verbose_shows_the_device_and_dtype_choice(tiny_chat_dir: Path) -> None:
    result = run_cli("-v", "generate", "hi", "-m", str(tiny_chat_dir), "--max-tokens", "2")
    assert result.returncode == 0, result.stderr
    assert "on cpu in" in result.stderr or "on cuda in" in result.stderr
    assert "bf16" in result.stderr or "explicitly" in result.stderr


def test_unknown_model_exits_non_zero_with_a_hint() -> None:
    result = run_cli("generate", "hi", "-m", "no-such-model")
    assert result.returncode == 2
    assert "no model called 'no-such-model'" in result.stderr
    assert "Hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_classify_needs_two_labels(tiny_chat_dir: Path) -> None:
    result = run_cli("classify", "x", "-l", "only", "-m", str(tiny_chat_dir))
    assert result.returncode != 0
    assert "at least two" in result.stderr


def test_every_command_has_help_with_an_example() -> None:
    commands = (
        ["generate"],
        ["classify"],
        ["models", "pull"],
        ["models", "list"],
        ["init"],
        ["data", "check"],
        ["eval"],
        ["prompts", "list"],
        ["prompts", "show"],
        ["prompts", "diff"],
    )
    for command in commands:
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0
        assert "Example:" in result.output, command
