"""Local models through transformers: generate, score labels, count tokens.

Label scoring packs the prompt and every label continuation into ONE sequence per input and
runs one forward pass: each label's tokens see the whole prompt and their own earlier tokens,
never another label's (a block "tree" attention mask, position ids restarting after the
prompt). The prompt is computed once however many labels there are; with 77 labels and a
200-token prompt that is ~600 tokens of work instead of ~15,000 for one sequence per label.
The language-model head runs only at the positions that predict label tokens, which matters
for Gemma's 262k-token vocabulary.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from steerlab.errors import ModelNotFoundError
from steerlab.models.base import (
    Generation,
    GenerationParams,
    LabelScores,
    Model,
    Prompt,
    flatten_messages,
    normalise_prompt,
    truncate_at_stop,
)
from steerlab.models.device import Placement, choose_placement
from steerlab.models.hf_quiet import quiet_transformers
from steerlab.models.label_search import score_batch_pruned
from steerlab.models.label_trie import LabelTrie, TrieConstraint

__all__ = ["ChosenTokenLogprobs", "TransformersModel"]

MIN_SHARED_PREFIX = 16
"""Shorter shared prefixes are recomputed with each batch: caching them would save little."""

CONTINUATION_TAIL_CHARS = 64
"""Characters of the prompt tokenised together with a label to find the label's tokens."""

LSE_CHUNK_ROWS = 16
"""Rows of logits converted to fp32 at once for the log-normaliser (measured: 16 beats all-at-once)."""

log = logging.getLogger(__name__)


class ChosenTokenLogprobs(LogitsProcessor):
    """Records the log-probability of every token ``generate`` picks, for a confidence.

    ``generate`` can return every step's scores, but that keeps (steps x batch x vocabulary)
    floats: 1.2 GB for 256 steps of a batch of 8 over a 150k vocabulary. This processor keeps
    only the last step's scores, and reads the picked token's log-probability from them when the
    next step (or :meth:`finish`) shows which token was picked. A step where exactly one token
    was allowed (a JSON grammar forcing ``"category": "``) is marked forced.
    """

    def __init__(self) -> None:
        self._scores: torch.Tensor | None = None
        self._normaliser: torch.Tensor | None = None
        self._forced: torch.Tensor | None = None
        self.logprobs: list[list[float]] = []
        self.forced: list[list[bool]] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._scores is not None:
            self._record(input_ids[:, -1])
        self._scores = scores
        self._normaliser = torch.logsumexp(scores.float(), dim=-1)
        self._forced = torch.isfinite(scores).sum(dim=-1) == 1
        return scores

    def _record(self, picked: torch.Tensor) -> None:
        assert self._scores is not None and self._normaliser is not None and self._forced is not None
        if not self.logprobs:
            self.logprobs = [[] for _ in range(picked.shape[0])]
            self.forced = [[] for _ in range(picked.shape[0])]
        chosen = self._scores.gather(1, picked.to(self._scores.device)[:, None])[:, 0].float()
        for row, (lp, forced) in enumerate(
            zip((chosen - self._normaliser).tolist(), self._forced.tolist(), strict=True)
        ):
            self.logprobs[row].append(lp)
            self.forced[row].append(forced)

    def finish(self, picked: torch.Tensor) -> None:
        """Record the last step, whose picked token only the finished output holds."""
        if self._scores is not None:
            self._record(picked)
            self._scores = self._normaliser = self._forced = None

    def confidence(self, row: int, tokens: int) -> float | None:
        """Geometric-mean probability of ``row``'s first ``tokens`` picks that were not forced;
        1.0 when every one was forced (the grammar left nothing to choose), None for no tokens."""
        if row >= len(self.logprobs) or tokens <= 0:
            return None
        chosen = [
            lp
            for lp, forced in zip(self.logprobs[row][:tokens], self.forced[row][:tokens], strict=True)
            if not forced
        ]
        return math.exp(sum(chosen) / len(chosen)) if chosen else 1.0


class TransformersModel(Model):
    """A causal LM loaded with transformers from a local directory or a hub id."""

    prune_labels_above = 16
    """Label sets larger than this are scored in two stages (``label_search``): the same best
    label, without reading every label's tokens. Smaller sets are scored in full, which gives
    every label its exact probability."""

    def __init__(
        self,
        source: str | Path,
        *,
        name: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
    ) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.name = name or str(source)
        self.source = str(source)
        self.batch_size = max(1, batch_size)
        self.placement: Placement = choose_placement(device, dtype)
        started = time.perf_counter()
        try:
            with quiet_transformers():
                self.tokenizer = AutoTokenizer.from_pretrained(self.source)
                self.model = AutoModelForCausalLM.from_pretrained(self.source, dtype=self.placement.dtype)
        except OSError as error:
            raise ModelNotFoundError(
                f"could not load model {self.source!r}: {error}".splitlines()[0],
                hint="a hub id needs network access or a copy in the Hugging Face cache; "
                "a local path must be a directory made by save_pretrained",
            ) from error
        self.model.to(self.placement.device).eval()
        self.load_seconds = time.perf_counter() - started
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.has_chat_template = self.tokenizer.chat_template is not None
        self.label_prefix = "" if self.has_chat_template else " "
        self._eos_ids = self._end_token_ids()
        self._prefix: tuple[tuple[int, ...], Any] | None = None  # shared-prefix KV cache for scoring
        log.info("Loaded %s on %s in %.1f s", self.name, self.placement.describe(), self.load_seconds)

    def weights_changed(self) -> None:
        """Forget state computed from the weights (the shared-prefix KV cache of label scoring);
        call after changing them in place, as LoRA training does."""
        self._prefix = None

    # -- prompts ------------------------------------------------------------------------------

    def render(self, prompt: Prompt) -> tuple[str, bool]:
        """The exact text the model reads, and whether a chat template produced it.

        Template output already holds its special tokens (BOS included), so it must be encoded
        without adding them again; plain text gets the tokenizer's usual special tokens.
        """
        prompt = normalise_prompt(prompt)
        if self.has_chat_template:
            messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
            open_turn = messages[-1]["role"] == "assistant"
            text = self.tokenizer.apply_chat_template(
                messages,
                tokenize=False,
                add_generation_prompt=not open_turn,
                continue_final_message=open_turn,
            )
            return text, True
        return (prompt if isinstance(prompt, str) else flatten_messages(prompt)), False

    def encode(self, prompt: Prompt) -> list[int]:
        text, templated = self.render(prompt)
        return self.tokenizer(text, add_special_tokens=not templated)["input_ids"]

    def count_tokens(self, prompt: Prompt) -> int:
        return len(self.encode(prompt))

    def _end_token_ids(self) -> list[int]:
        """Every token that ends a turn: the tokenizer's EOS plus the generation config's."""
        ids: set[int] = set()
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        if isinstance(configured, int):
            ids.add(configured)
        elif configured:
            ids.update(configured)
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return sorted(ids)

    # -- generation -----------------------------------------------------------------------------

    @torch.inference_mode()
    def generate(self, prompts: Sequence[Prompt], params: GenerationParams | None = None) -> list[Generation]:
        params = params or GenerationParams()
        encoded = [self.encode(p) for p in prompts]
        tries = (
            [self._label_trie(self.render(p)[0], params.choices) for p in prompts] if params.choices else None
        )
        # Sort by length so each batch pads little; results are put back in input order.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        results: list[Generation | None] = [None] * len(encoded)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            generated = self._generate_batch(
                [encoded[i] for i in batch], params, [tries[i] for i in batch] if tries else None
            )
            for index, generation in zip(batch, generated, strict=True):
                results[index] = generation
        return [r for r in results if r is not None]

    def _label_trie(self, prompt_text: str, choices: tuple[str, ...]) -> LabelTrie:
        """The trie of ``choices`` tokenised as they follow this prompt (as label scoring does)."""
        return self._tail_trie(prompt_text[-CONTINUATION_TAIL_CHARS:], choices)

    @functools.lru_cache(maxsize=64)  # noqa: B019 - prompts with a chat template all end alike
    def _tail_trie(self, tail: str, choices: tuple[str, ...]) -> LabelTrie:
        return LabelTrie([self._tail_continuation(tail, c) for c in choices], self._eos_ids)

    def _generate_batch(
        self, batch: list[list[int]], params: GenerationParams, tries: list[LabelTrie] | None = None
    ) -> list[Generation]:
        pad = self.tokenizer.pad_token_id
        width = max(len(ids) for ids in batch)
        # Left padding: every row's last prompt token sits at the same position, where decoding starts.
        input_ids = torch.tensor(
            [[pad] * (width - len(ids)) + ids for ids in batch], device=self.placement.device
        )
        attention = torch.tensor(
            [[0] * (width - len(ids)) + [1] * len(ids) for ids in batch], device=self.placement.device
        )
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "pad_token_id": pad,
            "eos_token_id": self._eos_ids,
            "do_sample": not params.greedy,
        }
        if params.greedy:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=None)
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        constraint = None
        processors = LogitsProcessorList()
        if tries:
            processors.append(TrieConstraint(tries, width))
            kwargs["max_new_tokens"] = min(params.max_new_tokens, max(t.depth for t in tries) + 1)
        if params.json_schema is not None:
            from steerlab.models.constrained import compile_json_schema

            constraint = compile_json_schema(self.tokenizer, params.json_schema, eos_token_ids=self._eos_ids)
            processors.append(constraint.processor())
        recorder = ChosenTokenLogprobs()  # last: it sees the grammar's mask, not the sampling warpers
        processors.append(recorder)
        kwargs["logits_processor"] = processors
        if params.seed is not None:
            torch.manual_seed(params.seed)
        started = time.perf_counter()
        output = self.model.generate(input_ids=input_ids, attention_mask=attention, **kwargs)
        elapsed = time.perf_counter() - started
        recorder.finish(output[:, -1])
        generations = []
        for row, ids in enumerate(batch):
            new = output[row, width:].tolist()
            ended = next((i for i, token in enumerate(new) if token in self._eos_ids), None)
            used = new if ended is None else new[: ended + 1]
            text = self.tokenizer.decode(new if ended is None else new[:ended], skip_special_tokens=True)
            text, stopped = truncate_at_stop(text, params.stop)
            finish = "stop" if ended is not None or stopped else "length"
            if constraint is not None:  # "length" whenever the JSON document is incomplete
                finish = constraint.finish_reason(used, stopped=stopped)
            confidence = recorder.confidence(row, len(used))
            generations.append(Generation(text, len(ids), len(used), finish, elapsed, confidence))
        return generations

    # -- label scoring --------------------------------------------------------------------------

    def _continuation_ids(self, prompt_text: str, label: str) -> list[int]:
        """Tokens of ``label`` as the model would see them right after the prompt.

        Tokenising prompt+label together and cutting at the prompt's tokens respects merges at
        the boundary (a leading space joins the label's first word). Only the prompt's last
        characters can take part in such a merge, so the text tokenised is its tail, and the
        result is cached per (tail, label): with a chat template every prompt ends the same way,
        and tokenising 77 labels after each 450-token prompt had cost as much as scoring.
        """
        return list(self._tail_continuation(prompt_text[-CONTINUATION_TAIL_CHARS:], label))

    @functools.lru_cache(maxsize=65_536)  # noqa: B019 - the model lives as long as its cache should
    def _tail_continuation(self, tail: str, label: str) -> tuple[int, ...]:
        tail_ids = self.tokenizer(tail, add_special_tokens=False)["input_ids"]
        joint = self.tokenizer(tail + label, add_special_tokens=False)["input_ids"]
        if joint[: len(tail_ids)] == tail_ids and len(joint) > len(tail_ids):
            return tuple(joint[len(tail_ids) :])
        alone = self.tokenizer(label, add_special_tokens=False)["input_ids"]
        if not alone:
            raise ValueError(f"label {label!r} encodes to no tokens")
        return tuple(alone)

    def _pack(self, prompt: Prompt, labels: Sequence[str]) -> dict[str, Any]:
        """Lay out one input as prompt + all labels, with the positions that score each label."""
        text, templated = self.render(prompt)
        prompt_ids = self.tokenizer(text, add_special_tokens=not templated)["input_ids"]
        if not prompt_ids:
            raise ValueError("label scoring needs a non-empty prompt")
        ids = list(prompt_ids)
        positions = list(range(len(prompt_ids)))
        spans: list[tuple[int, int]] = []  # (first packed index, length) of each label
        for label in labels:
            cont = self._continuation_ids(text, label)
            spans.append((len(ids), len(cont)))
            ids.extend(cont)
            positions.extend(range(len(prompt_ids), len(prompt_ids) + len(cont)))
        return {"ids": ids, "positions": positions, "prompt_len": len(prompt_ids), "spans": spans}

    @staticmethod
    def _tree_allowed(packed: dict[str, Any], width: int) -> torch.Tensor:
        """Which key each query may see (width, width): causal prompt; a label sees prompt + own prefix."""
        allowed = torch.zeros(width, width, dtype=torch.bool)
        n = packed["prompt_len"]
        allowed[:n, :n] = torch.ones(n, n, dtype=torch.bool).tril()
        for first, length in packed["spans"]:
            block = slice(first, first + length)
            allowed[block, :n] = True
            allowed[block, block] = torch.ones(length, length, dtype=torch.bool).tril()
        pad_rows = torch.arange(len(packed["ids"]), width)
        allowed[pad_rows, pad_rows] = True  # padding attends to itself only: no all-masked rows, no NaN
        return allowed

    def _attention_masks(
        self, allowed: torch.Tensor, positions: torch.Tensor, key_positions: torch.Tensor | None = None
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        """Additive 4D masks, one per attention layer type when the model mixes types.

        Sliding-window layers (Gemma 3: window 512) must also drop keys more than a window behind
        the query. Measured by position ids rather than packed index, this is exactly the window an
        unpacked prompt+label sequence would have.
        """
        dtype = self.placement.dtype
        low = torch.finfo(dtype).min

        def additive(mask: torch.Tensor) -> torch.Tensor:
            return (
                torch.zeros(mask.shape, dtype=dtype)
                .masked_fill(~mask, low)[:, None]
                .to(self.placement.device)
            )

        config = self.model.config
        layer_types = set(getattr(config, "layer_types", None) or ())
        window = getattr(config, "sliding_window", None)
        if "sliding_attention" not in layer_types or not window:
            return additive(allowed)
        keys = positions if key_positions is None else key_positions
        near = keys[:, None, :] > positions[:, :, None] - window  # (batch, query, key)
        return {
            kind: additive(allowed & near if kind == "sliding_attention" else allowed) for kind in layer_types
        }

    @torch.inference_mode()
    def score_labels(self, prompts: Sequence[Prompt], labels: Sequence[str]) -> list[LabelScores]:
        labels = list(labels)
        if not labels:
            raise ValueError("score_labels needs at least one label")
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be distinct")
        packs = [self._pack(p, labels) for p in prompts]
        prefix = self._shared_prefix(packs)
        order = sorted(range(len(packs)), key=lambda i: len(packs[i]["ids"]))
        results: list[LabelScores | None] = [None] * len(packs)
        pruned = len(labels) > self.prune_labels_above
        for start in range(0, len(order), self.batch_size):
            batch = [packs[i] for i in order[start : start + self.batch_size]]
            scored = (
                score_batch_pruned(self, batch, labels, prefix)
                if pruned
                else self._score_batch(batch, labels, prefix)
            )
            for index, scores in zip(order[start : start + self.batch_size], scored, strict=True):
                results[index] = scores
        return [r for r in results if r is not None]

    def _shared_prefix(self, packs: list[dict[str, Any]]) -> tuple[int, Any] | None:
        """KV cache of the tokens every prompt starts with, computed once and kept for later calls.

        Evaluation prompts share a long head (system message, label list, fixed few-shot turns);
        with a cache of it, each input costs only its own tokens plus its label branches. At least
        one prompt token stays outside the prefix, since the last one predicts the first label token.
        """
        shortest = min(pack["prompt_len"] for pack in packs)
        first = packs[0]["ids"]
        length = 0
        while length < shortest - 1 and all(pack["ids"][length] == first[length] for pack in packs):
            length += 1
        if length < MIN_SHARED_PREFIX:
            return None
        key = tuple(first[:length])
        if self._prefix is not None and self._prefix[0] == key:
            return length, self._prefix[1]
        from transformers import DynamicCache

        cache = DynamicCache()  # plain layers: every key kept, windows applied by our own masks
        ids = torch.tensor([list(key)], device=self.placement.device)
        self.model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
        self._prefix = (key, cache)
        return length, cache

    def _score_batch(
        self, packs: list[dict[str, Any]], labels: list[str], prefix: tuple[int, Any] | None = None
    ) -> list[LabelScores]:
        shared, cache = prefix if prefix is not None else (0, None)
        if shared:
            # Score only what follows the shared prefix: shift every index by its length.
            packs = [
                {
                    "ids": p["ids"][shared:],
                    "positions": p["positions"][shared:],
                    "prompt_len": p["prompt_len"] - shared,
                    "spans": [(first - shared, length) for first, length in p["spans"]],
                    "full_prompt_len": p["prompt_len"],
                }
                for p in packs
            ]
        width = max(len(p["ids"]) for p in packs)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(packs), width), pad, dtype=torch.long)
        position_ids = torch.zeros((len(packs), width), dtype=torch.long)
        keep = torch.zeros((len(packs), width), dtype=torch.bool)
        masks = []
        targets: list[list[tuple[list[int], list[int]]]] = []  # per row, per label: (predictors, tokens)
        for row, pack in enumerate(packs):
            used = len(pack["ids"])
            input_ids[row, :used] = torch.tensor(pack["ids"])
            position_ids[row, :used] = torch.tensor(pack["positions"])
            position_ids[row, used:] = torch.arange(shared, shared + width - used)
            masks.append(self._tree_allowed(pack, width))
            row_targets = []
            for first, length in pack["spans"]:
                # Label token j is predicted at the prompt's last token (j == 0) or at label token j-1.
                predictors = [pack["prompt_len"] - 1, *range(first, first + length - 1)]
                keep[row, predictors] = True
                row_targets.append((predictors, pack["ids"][first : first + length]))
            targets.append(row_targets)
        allowed = torch.stack(masks)  # (batch, width, width)
        key_positions = position_ids
        past = None
        if shared:
            # Every row sees the whole prefix: (batch, width, shared + width).
            allowed = torch.cat([torch.ones(len(packs), width, shared, dtype=torch.bool), allowed], dim=2)
            key_positions = torch.cat([torch.arange(shared).expand(len(packs), shared), position_ids], dim=1)
            past = self._expand_cache(cache, len(packs))
        hidden, normaliser, elapsed = self._forward_kept(
            input_ids, position_ids, allowed, key_positions, past, keep
        )
        head = self.model.get_output_embeddings()
        flat_index = torch.full((len(packs), width), -1, dtype=torch.long)
        flat_index[keep] = torch.arange(int(keep.sum()))
        results = []
        for row, row_targets in enumerate(targets):
            means = []
            for predictors, tokens in row_targets:
                rows = flat_index[row, predictors].to(hidden.device)
                logit = self._label_logits(head, hidden[rows], torch.tensor(tokens, device=hidden.device))
                means.append(float((logit - normaliser[rows]).mean()))
            prompt_tokens = packs[row].get("full_prompt_len", packs[row]["prompt_len"])
            results.append(
                LabelScores(tuple(labels), tuple(means), input_tokens=prompt_tokens, latency_s=elapsed)
            )
        return results

    def _forward_kept(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        allowed: torch.Tensor,
        key_positions: torch.Tensor,
        past: Any,
        keep: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, float]:
        """One forward pass with a custom mask; the head's input (fp32) and the log-normaliser
        at the ``keep`` positions, flattened in row-major order, and the seconds it took."""
        device = self.placement.device
        head = self.model.get_output_embeddings()
        captured: dict[str, torch.Tensor] = {}
        hook = head.register_forward_pre_hook(lambda _module, args: captured.update(hidden=args[0]))
        started = time.perf_counter()
        try:
            output = self.model(
                input_ids=input_ids.to(device),
                attention_mask=self._attention_masks(allowed, position_ids, key_positions),
                position_ids=position_ids.to(device),
                past_key_values=past,
                logits_to_keep=keep.to(device),
                use_cache=past is not None,
            )
        finally:
            hook.remove()
        elapsed = time.perf_counter() - started
        vocab = output.logits.shape[-1]
        # The log-normaliser over the vocabulary in fp32, a few rows at a time: converting all
        # kept rows at once (hundreds x 150k logits) spends more time moving memory than computing.
        rows = output.logits.reshape(-1, vocab).split(LSE_CHUNK_ROWS)
        normaliser = torch.cat([torch.logsumexp(chunk.float(), dim=-1) for chunk in rows])  # (kept,)
        hidden = captured["hidden"].reshape(-1, captured["hidden"].shape[-1]).float()  # (kept, hidden)
        return hidden, normaliser, elapsed

    def _label_logits(self, head: Any, hidden: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The logits of ``tokens`` in fp32, one per row of ``hidden`` (the head's input).

        In bf16 a logit near 20 is rounded to a multiple of 0.125, so two labels predicted at the
        same position can tie exactly and the ranking depends on rounding. Recomputing just the
        label tokens' logits in fp32 (a few dot products) keeps the ranking exact; the normaliser
        (logsumexp over the vocabulary) still comes from the model's own logits, and it is the
        same for every label at a position, so it cannot reorder them.
        """
        weight = head.weight[tokens].float()  # (n, hidden)
        logit = (hidden * weight).sum(-1)
        if getattr(head, "bias", None) is not None:
            logit = logit + head.bias[tokens].float()
        cap = getattr(self.model.config, "final_logit_softcapping", None)
        if cap:
            logit = torch.tanh(logit / cap) * cap
        return logit

    @staticmethod
    def _expand_cache(cache: Any, batch: int) -> Any:
        """A fresh cache holding the prefix once per row (the forward pass appends to it)."""
        return TransformersModel._cache_rows(cache, [0] * batch)

    @staticmethod
    def _cache_rows(cache: Any, rows: Sequence[int], length: int | None = None) -> Any:
        """A fresh cache of the chosen ``rows`` (repeats allowed), cut to the first ``length``
        keys; the cache given is left as it was."""
        from transformers import DynamicCache

        fresh = DynamicCache()
        index = torch.tensor(list(rows))
        for layer_index, layer in enumerate(cache.layers):
            keys = layer.keys[index.to(layer.keys.device), :, :length].contiguous()
            values = layer.values[index.to(layer.values.device), :, :length].contiguous()
            fresh.update(keys, values, layer_index)
        return fresh

    # -- per-token log-probabilities (used by the OpenAI-compatible server's echo) ---------------

    @torch.inference_mode()
    def token_logprobs(self, text: str) -> list[tuple[str, int, float | None]]:
        """(token text, character offset, log-probability) for each token of ``text``.

        The first token has no context, so its log-probability is None, as in OpenAI's echo.
        """
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
        if not ids:
            return []
        prefix = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        full = torch.tensor([prefix + ids], device=self.placement.device)
        logits = self.model(input_ids=full, use_cache=False).logits[0].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        shift = len(prefix)
        result: list[tuple[str, int, float | None]] = []
        for i, (token, (start, end)) in enumerate(zip(ids, offsets, strict=True)):
            position = i + shift - 1
            value = float(logprobs[position, token]) if position >= 0 else None
            result.append((text[start:end], start, value))
        return result

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": "transformers",
            "source": self.source,
            "device": self.placement.device.type,
            "dtype": str(self.placement.dtype).removeprefix("torch."),
            "placement_reason": self.placement.reason,
            "chat_template": self.has_chat_template,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "load_seconds": round(self.load_seconds, 2),
        }
