"""``steerlab tune``: LoRA SFT on a task's train split, with a live loss / tokens-per-second bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from steerlab.cli.app import JsonOption, app, console, err_console
from steerlab.cli.progress import LoggedProgress

__all__ = ["tune_command"]


@app.command("tune")
def tune_command(
    task_dir: Annotated[Path, typer.Argument(help="A task folder (with task.yaml).")],
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Base model (default: the candidate's, else the default)."),
    ] = None,
    candidate: Annotated[
        Path | None,
        typer.Option(help="A candidates YAML; the first zero-shot candidate's template is trained on."),
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Passes over the train split.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many optimiser steps.")] = None,
    rank: Annotated[int | None, typer.Option(help="LoRA rank.")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    dropout: Annotated[float | None, typer.Option(help="LoRA dropout (default 0: see TrainConfig).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Examples per step.")] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            help="auto (bf16 where the device runs it natively, else float32), bfloat16 or float32 "
            "(float32 weights and arithmetic on any device: the same recipe on a GPU as on a CPU)."
        ),
    ] = None,
    max_length: Annotated[
        int | None, typer.Option(help="Longest training sequence in tokens; longer examples are left out.")
    ] = None,
    workspace: Annotated[
        Path | None,
        typer.Option(
            help="Where datasets and adapters live (default TASK_DIR/.steerlab).", envvar="STEERLAB_WORKSPACE"
        ),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(
            help="Instead of training, write the train split as chat JSONL for hosted fine-tuning APIs."
        ),
    ] = None,
    allow_unredacted_pii: Annotated[
        bool, typer.Option(help="Train even though the dataset holds PII that was not redacted.")
    ] = False,
    init_adapter: Annotated[
        str | None,
        typer.Option(
            help="Continue training from this registered adapter (its rank and modules), with a "
            "fresh learning-rate schedule: more epochs for a run still improving, or a newer dataset."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Fine-tune a LoRA adapter on the task's train split and register it as a candidate.

    The prompt is the candidate's own template, the loss is on the answer tokens only, and a
    killed run resumes from its last checkpoint when the same command is run again. Use the
    adapter in a candidates file as [bold]adapter: ID[/bold].
    Example: [bold]steerlab tune examples/banking77 --model gemma-3-270m --max-steps 200[/bold]
    One more epoch on top of it: [bold]steerlab tune examples/banking77 --model gemma-3-270m
    --init-adapter lora-… --epochs 1[/bold]

    Data-parallel on several processes, unchanged: [bold]accelerate launch --multi_gpu
    --num_processes 2 -m steerlab.cli tune TASK_DIR[/bold] (gloo on CPUs, NCCL on GPUs); each
    step then trains on num_processes times as many examples.
    """
    from steerlab.candidate import Candidate, load_candidates
    from steerlab.task import load_task
    from steerlab.tuning.distributed import current_world
    from steerlab.tuning.tune import tune

    task = load_task(task_dir)
    chosen = None
    if candidate is not None:
        chosen = next(
            (c for c in load_candidates(candidate) if c.retrieval is None and c.few_shot.strategy == "none"),
            None,
        )
        if chosen is None:
            from steerlab.errors import ConfigError

            raise ConfigError(f"{candidate} has no zero-shot candidate without retrieval to tune")
    if export is not None:
        _export(task, chosen or Candidate(name="tuned"), workspace, export, allow_unredacted_pii)
        return
    overrides = {
        key: value
        for key, value in {
            "epochs": epochs,
            "max_steps": max_steps,
            "rank": rank,
            "learning_rate": learning_rate,
            "dropout": dropout,
            "batch_size": batch_size,
            "max_length": max_length,
            "precision": precision,
        }.items()
        if value is not None
    }
    if rank is not None:
        overrides["alpha"] = 2 * rank
    main = current_world().is_main  # under `accelerate launch`, one process reports
    with LoggedProgress(
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps, loss {task.fields[loss]:.4f}"),
        TextColumn("{task.fields[rate]:.0f} tok/s"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not main,
    ) as bar:
        handle = bar.add_task("train", total=None, loss=float("nan"), rate=0.0, visible=False)

        def progress(step: int, total: int, loss: float, tokens_per_s: float, eta_s: float) -> None:
            bar.update(handle, completed=step, total=total, loss=loss, rate=tokens_per_s, visible=True)

        record = tune(
            task,
            candidate=chosen,
            model_name=model,
            workspace=workspace,
            overrides=overrides,
            progress=progress,
            allow_unredacted_pii=allow_unredacted_pii,
            init_adapter=init_adapter,
        )
    if not main:
        return
    if as_json:
        console.print_json(json.dumps({"id": record.id, "path": str(record.path), "lineage": record.lineage}))
        return
    lineage = record.lineage
    console.print(
        f"[green]adapter {record.id}[/green] on {record.base_model}: dataset {record.dataset_version}, "
        f"template {record.template_version}"
    )
    console.print(f"dev: {json.dumps(lineage.get('dev_metrics'), default=str)}")
    recipe = f"{{name: tuned, model: {record.base_model}, adapter: {record.id}}}"
    console.print(f"Use it as a candidate: [bold]- {recipe}[/bold]")


def _export(task, candidate, workspace: Path | None, out: Path, allow_unredacted_pii: bool) -> None:
    from steerlab.data.check import current_dataset, workspace_for
    from steerlab.tuning.export import export_chat_jsonl

    root = workspace_for(task, workspace)
    dataset = current_dataset(task, root)
    count = export_chat_jsonl(
        dataset, task, candidate.load_template(task), out, allow_unredacted_pii=allow_unredacted_pii
    )
    console.print(f"[green]Wrote[/green] {count} chat examples to {out} (dataset {dataset.version})")
