"""Consistency: does a candidate give the same answer, and the same structure, every time?

Teams automating a recurring job need stability as much as accuracy: the same ticket routed two
ways on two days, or a field that is sometimes present and sometimes not, breaks whatever
consumes the output. Two views:

- **self-agreement**: the candidate run several times with different sampling seeds; the share
  of examples where every run gives the same output (and, for JSON, the same set of fields).
  Greedy decoding and label scoring are deterministic, so they agree with themselves by
  construction, which is reported as such rather than measured;
- **cross-variant agreement**: several prompt variants (paraphrases, few-shot choices) of one
  task; the share of examples where all of them give the same output.

Both reuse the runner, so the repeated runs are cached and resumable like any evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steerlab.candidate import Candidate
from steerlab.data.example import Example, canonical_json
from steerlab.evaluation.prediction import Prediction
from steerlab.evaluation.runner import CandidateRun, run_candidates
from steerlab.models.base import Model

if TYPE_CHECKING:
    from steerlab.task import Task

__all__ = ["Agreement", "agreement", "cross_variant_agreement", "self_agreement"]


@dataclass(frozen=True)
class Agreement:
    runs: int
    examples: int
    exact: float  # share of examples where every run's output is identical
    structure: float  # share where every run's output has the same shape (JSON keys / validity)
    deterministic: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "examples": self.examples,
            "exact": self.exact,
            "structure": self.structure,
            "deterministic": self.deterministic,
        }


def _key(prediction: Prediction) -> str:
    # Two different unparseable texts are not the same answer: compare them by what was said.
    return canonical_json(prediction.output) if prediction.valid else "<invalid>" + prediction.raw_text


def _shape(prediction: Prediction) -> str:
    if not prediction.valid:
        return "<invalid>"
    if isinstance(prediction.output, dict):
        return canonical_json(sorted(k for k, v in prediction.output.items() if v is not None))
    return "<valid>"


def agreement(runs: Sequence[CandidateRun]) -> Agreement:
    """Agreement across runs made on the same examples (in the same order)."""
    if len(runs) < 2:
        raise ValueError("agreement needs at least two runs")
    n = len(runs[0].predictions)
    exact = same_shape = 0
    for i in range(n):
        exact += len({_key(run.predictions[i]) for run in runs}) == 1
        same_shape += len({_shape(run.predictions[i]) for run in runs}) == 1
    return Agreement(len(runs), n, exact / n if n else 1.0, same_shape / n if n else 1.0)


def self_agreement(
    task: Task,
    candidate: Candidate,
    examples: Sequence[Example],
    *,
    pool: Sequence[Example],
    workspace: Path,
    repeats: int = 3,
    model_loader: Callable[[str], Model] | None = None,
) -> Agreement:
    """Run ``candidate`` ``repeats`` times with different sampling seeds and measure agreement."""
    deterministic = (
        candidate.decoding.temperature == 0 or candidate.resolved_constraint(task) == "label_scoring"
    )
    if deterministic:
        return Agreement(repeats, len(examples), 1.0, 1.0, deterministic=True)
    base_seed = candidate.decoding.seed or 0
    variants = [
        candidate.model_copy(
            update={
                "name": f"{candidate.name}#seed{base_seed + r}",
                "decoding": candidate.decoding.model_copy(update={"seed": base_seed + r}),
            }
        )
        for r in range(repeats)
    ]
    runs = run_candidates(task, variants, examples, pool=pool, workspace=workspace, model_loader=model_loader)
    return agreement(runs)


def cross_variant_agreement(runs: Sequence[CandidateRun]) -> Agreement:
    """Agreement across prompt variants already evaluated on the same examples."""
    return agreement(runs)
