"""JSON-schema constrained decoding for local transformers models.

At every decoding step a grammar matcher says which tokens may come next so that the output
stays a prefix of some JSON document valid under the schema; every other token's logit is set
to -inf before sampling. End-of-sequence is allowed only where the document is complete, so a
constrained generation that ends with EOS is valid by construction, and one cut off by
``max_new_tokens`` is reported with ``finish_reason == "length"``.

The grammar engine is llguidance (guidance-ai, MIT; also a grammar backend of vLLM, SGLang
and llama.cpp). Chosen over the alternatives as installed on this project's machines (torch
2.13 CPU, transformers 5.23):

- llguidance: one 3 MB abi3 wheel with **no Python dependencies**; the matcher API
  (``LLMatcher``: compute mask, consume token, is_accepting) is small and stable across 1.x;
  a schema compiles in milliseconds and a token mask takes ~0.1 ms even for Qwen's 152k-token
  vocabulary (a lazy lexer over the tokenizer trie, no precomputation over the vocabulary).
- xgrammar: pulls ``triton`` (hundreds of MB) and ``apache-tvm-ffi`` even for CPU use.
- outlines: pulls ``outlines_core``, ``diskcache``, ``genson``, ``pillow``; its transformers
  integration wraps the model rather than plugging into ``generate``.

Only ``llguidance``'s core is used: its ``llguidance.torch`` helpers wrap their mask kernel in
``torch.compile``, which needs a C++ toolchain on CPU, so masks are unpacked here with numpy.

Two things are expensive enough to cache: turning a Hugging Face tokenizer into llguidance's
token trie (1-2 s for a 150k vocabulary) is done once per tokenizer, and each compiled schema
is kept per (tokenizer, EOS ids, schema text) as a template matcher that each generation
copies. :func:`compile_json_schema` returns the cached :class:`JsonSchemaConstraint`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import llguidance
import llguidance.hf
import numpy as np
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from steerlab.errors import ConfigError
from steerlab.models.base import canonical_schema

__all__ = [
    "JSON_FORMAT",
    "JsonSchemaConstraint",
    "JsonSchemaLogitsProcessor",
    "compile_json_schema",
]

log = logging.getLogger(__name__)

JSON_FORMAT: dict[str, Any] = {
    "whitespace_flexible": False,
    "item_separator": ", ",
    "key_separator": ": ",
}
"""How constrained JSON is laid out: ``json.dumps``'s default style, ``{"a": 1, "b": 2}``.

Free whitespace would let a weak model spend its whole token budget on newlines; one fixed
layout bounds the output's length and is the layout models have seen most. A schema can
override it with llguidance's ``"x-guidance"`` key (e.g. ``{"whitespace_flexible": true}``).
"""

_MAX_SCHEMAS_PER_TOKENIZER = 128

_lock = threading.Lock()
# tokenizer -> {eos ids: LLTokenizer}; weak so that unloading a model frees its entries.
_ll_tokenizers: weakref.WeakKeyDictionary[Any, dict[tuple[int, ...], Any]] = weakref.WeakKeyDictionary()
# tokenizer -> {(eos ids, schema text): JsonSchemaConstraint}, least recently used first.
_constraints: weakref.WeakKeyDictionary[
    Any, OrderedDict[tuple[tuple[int, ...], str], JsonSchemaConstraint]
] = weakref.WeakKeyDictionary()


class JsonSchemaConstraint:
    """One JSON schema compiled for one tokenizer; cheap to use for many generations.

    ``compile_seconds`` is what compiling this schema cost (grammar plus first mask);
    ``tokenizer_seconds`` is what preparing the tokenizer cost, zero when it was cached.
    """

    def __init__(
        self,
        schema: str,
        matcher: llguidance.LLMatcher,
        eos_token_ids: tuple[int, ...],
        *,
        compile_seconds: float,
        tokenizer_seconds: float,
    ) -> None:
        self.schema = schema
        self.eos_token_ids = eos_token_ids
        self.compile_seconds = compile_seconds
        self.tokenizer_seconds = tokenizer_seconds
        self._template = matcher

    def matcher(self) -> llguidance.LLMatcher:
        """A fresh matcher at the start of the document."""
        return self._template.deep_copy()

    def processor(self) -> JsonSchemaLogitsProcessor:
        """A logits processor for ONE ``generate`` call (it keeps per-row parser state)."""
        return JsonSchemaLogitsProcessor(self)

    def logits_processors(self) -> LogitsProcessorList:
        """``generate(..., logits_processor=constraint.logits_processors())``."""
        return LogitsProcessorList([self.processor()])

    def is_complete(self, tokens: Sequence[int]) -> bool:
        """Whether ``tokens`` (up to the first EOS, if any) form a complete valid document."""
        matcher = self.matcher()
        body = list(tokens)
        ends = [i for i, token in enumerate(body) if token in self.eos_token_ids]
        if ends:
            body = body[: ends[0]]
        return matcher.consume_tokens(body) and matcher.is_accepting() and not matcher.is_error()

    def finish_reason(self, tokens: Sequence[int], *, stopped: bool = False) -> Literal["stop", "length"]:
        """``"stop"`` when the output completes the document (or a stop sequence cut it, which
        the caller asked for); otherwise ``"length"``: decoding ended before the document did,
        so the output is not valid JSON for the schema."""
        return "stop" if stopped or self.is_complete(tokens) else "length"


class JsonSchemaLogitsProcessor(LogitsProcessor):
    """Masks every token the schema's grammar does not allow next, row by row.

    Works on left-padded batches as :class:`~steerlab.models.local.TransformersModel` builds
    them: the first call sees the prompts (all the same width), and every later call sees one
    more token per row, which is fed to that row's matcher. A row that has emitted EOS is done;
    ``generate`` then pads it (with a token that may itself be EOS) and its scores are left
    alone, since they are discarded. Runs before temperature and top-p (transformers applies
    its sampling warpers after custom processors), so sampling only ever sees allowed tokens.
    """

    def __init__(self, constraint: JsonSchemaConstraint) -> None:
        self.constraint = constraint
        self._matchers: list[llguidance.LLMatcher] = []
        self._done: list[bool] = []
        self._seen = 0  # tokens per row already fed to the matchers (prompt included)
        self.errors: dict[int, str] = {}  # row -> why its matcher failed (should never happen)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        batch, width = input_ids.shape
        if not self._matchers:
            self._matchers = [self.constraint.matcher() for _ in range(batch)]
            self._done = [False] * batch
        else:
            for row, tokens in enumerate(input_ids[:, self._seen :].tolist()):
                self._advance(row, tokens)
        self._seen = width
        allowed = self._allowed(scores.shape[-1])
        return scores.masked_fill(~allowed.to(scores.device), float("-inf"))

    def _advance(self, row: int, tokens: list[int]) -> None:
        matcher = self._matchers[row]
        for token in tokens:
            if self._done[row]:
                return
            if token in self.constraint.eos_token_ids:
                self._done[row] = True
            elif not matcher.consume_token(token) and row not in self.errors:
                self.errors[row] = matcher.get_error() or f"token {token} was not allowed"
                log.warning("JSON constraint failed on row %d: %s", row, self.errors[row])

    def _allowed(self, vocab: int) -> torch.Tensor:
        """(batch, vocab) booleans: True where a token may come next."""
        rows = []
        for row, matcher in enumerate(self._matchers):
            if self._done[row]:
                rows.append(np.ones(vocab, dtype=bool))
                continue
            if row in self.errors:
                # A broken row can only end: EOS, so it stops spending tokens.
                bits = np.zeros(vocab, dtype=bool)
                bits[[t for t in self.constraint.eos_token_ids if t < vocab]] = True
                rows.append(bits)
                continue
            # One bit per token, in little-endian 32-bit words: token i is bit i % 32 of word
            # i // 32, which is bit i % 8 of byte i // 8 with little-endian bit order.
            packed = np.frombuffer(matcher.compute_bitmask(), dtype=np.uint8)
            bits = np.unpackbits(packed, bitorder="little")[:vocab]
            if bits.size < vocab:  # the model's head is wider than the tokenizer: padding ids
                bits = np.concatenate([bits, np.zeros(vocab - bits.size, dtype=np.uint8)])
            rows.append(bits.astype(bool))
        return torch.from_numpy(np.stack(rows))


def compile_json_schema(
    tokenizer: Any,
    schema: str | Mapping[str, Any],
    *,
    eos_token_ids: Sequence[int] | None = None,
) -> JsonSchemaConstraint:
    """Compile ``schema`` for a Hugging Face fast tokenizer, or return the cached compilation.

    ``eos_token_ids`` are every token that ends a turn (defaults to the tokenizer's EOS); they
    are allowed exactly where the JSON document is complete. Raises :class:`ConfigError` for a
    schema that is not valid JSON Schema or uses keywords the grammar cannot enforce.
    """
    text = canonical_schema(schema)
    eos = tuple(sorted(set(eos_token_ids))) if eos_token_ids else (tokenizer.eos_token_id,)
    if None in eos:
        raise ConfigError("constrained decoding needs an EOS token, and this tokenizer has none")
    key = (eos, text)
    with _lock:
        cached = _constraints.get(tokenizer, OrderedDict())
        if key in cached:
            cached.move_to_end(key)
            return cached[key]
        started = time.perf_counter()
        ll_tokenizer = _ll_tokenizer(tokenizer, eos)
        tokenizer_seconds = time.perf_counter() - started
        started = time.perf_counter()
        matcher = _compile(ll_tokenizer, text)
        constraint = JsonSchemaConstraint(
            text,
            matcher,
            eos,
            compile_seconds=time.perf_counter() - started,
            tokenizer_seconds=tokenizer_seconds,
        )
        cached[key] = constraint
        while len(cached) > _MAX_SCHEMAS_PER_TOKENIZER:
            cached.popitem(last=False)
        _constraints[tokenizer] = cached
    log.info(
        "Compiled JSON schema in %.3f s (tokenizer %.3f s)", constraint.compile_seconds, tokenizer_seconds
    )
    return constraint


def _ll_tokenizer(tokenizer: Any, eos: tuple[int, ...]) -> Any:
    per_eos = _ll_tokenizers.setdefault(tokenizer, {})
    if eos not in per_eos:
        try:
            per_eos[eos] = llguidance.hf.from_tokenizer(tokenizer, eos_token=list(eos))
        except ValueError as error:
            raise ConfigError(
                f"constrained decoding cannot use tokenizer {type(tokenizer).__name__}: {error}",
                hint="it needs a fast (Rust) tokenizer; load the model with its tokenizer.json",
            ) from error
    return per_eos[eos]


def _compile(ll_tokenizer: Any, schema: str) -> llguidance.LLMatcher:
    _check_schema(schema)
    grammar = llguidance.LLMatcher.grammar_from_json_schema(schema, defaults=JSON_FORMAT)
    is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar, ll_tokenizer)
    if is_error:
        raise ConfigError(
            f"cannot constrain decoding to this JSON schema: {messages[0]}",
            hint="remove or simplify the keyword it names; the grammar supports type, enum, const, "
            "properties, required, items, min/max length and items, pattern, anyOf/oneOf and $ref",
        )
    matcher = llguidance.LLMatcher(ll_tokenizer, grammar, log_level=0)
    matcher.compute_bitmask()  # builds the lexer for the first step, so compile time shows here
    if matcher.is_error():
        raise ConfigError(f"cannot constrain decoding to this JSON schema: {matcher.get_error()}")
    return matcher


def _check_schema(schema: str) -> None:
    from jsonschema import exceptions, validators

    document = json.loads(schema)
    try:
        validators.validator_for(document).check_schema(document)
    except exceptions.SchemaError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "(root)"
        raise ConfigError(
            f"json_schema is not a valid JSON Schema at {where}: {error.message}",
            hint="check it against https://json-schema.org/draft/2020-12 (or the draft its $schema names)",
        ) from error
