"""Find problems in a task's examples, report each one, then apply the configured action.

Every finding keeps the example's file and line, so the data card can say exactly what was
removed and why. Two kinds of problem stop the run instead of being cleaned away: outputs outside
the task's contract (a label not in the label set, JSON that violates the schema). Those mean
the data and the task disagree, and guessing which is right would change the measurement;
``on_invalid_output: drop`` opts into dropping them (and reporting it).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from steerlab.data.example import Example, canonical_json
from steerlab.data.similarity import NearDuplicateIndex, normalise_text
from steerlab.errors import DataError

__all__ = ["CleaningResult", "CleaningSettings", "Finding", "clean", "output_violation"]

MAX_ERRORS_SHOWN = 5


@dataclass(frozen=True)
class CleaningSettings:
    drop_exact_duplicates: bool = True
    drop_conflicts: bool = True
    near_duplicate_threshold: float = 0.9
    drop_near_duplicates: bool = False
    max_input_chars: int = 4000
    on_invalid_output: Literal["error", "drop"] = "error"


@dataclass(frozen=True)
class Finding:
    """One problem with one example. ``action`` says what cleaning did about it."""

    check: str
    where: str
    example_id: str
    detail: str
    action: Literal["dropped", "kept", "redacted", "moved"]

    def as_dict(self) -> dict[str, str]:
        return {
            "check": self.check,
            "where": self.where,
            "example_id": self.example_id,
            "detail": self.detail,
            "action": self.action,
        }


@dataclass
class CleaningResult:
    kept: list[Example]
    findings: list[Finding] = field(default_factory=list)

    def count(self, check: str, action: str | None = None) -> int:
        return sum(1 for f in self.findings if f.check == check and (action is None or f.action == action))

    @property
    def removed(self) -> Counter[str]:
        return Counter(f.check for f in self.findings if f.action == "dropped")


def _contract_violation(
    example: Example, labels: set[str] | None, schema: dict[str, Any] | None
) -> str | None:
    if example.output is None:
        return None
    return output_violation(example.output, labels, schema)


def output_violation(output: Any, labels: set[str] | None, schema: dict[str, Any] | None) -> str | None:
    """Why ``output`` breaks the contract (a label outside ``labels``, JSON failing ``schema``),
    or None. Public so outputs that never came from a data file (reviewers' corrections) are
    held to exactly the rule the data check applies."""
    if labels is not None and (not isinstance(output, str) or output not in labels):
        return f"label {output!r} is not in the task's label set"
    if schema is not None:
        from jsonschema import Draft202012Validator

        errors = sorted(Draft202012Validator(schema).iter_errors(output), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            location = "/".join(str(p) for p in first.path) or "(root)"
            return f"output violates the JSON schema at {location}: {first.message}"
    return None


def clean(
    examples: Sequence[Example],
    *,
    settings: CleaningSettings | None = None,
    labels: Sequence[str] | None = None,
    schema: dict[str, Any] | None = None,
    output_field: str = "output",
) -> CleaningResult:
    """Check ``examples`` in a fixed order and return what survives, with every finding."""
    settings = settings or CleaningSettings()
    findings: list[Finding] = []
    label_set = set(labels) if labels is not None else None

    # 1. Contract: outputs outside the label set or schema.
    survivors = []
    violations = []
    for example in examples:
        problem = _contract_violation(example, label_set, schema)
        if problem is None:
            survivors.append(example)
        else:
            violations.append((example, problem))
    if violations and settings.on_invalid_output == "error":
        lines = [
            f"{ex.where}: field {output_field!r}: {problem}" for ex, problem in violations[:MAX_ERRORS_SHOWN]
        ]
        more = len(violations) - MAX_ERRORS_SHOWN
        first = violations[0][0]
        raise DataError(
            violations[0][1]
            + (f" ({len(violations)} rows in all)" if len(violations) > 1 else "")
            + ("\n" + "\n".join(lines[1:]) if len(lines) > 1 else "")
            + (f"\n… and {more} more" if more > 0 else ""),
            path=first.source,
            line=first.line,
            field=output_field,
            hint="fix the rows, add the labels to task.yaml, or set cleaning.on_invalid_output: drop",
        )
    check = "unknown_label" if labels is not None else "schema_violation"
    findings += [Finding(check, ex.where, ex.id, problem, "dropped") for ex, problem in violations]

    # 2. Empty and over-long inputs.
    remaining = []
    for example in survivors:
        text = example.input_text
        if not text.strip():
            findings.append(Finding("empty_input", example.where, example.id, "input is empty", "dropped"))
        elif len(text) > settings.max_input_chars:
            detail = f"input has {len(text):,} characters, over the {settings.max_input_chars:,} limit"
            findings.append(Finding("overlong_input", example.where, example.id, detail, "dropped"))
        else:
            remaining.append(example)

    # 3. Exact duplicates and conflicting outputs, by normalised input.
    groups: dict[str, list[Example]] = defaultdict(list)
    for example in remaining:
        groups[normalise_text(example.input_text)].append(example)
    deduped = []
    for group in groups.values():
        outputs = Counter(_output_key(ex.output) for ex in group)
        if len(outputs) > 1:
            (top, top_count), *rest = outputs.most_common()
            majority = top_count > sum(count for _, count in rest)
            for ex in group:
                agrees = _agrees(ex, top, majority)
                detail = "same input with different outputs: " + ", ".join(
                    f"{out} x{count}" for out, count in outputs.most_common()
                )
                if settings.drop_conflicts and not agrees:
                    findings.append(Finding("conflicting_label", ex.where, ex.id, detail, "dropped"))
                else:
                    findings.append(Finding("conflicting_label", ex.where, ex.id, detail, "kept"))
            group = [ex for ex in group if _agrees(ex, top, majority)] if settings.drop_conflicts else group
        seen: dict[str, Example] = {}
        for ex in group:
            key = _output_key(ex.output)
            if key in seen:
                action = "dropped" if settings.drop_exact_duplicates else "kept"
                findings.append(
                    Finding("exact_duplicate", ex.where, ex.id, f"duplicate of {seen[key].where}", action)
                )
                if settings.drop_exact_duplicates:
                    continue
            else:
                seen[key] = ex
            deduped.append(ex)
    deduped.sort(key=lambda ex: (ex.source, ex.line or 0))

    # 4. Near duplicates (reported; dropped only when asked).
    index = NearDuplicateIndex(settings.near_duplicate_threshold)
    kept = []
    for position, example in enumerate(deduped):
        matches = index.query(example.input_text)
        if matches:
            other, score = matches[0]
            detail = f"near-duplicate (Jaccard {score:.2f}) of {deduped[other].where}"
            action = "dropped" if settings.drop_near_duplicates else "kept"
            findings.append(Finding("near_duplicate", example.where, example.id, detail, action))
            if settings.drop_near_duplicates:
                continue
        index.add(position, example.input_text)
        kept.append(example)
    return CleaningResult(kept, findings)


def _agrees(example: Example, top: str, majority: bool) -> bool:
    """Whether a conflicting example carries the strict-majority output (kept when one exists)."""
    return majority and _output_key(example.output) == top


def _output_key(output: Any) -> str:
    return output if isinstance(output, str) else canonical_json(output)
