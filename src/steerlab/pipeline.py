"""``steerlab run``: the whole measurement-first flow on one task, resumably.

data check → prompt candidates → a retrieval candidate when the task has a knowledge base →
LoRA tuning (and a learning curve at smaller training sets) → evaluation of every candidate on
the same held-out examples → decision → the recommended candidate's confidence threshold for
fallback and escalation, fitted on dev and measured on test → report.

Every stage is cached where it stores its result (dataset versions, index versions, training
run folders with checkpoints, the per-prediction cache), so running the same command after a
crash or a Ctrl-C redoes only what was not finished, and a second run of a finished task only
rebuilds the report.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steerlab.candidate import DEFAULT_MODEL, Candidate, Retrieval, default_candidates
from steerlab.task import Task

__all__ = ["DEFAULT_TUNE_MODEL", "DEFAULT_TUNE_TOKENS", "RunOutcome", "RunSettings", "run_task"]

DEFAULT_TUNE_MODEL = "gemma-3-270m"
"""The smallest embedded model: the "tuned small model against a prompted larger one" comparison."""

DEFAULT_TUNE_TOKENS = 120_000
"""Training tokens for all of ``steerlab run``'s tuning (the full split and the curve points
together): about 6.5 minutes for gemma-3-270m on 2 CPU cores (~310 tokens/s measured on
examples/ticket-triage). Runs whose default epochs fit stay
untouched; larger ones are capped in steps, each to the same share of its epochs, so the
learning curve compares like with like."""

MIN_CURVE_EXAMPLES = 20
"""A learning-curve point with fewer training examples than this says nothing useful."""

StageFn = Callable[[str, str], None]
"""``stage(name, message)``: a stage started (message "") or finished (message says how)."""


@dataclass(frozen=True)
class RunSettings:
    model: str = DEFAULT_MODEL
    """The model the prompt and retrieval candidates use."""
    tune_model: str | None = DEFAULT_TUNE_MODEL
    """The model LoRA-tuned on the train split; None skips tuning."""
    curve: tuple[float, ...] = (0.25, 0.5)
    """Fractions of the train split tuned on for the learning curve (the full split is always
    tuned); empty for no curve."""
    per_label: int | None = None
    limit: int | None = None
    batch_size: int = 8
    tune_overrides: dict[str, Any] = field(default_factory=dict)
    tune_tokens: int | None = DEFAULT_TUNE_TOKENS
    """Training tokens for all tuning runs together; None: each run trains its default epochs."""
    candidates: tuple[Candidate, ...] | None = None
    """Prompt/retrieval candidates to measure instead of the default set."""


@dataclass
class RunOutcome:
    results: Any
    decision: Any
    report_html: Path
    report_json: Path
    learning_curve: Any
    adapters: dict[str, str]


def baseline_candidates(task: Task, model: str) -> list[Candidate]:
    """The default prompt set, plus retrieval over the task's knowledge base when it has one.

    Fixed few-shot is left out: retrieved few-shot beat it in every measurement so far, and
    zero-shot and retrieved examples still give the decision two prompt variants to compare
    failures across. For tasks with long inputs and answers (everything but classification),
    4 retrieved examples instead of 8: on examples/ticket-triage, 8 shots made ~1.7k-token
    prompts and took 3.6 min of the run for 44.9% field F1; 4 took 2.3 min for 42.0%, inside
    its confidence interval.
    """
    from steerlab.candidate import FewShot

    k = 8 if task.kind == "classify" else 4
    chosen = [c for c in default_candidates(task, model) if c.few_shot.strategy == "none"]
    nearest = FewShot(strategy="nearest", k=k)
    chosen.append(Candidate(name=f"few-shot-nearest-{k}", model=model, few_shot=nearest))
    if task.data.knowledge_base is not None:
        chosen.append(Candidate(name="rag-k4", model=model, retrieval=Retrieval(index="default", k=4)))
    return chosen


def tuned_template(task: Task) -> str:
    """The template a tuned candidate uses: the compact one without the label list or schema (the
    adapter learns them, and the prompt is a fraction of the length)."""
    return {"classify": "classify-compact", "extract": "extract-compact"}.get(task.kind, "auto")


def run_task(
    task: Task,
    *,
    workspace: Path | None = None,
    settings: RunSettings | None = None,
    out: Path | None = None,
    stage: StageFn | None = None,
    eval_progress: Callable[[str, int, int], None] | None = None,
    tune_progress: Callable[[int, int, float, float, float], None] | None = None,
) -> RunOutcome:
    from steerlab.data.check import current_dataset, workspace_for
    from steerlab.decision import CurvePoint, LearningCurve, decide
    from steerlab.evaluation.evaluate import calibrate_results, evaluate, save_results
    from steerlab.report import build_report
    from steerlab.tuning.tune import tune

    settings = settings or RunSettings()
    say = stage or (lambda name, message: None)
    root = workspace_for(task, workspace)

    say("data", "")
    dataset = current_dataset(task, root)
    card_path = dataset.path / "card.json"
    card = json.loads(card_path.read_text()) if card_path.is_file() else None
    say(
        "data",
        f"dataset {dataset.version}: {len(dataset.train)} train, {len(dataset.dev)} dev, "
        f"{len(dataset.test)} test",
    )

    candidates = list(settings.candidates or baseline_candidates(task, settings.model))
    adapters: dict[str, str] = {}
    walls: dict[str, float] = {}
    curve_candidates: list[tuple[int, Candidate]] = []
    if settings.tune_model:
        base = Candidate(name="tuned", model=settings.tune_model, template=tuned_template(task))
        sizes = [n for n in curve_sizes(len(dataset.train), settings.curve) if n >= MIN_CURVE_EXAMPLES]
        runs = [*sizes, len(dataset.train)]
        for n in runs:
            full = n == len(dataset.train)
            say("tune", f"LoRA on {settings.tune_model}, {n} training examples")
            record = tune(
                task,
                candidate=base,
                workspace=root,
                overrides=dict(settings.tune_overrides),
                progress=tune_progress,
                train_limit=None if full else n,
                token_budget=None if settings.tune_tokens is None else settings.tune_tokens * n // sum(runs),
            )
            name = f"tuned-{_short(settings.tune_model)}" + ("" if full else f"-n{n}")
            tuned = base.model_copy(update={"name": name, "adapter": record.id})
            wall = float(record.lineage.get("wall_s") or 0.0)
            say("tune", f"{record.id}: {wall / 60:.1f} min, dev {record.lineage.get('dev_metrics')}")
            if full:
                candidates.append(tuned)
                adapters[name] = record.id
                walls[name] = wall
            else:
                curve_candidates.append((n, tuned))

    say("eval", "")
    results = evaluate(
        task,
        candidates,
        per_label=settings.per_label,
        limit=settings.limit,
        workspace=root,
        batch_size=settings.batch_size,
        progress=eval_progress,
        save=False,  # saved once calibrated, after the curve's results: the newest file is this one
    )
    say("eval", f"{len(candidates)} candidates on {results.n} {results.split} examples")

    curve = None
    if curve_candidates:
        say("curve", "")
        measured = evaluate(
            task,
            [c for _, c in curve_candidates],
            per_label=settings.per_label,
            limit=settings.limit,
            workspace=root,
            batch_size=settings.batch_size,
            progress=eval_progress,
        )
        by_name = {c.name: c for c in measured.candidates}
        points = []
        for n, candidate in curve_candidates:
            metric = by_name[candidate.name].metrics[measured.primary]
            points.append(CurvePoint(n, metric.value, metric.low, metric.high))
        full_name = next(iter(adapters), None)
        full = next((c for c in results.candidates if c.name == full_name), None)
        if full is not None:
            metric = full.metrics[results.primary]
            points.append(CurvePoint(len(dataset.train), metric.value, metric.low, metric.high))
        curve = LearningCurve.of(full_name or "tuned", results.primary, points)
        say("curve", " · ".join(f"{p.train_examples}: {p.quality:.1%}" for p in curve.points))

    say("decide", "")
    decision = decide(
        task, results, train_examples=len(dataset.train), training_wall_s=walls, learning_curve=curve
    )
    say("decide", decision.headline)

    say("calibrate", "")
    calibrated = decision.candidate or results.best().name
    fitted = calibrate_results(
        task,
        results,
        [c for c in candidates if c.name == calibrated],
        workspace=root,
        per_label=settings.per_label,
        limit=settings.limit,
        batch_size=settings.batch_size,
        progress=eval_progress,
    )[calibrated]
    save_results(results, root)
    say("calibrate", f"{calibrated}: {_threshold_summary(fitted)}")
    target = out or root / "reports" / f"{task.name}.html"
    html, data = build_report(task, results, decision, card=card, learning_curve=curve).write(target)
    say("report", str(html))
    return RunOutcome(results, decision, html, data, curve, adapters)


def _threshold_summary(calibration: dict[str, Any]) -> str:
    """``threshold 0.62; dev: 88.0% field_f1 served, 21% escalated; test: ...``."""
    if calibration["threshold"] is None:
        return f"no threshold ({calibration['reason']})"
    parts = [f"threshold {calibration['threshold']:.3g}"]
    for split in ("dev", "test"):
        point = calibration.get(split)
        if point and point["quality"] is not None:
            parts.append(
                f"{split}: {point['quality']:.1%} {calibration['metric']} served, "
                f"{point['escalation_rate']:.0%} escalated"
            )
    return "; ".join(parts)


def _short(model: str) -> str:
    name = Path(model).name if ("/" in model or "\\" in model) else model
    return name.replace(".", "").lower()[:24]


def curve_sizes(train: int, fractions: Sequence[float]) -> list[int]:
    """Training-set sizes for the learning curve's points below the full split."""
    return sorted({round(f * train) for f in fractions if 0 < f < 1} - {train})
