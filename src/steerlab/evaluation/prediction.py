"""One candidate's answer to one example, with everything measured about producing it.

Predictions are what the runner caches (keyed by candidate hash and example id) and what
metrics, statistics, failure categories and cost accounting read. They hold the parsed output
and the raw text, so a metric never re-parses and a report can always show what the model said.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Prediction"]


@dataclass(frozen=True)
class Prediction:
    """``output`` is the parsed answer in the task's contract shape (a label, a JSON object, or
    text); None when nothing valid could be parsed. ``valid`` says whether it satisfies the
    contract (label in the set, JSON matching the schema). ``abstained`` marks an explicit refusal
    or "I don't know" (or the task's other/none label)."""

    example_id: str
    candidate: str
    output: Any
    raw_text: str = ""
    valid: bool = True
    abstained: bool = False
    confidence: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prediction:
        return cls(**data)
