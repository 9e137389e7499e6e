"""The confidence threshold for fallback and escalation: its maths on hand-made answers, the
confidence of generated answers, calibration over real dev and test predictions, and the
threshold a release pins and the server applies."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from steerlab.candidate import Candidate, FewShot
from steerlab.cli import app
from steerlab.data.check import check_data
from steerlab.data.dataset import load_dataset
from steerlab.evaluation.calibration import (
    Scored,
    calibrate,
    choose_threshold,
    operating_point,
    scored_answers,
    thresholds,
)
from steerlab.evaluation.evaluate import evaluate, held_out
from steerlab.evaluation.results import EvalResults
from steerlab.evaluation.runner import run_candidates
from steerlab.models.base import GenerationParams
from steerlab.models.constrained import compile_json_schema
from steerlab.models.local import TransformersModel
from steerlab.release import create_release, load_release, promote
from steerlab.task import load_task
from test_constrained import SCHEMA, TICKETS, ticket_prompt
from test_runner import make_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Nine valid answers (confidence, right?) and one invalid one, which is always escalated.
DEV = [
    *(Scored(c, s, True) for c, s in [(0.95, 1), (0.9, 1), (0.85, 1), (0.8, 0), (0.7, 1)]),
    *(Scored(c, s, True) for c, s in [(0.6, 1), (0.5, 0), (0.4, 0), (0.3, 1)]),
    Scored(0.99, 1, False),
]
TEST = [
    *(Scored(c, s, True) for c, s in [(0.97, 1), (0.75, 0), (0.65, 1), (0.62, 1), (0.55, 1)]),
    *(Scored(c, s, True) for c, s in [(0.45, 0), (0.35, 1), (0.2, 0)]),
    Scored(None, 1, True),  # no confidence: served at any threshold, as the server does
    Scored(None, 0, False),
]


# -- the maths on hand-made answers ------------------------------------------------------------


def test_thresholds_are_the_distinct_valid_confidences_and_zero() -> None:
    # 0.3 accepts exactly what 0 accepts; the invalid answer's 0.99 changes nothing.
    assert thresholds(DEV) == [0.0, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95]
    assert thresholds([Scored(0.0, 1, True), Scored(0.5, 0, True)]) == [0.0, 0.5]
    assert thresholds([Scored(None, 1, True)]) == [0.0]


@pytest.mark.parametrize(
    ("threshold", "accepted", "quality", "escalation", "net"),
    [
        (0.0, 9, 6 / 9, 0.1, 0.3),
        (0.4, 8, 5 / 8, 0.2, 0.2),
        (0.6, 6, 5 / 6, 0.4, 0.4),
        (0.65, 5, 4 / 5, 0.5, 0.3),  # between two confidences: the same as the next one up
        (0.85, 3, 1.0, 0.7, 0.3),
        (1.0, 0, None, 1.0, 0.0),
    ],
)
def test_operating_points(threshold: float, accepted: int, quality, escalation: float, net: float) -> None:
    point = operating_point(DEV, threshold)
    assert (point.n, point.accepted) == (10, accepted)
    assert point.quality == (None if quality is None else pytest.approx(quality))
    assert point.escalation_rate == pytest.approx(escalation)
    assert point.net == pytest.approx(net)


def test_answers_without_a_confidence_are_always_served() -> None:
    point = operating_point(TEST, 0.99)
    assert (point.accepted, point.quality) == (1, 1.0) and point.escalation_rate == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("target", "max_escalation", "min_accepted", "threshold", "rule"),
    [
        (0.8, 0.5, 3, 0.6, "target"),  # 0.6 serves 5 of 6 right; 0.5 serves 5 of 7
        (0.95, 1.0, 3, 0.85, "target"),  # the lowest at 100%, with 3 answers served
        (0.95, 1.0, 4, 0.6, "net"),  # 3 answers are too few: most right minus wrong instead
        (0.9, 0.5, 3, 0.6, "net"),  # unreachable within the cap: net 0.4 at 0.6
        (0.8, 0.3, 3, 0.0, "net"),  # cap 30%: nets 0.3, 0.2, 0.3 at 0, 0.4, 0.5: the lower tie
        (None, 0.5, 3, 0.6, "net"),  # no target
    ],
)
def test_the_rule_picks_the_exact_threshold(
    target: float | None, max_escalation: float, min_accepted: int, threshold: float, rule: str
) -> None:
    point, picked = choose_threshold(DEV, target, max_escalation=max_escalation, min_accepted=min_accepted)
    assert (point.threshold, picked) == (threshold, rule)


def test_too_many_invalid_answers_leave_only_them_escalated() -> None:
    answers = [Scored(0.9, 1, True), Scored(0.2, 0, True), *[Scored(None, 0, False)] * 2]
    point, rule = choose_threshold(answers, 0.9, max_escalation=0.3, min_accepted=1)
    assert (point.threshold, rule, point.escalation_rate) == (0.0, "net", 0.5)
    fitted = calibrate(answers, answers, metric="accuracy", target=0.9, min_accepted=1)
    assert "invalid answers alone exceed that escalation" in fitted.reason


def test_calibrate_fits_on_dev_and_measures_the_same_threshold_on_test() -> None:
    fitted = calibrate(DEV, TEST, metric="accuracy", target=0.8, max_escalation=0.5, min_accepted=3)
    assert (fitted.threshold, fitted.rule) == (0.6, "target")
    assert "lowest threshold at which accepted answers reach the accuracy target of 80%" in fitted.reason
    dev, test = fitted.dev, fitted.test
    assert (dev["accepted"], dev["quality"], dev["escalation_rate"]) == (6, pytest.approx(5 / 6), 0.4)
    assert dev["low"] <= dev["quality"] <= dev["high"] and dev["high"] == 1.0
    # On test, 0.6 serves 0.97, 0.75, 0.65, 0.62 and the answer without a confidence: 4 of 5 right.
    assert (test["threshold"], test["accepted"], test["quality"]) == (0.6, 5, pytest.approx(0.8))
    assert test["escalation_rate"] == pytest.approx(0.5)
    assert test["low"] <= 0.8 <= test["high"]
    # The table: accept-all, the thresholds first escalating 10/20/30/50% on dev, and the chosen one.
    assert [(r["threshold"], r["chosen"]) for r in fitted.table] == [
        (0.0, False),
        (0.4, False),
        (0.5, False),
        (0.6, True),
        (0.7, False),
    ]
    assert fitted.table[0]["test_quality"] == pytest.approx(6 / 9)
    assert fitted.table[0]["test_escalation"] == pytest.approx(0.1)
    assert [row["threshold"] for row in fitted.curve] == thresholds(DEV)
    again = calibrate(DEV, TEST, metric="accuracy", target=0.8, max_escalation=0.5, min_accepted=3)
    assert again == fitted  # the bootstrap is seeded


def test_no_confidence_or_no_dev_means_no_threshold() -> None:
    unscored = [Scored(None, 1, True), Scored(None, 0, True)]
    assert calibrate(unscored, TEST, metric="accuracy", target=0.8).rule == "no_confidence"
    empty = calibrate([], TEST, metric="accuracy", target=0.8)
    assert (empty.rule, empty.threshold, empty.test) == ("no_dev", None, None)


# -- the confidence of a generated answer ------------------------------------------------------


def test_generation_confidence_is_the_geometric_mean_of_the_unforced_token_probabilities(
    tiny_chat: TransformersModel,
) -> None:
    """Recomputed independently, one prompt at a time, from the scores ``generate`` returns."""
    prompts = [ticket_prompt(ticket) for ticket in TICKETS[:3]]  # different lengths: left padding
    params = GenerationParams(max_new_tokens=48, json_schema=SCHEMA)
    batched = tiny_chat.generate(prompts, params)
    constraint = compile_json_schema(tiny_chat.tokenizer, SCHEMA, eos_token_ids=tiny_chat._eos_ids)
    for prompt, generation in zip(prompts, batched, strict=True):
        ids = torch.tensor([tiny_chat.encode(prompt)])
        out = tiny_chat.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=48,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=tiny_chat.tokenizer.pad_token_id,
            eos_token_id=tiny_chat._eos_ids,
            logits_processor=constraint.logits_processors(),
            output_scores=True,
            return_dict_in_generate=True,
        )
        chosen = []
        for step, scores in enumerate(out.scores[: generation.output_tokens]):
            token = int(out.sequences[0, ids.shape[1] + step])
            if int(torch.isfinite(scores[0]).sum()) > 1:  # more than one token was allowed
                chosen.append(float(torch.log_softmax(scores[0].float(), dim=-1)[token]))
        assert chosen, "a JSON document with enum values always leaves some choice"
        assert generation.confidence == pytest.approx(math.exp(sum(chosen) / len(chosen)), rel=1e-4)
        assert 0 < generation.confidence < 1
    free = tiny_chat.generate(prompts[:2], GenerationParams(max_new_tokens=8))
    assert all(0 < g.confidence < 1 for g in free)


# -- calibration over real predictions, releases and serving ------------------------------------


def measured_candidates(results: EvalResults) -> list[Candidate]:
    return [Candidate.model_validate(c.recipe) for c in results.candidates]


def test_evaluate_calibrates_on_dev_without_touching_the_test_numbers(space) -> None:
    task, ws = space
    saved = EvalResults.load(next((ws / "runs").glob("*.json")))
    candidates = measured_candidates(saved)
    results = evaluate(task, candidates, workspace=ws, limit=6, calibrate=["zero", "tuned"])
    # The same test numbers as without calibration: dev predictions never enter them.
    assert [(c.name, c.fingerprint, c.metrics) for c in results.candidates] == [
        (c.name, c.fingerprint, c.metrics) for c in saved.candidates
    ]
    assert set(results.calibration) == {"zero", "tuned"}
    newest = EvalResults.load(sorted((ws / "runs").glob("*.json"))[-1])
    assert newest.calibration == json.loads(json.dumps(results.calibration))
    # The test side is exactly what the threshold does to the cached test predictions.
    dataset = load_dataset(ws, task.name, saved.dataset_version)
    test, dev = held_out(dataset, "test", limit=6), held_out(dataset, "dev", limit=6)
    assert dev and not {ex.id for ex in dev} & {ex.id for ex in test}
    zero = next(c for c in candidates if c.name == "zero")
    (run,) = run_candidates(task, [zero], test, pool=dataset.train, workspace=ws)
    assert run.computed == 0  # read back from the cache, as calibration did
    metric, answers = scored_answers(task, test, run)
    fitted = results.calibration["zero"]
    assert metric == fitted["metric"] == "accuracy"
    expected = operating_point(answers, fitted["threshold"])
    assert (fitted["test"]["accepted"], fitted["test"]["escalation_rate"]) == (
        expected.accepted,
        pytest.approx(expected.escalation_rate),
    )
    assert fitted["dev"]["n"] == len(dev) and fitted["test"]["n"] == len(test) == results.n
    assert all(a.confidence is not None and 0 < a.confidence <= 1 for a in answers)  # label scoring


@pytest.fixture(scope="module")
def larger(tmp_path_factory: pytest.TempPathFactory, tiny_chat_dir: Path):
    """A task with a dev split of 15 (the release fixture's has 3, too few for any threshold
    but 0 within the escalation cap), measured once without calibration."""
    root = tmp_path_factory.mktemp("calibrated")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STEERLAB_HOME", str(root / "home"))
        task = load_task(make_task(root / "task", rows=150))
        check_data(task, workspace=root / "ws")
        candidates = [
            Candidate(name="zero", model=str(tiny_chat_dir)),
            Candidate(name="two-shot", model=str(tiny_chat_dir), few_shot=FewShot(strategy="fixed", k=2)),
        ]
        evaluate(task, candidates, workspace=root / "ws", limit=20)
    return task, root / "ws", candidates


def test_a_release_pins_the_threshold_and_the_server_applies_it(larger) -> None:
    task, ws, candidates = larger
    old_file = next((ws / "runs").glob("*.json"))
    uncalibrated, _ = create_release(ws, task, "zero", results_file=old_file)
    assert uncalibrated.threshold is None and "calibration" not in uncalibrated.evaluation

    results = evaluate(task, candidates, workspace=ws, limit=20, calibrate=True)
    release, new = create_release(ws, task, "zero")  # the newest results: the calibrated ones
    assert new and release.id != uncalibrated.id
    fitted = results.calibration["zero"]
    assert fitted["dev"]["n"] == 15 and set(results.calibration) == {"zero", "two-shot"}
    assert release.threshold == fitted["threshold"] and release.threshold > 0
    pinned = release.evaluation["calibration"]
    assert pinned["rule"] == fitted["rule"] and pinned["test"] == fitted["test"]
    assert load_release(ws, release.id).threshold == release.threshold  # part of the hashed record

    shown = CliRunner().invoke(
        app, ["release", "show", str(task.dir), release.id, "--workspace", str(ws)], env={"COLUMNS": "250"}
    )
    assert shown.exit_code == 0, shown.output
    assert "threshold" in shown.output and f"{release.threshold:.4g}" in shown.output
    assert "escalated" in shown.output

    from steerlab.serving.service import ServiceSettings, TaskService

    promote(ws, task, release.id)
    dataset = load_dataset(ws, task.name, results.dataset_version)
    inputs = [example.inputs for example in dataset.dev]  # the threshold escalates some of these

    async def answers(settings: ServiceSettings) -> list:
        service = TaskService(task, ws, settings)
        await service.refresh(force=True)
        try:
            return [await service.predict(dict(one)) for one in inputs]
        finally:
            await service.close()

    unthresholded = asyncio.run(answers(ServiceSettings(poll_s=0, threshold=0)))
    assert all(a.route == "primary" for a in unthresholded)
    default = asyncio.run(answers(ServiceSettings(poll_s=0)))  # --threshold not given
    routes = []
    for plain, answer in zip(unthresholded, default, strict=True):
        below = plain.confidence < release.threshold
        assert answer.route == ("escalated" if below else "primary"), (plain.confidence, release.threshold)
        if below:
            assert f"below {release.threshold:.2f}" in answer.reason
        routes.append(answer.route)
    assert "escalated" in routes and "primary" in routes
