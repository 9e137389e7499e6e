"""evaluate() and `steerlab eval` end to end on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from steerlab.cli import app
from steerlab.evaluation.evaluate import evaluate
from steerlab.models.local import TransformersModel
from test_runner import CANDIDATES, make_task


def test_evaluate_measures_every_candidate_the_same_way(tmp_path: Path, tiny_chat_dir: Path) -> None:
    folder = make_task(tmp_path / "task")
    yaml = folder / "task.yaml"
    yaml.write_text(yaml.read_text() + "prices:\n  hardware:\n    cpu-2core: {per_hour_usd: 0.10}\n")
    results = evaluate(
        folder,
        CANDIDATES,
        workspace=tmp_path / "ws",
        model_loader=lambda name: TransformersModel(tiny_chat_dir, name=name, dtype="float32"),
    )
    assert [c.name for c in results.candidates] == ["zero", "fixed", "random"]
    for candidate in results.candidates:
        accuracy = candidate.metrics["accuracy"]
        assert 0 <= accuracy.low <= accuracy.value <= accuracy.high <= 1
        assert candidate.n == results.n == 36
        assert candidate.validity_rate == 1.0
        assert candidate.ops["latency_p95_s"] >= candidate.ops["latency_p50_s"] > 0
        assert candidate.ops["cost_per_1k_usd"] > 0
        wrong = round((1 - accuracy.value) * candidate.n)
        assert sum(candidate.failures.values()) == wrong
        assert set(candidate.details["per_class"]) == {"billing", "shipping", "login"}
    assert results.comparisons and "p =" in results.comparisons[0]["summary"]
    assert results.minimum_detectable_difference > 0
    saved = list((tmp_path / "ws" / "runs").glob("*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["task"] == "runner"


def test_eval_command_prints_the_comparison(tmp_path: Path, tiny_chat_dir: Path) -> None:
    folder = make_task(tmp_path / "task")
    candidates = tmp_path / "candidates.yaml"
    candidates.write_text(
        f"- name: zero\n  model: {tiny_chat_dir}\n- name: two-shot\n  model: {tiny_chat_dir}\n"
        "  few_shot: {strategy: fixed, k: 2}\n"
    )
    result = CliRunner().invoke(
        app,
        [
            "eval",
            str(folder),
            "--candidates",
            str(candidates),
            "--workspace",
            str(tmp_path / "ws"),
            "--limit",
            "6",
        ],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    assert "zero" in result.output and "two-shot" in result.output
    assert "accuracy" in result.output and "paired test" in result.output


def test_constrained_decoding_is_always_valid_and_free_text_is_not(
    tmp_path: Path, tiny_chat_dir: Path
) -> None:
    """The extract must-show on the tiny model: same prompts, constrained vs free text + parse (+1 repair)."""
    from steerlab.candidate import Candidate, Decoding
    from steerlab.task_template import write_example_task

    write_example_task(tmp_path / "extract", "extract")
    candidates = [
        Candidate(
            name="constrained", model="tiny", constraint="json_schema", decoding=Decoding(max_new_tokens=96)
        ),
        Candidate(
            name="free-text", model="tiny", constraint="free_text", decoding=Decoding(max_new_tokens=96)
        ),
    ]
    results = evaluate(
        tmp_path / "extract",
        candidates,
        split="dev",
        workspace=tmp_path / "ws",
        model_loader=lambda name: TransformersModel(tiny_chat_dir, name=name, dtype="float32"),
    )
    validity = {c.name: c.validity_rate for c in results.candidates}
    print(f"\nschema validity: {validity}")
    assert validity["constrained"] == 1.0
    assert validity["free-text"] < 1.0
    assert results.candidates[0].metrics["schema_validity"].value == 1.0


def test_consistency_is_measured_for_sampling_and_declared_for_deterministic(
    tmp_path: Path, tiny_chat_dir: Path
) -> None:
    from steerlab.candidate import Candidate, Decoding

    folder = make_task(tmp_path / "task")
    candidates = [
        Candidate(name="scored", model="tiny"),  # label scoring: deterministic
        Candidate(
            name="sampled",
            model="tiny",
            constraint="free_text",
            decoding=Decoding(max_new_tokens=6, temperature=1.5, seed=3),
        ),
    ]
    results = evaluate(
        folder,
        candidates,
        limit=12,
        workspace=tmp_path / "ws",
        consistency_repeats=3,
        model_loader=lambda name: TransformersModel(tiny_chat_dir, name=name, dtype="float32"),
    )
    assert results.consistency["self:scored"]["deterministic"] is True
    sampled = results.consistency["self:sampled"]
    assert not sampled["deterministic"] and sampled["runs"] == 3
    assert 0 <= sampled["exact"] < 1  # random weights sampled hot: the runs disagree somewhere
    cross = results.consistency["cross_variant:tiny"]
    assert cross["candidates"] == ["scored", "sampled"] and 0 <= cross["exact"] <= 1
