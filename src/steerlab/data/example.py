"""One labelled example, and where it came from.

Every example keeps its source file and line so that any later complaint (a duplicate, an
unknown label, PII, leakage) can point a user at the exact row to fix.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Example", "canonical_json"]


def canonical_json(value: Any) -> str:
    """Stable JSON for hashing: sorted keys, no whitespace, unicode kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Example:
    """Inputs (field name → text), the expected output (a label, a JSON object, or text)."""

    inputs: dict[str, str]
    output: Any
    source: str = ""
    line: int | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def input_text(self) -> str:
        """All input fields as one string, in field order, for matching and de-duplication."""
        return "\n".join(self.inputs.values())

    @property
    def id(self) -> str:
        """Content hash of inputs and output: the same example has the same id in any file."""
        payload = canonical_json({"inputs": self.inputs, "output": self.output})
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source
