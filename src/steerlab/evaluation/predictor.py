"""A candidate made ready to answer: model loaded, template, shots, knowledge base, constraint.

The evaluation runner and the server both turn examples into predictions through this one
class, so what is served is computed exactly as what was measured: same prompt rendering, same
retrieval and citations, same constrained decoding, same repair of invalid JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steerlab.candidate import Candidate
from steerlab.data.example import Example
from steerlab.evaluation.prediction import Prediction
from steerlab.fewshot import ShotSelector
from steerlab.models.base import GenerationParams, Model
from steerlab.retrieval.citations import numbered_sources, split_citations

if TYPE_CHECKING:
    from steerlab.prompts import PromptTemplate
    from steerlab.task import Task

__all__ = ["CITE_FIRST", "CandidatePredictor", "ModelPool"]

CITE_FIRST = "Source: ["
"""How a free-text answer over retrieved sources starts: with the number of its source."""

ABSTAIN_PHRASES = (
    *("i don't know", "i do not know", "cannot answer", "can't answer", "not enough information"),
    *("information is missing", "sources do not", "sources don't", "not in the sources"),
    *("not mentioned", "does not mention", "do not mention", "no information"),
)


class ModelPool:
    """Load each model once, however many candidates share it."""

    def __init__(self, loader: Callable[[str], Model] | None = None) -> None:
        self._loader = loader or _default_loader
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


class CandidatePredictor:
    """``candidate`` resolved against a workspace, answering batches of examples.

    Resolving pins what a name leaves open: a retrieval candidate's index becomes the exact
    version it searches, an adapter prefix becomes the full adapter id (both enter the
    fingerprint, so cached predictions are never reused across versions). The model is loaded
    on the first :meth:`predict`, so a fully cached evaluation loads nothing.

    ``template`` replaces the one the recipe names: a release renders with its own frozen copy.
    """

    def __init__(
        self,
        task: Task,
        candidate: Candidate,
        *,
        pool: Sequence[Example],
        workspace: Path,
        models: ModelPool | None = None,
        template: PromptTemplate | None = None,
    ) -> None:
        self.task = task
        self.workspace = Path(workspace)
        self._models = models or ModelPool()
        self.knowledge: Any = None
        if candidate.retrieval is not None:
            self.knowledge = _open_knowledge_base(task, candidate.retrieval.index, self.workspace)
            pinned = candidate.retrieval.model_copy(
                update={"index": f"{self.knowledge.manifest['name']}@{self.knowledge.version}"}
            )
            candidate = candidate.model_copy(update={"retrieval": pinned})
        self._model_key, self._model_dir = candidate.model, None
        if candidate.adapter is not None:
            from steerlab.tuning.tune import tuned_model_dir

            adapter_id, self._model_dir = tuned_model_dir(self.workspace, candidate.adapter, candidate.model)
            candidate = candidate.model_copy(update={"adapter": adapter_id})
            self._model_key = f"{candidate.model}+{adapter_id}"
        self.candidate = candidate
        self.template = template or candidate.load_template(task)
        self.fingerprint = candidate.fingerprint(task, self.template)
        self.constraint = candidate.resolved_constraint(task)
        self._selector = ShotSelector(candidate.few_shot, pool, cache_dir=self.workspace / "embeddings")

    @property
    def model(self) -> Model:
        return self._models.get(self._model_key, self._model_dir)

    def shots(self, examples: Sequence[Example]) -> dict[str, list[Example]]:
        """Few-shot examples for each example id (nearest neighbours are embedded in one batch)."""
        if self.candidate.few_shot.strategy == "nearest" and self.candidate.few_shot.k:
            return self._selector.nearest_many(list(examples))
        return {ex.id: self._selector.shots(ex) for ex in examples}

    def predict(
        self, batch: Sequence[Example], shots: dict[str, list[Example]] | None = None
    ) -> list[Prediction]:
        """One model call's worth of predictions, aligned with ``batch``."""
        shots = shots if shots is not None else self.shots(batch)
        hits: list[list[Any]] = [[] for _ in batch]
        if self.knowledge is not None and self.candidate.retrieval is not None:
            retrieval = self.candidate.retrieval
            queries = [_query(ex) for ex in batch]
            hits = self.knowledge.search_many(queries, k=retrieval.k, fusion=retrieval.fusion)
        hits, screened = _screen_passages(hits)
        # A free-text answer over sources opens with its citation ("Source: [2]"): the model
        # picks the source first and answers from it, which small models follow far more
        # reliably than an instruction to cite at the end (measured on examples/policy-qa).
        prefix = CITE_FIRST if self.knowledge is not None and self.constraint == "free_text" else None
        prompts = [
            self.template.render(
                self.task, ex, shots=shots[ex.id], sources=numbered_sources(found), answer_prefix=prefix
            )
            for ex, found in zip(batch, hits, strict=True)
        ]
        predictions = _predict(self.task, self.candidate, self.model, self.constraint, batch, prompts)
        if self.knowledge is not None:
            predictions = [
                _with_citations(p, found, prefix or "") for p, found in zip(predictions, hits, strict=True)
            ]
        for prediction, dropped in zip(predictions, screened, strict=True):
            prediction.extra["batch_size"] = len(batch)  # latency_s is the batch's wall time
            if dropped:
                prediction.extra["screened_out"] = dropped
        return predictions

    def close(self) -> None:
        if self.knowledge is not None:
            self.knowledge.close()
            self.knowledge = None


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


def _screen_passages(hits: list[list[Any]]) -> tuple[list[list[Any]], list[list[str]]]:
    """Retrieved passages without those that read like a prompt injection, and the ids left out.

    A knowledge base is data someone else wrote (a scraped page, a forwarded email): a passage
    telling the model to ignore its instructions must not reach the prompt as a "source". Done
    here, so evaluation and serving screen alike; no shipped knowledge base has such a passage.
    """
    from steerlab.serving.injection import InjectionScreen

    screen = InjectionScreen()
    kept: list[list[Any]] = []
    dropped: list[list[str]] = []
    for found in hits:
        flagged = [h for h in found if screen.flags(h.chunk.text)]
        kept.append([h for h in found if h not in flagged])
        dropped.append([h.chunk.id for h in flagged])
    return kept, dropped


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
    if constraint == "label_decode":
        prefix = getattr(model, "label_prefix", "")
        params = _params(candidate, choices=tuple(prefix + label for label in task.label_names))
        generations = model.generate(prompts, params)
        return [
            _from_label_text(task, candidate, ex, g.text, g) for ex, g in zip(batch, generations, strict=True)
        ]
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
        confidence=generation.confidence,
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
