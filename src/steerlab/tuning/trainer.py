"""LoRA supervised fine-tuning: a plain PyTorch loop, resumable and deterministic given its seed.

Why not the transformers ``Trainer``: steerlab needs three things it does not give together: a
loss that runs the output head only at answer positions (:mod:`steerlab.tuning.loss`), batches
grouped by length for CPU training, and a resume that reproduces an uninterrupted run exactly
(:mod:`steerlab.tuning.checkpoint`). The loop is short enough to own.

The run folder holds ``run.json`` (the settings and a fingerprint of the data, so a resume with
different ones is refused rather than silently mixed), ``checkpoint-STEP/`` while training, and
at the end ``adapter/`` (PEFT format) and ``result.json``. Calling :func:`train` again on a
folder resumes from its last checkpoint, or, when the run had finished, loads its adapter and
returns its result without training.

Precision: the base weights stay as loaded and frozen; LoRA weights and AdamW state are fp32.
Where bf16 is native (``steerlab.models.device``), the forward pass runs under bf16 autocast;
elsewhere in fp32, which is then both faster and exact.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from steerlab.atomic import atomic_write_text, publish_directory, staging_directory
from steerlab.errors import ConfigError, DataError, UnsupportedError
from steerlab.hashing import file_sha256
from steerlab.models.device import choose_placement
from steerlab.tuning.batches import Batch, collate, epoch_batches
from steerlab.tuning.checkpoint import (
    capture_rng,
    latest_checkpoint,
    load_checkpoint,
    remove_checkpoints,
    restore_rng,
    save_checkpoint,
)
from steerlab.tuning.config import TrainConfig, find_target_modules, steps_per_epoch
from steerlab.tuning.distributed import (
    World,
    all_reduce_gradients,
    barrier,
    broadcast,
    current_world,
    gather,
    sum_across,
)
from steerlab.tuning.examples import TrainingSequence
from steerlab.tuning.loss import answer_loss_sum

if TYPE_CHECKING:
    from steerlab.models.local import TransformersModel

__all__ = [
    "CurvePoint",
    "EvalPoint",
    "MetricFn",
    "ProgressFn",
    "TrainResult",
    "attach_lora",
    "resolve_precision",
    "train",
]

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, float, float, float], None]
"""``progress(step, total_steps, loss, tokens_per_s, eta_s)`` after every optimizer step."""
MetricFn = Callable[[Any], float]
"""``metric(peft_model) -> float``, higher is better, computed on the dev split by the caller."""

RUN_SPEC = "run.json"
RESULT = "result.json"
ADAPTER = "adapter"


@dataclass(frozen=True)
class CurvePoint:
    step: int
    epoch: float
    loss: float
    """Mean cross-entropy per answer token over this step's examples."""
    lr: float
    tokens_per_s: float


@dataclass(frozen=True)
class EvalPoint:
    step: int
    dev_loss: float | None
    metric: float | None


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    adapter_dir: Path
    config: TrainConfig
    target_modules: list[str]
    precision: str
    steps: int
    total_steps: int
    curve: list[CurvePoint]
    evals: list[EvalPoint]
    best_step: int | None
    """Step of the adapter kept (the best dev score); None when there was nothing to evaluate on."""
    dev_loss: float | None
    dev_metric: float | None
    stopped_early: bool
    wall_s: float
    """Training time summed over sessions; work redone after a kill is counted again."""
    tokens_trained: int
    """Non-padding tokens through the model in training steps (prompt and answer)."""
    answer_tokens: int
    """Tokens the loss was taken on."""
    train_examples: int
    dev_examples: int
    resumed_from: int | None = None
    world_size: int = 1
    """Processes that trained it (data parallel): each optimizer step saw
    ``batch_size * grad_accum * world_size`` examples."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def final_loss(self) -> float:
        return self.curve[-1].loss

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            run_dir=str(self.run_dir), adapter_dir=str(self.adapter_dir), config=self.config.to_dict()
        )
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainResult:
        data = dict(data)
        data.update(
            run_dir=Path(data["run_dir"]),
            adapter_dir=Path(data["adapter_dir"]),
            config=TrainConfig.from_dict(data["config"]),
            curve=[CurvePoint(**p) for p in data["curve"]],
            evals=[EvalPoint(**p) for p in data["evals"]],
        )
        return cls(**data)


def resolve_precision(precision: str, causal_lm: Any) -> torch.dtype:
    """The dtype the forward pass computes in (fp32 or bf16 autocast) for these weights here."""
    weights = next(causal_lm.parameters())
    if precision == "float32":
        if weights.dtype != torch.float32:
            raise ConfigError(
                f"tuning: precision float32 needs the model loaded in float32, it is in {weights.dtype}",
                hint="load the model with dtype='float32', or use precision auto",
            )
        return torch.float32
    if precision == "bfloat16" or weights.dtype == torch.bfloat16:
        return torch.bfloat16
    if weights.dtype == torch.float16:
        raise UnsupportedError(
            "tuning a float16 model is not supported", hint="load it in bfloat16 or float32"
        )
    native = choose_placement(weights.device.type).dtype == torch.bfloat16
    return torch.bfloat16 if native else torch.float32


def attach_lora(model: TransformersModel, config: TrainConfig) -> tuple[Any, list[str]]:
    """Inject LoRA layers into ``model.model`` (in place) and return the PEFT wrapper and targets.

    In place on purpose: the same :class:`TransformersModel` then generates and scores labels with
    the adapter, so a dev metric can use steerlab's own inference. The initial LoRA weights come
    from the seed.
    """
    from peft import LoraConfig, get_peft_model
    from peft.tuners.tuners_utils import BaseTunerLayer

    causal_lm = model.model
    if any(isinstance(module, BaseTunerLayer) for module in causal_lm.modules()):
        raise ConfigError(
            "tuning: this model already carries LoRA layers",
            hint="load a fresh copy of the model for each run",
        )
    targets = find_target_modules(causal_lm, config.target_modules)
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )
    torch.manual_seed(config.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # peft calls a transformers name deprecated in 5.x
        peft_model = get_peft_model(causal_lm, lora)
    for parameter in peft_model.parameters():
        if parameter.requires_grad:
            parameter.data = parameter.data.float()
    return peft_model, targets


def train(
    model: TransformersModel,
    train_set: Sequence[TrainingSequence],
    run_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    dev_set: Sequence[TrainingSequence] = (),
    metric: MetricFn | None = None,
    progress: ProgressFn | None = None,
    init_adapter: Path | None = None,
) -> TrainResult:
    """Train a LoRA adapter on ``train_set``; resume if ``run_dir`` holds a checkpoint.

    ``model`` is changed in place: LoRA layers are injected, and at the end they hold the adapter
    with the best dev score (dev ``metric`` when given, else dev loss), so ``model`` then answers
    as the tuned model. With neither a dev set nor a metric, the last weights are kept.

    Launched as several processes (``accelerate launch``, ``torchrun``), each process trains on
    its share of every optimizer step's batches and the gradients are summed across processes
    (:mod:`steerlab.tuning.distributed`), so N processes with ``grad_accum=1`` take the same steps
    as one process with ``grad_accum=N``. Only the main process writes to ``run_dir``, calls
    ``progress`` and ``metric``; every process returns the same result.

    ``init_adapter`` (a PEFT ``adapter_model.safetensors`` of the same rank and modules) starts the
    LoRA weights from an earlier adapter instead of the seed: continued training, with a fresh
    optimizer and a new warm-up and decay of the learning rate (a warm restart). A checkpoint in
    ``run_dir`` still wins, so a killed continuation resumes where it stopped.
    """
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    config = config or TrainConfig()
    train_seqs, dev_seqs = list(train_set), list(dev_set)
    if not train_seqs:
        raise DataError("tuning: no training examples")
    longest = max(len(s) for s in [*train_seqs, *dev_seqs])
    if longest > config.max_length:
        raise DataError(
            f"tuning: an example is {longest} tokens, longer than max_length={config.max_length}",
            hint="encode the examples with max_length=config.max_length (longer ones are left out)",
        )
    dtype = resolve_precision(config.precision, model.model)  # before LoRA touches the model
    world = current_world()
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    problem = (
        _check_run_spec(run_dir, config, model, train_seqs, dev_seqs, world, init_adapter)
        if world.is_main
        else None
    )
    problem = broadcast(problem)  # every process stops, not only the one that found it
    if problem is not None:
        raise ConfigError(problem, hint="use a new run folder, or the same settings and data to resume")
    peft_model, targets = attach_lora(model, config)
    causal_lm = peft_model.get_base_model()
    if broadcast((run_dir / RESULT).is_file()):
        return _finished(run_dir, peft_model, model, world)
    if world.is_main:
        shutil.rmtree(run_dir / ADAPTER, ignore_errors=True)  # published by a run killed before result.json

    device = next(causal_lm.parameters()).device
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    lengths = [len(s) for s in train_seqs]
    per_step = config.grad_accum * world.size  # batches in one optimizer step, over all processes
    total = steps_per_epoch(len(train_seqs), config.batch_size, per_step) * config.epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    warmup = math.ceil(config.warmup_ratio * total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _lr_factor(step, warmup, total))

    state = _fresh_state()
    best_adapter: dict[str, torch.Tensor] | None = None
    resumed_from = None
    found = broadcast(latest_checkpoint(run_dir) if world.is_main else None)
    if found is not None:
        checkpoint = load_checkpoint(found)
        set_peft_model_state_dict(peft_model, checkpoint.adapter)
        optimizer.load_state_dict(checkpoint.optimizer)
        scheduler.load_state_dict(checkpoint.scheduler)
        state, best_adapter = checkpoint.state, checkpoint.best_adapter
        restore_rng(checkpoint.rng["ranks"][world.rank] if "ranks" in checkpoint.rng else checkpoint.rng)
        resumed_from = state["step"]
        log.info("Resuming %s from step %d of %d", run_dir, resumed_from, total)
    else:
        _seed_everything(config.seed + world.rank)  # dropout masks differ between processes
        if init_adapter is not None:
            _load_init_adapter(peft_model, init_adapter)

    evaluating = bool(dev_seqs) or metric is not None
    dev_batches = _dev_batches(dev_seqs, config.batch_size, model.tokenizer.pad_token_id)
    dev_batches = dev_batches[world.rank :: world.size]
    pad = model.tokenizer.pad_token_id
    session_start, session_steps, wall_before = time.perf_counter(), 0, state["wall_s"]

    def autocast() -> Any:
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16)

    planned: tuple[int, list[list[list[int]]]] | None = None  # (epoch, its groups of batches)
    peft_model.train()
    while state["step"] < total and not state["stopped_early"]:
        if planned is None or planned[0] != state["epoch"]:
            batches = epoch_batches(lengths, config.batch_size, config.seed, state["epoch"])
            every_step = range(0, len(batches), per_step)
            planned = (state["epoch"], [batches[i : i + per_step] for i in every_step])
        groups = planned[1]
        step_start = time.perf_counter()
        mine = groups[state["group"]][world.rank :: world.size]  # may be empty on the last step
        collated = [collate([train_seqs[i] for i in batch], pad).to(device) for batch in mine]
        lr = optimizer.param_groups[0]["lr"]
        loss, tokens, answer_tokens = _optimizer_step(
            causal_lm, collated, params, optimizer, config.max_grad_norm, autocast
        )
        scheduler.step()
        position = state["epoch"] + (state["group"] + 1) / len(groups)
        state["step"] += 1
        state["group"] += 1
        state["tokens"] += tokens
        state["answer_tokens"] += answer_tokens
        epoch_done = state["group"] >= len(groups)
        if epoch_done:
            state["epoch"], state["group"] = state["epoch"] + 1, 0
        seconds = time.perf_counter() - step_start
        point = CurvePoint(state["step"], round(position, 4), loss, lr, tokens / seconds)
        state["curve"].append(asdict(point))
        session_steps += 1
        if progress is not None and world.is_main:
            eta = (time.perf_counter() - session_start) / session_steps * (total - state["step"])
            progress(state["step"], total, point.loss, point.tokens_per_s, eta)

        last = state["step"] >= total
        every = config.eval_every
        if evaluating and (last or (every and state["step"] % every == 0) or (not every and epoch_done)):
            dev_loss, value = _evaluate(peft_model, causal_lm, model, dev_batches, metric, autocast, world)
            state["evals"].append(asdict(EvalPoint(state["step"], dev_loss, value)))
            score = value if value is not None else -float(dev_loss)  # type: ignore[arg-type]
            if state["best_score"] is None or score > state["best_score"]:
                state.update(best_score=score, best_step=state["step"], bad_evals=0)
                best_adapter = {
                    k: v.detach().clone() for k, v in get_peft_model_state_dict(peft_model).items()
                }
            else:
                state["bad_evals"] += 1
                state["stopped_early"] = not last and state["bad_evals"] >= config.patience
        if not last and not state["stopped_early"] and state["step"] % config.checkpoint_every == 0:
            state["wall_s"] = wall_before + time.perf_counter() - session_start
            rng = {"ranks": gather(capture_rng())} if world.distributed else capture_rng()
            if world.is_main:  # the weights and optimizer are the same in every process
                save_checkpoint(
                    run_dir,
                    state=state,
                    adapter=get_peft_model_state_dict(peft_model),
                    best_adapter=best_adapter,
                    optimizer=optimizer.state_dict(),
                    scheduler=scheduler.state_dict(),
                    rng=rng,
                )

    if best_adapter is not None:
        set_peft_model_state_dict(peft_model, best_adapter)
    peft_model.eval()
    model.weights_changed()  # the scoring KV cache was computed with other weights
    best = next((e for e in state["evals"] if e["step"] == state["best_step"]), None)
    result = TrainResult(
        run_dir=run_dir,
        adapter_dir=run_dir / ADAPTER,
        config=config,
        target_modules=targets,
        precision=str(dtype).removeprefix("torch."),
        steps=state["step"],
        total_steps=total,
        curve=[CurvePoint(**p) for p in state["curve"]],
        evals=[EvalPoint(**p) for p in state["evals"]],
        best_step=state["best_step"],
        dev_loss=best["dev_loss"] if best else None,
        dev_metric=best["metric"] if best else None,
        stopped_early=state["stopped_early"],
        wall_s=wall_before + time.perf_counter() - session_start,
        tokens_trained=state["tokens"],
        answer_tokens=state["answer_tokens"],
        train_examples=len(train_seqs),
        dev_examples=len(dev_seqs),
        resumed_from=resumed_from,
        world_size=world.size,
    )
    if world.is_main:
        with staging_directory(run_dir, "adapter") as work:
            peft_model.save_pretrained(work / ADAPTER)
            publish_directory(work / ADAPTER, run_dir / ADAPTER)
        atomic_write_text(run_dir / RESULT, json.dumps(result.to_dict(), indent=1))
        remove_checkpoints(run_dir)
    barrier()  # no process returns before the adapter it describes is on disk
    return result


def _optimizer_step(
    causal_lm: Any,
    batches: list[Batch],
    params: list[torch.nn.Parameter],
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float | None,
    autocast: Callable[[], Any],
) -> tuple[float, int, int]:
    """One optimizer step over ``batches`` (gradient accumulation), this process's share of it.

    Returns the mean loss per answer token and the tokens and answer tokens of the whole step,
    over all processes. Each micro-batch's summed loss is divided by the answer tokens of the
    whole step, and gradients are summed over processes, so the gradient is the same as one
    batch holding them all, however they were split.
    """
    local = [sum(b.answer_tokens for b in batches), sum(b.tokens for b in batches)]
    answer_tokens, tokens = (int(n) for n in sum_across(local))
    loss_sum = 0.0
    for batch in batches:
        with autocast():
            summed = answer_loss_sum(
                causal_lm, batch.input_ids, batch.attention_mask, batch.predictors, batch.targets
            )
        (summed / answer_tokens).backward()
        loss_sum += float(summed.detach())
    all_reduce_gradients(params)
    if max_grad_norm:
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    (loss_sum,) = sum_across([loss_sum])
    return loss_sum / answer_tokens, tokens, answer_tokens


def _fresh_state() -> dict[str, Any]:
    return {
        "step": 0,
        "epoch": 0,
        "group": 0,
        "curve": [],
        "evals": [],
        "best_score": None,
        "best_step": None,
        "bad_evals": 0,
        "stopped_early": False,
        "wall_s": 0.0,
        "tokens": 0,
        "answer_tokens": 0,
    }


def _lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to the full rate, then linear decay; never exactly zero on a step taken."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _dev_batches(sequences: list[TrainingSequence], batch_size: int, pad: int) -> list[Batch]:
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    return [
        collate([sequences[i] for i in order[start : start + batch_size]], pad)
        for start in range(0, len(order), batch_size)
    ]


def _evaluate(
    peft_model: Any,
    causal_lm: Any,
    model: TransformersModel,
    dev_batches: list[Batch],
    metric: MetricFn | None,
    autocast: Callable[[], Any],
    world: World,
) -> tuple[float | None, float | None]:
    """Dev loss per answer token and the caller's metric, leaving every random generator as it was.

    Each process computes the loss on its share of ``dev_batches``; the metric runs on the main
    process and is sent to the others, so they all take the same early-stopping decision.

    Restoring the generators keeps training identical whether or not (and however often) it is
    evaluated, and keeps a resumed run identical to an uninterrupted one.
    """
    rng = capture_rng()
    peft_model.eval()
    try:
        device = next(causal_lm.parameters()).device
        total, count = 0.0, 0
        with torch.no_grad(), autocast():
            for batch in dev_batches:
                batch = batch.to(device)
                total += float(
                    answer_loss_sum(
                        causal_lm, batch.input_ids, batch.attention_mask, batch.predictors, batch.targets
                    )
                )
                count += batch.answer_tokens
        total, count = sum_across([total, count])
        dev_loss = total / count if count else None
        value = None
        if metric is not None:
            model.weights_changed()  # the scoring KV cache of the shared prompt head holds old weights
            value = broadcast(float(metric(peft_model)) if world.is_main else None)
        return dev_loss, value
    finally:
        peft_model.train()
        restore_rng(rng)


def _load_init_adapter(peft_model: Any, weights: Path) -> None:
    """Start from an earlier adapter's weights; every LoRA tensor must be there, with its shape."""
    from peft import get_peft_model_state_dict, set_peft_model_state_dict
    from safetensors.torch import load_file

    loaded = load_file(weights)
    expected = {k: tuple(v.shape) for k, v in get_peft_model_state_dict(peft_model).items()}
    found = {k: tuple(v.shape) for k, v in loaded.items()}
    if expected != found:
        differing = sorted(set(expected) ^ set(found)) or [
            k for k in sorted(expected) if expected[k] != found[k]
        ]
        raise ConfigError(
            f"tuning: the adapter at {weights} does not fit this model's LoRA layers ({differing[0]})",
            hint="continue training with the rank and target modules the adapter was trained with",
        )
    set_peft_model_state_dict(peft_model, {k: v.float() for k, v in loaded.items()})


def _fingerprint(sequences: list[TrainingSequence]) -> str:
    digest = hashlib.sha256()
    for sequence in sequences:
        digest.update(json.dumps([sequence.example_id, sequence.answer_start, sequence.input_ids]).encode())
    return digest.hexdigest()[:16]


def _check_run_spec(
    run_dir: Path,
    config: TrainConfig,
    model: TransformersModel,
    train_seqs: list[TrainingSequence],
    dev_seqs: list[TrainingSequence],
    world: World,
    init_adapter: Path | None = None,
) -> str | None:
    """Record what this run trains; a message when the folder was started with something else.

    The number of processes is part of it: it decides which examples each step sees.
    """
    spec = {
        "config": config.to_dict(),
        "base_model": model.source,
        "train": _fingerprint(train_seqs),
        "dev": _fingerprint(dev_seqs),
        "world_size": world.size,
        "init_adapter": file_sha256(init_adapter) if init_adapter is not None else None,
    }
    path = run_dir / RUN_SPEC
    if path.is_file():
        before = {"world_size": 1, "init_adapter": None, **json.loads(path.read_text())}
        changed = sorted(k for k in spec if before.get(k) != spec[k])
        if changed:
            return f"run folder {run_dir} was started with a different {', '.join(changed)}"
        return None
    atomic_write_text(path, json.dumps(spec, indent=1))
    return None


def _finished(run_dir: Path, peft_model: Any, model: TransformersModel, world: World) -> TrainResult:
    """A finished run's result, with its adapter loaded into ``model``."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(peft_model, load_file(run_dir / ADAPTER / "adapter_model.safetensors"))
    if world.is_main:
        remove_checkpoints(run_dir)  # left behind if the run was killed right after finishing
    peft_model.eval()
    model.weights_changed()
    return TrainResult.from_dict(json.loads((run_dir / RESULT).read_text()))
