"""``steerlab tune``: from a task and a candidate recipe to a registered adapter, resumably.

The run folder is keyed by everything that defines the run (task, base model, dataset version,
template version, hyper-parameters), so running the same command again after a crash resumes
from the last checkpoint, and after success returns the registered adapter at once.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from steerlab.candidate import Candidate
from steerlab.data.example import Example
from steerlab.errors import ConfigError, UnsupportedError
from steerlab.task import Task

__all__ = ["DEV_METRIC_EXAMPLES", "training_subset", "tune", "tuned_model_dir"]

DEV_METRIC_EXAMPLES = 200
"""Dev examples scored for early stopping (classify): enough to rank checkpoints, cheap on a CPU."""

ProgressFn = Callable[[int, int, float, float, float], None]


def tune(
    task: Task,
    *,
    candidate: Candidate | None = None,
    model_name: str | None = None,
    workspace: Path | None = None,
    overrides: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
    allow_unredacted_pii: bool = False,
    train_limit: int | None = None,
    token_budget: int | None = None,
    init_adapter: str | None = None,
) -> Any:
    """Train a LoRA adapter for ``task`` on its train split and register it; returns the record.

    The prompt is the one ``candidate`` uses at inference (zero-shot, its template), so the
    adapter learns to answer exactly where the evaluation will ask.

    Under ``accelerate launch`` with several processes, each trains on its share of the data
    (see :func:`steerlab.tuning.trainer.train`); the main process registers the adapter and every
    process returns its record.

    ``train_limit`` trains on a fixed subset of that many training examples (stratified by label
    for classification), for learning curves; the dev split stays whole.

    ``init_adapter`` (a registered adapter id) continues training from that adapter: its rank,
    alpha and modules are kept, the optimizer and the learning-rate schedule start afresh (a warm
    restart). It serves both more epochs on a run that was still improving and a refresh on a
    newer dataset version; the new adapter's lineage names its parent.
    """
    from steerlab.data.check import current_dataset, workspace_for
    from steerlab.models.catalog import load_model
    from steerlab.models.local import TransformersModel
    from steerlab.tuning.config import TrainConfig
    from steerlab.tuning.distributed import barrier, broadcast, current_world, main_first
    from steerlab.tuning.examples import encode_splits
    from steerlab.tuning.registry import WEIGHTS, base_model_hash, load_adapter, register
    from steerlab.tuning.trainer import train

    candidate = candidate or Candidate(name="tuned", **({"model": model_name} if model_name else {}))
    if model_name:
        candidate = candidate.model_copy(update={"model": model_name})
    if candidate.retrieval is not None or candidate.few_shot.strategy != "none":
        raise UnsupportedError(
            "tuning trains on the zero-shot prompt; retrieval and few-shot recipes are not supported",
            hint="tune a zero-shot candidate, then combine the adapter with other levers in eval",
        )
    world = current_world()
    root = workspace_for(task, workspace)
    with main_first(world):  # one process builds the dataset version and the model cache
        dataset = current_dataset(task, root)
        # precision float32 asks for float32 weights (the placement's default is bf16 on a GPU):
        # the same arithmetic on any machine, so a recipe trained on a GPU is the one a CPU trains.
        dtype = "float32" if (overrides or {}).get("precision") == "float32" else "auto"
        model = load_model(candidate.model, dtype=dtype)
    if not isinstance(model, TransformersModel):
        raise UnsupportedError(
            f"{candidate.model!r} is not a local model; LoRA tuning needs its weights",
            hint="tune an embedded or local model, or export the data with `steerlab tune --export`",
        )
    limited = train_limit is not None and train_limit < len(dataset.train)
    if limited:
        dataset = replace(
            dataset, train=training_subset(dataset.train, train_limit, classify=task.kind == "classify")
        )
    template = candidate.load_template(task)
    parent = None
    inherited: dict[str, Any] = {}
    if init_adapter is not None:
        parent = load_adapter(root, init_adapter)
        if parent.base_model_sha256 != base_model_hash(model):
            raise ConfigError(
                f"adapter {parent.id} was trained on {parent.base_model}, not on {candidate.model}",
                hint=f"continue it with --model {parent.base_model}",
            )
        inherited = {k: getattr(parent.config, k) for k in ("rank", "alpha", "dropout")}
        inherited["target_modules"] = tuple(parent.lineage["target_modules"])
    config = TrainConfig.for_task(task.kind, len(dataset.train), **{**inherited, **(overrides or {})})
    train_set, dev_set = encode_splits(
        model,
        task,
        template,
        dataset,
        max_length=config.max_length,
        allow_unredacted_pii=allow_unredacted_pii,
    )
    if token_budget is not None:
        config = config.within_tokens([len(s) for s in train_set], token_budget, world.size)
    recipe: dict[str, Any] = {
        "task": task.name,
        "model": candidate.model,
        "dataset": dataset.version,
        "template": template.version,
        "config": config.to_dict(),
    }
    if world.distributed:  # the process count decides which examples each step sees
        recipe["world_size"] = world.size
    if limited:
        recipe["train_limit"] = train_limit
    if parent is not None:
        recipe["init_adapter"] = parent.id
    key = hashlib.sha256(
        json.dumps(
            recipe,
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()[:12]
    metric = _dev_metric(task, model, candidate, dataset) if task.kind == "classify" else None
    result = train(
        model,
        train_set,
        root / "tuning" / f"run-{key}",
        config,
        dev_set=dev_set,
        metric=metric,
        progress=progress,
        init_adapter=parent.path / WEIGHTS if parent is not None else None,
    )
    record = None
    if world.is_main:
        record = register(
            root,
            result,
            base_model=model,
            task_name=task.name,
            dataset_version=dataset.version,
            template=template,
            train_limit=train_limit if limited else None,
            parent=parent,
        )
    adapter_id = broadcast(record.id if record is not None else None)
    barrier()
    return record if record is not None else load_adapter(root, adapter_id)


def training_subset(examples: Sequence[Example], n: int, *, classify: bool, seed: int = 0) -> list[Example]:
    """``n`` training examples chosen by seed: for classification, each label keeps its share
    (at least one example each while ``n`` allows), so small subsets still cover the label set."""
    ordered = sorted(examples, key=lambda ex: ex.id)
    rng = random.Random(seed)
    if not classify:
        return sorted(rng.sample(ordered, n), key=lambda ex: ex.id)
    by_label: dict[str, list[Example]] = {}
    for example in ordered:
        by_label.setdefault(str(example.output), []).append(example)
    for members in by_label.values():
        rng.shuffle(members)
    quota = {label: max(1, round(n * len(m) / len(ordered))) for label, m in by_label.items()}
    chosen = [ex for label, members in sorted(by_label.items()) for ex in members[: quota[label]]]
    rng.shuffle(chosen)
    return sorted(chosen[:n], key=lambda ex: ex.id)


def _dev_metric(task: Task, model: Any, candidate: Candidate, dataset: Any) -> Callable[[Any], float]:
    """Dev accuracy through the same label scoring the evaluation uses (the model being trained
    carries the adapter in place, so scoring it scores the adapter)."""
    template = candidate.load_template(task)
    examples = sorted(dataset.dev, key=lambda ex: ex.id)[:DEV_METRIC_EXAMPLES]
    prompts = [template.render(task, ex) for ex in examples]
    labels = [model.label_prefix + label for label in task.label_names]

    def accuracy(_peft_model: Any) -> float:
        if not examples:
            return 0.0
        scores = model.score_labels(prompts, labels)
        best = [s.best.removeprefix(model.label_prefix) for s in scores]
        return sum(b == ex.output for b, ex in zip(best, examples, strict=True)) / len(examples)

    return accuracy


def tuned_model_dir(workspace: Path, adapter: str, base_model: str) -> tuple[str, Path]:
    """The merged standalone model folder for an adapter candidate (made once, then reused).

    Merging LoRA into the base weights makes inference cost exactly the base model's, and the
    folder is an ordinary model directory every backend path already loads.
    """
    from steerlab.atomic import publish_directory, staging_directory
    from steerlab.tuning.registry import load_adapter, merge_adapter

    record = load_adapter(workspace, adapter)
    if record.base_model != base_model:
        raise ConfigError(
            f"adapter {record.id} was trained on {record.base_model!r}, not {base_model!r}",
            hint=f"set the candidate's model to {record.base_model!r}",
        )
    target = record.path.parent / f"{record.id}.merged"
    if not target.is_dir():
        with staging_directory(record.path.parent, f"{record.id}-merge") as staging:
            merge_adapter(workspace, record.id, staging / "model")
            publish_directory(staging / "model", target)
    return record.id, target
