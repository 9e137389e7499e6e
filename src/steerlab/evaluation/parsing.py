"""Free text to contract shape: a JSON object checked against a schema, or one label of a set.

Used where decoding is not constrained (endpoints without structured outputs, or the free-text
baseline that constrained decoding is measured against). Models wrap JSON in prose and code
fences, so :func:`parse_json_output` looks for the first JSON object rather than demanding the
whole reply be one; anything it cannot use comes back with an ``error`` written for a person,
which :func:`repair_prompt` hands to the model for its one repair attempt.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from steerlab.errors import ConfigError
from steerlab.models.base import Prompt, canonical_schema, normalise_prompt

__all__ = ["ParseResult", "parse_json_output", "parse_label", "repair_prompt"]

_FENCE = re.compile(r"```[ \t]*(?:json5?|JSON)?[ \t]*\r?\n?(.*?)```", re.DOTALL)
_MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class ParseResult:
    """``value`` is the first JSON object found in the text, even when it breaks the schema
    (``valid`` says whether it satisfies it); None when no JSON object could be read. ``error``
    says what was wrong, for a report or a repair prompt; None when ``valid``."""

    value: dict[str, Any] | None
    valid: bool
    error: str | None = None


def parse_json_output(text: str, schema: str | Mapping[str, Any] | None = None) -> ParseResult:
    """Find the first JSON object in ``text`` and validate it against ``schema``.

    Tried in order: the whole text; the body of each fenced code block (```json ... ```); then
    every ``{`` from left to right, decoding one JSON value from there and ignoring whatever
    follows it. Raises :class:`ConfigError` if ``schema`` itself is not valid JSON Schema.
    """
    value, error = _first_object(text)
    if value is None:
        return ParseResult(None, False, error)
    if schema is None:
        return ParseResult(value, True)
    problem = _schema_problem(value, canonical_schema(schema))
    return ParseResult(value, problem is None, problem)


def _first_object(text: str) -> tuple[dict[str, Any] | None, str]:
    stripped = text.strip()
    if not stripped:
        return None, "the output is empty; expected a JSON object"
    candidates = [stripped, *(match.group(1).strip() for match in _FENCE.finditer(text))]
    first_error: str | None = None
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value, ""
        first_error = first_error or f"expected a JSON object, got a JSON {_json_type(value)}"
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError as error:
            # The first "{" is where the model most likely meant its answer to start.
            first_error = first_error or f"invalid JSON starting at character {match.start()}: {error.msg}"
            continue
        if isinstance(value, dict):
            return value, ""
    return None, first_error or "no JSON object found in the output"


@functools.lru_cache(maxsize=64)
def _validator(schema: str) -> Any:
    from jsonschema import exceptions, validators

    document = json.loads(schema)
    cls = validators.validator_for(document)
    try:
        cls.check_schema(document)
    except exceptions.SchemaError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "(root)"
        raise ConfigError(f"the JSON schema is not valid JSON Schema at {where}: {error.message}") from error
    return cls(document)


def _schema_problem(value: dict[str, Any], schema: str) -> str | None:
    from jsonschema.exceptions import best_match

    error = best_match(_validator(schema).iter_errors(value))
    if error is None:
        return None
    where = error.json_path if error.absolute_path else "the object"
    message = error.message
    if len(message) > _MAX_ERROR_CHARS:
        message = message[: _MAX_ERROR_CHARS - 3] + "..."
    return f"schema violation at {where}: {message}"


def _json_type(value: Any) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def repair_prompt(
    original: Prompt,
    bad_output: str,
    error: str,
    *,
    schema: str | Mapping[str, Any] | None = None,
) -> list[dict[str, str]]:
    """The conversation for the one repair attempt: the original prompt, the model's bad answer
    as its own turn, and a user turn saying what was wrong and asking for the JSON alone.

    Plain-text prompts become one user message, so this works for chat and base models alike
    (base models read it as a transcript). ``schema``, when given, is restated in the request.
    """
    messages = normalise_prompt(original)
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    request = f"That answer cannot be used: {error}.\n"
    if schema is not None:
        request += (
            f"The answer must be a JSON object matching this JSON schema:\n{canonical_schema(schema)}\n"
        )
    request += "Reply again with only the corrected JSON object: no explanation, no code fences."
    return [*messages, {"role": "assistant", "content": bad_output}, {"role": "user", "content": request}]


def _normalise_label(text: str) -> str:
    """Case-folded, ``_``/``-`` read as spaces, whitespace collapsed, wrapping punctuation off."""
    text = re.sub(r"[\s_\-]+", " ", text.casefold())
    return text.strip(" \t\n\"'`*.,:;!?()[]{}<>")


def parse_label(text: str, labels: Sequence[str]) -> str | None:
    """The label a free-text answer names, or None when it names none or several.

    An exact match after normalisation wins (``"**Billing.**"`` is ``billing``); otherwise the
    one label that appears in the text as whole words (``"The category is billing"``). A label
    found only inside a longer label's mention does not count: ``"not spam"`` names
    ``not_spam``, not ``spam``.
    """
    answer = _normalise_label(text)
    exact = [label for label in labels if _normalise_label(label) == answer]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:  # labels that differ only in case or separators: need the literal one
        literal = [label for label in exact if label == text.strip()]
        return literal[0] if len(literal) == 1 else None
    spans: dict[str, list[tuple[int, int]]] = {}
    for label in labels:
        needle = _normalise_label(label)
        if needle:
            pattern = r"(?<!\w)" + re.escape(needle) + r"(?!\w)"
            spans[label] = [m.span() for m in re.finditer(pattern, answer)]
    mentions = [span for found in spans.values() for span in found]

    def standalone(span: tuple[int, int]) -> bool:  # not strictly inside another label's mention
        return not any(s <= span[0] and span[1] <= e and (s, e) != span for s, e in mentions)

    named = [label for label, found in spans.items() if any(map(standalone, found))]
    return named[0] if len(named) == 1 else None
