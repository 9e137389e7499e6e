"""A candidate: one frozen, hashable recipe for answering a task.

Every lever steerlab measures is a candidate: a prompt variant, few-shot examples, a reasoning
step, an output constraint, retrieval, an adapter, or a combination. The evaluation harness runs
them all through the same code and never asks which lever it is running; it only reads the
recipe. The recipe's hash (with the template's content version and the task's output contract)
keys the prediction cache, so changing anything that could change an answer is a new candidate,
and re-running an unchanged one costs nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from steerlab.data.example import canonical_json
from steerlab.errors import ConfigError, DataError

if TYPE_CHECKING:
    from steerlab.prompts import PromptTemplate
    from steerlab.task import Task

__all__ = ["Candidate", "Decoding", "FewShot", "Retrieval", "default_candidates", "load_candidates"]

DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"

ENGINE_VERSION = 3
"""Bumped whenever steerlab changes how a recipe turns into a prediction (parsing, scoring
numerics, prompt assembly), so cached predictions from an older engine are not reused.
2: label-token logits computed in fp32. 3: two-stage label scoring above 16 labels."""


class _Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FewShot(_Recipe):
    strategy: Literal["none", "fixed", "random", "nearest"] = Field(
        "none",
        description="none; fixed (same k for every input); random (k per input); nearest (k most similar).",
    )
    k: int = Field(0, ge=0, le=64, description="How many examples to show.")
    seed: int = Field(0, description="Seed for fixed and random selection.")
    examples: tuple[str, ...] = Field(
        (), description="fixed only: example ids to use instead of a seeded pick."
    )


class Decoding(_Recipe):
    max_new_tokens: int = Field(256, ge=1)
    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    seed: int | None = None


class Retrieval(_Recipe):
    index: str = Field(description="Knowledge-base index name or version.")
    k: int = Field(4, ge=1, le=50)
    fusion: Literal["rrf", "dense", "bm25"] = "rrf"


class Candidate(_Recipe):
    name: str = Field(description="A short name shown in results.")
    model: str = Field(DEFAULT_MODEL, description="Any name `steerlab models` resolves, or openai:MODEL.")
    template: str = Field("auto", description="Prompt template name or path; auto = the task kind's default.")
    few_shot: FewShot = FewShot()
    reasoning: bool = Field(False, description="Think step by step before a parseable final answer.")
    constraint: Literal["auto", "label_scoring", "label_decode", "json_schema", "free_text"] = Field(
        "auto",
        description=(
            "auto: label_scoring for classify, json_schema for extract, free_text otherwise; "
            "label_decode: greedy decoding constrained to the label trie (classify)."
        ),
    )
    retrieval: Retrieval | None = None
    adapter: str | None = Field(None, description="A LoRA adapter id from the workspace registry.")
    decoding: Decoding = Decoding()
    hardware: str | None = Field(
        None, description="Price-table hardware entry for local models (default: first)."
    )

    def resolved_constraint(self, task: Task) -> str:
        if self.constraint != "auto":
            if self.constraint in ("label_scoring", "label_decode") and task.kind != "classify":
                raise ConfigError(
                    f"candidate {self.name!r}: {self.constraint} only applies to classify tasks"
                )
            if self.constraint == "json_schema" and task.json_schema is None:
                raise ConfigError(f"candidate {self.name!r}: json_schema needs a task with an output schema")
            return self.constraint
        if task.kind == "classify":
            return "free_text" if self.reasoning else "label_scoring"
        return "json_schema" if task.kind == "extract" else "free_text"

    def template_name(self, task: Task) -> str:
        if self.template != "auto":
            return self.template
        return f"{task.kind}-reasoning" if self.reasoning and task.kind == "classify" else task.kind

    def load_template(self, task: Task) -> PromptTemplate:
        from steerlab.prompts import load_template

        return load_template(self.template_name(task), task.dir)

    def fingerprint(self, task: Task, template: PromptTemplate | None = None) -> str:
        """Hash of everything that can change an answer: recipe, template wording, task contract.

        ``template`` stands in for the one the recipe names: a release checks its own snapshot
        of the template, which must hash like the file the candidate was evaluated with.
        """
        contract = {
            "kind": task.kind,
            "inputs": [field.name for field in task.inputs],
            "labels": task.label_descriptions if task.label_names else None,
            "other_label": task.output.other_label,
            "schema": task.json_schema,
            "description": task.description,
        }
        recipe = self.model_dump(mode="json", exclude={"name", "hardware"})
        payload = {
            "engine": ENGINE_VERSION,
            "recipe": recipe,
            "template": (template or self.load_template(task)).version,
            "constraint": self.resolved_constraint(task),
            "contract": contract,
        }
        return hashlib.sha256(canonical_json(payload).encode()).hexdigest()[:16]


def default_candidates(task: Task, model: str = DEFAULT_MODEL) -> list[Candidate]:
    """The prompt baseline every measurement starts from: zero-shot, fixed few-shot, nearest few-shot."""
    k = 8
    return [
        Candidate(name="zero-shot", model=model),
        Candidate(name=f"few-shot-fixed-{k}", model=model, few_shot=FewShot(strategy="fixed", k=k)),
        Candidate(name=f"few-shot-nearest-{k}", model=model, few_shot=FewShot(strategy="nearest", k=k)),
    ]


def load_candidates(path: str | Path) -> list[Candidate]:
    """Candidates from a YAML file: a list of recipes, or ``{candidates: [...]}``."""
    from pydantic import ValidationError
    from ruamel.yaml import YAML, YAMLError

    path = Path(path)
    if not path.is_file():
        raise DataError("candidates file not found", path=path)
    try:
        data: Any = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise DataError(f"invalid YAML: {error}", path=path, line=mark.line + 1 if mark else None) from error
    if isinstance(data, dict):
        data = data.get("candidates")
    if not isinstance(data, list) or not data:
        raise DataError(
            "expected a non-empty list of candidates (or a 'candidates:' key holding one)", path=path
        )
    candidates = []
    for index, item in enumerate(data):
        try:
            candidates.append(Candidate.model_validate(item))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise DataError(first["msg"], path=path, field=f"candidates[{index}].{where}") from error
    names = [c.name for c in candidates]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise DataError(f"two candidates are called {duplicate!r}; names must be unique", path=path)
    return candidates
