"""LoRA hyper-parameters, with defaults chosen by task kind and data size.

Defaults matter more than usual here: the people steerlab serves compare a tuned adapter with a
prompt, and a badly tuned adapter makes fine-tuning look worse than it is. So
:meth:`TrainConfig.for_task` picks values that are reasonable without a sweep: short label
answers need a small rank and a higher learning rate; long free-text answers a larger rank and a
gentler rate; small data sets more epochs (early stopping on the dev split guards against
over-fitting). Every field can be overridden.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from steerlab.errors import ConfigError

__all__ = ["TrainConfig", "find_target_modules", "steps_per_epoch"]

Precision = Literal["auto", "bfloat16", "float32"]

TARGET_MODULE_NAMES = (
    # Llama, Qwen, Gemma, Mistral, Phi-3: attention and gated-MLP projections
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "qkv_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
    "gate_up_proj",
    # GPT-2 / GPT-J / Falcon / MPT style names
    "c_attn",
    "c_proj",
    "c_fc",
    "query_key_value",
    "dense",
    "dense_h_to_4h",
    "dense_4h_to_h",
    "Wqkv",
    "out_proj",
    "fc1",
    "fc2",
)
"""Linear layers LoRA adapts when ``target_modules`` is not given: attention and MLP. The
embedding and the output head are left alone (huge, and tied to each other in small models)."""


@dataclass(frozen=True)
class TrainConfig:
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.0
    """LoRA dropout. Off by default: on a CPU each adapted module draws its own mask every step
    (126 per step for Gemma 3 270M), 22% of a step on short sequences and more on long ones
    (bench/RESULTS.md); early stopping on the dev split is the guard against over-fitting."""
    target_modules: tuple[str, ...] | None = None
    """Module names (last component) to adapt; None: every attention and MLP projection found."""
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    epochs: int = 3
    max_steps: int | None = None
    """Stop after this many optimizer steps even if epochs remain (None: run all epochs)."""
    batch_size: int = 8
    """Examples per forward pass."""
    grad_accum: int = 1
    """Forward passes per optimizer step: the effective batch is ``batch_size * grad_accum``."""
    max_length: int = 1024
    warmup_ratio: float = 0.05
    max_grad_norm: float | None = 1.0
    eval_every: int = 0
    """Optimizer steps between dev evaluations; 0: at the end of each epoch."""
    checkpoint_every: int = 50
    patience: int = 3
    """Evaluations without improvement before training stops early."""
    seed: int = 0
    precision: Precision = "auto"
    """auto: bf16 autocast where the hardware runs bf16 natively, fp32 otherwise."""

    def __post_init__(self) -> None:
        positive = ("rank", "alpha", "epochs", "batch_size", "grad_accum", "max_length", "checkpoint_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"tuning: {name} must be at least 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"tuning: max_steps must be at least 1, got {self.max_steps}")
        if self.eval_every < 0 or self.patience < 1:
            raise ConfigError("tuning: eval_every must be >= 0 and patience >= 1")
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError("tuning: dropout and warmup_ratio must be in [0, 1)")
        if self.learning_rate <= 0:
            raise ConfigError(f"tuning: learning_rate must be positive, got {self.learning_rate}")
        if self.precision not in ("auto", "bfloat16", "float32"):
            raise ConfigError(f"tuning: precision must be auto, bfloat16 or float32, got {self.precision!r}")
        if self.target_modules is not None:
            object.__setattr__(self, "target_modules", tuple(self.target_modules))

    @classmethod
    def for_task(cls, kind: str, n_train: int, **overrides: Any) -> TrainConfig:
        """Defaults for a task ``kind`` with ``n_train`` training examples, then ``overrides``."""
        unknown = sorted(set(overrides) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"tuning: unknown setting {unknown[0]!r}")
        short_answers = kind == "classify"
        epochs = 5 if n_train < 200 else 3 if n_train < 2000 else 2
        batch_size = overrides.get("batch_size", 8 if short_answers else 4)
        grad_accum = overrides.get("grad_accum", 1)
        eval_every = max(
            1, steps_per_epoch(n_train, batch_size, grad_accum) // 2
        )  # early stopping can act mid-epoch
        defaults: dict[str, Any] = {
            "rank": 8 if short_answers else 16,
            "alpha": 16 if short_answers else 32,
            "learning_rate": 2e-4 if short_answers else 1e-4,
            "epochs": epochs,
            "batch_size": batch_size,
            "max_length": 512 if short_answers else 1536,
            "eval_every": eval_every,
            "checkpoint_every": max(1, min(50, eval_every)),
        }
        return cls(**{**defaults, **overrides})

    def within_tokens(self, lengths: list[int], budget: int, world_size: int = 1) -> TrainConfig:
        """This config with ``max_steps`` lowered so training reads at most ``budget`` tokens.

        ``lengths`` are the training sequences' token counts. The cap is a step count, not a
        clock, so the same data and budget always give the same run (and adapter id) on any
        machine, and a resumed run keeps its key.
        """
        if budget < 1:
            raise ConfigError(f"tuning: the token budget must be at least 1, got {budget}")
        per_epoch = sum(lengths)
        steps = steps_per_epoch(len(lengths), self.batch_size, self.grad_accum * world_size)
        if not per_epoch or budget >= per_epoch * self.epochs:
            return self
        capped = max(1, math.floor(budget / per_epoch * steps))
        return replace(self, max_steps=min(capped, self.max_steps or capped))

    def with_overrides(self, **overrides: Any) -> TrainConfig:
        return replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["target_modules"] is not None:
            data["target_modules"] = list(data["target_modules"])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        if data.get("target_modules") is not None:
            data["target_modules"] = tuple(data["target_modules"])
        return cls(**data)


def steps_per_epoch(n_train: int, batch_size: int, batches_per_step: int = 1) -> int:
    """Optimizer steps in one pass over ``n_train`` examples (``batches_per_step`` is gradient
    accumulation times the number of processes)."""
    return max(1, math.ceil(math.ceil(n_train / batch_size) / batches_per_step))


def find_target_modules(model: Any, wanted: tuple[str, ...] | None = None) -> list[str]:
    """Names (last component) of the linear layers in ``model`` that LoRA should adapt.

    Found by walking the model rather than from a per-architecture table, so a new architecture
    that uses the common names just works, and asking for a name the model lacks is an error
    instead of a silently untrained adapter.
    """
    import torch

    present = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name
    }
    if wanted is not None:
        missing = sorted(set(wanted) - present)
        if missing:
            raise ConfigError(
                f"tuning: the model has no linear layer called {missing[0]!r}",
                hint=f"linear layers: {', '.join(sorted(present))}",
            )
        return sorted(wanted)
    found = sorted(present & set(TARGET_MODULE_NAMES))
    if not found:
        raise ConfigError(
            "tuning: found no attention or MLP projections to adapt",
            hint=f"set target_modules; linear layers: {', '.join(sorted(present))}",
        )
    return found
