"""Cross-entropy on the answer tokens, with the output head run only where it is needed.

A causal LM's head turns every position's hidden state into a vocabulary-sized row of logits.
Training needs only the rows that predict answer tokens, a few per example for a label and rarely
more than a fifth of the sequence for free text. With Gemma's 262k-token vocabulary the full head
is most of a small model's compute and memory, so the body runs alone, the hidden states at the
predicting positions are gathered, and the head (and Gemma's final logit soft-capping) is applied
to those rows only. The rows go through the head in chunks, each recomputed during the backward
pass, so even a long free-text answer never holds all its fp32 logits at once.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

__all__ = ["HEAD_CHUNK_ROWS", "answer_loss_sum"]

HEAD_CHUNK_ROWS = 512
"""Answer positions sent through the head at once (Gemma: 512 x 262k fp32 logits = 0.5 GB)."""


def _chunk_loss(
    hidden: torch.Tensor, targets: torch.Tensor, head: torch.nn.Module, cap: float | None
) -> torch.Tensor:
    logits = head(hidden).float()
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return F.cross_entropy(logits, targets, reduction="sum")


def answer_loss_sum(
    causal_lm: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    predictors: torch.Tensor,
    targets: torch.Tensor,
) -> torch.Tensor:
    """Summed cross-entropy (fp32) of ``targets`` predicted at the ``predictors`` positions.

    ``causal_lm`` is a transformers CausalLM (LoRA layers injected or not): its decoder body runs
    on the whole batch, its output embedding only on the gathered rows. Returns a sum so gradient
    accumulation can divide by the answer tokens of the whole optimizer step.
    """
    body = causal_lm.get_decoder()
    head = causal_lm.get_output_embeddings()
    cap = getattr(causal_lm.config, "final_logit_softcapping", None)
    hidden = body(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
    rows = hidden[predictors]  # (n_answer_tokens, hidden), row-major like ``targets``
    total = rows.new_zeros((), dtype=torch.float32)
    recompute = torch.is_grad_enabled() and rows.requires_grad and rows.shape[0] > HEAD_CHUNK_ROWS
    for part, wanted in zip(rows.split(HEAD_CHUNK_ROWS), targets.split(HEAD_CHUNK_ROWS), strict=True):
        if recompute:
            total = total + checkpoint(_chunk_loss, part, wanted, head, cap, use_reentrant=False)
        else:
            total = total + _chunk_loss(part, wanted, head, cap)
    return total
