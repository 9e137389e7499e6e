"""The one interface every model backend implements.

The evaluation harness, tuning and serving only ever talk to :class:`Model`; whether the
weights are local (transformers) or behind an OpenAI-compatible endpoint is the backend's
business. Three operations cover every lever steerlab measures:

- ``generate``: free text, greedy or sampled, with stop sequences;
- ``score_labels``: the probability of each label as the continuation of a prompt, with no
  sampling (the cheapest and most reproducible way to classify);
- ``count_tokens``: for cost accounting.

A prompt is either plain text or a list of chat messages. Backends with a chat template apply
it to messages (and to plain text, wrapped as one user message); base models see messages
flattened into a transcript. This keeps the caller free of backend details.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Generation",
    "GenerationParams",
    "LabelScores",
    "Message",
    "Model",
    "Prompt",
    "canonical_schema",
    "flatten_messages",
    "normalise_prompt",
    "truncate_at_stop",
]

Message = Mapping[str, str]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""

Prompt = str | Sequence[Message]
"""Plain text, or a list of chat messages."""


@dataclass(frozen=True)
class GenerationParams:
    """Decoding settings. ``temperature == 0`` means greedy decoding.

    ``json_schema`` constrains the output to JSON matching that schema (local models decode
    under a grammar, endpoints get ``response_format``). Pass a dict or JSON text; it is kept as
    compact JSON text so that the params stay immutable, hashable and serialisable, and so the
    text is a ready key for caching compiled grammars. Key order is kept, not sorted: property
    order is the order the model writes the fields in. :attr:`schema` gives the dict back.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    json_schema: str | Mapping[str, Any] | None = None
    choices: tuple[str, ...] = ()
    """When given, the output is exactly one of these strings, then the end of the turn: local
    models decode down a token trie of them (``steerlab.models.label_trie``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if self.choices and self.json_schema is not None:
            raise ValueError("choices and json_schema are two different output constraints; give one")
        if self.json_schema is not None:
            object.__setattr__(self, "json_schema", canonical_schema(self.json_schema))
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def schema(self) -> dict[str, Any] | None:
        """``json_schema`` as a dict (a fresh copy each time), or None."""
        return None if self.json_schema is None else json.loads(self.json_schema)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Generation:
    """One completion with the accounting the evaluation harness needs."""

    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: Literal["stop", "length"]
    latency_s: float
    confidence: float | None = None
    """Geometric-mean probability of the generated tokens the model had a choice about (tokens
    a JSON grammar forced are left out: they say nothing about the model's certainty), from the
    distribution it decoded from after any constraint and before temperature. None where the
    backend reports no token probabilities. Thresholded for fallback and escalation."""


@dataclass(frozen=True)
class LabelScores:
    """How strongly a model prefers each label as the continuation of one prompt.

    ``logprobs`` are the mean log-probability per label token (length-normalised, so long label
    names are not penalised for their length); ``probs`` is their softmax over the label set,
    which is the confidence the harness reports and thresholds for abstention.
    """

    labels: tuple[str, ...]
    logprobs: tuple[float, ...]
    probs: tuple[float, ...] = field(init=False)
    input_tokens: int = 0
    latency_s: float = 0.0
    bounded: frozenset[str] = frozenset()
    """Labels left unscored by two-stage scoring: their ``logprobs`` entry is an upper bound on
    the true score, below the best label's, so ``best`` is exact and ``confidence`` a lower bound."""

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.logprobs) or not self.labels:
            raise ValueError("labels and logprobs must be non-empty and of equal length")
        top = max(self.logprobs)
        weights = [math.exp(lp - top) for lp in self.logprobs]
        total = sum(weights)
        object.__setattr__(self, "probs", tuple(w / total for w in weights))

    @property
    def best(self) -> str:
        return self.labels[max(range(len(self.labels)), key=self.probs.__getitem__)]

    @property
    def confidence(self) -> float:
        return max(self.probs)

    def ranked(self) -> list[tuple[str, float]]:
        """Labels with their probability, most likely first."""
        return sorted(zip(self.labels, self.probs, strict=True), key=lambda pair: -pair[1])


class Model(ABC):
    """A language model steerlab can measure. Implementations must be safe to call repeatedly."""

    name: str
    has_chat_template: bool = False
    label_prefix: str = ""
    """Text put before each label when scoring: a space where labels follow a plain-text
    transcript ("Assistant: refund"), nothing where a chat template opens the answer turn."""

    @abstractmethod
    def generate(self, prompts: Sequence[Prompt], params: GenerationParams | None = None) -> list[Generation]:
        """Complete each prompt; results come back in input order."""

    @abstractmethod
    def score_labels(self, prompts: Sequence[Prompt], labels: Sequence[str]) -> list[LabelScores]:
        """Score every label as the continuation of each prompt, without sampling."""

    @abstractmethod
    def count_tokens(self, prompt: Prompt) -> int:
        """Tokens the model would read for this prompt (after any chat template)."""

    def info(self) -> dict[str, Any]:
        """What a run record needs to reproduce this model: backend, source, device, dtype."""
        return {"name": self.name, "backend": type(self).__name__}

    def generate_one(self, prompt: Prompt, params: GenerationParams | None = None) -> Generation:
        return self.generate([prompt], params)[0]

    def score_one(self, prompt: Prompt, labels: Sequence[str]) -> LabelScores:
        return self.score_labels([prompt], labels)[0]


def normalise_prompt(prompt: Prompt) -> str | list[dict[str, str]]:
    """Validate a prompt and return plain text or a list of plain-dict messages."""
    if isinstance(prompt, str):
        return prompt
    messages: list[dict[str, str]] = []
    for index, message in enumerate(prompt):
        role, content = message.get("role"), message.get("content")
        if role not in ("system", "user", "assistant"):
            raise ValueError(f"message {index}: role must be system, user or assistant, got {role!r}")
        if not isinstance(content, str):
            raise ValueError(f"message {index}: content must be a string")
        messages.append({"role": role, "content": content})
    if not messages:
        raise ValueError("a chat prompt needs at least one message")
    return messages


def flatten_messages(messages: Sequence[Message]) -> str:
    """Render chat messages for a base model that has no chat template.

    A plain transcript ending in an open ``Assistant:`` turn is what base models have seen most
    of in pre-training, so it is the least surprising fallback.
    """
    names = {"system": "System", "user": "User", "assistant": "Assistant"}
    lines = [f"{names[m['role']]}: {m['content']}" for m in messages]
    if messages[-1]["role"] != "assistant":
        lines.append("Assistant:")
    return "\n".join(lines)


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop sequence; report whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def canonical_schema(schema: str | Mapping[str, Any]) -> str:
    """A JSON schema as compact JSON text with its key order kept (see :class:`GenerationParams`)."""
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError as error:
            raise ValueError(f"json_schema is not valid JSON: {error}") from error
    if not isinstance(schema, Mapping):
        raise ValueError(f"json_schema must be a JSON object, got {type(schema).__name__}")
    return json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
