"""Run candidates over examples: batched, cached per prediction, resumable after any crash.

The runner reads only a candidate's recipe (template, shots, constraint, decoding) and a model's
three operations; prompt variants, few-shot strategies and (later) retrieval and adapters all
take the same path. For each candidate it looks up which examples already have a cached
prediction, computes the rest in batches, and commits each batch before starting the next.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steerlab.candidate import Candidate
from steerlab.data.example import Example
from steerlab.evaluation.cache import PredictionCache
from steerlab.evaluation.prediction import Prediction
from steerlab.fewshot import ShotSelector
from steerlab.models.base import GenerationParams, Model
from steerlab.retrieval.citations import numbered_sources, split_citations

if TYPE_CHECKING:
    from steerlab.task import Task

__all__ = ["CandidateRun", "run_candidates", "stratified_slice"]

ProgressFn = Callable[[str, int, int], None]
CITE_FIRST = "Source: ["
"""How a free-text answer over retrieved sources starts: with the number of its source."""

ABSTAIN_PHRASES = (
    *("i don't know", "i do not know", "cannot answer", "can't answer", "not enough information"),
    *("information is missing", "sources do not", "sources don't", "not in the sources"),
    *("not mentioned", "does not mention", "do not mention", "no information"),
)


@dataclass(frozen=True)
class CandidateRun:
    candidate: Candidate
    fingerprint: str
    predictions: list[Prediction]  # aligned with the examples
    computed: int  # predictions made in this call (0 when everything came from the cache)
    seconds: float


def stratified_slice(examples: Sequence[Example], per_label: int, seed: int = 0) -> list[Example]:
    """Up to ``per_label`` examples of each label, chosen by seed, in a stable order."""
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in sorted(examples, key=lambda ex: ex.id):
        by_label[str(example.output)].append(example)
    rng = random.Random(seed)
    chosen = []
    for label in sorted(by_label):
        members = by_label[label]
        rng.shuffle(members)
        chosen += members[:per_label]
    return sorted(chosen, key=lambda ex: ex.id)


class _Models:
    """Load each model once per run, however many candidates share it."""

    def __init__(self, loader: Callable[[str], Model]) -> None:
        self._loader = loader
        self._loaded: dict[str, Model] = {}

    def get(self, name: str, directory: Path | None = None) -> Model:
        """``directory``: a merged adapter model, loaded from there whatever the loader does."""
        if name not in self._loaded:
            if directory is not None:
                from steerlab.models.local import TransformersModel

                self._loaded[name] = TransformersModel(directory, name=name)
            else:
                self._loaded[name] = self._loader(name)
        return self._loaded[name]


def _default_loader(name: str) -> Model:
    from steerlab.models.catalog import load_model

    return load_model(name)


def run_candidates(
    task: Task,
    candidates: Sequence[Candidate],
    examples: Sequence[Example],
    *,
    pool: Sequence[Example],
    workspace: Path,
    batch_size: int = 8,
    progress: ProgressFn | None = None,
    model_loader: Callable[[str], Model] | None = None,
) -> list[CandidateRun]:
    """Predict every example with every candidate; cached predictions are reused, not recomputed."""
    cache = PredictionCache(Path(workspace) / "predictions.sqlite")
    models = _Models(model_loader or _default_loader)
    runs = []
    try:
        for candidate in candidates:
            runs.append(
                _run_one(task, candidate, examples, pool, cache, models, batch_size, workspace, progress)
            )
    finally:
        cache.close()
    return runs


def _run_one(
    task: Task,
    candidate: Candidate,
    examples: Sequence[Example],
    pool: Sequence[Example],
    cache: PredictionCache,
    models: _Models,
    batch_size: int,
    workspace: Path,
    progress: ProgressFn | None,
) -> CandidateRun:
    knowledge = None
    if candidate.retrieval is not None:
        knowledge = _open_knowledge_base(task, candidate.retrieval.index, workspace)
        # Pin the exact index version: it enters the fingerprint, so predictions made over an
        # older index are never reused, and the results record which index produced them.
        pinned = candidate.retrieval.model_copy(
            update={"index": f"{knowledge.manifest['name']}@{knowledge.version}"}
        )
        candidate = candidate.model_copy(update={"retrieval": pinned})
    model_key, model_dir = candidate.model, None
    if candidate.adapter is not None:
        from steerlab.tuning.tune import tuned_model_dir

        # The full adapter id (a hash of its lineage) enters the fingerprint, so a prefix given
        # in a candidates file and the id it resolves to share cached predictions.
        adapter_id, model_dir = tuned_model_dir(Path(workspace), candidate.adapter, candidate.model)
        candidate = candidate.model_copy(update={"adapter": adapter_id})
        model_key = f"{candidate.model}+{adapter_id}"
    started = time.perf_counter()
    fingerprint = candidate.fingerprint(task)
    cache.remember_candidate(fingerprint, candidate.name, candidate.model_dump(mode="json"))
    cached = cache.get(fingerprint, [ex.id for ex in examples])
    missing = [ex for ex in examples if ex.id not in cached]
    if progress:
        progress(candidate.name, len(cached), len(examples))
    computed = 0
    if missing:
        model = models.get(model_key, model_dir)
        template = candidate.load_template(task)
        selector = ShotSelector(candidate.few_shot, pool, cache_dir=Path(workspace) / "embeddings")
        if candidate.few_shot.strategy == "nearest" and candidate.few_shot.k:
            shots = selector.nearest_many(missing)
        else:
            shots = {ex.id: selector.shots(ex) for ex in missing}
        constraint = candidate.resolved_constraint(task)
        for start in range(0, len(missing), batch_size):
            batch = missing[start : start + batch_size]
            hits: list[list[Any]] = [[] for _ in batch]
            if knowledge is not None and candidate.retrieval is not None:
                hits = knowledge.search_many(
                    [_query(ex) for ex in batch], k=candidate.retrieval.k, fusion=candidate.retrieval.fusion
                )
            # A free-text answer over sources opens with its citation ("Source: [2]"): the model
            # picks the source first and answers from it, which small models follow far more
            # reliably than an instruction to cite at the end (measured on examples/policy-qa).
            prefix = CITE_FIRST if knowledge is not None and constraint == "free_text" else None
            prompts = [
                template.render(
                    task, ex, shots=shots[ex.id], sources=numbered_sources(found), answer_prefix=prefix
                )
                for ex, found in zip(batch, hits, strict=True)
            ]
            predictions = _predict(task, candidate, model, constraint, batch, prompts)
            if knowledge is not None:
                predictions = [
                    _with_citations(p, found, prefix or "")
                    for p, found in zip(predictions, hits, strict=True)
                ]
            for prediction in predictions:
                prediction.extra["batch_size"] = len(batch)  # latency_s is the batch's wall time
            cache.put_many(fingerprint, predictions)
            cached.update({p.example_id: p for p in predictions})
            computed += len(predictions)
            if progress:
                progress(candidate.name, len(cached), len(examples))
    if knowledge is not None:
        knowledge.close()
    ordered = [cached[ex.id] for ex in examples]
    return CandidateRun(candidate, fingerprint, ordered, computed, time.perf_counter() - started)


def _open_knowledge_base(task: Task, index: str, workspace: Path) -> Any:
    """``NAME``, ``NAME@VERSION`` or a bare ``kb-…`` version of the default knowledge base.

    The task's own knowledge base (``data.knowledge_base``), asked for without a version, is
    brought up to date first: ingest is incremental, so when nothing changed this only hashes
    the files, and an evaluation never runs against a stale index or fails for lack of one.
    """
    from steerlab.retrieval.index import KnowledgeBase, ingest

    name, _, version = index.partition("@")
    if name.startswith("kb-") and not version:
        name, version = "default", name
    folder = task.data_paths.get("knowledge_base")
    if name == "default" and not version and folder:
        ingest(folder[0], Path(workspace), name=name)
    return KnowledgeBase.open(Path(workspace), name, version or None)


def _query(example: Example) -> str:
    return "\n".join(str(value) for value in example.inputs.values())


def _with_citations(prediction: Prediction, hits: Sequence[Any], prefix: str = "") -> Prediction:
    """Answers lose their citation marks (scored as text) and gain the chunk ids they cite."""
    from dataclasses import replace

    raw = prefix + prediction.raw_text
    output = prediction.output
    if isinstance(output, str):
        text = raw
        if prefix and "Answer:" in text:  # "Source: [2]\nAnswer: ..." -> the answer alone
            text = text.split("Answer:", 1)[1]
        elif prefix:
            text = text.split("]", 1)[-1]
        output, _ = split_citations(text, hits)
    _, cited = split_citations(raw, hits)
    if prediction.abstained:
        cited = []  # "the sources do not say ..." cites nothing, whatever number it opened with
    retrieved = [{"id": h.chunk.id, "passage": h.chunk.passage} for h in hits]
    extra = {**prediction.extra, "citations": cited, "retrieved": retrieved}
    return replace(prediction, output=output, raw_text=raw, extra=extra)


def _params(candidate: Candidate, **overrides: Any) -> GenerationParams:
    d = candidate.decoding
    values = {
        "max_new_tokens": d.max_new_tokens,
        "temperature": d.temperature,
        "top_p": d.top_p,
        "seed": d.seed,
        **overrides,
    }
    return GenerationParams(**values)


def _predict(
    task: Task,
    candidate: Candidate,
    model: Model,
    constraint: str,
    batch: Sequence[Example],
    prompts: list[list[dict[str, str]]],
) -> list[Prediction]:
    if constraint == "label_scoring":
        return _predict_by_scoring(task, candidate, model, batch, prompts)
    if constraint == "json_schema":
        params = _params(candidate, json_schema=task.json_schema)
        generations = model.generate(prompts, params)
        return [
            _from_json_text(task, candidate, ex, g.text, g) for ex, g in zip(batch, generations, strict=True)
        ]
    generations = model.generate(prompts, _params(candidate))
    predictions = []
    for example, prompt, generation in zip(batch, prompts, generations, strict=True):
        if task.kind == "extract":
            prediction = _from_json_text(task, candidate, example, generation.text, generation)
            if not prediction.valid:
                prediction = _repair(task, candidate, model, example, prompt, prediction, generation)
            predictions.append(prediction)
        elif task.kind == "classify":
            predictions.append(_from_label_text(task, candidate, example, generation.text, generation))
        else:
            text = generation.text.strip()
            abstained = any(phrase in text.lower() for phrase in ABSTAIN_PHRASES)
            predictions.append(
                _prediction(candidate, example, text, text, generation, valid=bool(text), abstained=abstained)
            )
    return predictions


def _prediction(
    candidate: Candidate, example: Example, output: Any, raw: str, generation: Any, **fields: Any
) -> Prediction:
    return Prediction(
        example_id=example.id,
        candidate=candidate.name,
        output=output,
        raw_text=raw,
        input_tokens=generation.input_tokens,
        output_tokens=generation.output_tokens,
        latency_s=generation.latency_s,
        extra={"finish_reason": generation.finish_reason},
        **fields,
    )


def _predict_by_scoring(
    task: Task,
    candidate: Candidate,
    model: Model,
    batch: Sequence[Example],
    prompts: list[list[dict[str, str]]],
) -> list[Prediction]:
    labels = task.label_names
    prefix = getattr(model, "label_prefix", "")
    scores = model.score_labels(prompts, [prefix + label for label in labels])
    predictions = []
    for example, score in zip(batch, scores, strict=True):
        best = labels[score.probs.index(max(score.probs))]
        predictions.append(
            Prediction(
                example_id=example.id,
                candidate=candidate.name,
                output=best,
                raw_text=prefix + best,
                valid=True,
                abstained=best == task.output.other_label,
                confidence=score.confidence,
                input_tokens=score.input_tokens,
                output_tokens=0,
                latency_s=score.latency_s,
                extra={"top": [(label.removeprefix(prefix), round(p, 4)) for label, p in score.ranked()[:3]]},
            )
        )
    return predictions


def _from_label_text(
    task: Task, candidate: Candidate, example: Example, text: str, generation: Any
) -> Prediction:
    from steerlab.evaluation.parsing import parse_label

    final = text.strip().splitlines()[-1] if text.strip() else ""
    if candidate.reasoning and ":" in final:
        final = final.split(":", 1)[1]
    label = (
        parse_label(final, task.label_names) if candidate.reasoning else parse_label(text, task.label_names)
    )
    return _prediction(
        candidate,
        example,
        label,
        text,
        generation,
        valid=label is not None,
        abstained=label is not None and label == task.output.other_label,
    )


def _from_json_text(
    task: Task, candidate: Candidate, example: Example, text: str, generation: Any
) -> Prediction:
    from steerlab.evaluation.parsing import parse_json_output

    parsed = parse_json_output(text, task.json_schema)
    prediction = _prediction(
        candidate, example, parsed.value if parsed.valid else None, text, generation, valid=parsed.valid
    )
    if parsed.error:
        prediction.extra["parse_error"] = parsed.error
    return prediction


def _repair(
    task: Task,
    candidate: Candidate,
    model: Model,
    example: Example,
    prompt: list[dict[str, str]],
    first: Prediction,
    generation: Any,
) -> Prediction:
    """One repair attempt: show the model its output and the validation error, ask again."""
    from steerlab.evaluation.parsing import repair_prompt

    retry = model.generate_one(
        repair_prompt(prompt, first.raw_text, first.extra.get("parse_error", "")), _params(candidate)
    )
    second = _from_json_text(task, candidate, example, retry.text, retry)
    second.extra["repaired"] = True
    second.extra["first_attempt"] = first.raw_text
    # Both calls count: the repair is part of what this candidate costs.
    return Prediction(
        **{
            **second.as_dict(),
            "input_tokens": first.input_tokens + second.input_tokens,
            "output_tokens": first.output_tokens + second.output_tokens,
            "latency_s": first.latency_s + second.latency_s,
        }
    )
