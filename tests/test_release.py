"""Releases over real saved results on the tiny model: pins, promote, rollback, integrity, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from steerlab.candidate import Candidate
from steerlab.cli import app
from steerlab.errors import ConfigError, IntegrityError
from steerlab.release import (
    active_release,
    active_state,
    create_release,
    list_releases,
    load_release,
    promote,
    rollback,
)
from steerlab.tuning.registry import model_hash

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_create_pins_every_version_and_is_idempotent(space, tiny_chat_dir: Path) -> None:
    task, ws = space
    results_file = next((ws / "runs").glob("*.json"))
    evaluated = json.loads(results_file.read_text())
    tuned_result = next(c for c in evaluated["candidates"] if c["name"] == "tuned")

    release, new = create_release(ws, task, "tuned", note="first tuned model")
    assert new and release.id.startswith("rel-") and len(release.id) == 16
    assert release.path == ws / "releases" / release.id
    assert {p.name for p in release.path.iterdir()} == {"release.json", "evaluation.json", "prompts"}
    pins = release.pins
    assert pins["model"] == {"name": str(tiny_chat_dir), "sha256": model_hash(tiny_chat_dir)}
    adapter_id = tuned_result["recipe"]["adapter"]
    lineage = json.loads((ws / "adapters" / adapter_id / "lineage.json").read_text())
    assert pins["adapter"] == {"id": adapter_id, "sha256": lineage["adapter_sha256"]}
    assert pins["template"]["name"] == "classify" and pins["template"]["version"].startswith("classify@")
    assert pins["index"] is None
    assert pins["dataset"] == {"version": evaluated["dataset_version"]}
    evaluation = release.evaluation
    assert evaluation["results"] == results_file.name and evaluation["split"] == "test"
    assert evaluation["n"] == tuned_result["n"] == 6
    assert evaluation["metrics"]["accuracy"] == tuned_result["metrics"]["accuracy"]
    assert (release.path / "evaluation.json").read_bytes() == results_file.read_bytes()
    assert release.fingerprint == tuned_result["fingerprint"] and release.note == "first tuned model"
    assert release.candidate() == Candidate.model_validate(tuned_result["recipe"])
    assert release.template().version == pins["template"]["version"]

    again, new_again = create_release(ws, task, "tuned", results_file=results_file, note="other words")
    assert not new_again and again.id == release.id and again.note == "first tuned model"
    assert [r.id for r in list_releases(ws, task.name)] == [release.id]
    changelog = (ws / "releases" / "CHANGELOG.md").read_text()
    assert changelog.count(f"created {release.id}") == 1 and "first tuned model" in changelog


def test_promote_rollback_and_the_generation(space) -> None:
    task, ws = space
    first, _ = create_release(ws, task, "zero", note="baseline")
    second, _ = create_release(ws, task, "tuned", note="tuned wins")
    assert first.id != second.id
    assert active_state(ws, task.name).generation == 0 and active_release(ws, task.name) is None

    state = promote(ws, task, first.id[:8], note="go live")  # a unique prefix is enough
    assert (state.active, state.generation, state.previous) == (first.id, 1, None)
    state = promote(ws, task, second.id)
    assert (state.active, state.generation, state.previous) == (second.id, 2, first.id)
    assert promote(ws, task, second.id).generation == 2  # already active: nothing changes
    assert active_release(ws, task.name).id == second.id

    state = rollback(ws, task, note="latency regression")
    assert (state.active, state.generation) == (first.id, 3)
    channel = json.loads((ws / "releases" / "channels" / "runner.json").read_text())
    assert channel["active"] == first.id and channel["generation"] == 3
    assert [(e["action"], e["id"], e["from"]) for e in channel["history"]] == [
        ("promote", first.id, None),
        ("promote", second.id, first.id),
        ("rollback", first.id, second.id),
    ]
    with pytest.raises(ConfigError, match=f"nothing to roll back to: {first.id}"):
        rollback(ws, task)
    assert active_state(ws, task.name).generation == 3
    changelog = (ws / "releases" / "CHANGELOG.md").read_text()
    newest = changelog.index(f"rolled back to {first.id} (generation 3)")
    assert (
        newest
        < changelog.index(f"promoted {second.id} (generation 2)")
        < changelog.index(f"promoted {first.id} (generation 1)")
    )
    assert "latency regression" in changelog and "tuned wins" in changelog


def test_unknown_candidate_and_no_release_to_roll_back(space) -> None:
    task, ws = space
    results_file = next((ws / "runs").glob("*.json"))
    with pytest.raises(ConfigError) as unknown:
        create_release(ws, task, "gpt-5")
    assert str(results_file) in unknown.value.message and "'gpt-5'" in unknown.value.message
    assert unknown.value.hint == "candidates evaluated there: zero, two-shot, tuned"
    with pytest.raises(ConfigError, match="no active release to roll back from"):
        rollback(ws, task)
    with pytest.raises(ConfigError, match="'rel-nope' is not a release"):
        load_release(ws, "rel-nope")


def test_tampered_adapter_template_or_record_cannot_go_live(space) -> None:
    task, ws = space
    tuned, _ = create_release(ws, task, "tuned")
    zero, _ = create_release(ws, task, "zero")
    weights = ws / "adapters" / tuned.pins["adapter"]["id"] / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(IntegrityError, match=f"release {tuned.id} cannot go live: adapter .* do not match"):
        promote(ws, task, tuned.id)
    assert active_state(ws, task.name).active is None
    with pytest.raises(IntegrityError, match="do not match"):
        create_release(ws, task, "tuned", note="retry")  # a new release cannot pin it either

    # The release's own template copy renders what goes live; an edit to it is caught.
    template = zero.template_path
    template.write_text(template.read_text().replace("careful assistant", "careless assistant"))
    with pytest.raises(IntegrityError, match=f"release {zero.id} no longer describes what was measured"):
        promote(ws, task, zero.id)
    record = zero.path / "release.json"
    data = json.loads(record.read_text())
    data["evaluation"]["metrics"]["accuracy"]["value"] = 0.99
    record.write_text(json.dumps(data))
    with pytest.raises(IntegrityError, match="was edited") as edited:
        load_release(ws, zero.id)
    assert edited.value.path == record


def test_cli_create_list_show_promote_rollback(space) -> None:
    task, ws = space
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["release", *args, "--workspace", str(ws)], env={"COLUMNS": "250"})

    created = run(
        "create", str(task.dir), "--candidate", "two-shot", "--note", "few-shot", "--promote", "--json"
    )
    assert created.exit_code == 0, created.output
    payload = json.loads(created.output)
    first = payload["release"]["id"]
    assert payload["new"] and payload["active"] == first and payload["generation"] == 1
    second = run("create", str(task.dir), "--candidate", "zero")
    assert second.exit_code == 0 and "Created rel-" in second.output and "accuracy" in second.output
    second_id = next(w for w in second.output.split() if w.startswith("rel-")).rstrip(":")

    listed = run("list", str(task.dir))
    assert listed.exit_code == 0 and first in listed.output and second_id in listed.output
    assert "active" in listed.output and "few-shot" in listed.output
    shown = run("show", str(task.dir), second_id[:9])
    assert shown.exit_code == 0 and "dataset" in shown.output and "classify@" in shown.output
    promoted = run("promote", str(task.dir), second_id, "--json")
    assert promoted.exit_code == 0
    expected = {"active": second_id, "generation": 2, "previous": first, "canary": None}
    assert json.loads(promoted.output) == expected
    rolled = run("rollback", str(task.dir), "--note", "regression")
    assert rolled.exit_code == 0 and f"active: {first}" in rolled.output
    listed = json.loads(run("list", str(task.dir), "--json").output)
    assert [r["id"] for r in listed["releases"]] == [first, second_id] and listed["generation"] == 3

    failed = run("rollback", str(task.dir))
    assert failed.exit_code != 0 and "nothing to roll back to" in failed.exception.message
    unknown = run("create", str(task.dir), "--candidate", "nope")
    assert isinstance(unknown.exception, ConfigError) and "runs" in unknown.exception.message
    assert "zero, two-shot, tuned" in unknown.exception.hint


def test_cli_main_prints_the_error_and_exits_non_zero(space, monkeypatch, capsys) -> None:
    from steerlab.cli import main

    task, ws = space
    monkeypatch.setattr(
        "sys.argv", ["steerlab", "release", "promote", str(task.dir), "rel-0", "--workspace", str(ws)]
    )
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "'rel-0' is not a release" in err and str(ws / "releases") in err.replace("\n", "")


def test_a_canary_splits_traffic_until_promoted_or_stopped(space) -> None:
    from steerlab.release import set_canary

    task, ws = space
    first = create_release(ws, task, "zero")[0].id
    second = create_release(ws, task, "two-shot")[0].id
    with pytest.raises(ConfigError, match="no active release"):
        set_canary(ws, task, second)
    promote(ws, task, first)
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        set_canary(ws, task, second, weight=1.0)
    with pytest.raises(ConfigError, match="active release already"):
        set_canary(ws, task, first)
    state = set_canary(ws, task, second, weight=0.25)
    assert state.active == first and state.canary == {"id": second, "weight": 0.25}
    assert active_state(ws, task.name).canary == {"id": second, "weight": 0.25}
    assert state.previous is None  # a canary is not a promotion: rollback has nothing to undo
    graduated = promote(ws, task, second)
    assert graduated.active == second and graduated.canary is None and graduated.previous == first
    set_canary(ws, task, first, weight=0.1)
    stopped = set_canary(ws, task, None)
    assert stopped.canary is None and stopped.active == second
    log = (ws / "releases" / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"canary {second} on 25% of traffic" in log and f"canary {first} stopped" in log
