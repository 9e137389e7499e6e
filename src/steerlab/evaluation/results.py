"""From predictions to the numbers a decision needs: quality with CIs, tests, failures, cost.

Everything here is computed from cached predictions and the task's price table; nothing calls a
model. A results object serialises to JSON so the report and the decision engine read the same
numbers the terminal shows.

Cost model: a hosted model (named in ``prices.models``) costs its per-token prices times the
measured tokens; a local model costs its hardware's hourly price times the measured compute
seconds, amortised over the batch it ran in. Cost per successful outcome divides the cost of all
requests by the number answered correctly, because failed answers are paid for too.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from steerlab.data.example import Example
from steerlab.evaluation.prediction import Prediction
from steerlab.evaluation.runner import CandidateRun

if TYPE_CHECKING:
    from steerlab.task import Task

__all__ = ["CandidateResult", "EvalResults", "build_results", "failure_categories", "latest_results_file"]


@dataclass
class MetricValue:
    value: float
    low: float
    high: float

    def show(self, percent: bool = True) -> str:
        if percent:
            return f"{self.value:.1%} [{self.low:.1%}, {self.high:.1%}]"
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


@dataclass
class CandidateResult:
    name: str
    fingerprint: str
    recipe: dict[str, Any]
    n: int
    metrics: dict[str, MetricValue]
    validity_rate: float
    ops: dict[str, float | None]
    failures: dict[str, int]
    details: dict[str, Any] = field(default_factory=dict)  # per-class / confusion / field report


@dataclass
class EvalResults:
    task: str
    kind: str
    dataset_version: str
    split: str
    n: int
    primary: str
    candidates: list[CandidateResult]
    comparisons: list[dict[str, Any]]
    minimum_detectable_difference: float | None
    consistency: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    """Candidate name -> its confidence threshold fitted on dev and checked on this split
    (:class:`~steerlab.evaluation.calibration.Calibration` as a dict); only the candidates
    calibrated (``steerlab run`` calibrates the recommended one)."""

    def best(self) -> CandidateResult:
        return max(self.candidates, key=lambda c: c.metrics[self.primary].value)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_jsonable)

    def save(self, path: Path) -> Path:
        from steerlab.atomic import atomic_write_text

        atomic_write_text(path, self.to_json())
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalResults:
        """Results as :meth:`to_dict` (or a saved run file) holds them."""
        data = dict(data)
        data["candidates"] = [
            CandidateResult(
                **{
                    **c,
                    "metrics": {name: MetricValue(**value) for name, value in c["metrics"].items()},
                }
            )
            for c in data["candidates"]
        ]
        return cls(**data)

    @classmethod
    def load(cls, path: Path) -> EvalResults:
        from steerlab.errors import DataError

        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DataError(f"not a steerlab results file: {error}", path=Path(path)) from error


def latest_results_file(runs_dir: Path, task_name: str) -> Path | None:
    """The newest results ``steerlab eval`` saved for ``task_name``, or None.

    Run files are named by their UTC start time, so name order is time order; a workspace may
    be shared by several tasks, hence the check of each file's ``task``.
    """
    for path in sorted(Path(runs_dir).glob("*.json"), reverse=True):
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("task") == task_name:
                return path
        except (OSError, ValueError, AttributeError):
            continue  # not a results file; the caller's error lists where it looked
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _context(task: Task, runs: Sequence[CandidateRun] = ()):
    """The task's contract, plus the passage of every chunk a retrieval candidate retrieved
    (recorded with each prediction, so cached predictions carry it too)."""
    from steerlab.evaluation.metrics import MetricContext

    passage_of = {
        item["id"]: item["passage"]
        for run in runs
        for prediction in run.predictions
        for item in prediction.extra.get("retrieved", ())
    }
    return MetricContext(
        labels=tuple(task.label_names) or None,
        other_label=task.output.other_label,
        json_schema=task.json_schema,
        passage_of=passage_of or None,
    )


def _retrieval_report(examples: Sequence[Example], run: CandidateRun) -> dict[str, Any] | None:
    """Hit rate@k, MRR and context precision of what the candidate retrieved, where the data
    names gold passages; None for candidates without retrieval or data without passages."""
    from steerlab.retrieval.metrics import retrieval_scores

    if run.candidate.retrieval is None or not any(ex.meta.get("passages") for ex in examples):
        return None
    retrieved = [[item["passage"] for item in p.extra.get("retrieved", ())] for p in run.predictions]
    gold = [ex.meta.get("passages") or [] for ex in examples]
    return retrieval_scores(retrieved, gold, k=run.candidate.retrieval.k).as_dict()


def _gold(example: Example) -> Any:
    """An answer with its gold passages takes the metrics' mapping form."""
    if "passages" in example.meta:
        return {"answer": example.output, "passages": example.meta["passages"]}
    return example.output


def _cost_per_request(task: Task, run: CandidateRun, prediction: Prediction) -> float | None:
    prices = task.prices
    model_price = prices.models.get(run.candidate.model) if prices.models else None
    if model_price is not None:
        return (
            prediction.input_tokens * model_price.input_per_1m_tokens_usd
            + prediction.output_tokens * model_price.output_per_1m_tokens_usd
        ) / 1e6
    hardware = prices.hardware or {}
    name = run.candidate.hardware or next(iter(hardware), None)
    if name is None or name not in hardware:
        return None
    batch = max(1, int(prediction.extra.get("batch_size", 1)))
    return prediction.latency_s / batch * hardware[name].per_hour_usd / 3600


def _ops(task: Task, run: CandidateRun, successes: float) -> dict[str, float | None]:
    predictions = run.predictions
    latencies = np.array([p.latency_s for p in predictions]) if predictions else np.zeros(1)
    costs = [_cost_per_request(task, run, p) for p in predictions]
    known = None if any(c is None for c in costs) else float(sum(c for c in costs if c is not None))
    return {
        "latency_p50_s": float(np.percentile(latencies, 50)),
        "latency_p95_s": float(np.percentile(latencies, 95)),
        "input_tokens_mean": float(np.mean([p.input_tokens for p in predictions])) if predictions else 0.0,
        "output_tokens_mean": float(np.mean([p.output_tokens for p in predictions])) if predictions else 0.0,
        "cost_per_1k_usd": None if known is None else known / max(1, len(predictions)) * 1000,
        "cost_per_success_usd": None if known is None or successes == 0 else known / successes,
        "seconds": run.seconds,
    }


def failure_categories(
    task: Task, examples: Sequence[Example], runs: Sequence[CandidateRun], correct: dict[str, list[bool]]
) -> dict[str, dict[str, int]]:
    """Why each wrong prediction was wrong, per candidate.

    - format: the output broke the contract (unparseable, label outside the set, schema violated);
    - abstention: the candidate declined (refusal, "I don't know", the other/none label) on an
      answerable example;
    - knowledge: wrong without retrieval, right when a retrieval candidate on the same model
      supplied context;
    - behaviour: valid, and wrong under every prompt variant of that model (the prompt is not the
      fix: a candidate for fine-tuning or a different model);
    - prompt_sensitive: wrong here, right under another prompt variant on the same model;
    - undetermined: wrong, with no other variant to tell which of the above.
    """
    variants: dict[str, list[CandidateRun]] = {}
    for run in runs:
        variants.setdefault(run.candidate.model, []).append(run)
    out: dict[str, dict[str, int]] = {}
    for run in runs:
        counts: Counter[str] = Counter()
        same_model = [r for r in variants[run.candidate.model] if r is not run]
        prompt_only = [r for r in same_model if r.candidate.retrieval is None and r.candidate.adapter is None]
        with_context = [r for r in same_model if r.candidate.retrieval is not None]
        for i, (example, prediction) in enumerate(zip(examples, run.predictions, strict=True)):
            if correct[run.candidate.name][i]:
                continue
            if not prediction.valid:
                counts["format"] += 1
            elif prediction.abstained and example.output != task.output.other_label:
                counts["abstention"] += 1
            elif run.candidate.retrieval is None and any(correct[r.candidate.name][i] for r in with_context):
                counts["knowledge"] += 1
            elif not prompt_only:
                counts["undetermined"] += 1
            elif any(correct[r.candidate.name][i] for r in prompt_only):
                counts["prompt_sensitive"] += 1
            else:
                counts["behaviour"] += 1
        out[run.candidate.name] = {
            k: counts.get(k, 0)
            for k in ("format", "abstention", "knowledge", "behaviour", "prompt_sensitive", "undetermined")
        }
    return out


def build_results(
    task: Task,
    dataset_version: str,
    split: str,
    examples: Sequence[Example],
    runs: Sequence[CandidateRun],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> EvalResults:
    from steerlab.evaluation import metrics as M
    from steerlab.evaluation import stats

    context = _context(task, runs)
    golds = [_gold(example) for example in examples]
    primary = task.metrics.primary
    names = [primary, *[g for g in task.metrics.guards if g != primary]]
    correct: dict[str, list[bool]] = {}
    per_example: dict[str, list[float]] = {}
    for run in runs:
        scores = [M.per_example(primary, g, p, context) for g, p in zip(golds, run.predictions, strict=True)]
        per_example[run.candidate.name] = [0.0 if s is None else float(s) for s in scores]
        correct[run.candidate.name] = [s is not None and s >= 0.5 for s in scores]
    failures = failure_categories(task, examples, runs, correct)
    results = []
    for run in runs:
        metrics = {}
        for name in names:
            point, low, high = stats.bootstrap_ci(
                M.METRICS[name], golds, run.predictions, context, n_resamples=n_resamples, seed=seed
            )
            metrics[name] = MetricValue(float(point), float(low), float(high))
        details: dict[str, Any] = {}
        if task.kind == "classify":
            other = task.output.other_label
            details["per_class"] = M.per_class(golds, run.predictions, task.label_names, other_label=other)
            details["confusion"] = M.confusion(golds, run.predictions, task.label_names, other_label=other)
            if task.output.other_label:
                details["abstention"] = asdict(M.abstention_report(golds, run.predictions, context))
        elif task.kind == "extract":
            details["fields"] = M.field_report(golds, run.predictions, context)
        details["latency_s"] = [round(p.latency_s, 5) for p in run.predictions]  # for distributions
        retrieval = _retrieval_report(examples, run)
        if retrieval is not None:
            details["retrieval"] = retrieval
        successes = float(sum(per_example[run.candidate.name]))
        results.append(
            CandidateResult(
                name=run.candidate.name,
                fingerprint=run.fingerprint,
                recipe=run.candidate.model_dump(mode="json"),
                n=len(run.predictions),
                metrics=metrics,
                validity_rate=float(np.mean([p.valid for p in run.predictions])) if run.predictions else 0.0,
                ops=_ops(task, run, successes),
                failures=failures[run.candidate.name],
                details=details,
            )
        )
    comparisons = []
    ranked = sorted(runs, key=lambda r: -np.mean(per_example[r.candidate.name]) if examples else 0)
    # The best against every other candidate, and every lever (retrieval, adapter) against the
    # best prompt-only baseline: the decision engine judges each lever by that paired test.
    pairs = [(ranked[0], other) for other in ranked[1:]]
    baseline = next(
        (r for r in ranked if r.candidate.retrieval is None and r.candidate.adapter is None), None
    )
    if baseline is not None:
        done = {frozenset((a.candidate.name, b.candidate.name)) for a, b in pairs}
        pairs += [
            (run, baseline)
            for run in ranked
            if run is not baseline
            and (run.candidate.retrieval is not None or run.candidate.adapter is not None)
            and frozenset((run.candidate.name, baseline.candidate.name)) not in done
        ]
    for a, b in pairs:
        comparison = stats.compare(
            primary, golds, a.predictions, b.predictions, context, names=(a.candidate.name, b.candidate.name)
        )
        comparisons.append({"a": a.candidate.name, "b": b.candidate.name, **_comparison_dict(comparison)})
    mdd = None
    if examples and task.kind == "classify":
        best = max(float(np.mean(per_example[r.candidate.name])) for r in runs) if runs else 0.5
        mdd = float(stats.minimum_detectable_difference(len(examples), min(max(best, 0.01), 0.99)))
    consistency: dict[str, Any] = {}
    by_model: dict[str, list[CandidateRun]] = {}
    for run in runs:
        if run.candidate.retrieval is None and run.candidate.adapter is None:
            by_model.setdefault(run.candidate.model, []).append(run)
    for model, variants in by_model.items():
        if len(variants) >= 2:
            from steerlab.evaluation.consistency import cross_variant_agreement

            consistency[f"cross_variant:{model}"] = {
                "candidates": [r.candidate.name for r in variants],
                **cross_variant_agreement(variants).as_dict(),
            }
    return EvalResults(
        task.name,
        task.kind,
        dataset_version,
        split,
        len(examples),
        primary,
        results,
        comparisons,
        mdd,
        consistency,
    )


def _comparison_dict(comparison: Any) -> dict[str, Any]:
    data = asdict(comparison) if hasattr(comparison, "__dataclass_fields__") else dict(vars(comparison))
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in data.items()}
