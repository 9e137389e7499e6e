"""Drift monitoring over a real release: the tiny model answers, the real MiniLM embeds, the
request log holds real rows, and the statistics are the real ones.

The task's tickets come from a generator (templates with slots); "the same distribution" is
fresh draws from it with another seed, and "another domain" is recipe and weather questions.
"""

from __future__ import annotations

import json
import random
import shutil
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import fisher_exact
from typer.testing import CliRunner

from steerlab.cli import app
from steerlab.errors import ConfigError
from steerlab.release import load_release
from steerlab.serving.drift import DRIFT_EXIT_CODE, check_drift
from steerlab.serving.reference import profile_path, reference_profile
from steerlab.serving.requestlog import LogEntry, RequestLog
from steerlab.serving.twosample import category_test, mean_test, mmd_test, rate_test

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LABELS = ("billing", "shipping", "login")
TICKETS = {
    "billing": [
        "I was charged {times} for my {plan} subscription this {period}",
        "my invoice {number} shows the wrong amount, please refund the difference",
        "why did my card get billed again for order {number}?",
        "the {plan} plan price went up without notice, I want a refund",
        "please send invoice {number} to {name}@example.com, not to my old address",
    ],
    "shipping": [
        "my parcel {number} has not arrived after {days} days",
        "the courier left the box at the wrong address on {day}",
        "tracking for order {number} has not moved since {day}",
        "the package arrived damaged, the {item} inside is broken",
    ],
    "login": [
        "I cannot sign in, the password reset email never comes",
        "my account is locked after {times} wrong passwords",
        "two-factor code is rejected every time I log in on {day}",
        "the app logs me out every {days} minutes and I cannot get back in",
    ],
}
SLOTS = {
    "times": ["twice", "three times", "again"],
    "plan": ["basic", "premium", "family", "business"],
    "period": ["month", "week", "year"],
    "number": [str(n) for n in range(1000, 1100)],
    "days": [str(n) for n in range(2, 15)],
    "day": ["Monday", "Tuesday", "Friday", "Sunday"],
    "item": ["lamp", "mug", "phone case", "book"],
    "name": ["ana", "li.wei", "sam.okafor", "marta"],
}
OPENINGS = ["", "hi, ", "hello, ", "urgent: ", "good morning, ", "sorry to bother you, "]
CLOSINGS = ["", " thanks", " please help", " - regards", ". Any update?", " :("]
"""Around every ticket, so tickets repeat about as rarely as real ones do."""
OTHER_DOMAIN = [
    "what is a good recipe for {dish} with {ingredient}?",
    "how long should I bake {dish} at {number} degrees?",
    "will it rain in {city} on {day}?",
    "what is the weather forecast for {city} this weekend?",
]
OTHER_SLOTS = {
    "dish": ["lasagne", "banana bread", "roast chicken", "apple pie"],
    "ingredient": ["spinach", "goat cheese", "mushrooms", "lentils"],
    "number": ["180", "200", "220"],
    "city": ["Lisbon", "Oslo", "Nairobi", "Lima"],
    "day": ["Monday", "Saturday"],
}


def fill(template: str, slots: dict[str, list[str]], rng: random.Random) -> str:
    return template.format(**{name: rng.choice(values) for name, values in slots.items()})


def tickets(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        label = rng.choice(LABELS)
        body = fill(rng.choice(TICKETS[label]), SLOTS, rng)
        out.append((rng.choice(OPENINGS) + body + rng.choice(CLOSINGS), label))
    return out


def other_domain(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [fill(rng.choice(OTHER_DOMAIN), OTHER_SLOTS, rng) for _ in range(n)]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, tiny_chat_dir: Path):
    """A ticket task evaluated with one zero-shot candidate on the tiny model, released and
    promoted; its predictor, to answer live requests exactly as the server would; and the
    redaction the server applies to the inputs it logs."""
    from steerlab.candidate import Candidate
    from steerlab.data.check import check_data
    from steerlab.data.dataset import load_dataset
    from steerlab.evaluation.evaluate import evaluate
    from steerlab.evaluation.predictor import CandidatePredictor
    from steerlab.release import create_release, promote
    from steerlab.serving.guardrails import Guardrails
    from steerlab.task import load_task

    root = tmp_path_factory.mktemp("drift")
    folder = root / "task"
    (folder / "data").mkdir(parents=True)
    rows = [json.dumps({"text": text, "label": label}) for text, label in tickets(160, seed=0)]
    (folder / "data" / "train.jsonl").write_text("\n".join(rows) + "\n")
    (folder / "task.yaml").write_text(
        "name: tickets\nkind: classify\ndescription: support tickets\ninputs: [text]\n"
        "output:\n  field: label\n  labels: [billing, shipping, login]\n"
        "data:\n  train: data/train.jsonl\nsplit:\n  test_fraction: 0.4\n  dev_fraction: 0.1\n"
        "cleaning:\n  pii_kinds: []\n"
    )
    workspace = root / "ws"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STEERLAB_HOME", str(root / "home"))
        task = load_task(folder)
        check_data(task, workspace=workspace)
        evaluate(task, [Candidate(name="zero", model=str(tiny_chat_dir))], workspace=workspace)
        release, _ = create_release(workspace, task, "zero")
        promote(workspace, task, release.id)
        dataset = load_dataset(workspace, task.name)
        predictor = CandidatePredictor(
            task, release.candidate(), pool=dataset.train, workspace=workspace, template=release.template()
        )
        as_logged = Guardrails(task).for_log  # what the server writes to the log
        yield task, workspace, release, predictor, as_logged
        predictor.close()


def answered(served, texts: list[str], start: float) -> list[LogEntry]:
    """Log rows for ``texts`` as the server writes them, answered by the release's predictor."""
    from steerlab.data.example import Example

    task, _, release, predictor, as_logged = served
    rows = []
    predictions = predictor.predict([Example({"text": t}, None) for t in texts])
    for i, (text, p) in enumerate(zip(texts, predictions, strict=True)):
        ok = p.valid and p.output is not None
        rows.append(
            LogEntry(
                request_id=uuid.UUID(int=i + int(start)).hex[:16],
                task=task.name,
                status=200,
                release=release.id,
                route="primary" if ok else "escalated",
                latency_s=p.latency_s,
                input_tokens=p.input_tokens,
                output_tokens=p.output_tokens,
                confidence=p.confidence if ok else None,
                inputs=as_logged({"text": text}),
                output=p.output if ok else None,
                reason=None if ok else "output does not satisfy the contract",
                ts=start + i,
            )
        )
    return rows


def logged(served, text: str, ts: float, route: str = "primary", **fields) -> LogEntry:
    """A row as the server writes it, with a chosen answer (a release gone wrong, a backend down)."""
    task, _, release, _, as_logged = served
    fields = {"confidence": 0.9, "output": "billing", **fields}
    inputs = as_logged({"text": text})
    return LogEntry(uuid.uuid4().hex[:16], task.name, 200, release.id, route, inputs=inputs, ts=ts, **fields)


def write(path: Path, entries: list[LogEntry]) -> str:
    log = RequestLog(path)
    for entry in entries:
        log.write(entry)
    log.flush()
    log.close()
    return str(path)


@pytest.fixture(scope="module")
def logs(served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Request logs of 200 answered requests each (timestamps after the promotion)."""
    folder = tmp_path_factory.mktemp("logs")
    now = time.time() + 1
    same = [text for text, _ in tickets(200, seed=1)]
    other = other_domain(200, seed=2)
    return {
        "same": write(folder / "same.sqlite", answered(served, same, now)),
        "other": write(folder / "other.sqlite", answered(served, other, now)),
    }


def status_for(served, log_path: str, **options):
    task, workspace, _, _, _ = served
    log = RequestLog(log_path)
    try:
        return check_drift(task, workspace, log, **{"window": 200, **options})
    finally:
        log.close()


def signals(window) -> dict:
    return {s.name: s for s in window.signals}


def test_traffic_like_the_evaluation_data_is_ok(served, logs) -> None:
    _, workspace, release, _, _ = served
    status = status_for(served, logs["same"])
    found = signals(status.current)
    assert status.verdict == "ok", status.to_dict()
    assert status.exit_code == 0 and status.n == 200
    assert status.recommendation.startswith("ok")
    assert set(found) == {"input", "labels", "confidence", "escalation", "fallback"}
    assert found["input"].verdict == "ok" and found["input"].p_value >= 0.05
    assert found["input"].values["novel_share"] < 0.10
    assert found["labels"].verdict == "ok" and found["confidence"].verdict == "ok"
    assert status.reference["source"] == "predictions" and status.reference["split"] == "test"
    assert profile_path(workspace, release.id).is_file()  # cached beside the releases
    assert status.novel_inputs == ()
    logged = [row["inputs"]["text"] for row in RequestLog(logs["same"]).recent()]
    assert any("<EMAIL>" in text for text in logged)  # redacted, as the reference inputs are


def test_requests_from_another_domain_are_input_drift(served, logs) -> None:
    status = status_for(served, logs["other"])
    found = signals(status.current)
    assert found["input"].verdict == "drift"
    assert found["input"].p_value < 0.01 and found["input"].values["novel_share"] > 0.5
    assert status.verdict == "drift" and status.exit_code == DRIFT_EXIT_CODE
    assert status.recommendation.startswith("input drift")
    assert "steerlab eval" in status.recommendation and "steerlab decide" in status.recommendation
    assert len(status.novel_inputs) == 3
    assert all(not any(word in t for word in ("charged", "parcel", "password")) for t in status.novel_inputs)


def test_skewed_labels_are_output_drift(served, tmp_path: Path) -> None:
    task, workspace, release, _, _ = served
    reference = reference_profile(workspace, task, release).categories(None)["labels"]
    rare = min(LABELS, key=lambda label: (reference.get(label, 0), label))
    texts = [text for text, _ in tickets(120, seed=3)]
    rows = [logged(served, t, time.time() + i, output=rare) for i, t in enumerate(texts)]
    status = status_for(served, write(tmp_path / "log.sqlite", rows), window=120)
    labels = signals(status.current)["labels"]
    assert labels.verdict == "drift" and labels.p_value < 0.01 and labels.values["psi"] > 0.25
    assert labels.values["window"][rare] == 1.0
    assert signals(status.current)["input"].verdict == "ok"
    assert status.verdict == "drift" and status.recommendation.startswith("output drift (labels")


def test_a_rise_in_escalations_shows_against_the_reference_and_the_trend(served, tmp_path: Path) -> None:
    start = time.time() + 1
    texts = [text for text, _ in tickets(300, seed=4)]
    rows = answered(served, texts[:150], start)
    for i, text in enumerate(texts[150:]):  # the second window: 40% escalated
        ts = start + 150 + i
        if i % 5 < 2:
            reason = "backend error: ConnectionError"
            rows.append(logged(served, text, ts, "escalated", output=None, confidence=None, reason=reason))
        else:
            rows.append(logged(served, text, ts))
    status = status_for(served, write(tmp_path / "log.sqlite", rows), window=150)
    assert [w.n for w in status.trend] == [150, 150]
    before, now = (signals(w)["escalation"] for w in status.trend)
    assert before.verdict == "ok" and before.values["rate"] == 0.0
    assert now.verdict == "drift" and now.values["rate"] == pytest.approx(0.4)
    assert set(now.values["tests"]) == {"reference", "previous window"}
    assert "backend error: ConnectionError (60)" in now.action
    assert status.verdict == "drift" and "escalation" in status.recommendation


def test_hours_keep_only_the_recent_requests(served, tmp_path: Path) -> None:
    start = time.time() + 1
    texts = [text for text, _ in tickets(200, seed=6)]
    rows = [logged(served, t, start + 60 * i) for i, t in enumerate(texts)]  # over 200 minutes
    path = write(tmp_path / "log.sqlite", rows)
    status = status_for(served, path, hours=1, now=start + 60 * 199 + 30)
    assert status.n == 60 and [w.n for w in status.trend] == [60]  # the last hour's requests
    assert status.current.start == start + 60 * 140


def test_too_little_traffic_gives_no_verdict(served, tmp_path: Path) -> None:
    texts = [text for text, _ in tickets(12, seed=5)]
    path = write(tmp_path / "log.sqlite", answered(served, texts, time.time() + 1))
    status = status_for(served, path)
    assert status.verdict == "insufficient" and status.exit_code == 0 and status.trend == ()
    assert status.recommendation == "not enough traffic: n = 12 < 50 answered requests"


def test_the_cli_prints_the_verdict_and_exits_with_its_code(served, logs, tmp_path: Path) -> None:
    task, workspace, _, _, _ = served
    runner = CliRunner()

    def run(*args: str):
        base = ["monitor", str(task.dir), "--workspace", str(workspace), "--window", "200"]
        return runner.invoke(app, [*base, *args], env={"COLUMNS": "250"})

    ok = run("--log", logs["same"])
    assert ok.exit_code == 0, ok.output
    assert "input" in ok.output and "MMD²" in ok.output and "ok: the traffic still looks like" in ok.output
    drifted = run("--log", logs["other"])
    assert drifted.exit_code == DRIFT_EXIT_CODE == 4, drifted.output
    assert "input drift" in drifted.output and "steerlab decide" in drifted.output
    assert "inputs least like the evaluation data" in drifted.output
    as_json = run("--log", logs["other"], "--json")
    assert as_json.exit_code == 4
    payload = json.loads(as_json.output)
    assert payload["verdict"] == "drift" and payload["exit_code"] == 4
    assert payload["trend"][-1]["signals"][0]["name"] == "input"

    RequestLog(tmp_path / "empty.sqlite").close()
    empty = run("--log", str(tmp_path / "empty.sqlite"))
    assert isinstance(empty.exception, ConfigError) and "no answered requests" in empty.exception.message
    for where in ([], ["--log", str(tmp_path / "typo.sqlite")]):  # the default place is empty too
        missing = run(*where)
        assert isinstance(missing.exception, ConfigError) and "no request log at" in missing.exception.message
    assert not (tmp_path / "typo.sqlite").exists()
    helped = runner.invoke(app, ["monitor", "--help"], env={"COLUMNS": "250"})
    assert helped.exit_code == 0 and "Example" in helped.output and "4 when a signal" in helped.output


def test_a_task_without_an_active_release_is_a_clear_error(served, tmp_path: Path) -> None:
    task, workspace, _, _, _ = served
    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy, ignore=shutil.ignore_patterns("channels"))
    log = RequestLog(tmp_path / "log.sqlite")
    try:
        with pytest.raises(ConfigError, match="no active release") as error:
            check_drift(task, copy, log)
    finally:
        log.close()
    assert "--promote" in error.value.hint


def test_the_same_log_gives_the_same_status_and_the_cached_profile_is_the_built_one(served, logs) -> None:
    task, workspace, release, _, _ = served
    first = status_for(served, logs["other"]).to_dict()
    second = status_for(served, logs["other"]).to_dict()
    assert first == second
    cached = reference_profile(workspace, task, release)
    built = reference_profile(workspace, task, release, rebuild=True)
    np.testing.assert_array_equal(cached.embeddings, built.embeddings)
    assert cached.predictions == built.predictions and cached.novelty_cutoff == built.novelty_cutoff
    assert status_for(served, logs["other"]).to_dict() == first


def test_without_the_prediction_cache_the_saved_evaluation_gives_the_label_mix(served, tmp_path) -> None:
    task, workspace, release, _, _ = served
    from_cache = reference_profile(workspace, task, release)
    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    (copy / "predictions.sqlite").unlink()
    summary = reference_profile(copy, task, load_release(copy, release.id), rebuild=True)
    assert summary.source == "evaluation summary" and from_cache.source == "predictions"
    assert summary.categories(None) == from_cache.categories(None)  # the confusion's columns
    assert summary.failures(None) == from_cache.failures(None) and summary.confidences(None) == []
    np.testing.assert_array_equal(summary.embeddings, from_cache.embeddings)


def test_extract_answers_are_compared_per_enum_field(tmp_path: Path) -> None:
    from steerlab.serving.reference import output_categories
    from steerlab.task import load_task

    schema = {
        "type": "object",
        "properties": {"priority": {"enum": ["low", "high"]}, "count": {"enum": [1, 2]}, "note": {}},
    }
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").write_text('{"text": "x", "fields": {"priority": "low"}}\n')
    (tmp_path / "task.yaml").write_text(
        "name: orders\nkind: extract\ninputs: [text]\n"
        f"output:\n  field: fields\n  schema: {json.dumps(schema)}\ndata:\n  train: data/train.jsonl\n"
    )
    task = load_task(tmp_path)
    answer = {"priority": "high", "count": 2, "note": "call back"}
    assert output_categories(task, answer) == {"field priority": "high", "field count": "2"}
    assert output_categories(task, {"note": "x"}) == {"field priority": "(none)", "field count": "(none)"}


def test_the_two_sample_tests_agree_with_their_textbook_values() -> None:
    exact = fisher_exact([[30, 30], [25, 35]]).pvalue
    assert category_test({"a": 30, "b": 30}, {"a": 25, "b": 35}, permutations=20000).p_value == pytest.approx(
        exact, abs=0.015
    )
    assert rate_test(2, 40, 30, 100).p_value == pytest.approx(
        fisher_exact([[30, 70], [2, 38]], alternative="greater").pvalue
    )
    shifted = mean_test([0.9, 0.85, 0.8, 0.95] * 5, [0.6, 0.65, 0.7] * 30)
    assert shifted.difference == pytest.approx(0.65 - 0.875) and shifted.p_value < 0.001
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(60, 8)), rng.normal(size=(50, 8))
    null = [mmd_test(x, y, seed=s).p_value for s in range(2)]
    assert all(p > 0.05 for p in null) and mmd_test(x, y).p_value == mmd_test(x, y).p_value
    assert mmd_test(x, y + 0.8).p_value < 0.01
