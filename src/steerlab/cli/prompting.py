"""``steerlab generate`` and ``steerlab classify``: one prompt to any model, from the shell."""

from __future__ import annotations

import json
import logging
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from steerlab.cli.app import (
    DEFAULT_MODEL,
    DeviceOption,
    DtypeOption,
    JsonOption,
    ModelOption,
    app,
    console,
    err_console,
    progress_display,
)
from steerlab.errors import SteerlabError

__all__ = ["classify", "generate"]


def _load(model: str, device: str, dtype: str, **options: Any):
    from steerlab.models.catalog import load_model

    with progress_display() as progress:
        loaded = load_model(model, device=device, dtype=dtype, progress=progress, **options)
    logging.getLogger("steerlab").info("Model info: %s", loaded.info())
    return loaded


def _read_prompt(prompt: str) -> str:
    return sys.stdin.read() if prompt == "-" else prompt


@app.command()
def generate(
    prompt: Annotated[str, typer.Argument(help="The prompt text, or - to read it from standard input.")],
    model: ModelOption = DEFAULT_MODEL,
    system: Annotated[str | None, typer.Option(help="A system message (chat models).")] = None,
    max_tokens: Annotated[int, typer.Option(help="Most tokens to generate.")] = 256,
    temperature: Annotated[float, typer.Option(help="0 for greedy decoding; > 0 samples.")] = 0.0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling mass (with temperature > 0).")] = 1.0,
    seed: Annotated[int | None, typer.Option(help="Seed for sampling.")] = None,
    stop: Annotated[list[str] | None, typer.Option(help="Stop sequence (repeatable).")] = None,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "auto",
    as_json: JsonOption = False,
) -> None:
    """Send one prompt to a model and print the completion.

    Example: [bold]steerlab generate "Summarise: the parcel arrived damaged."[/bold]
    """
    from steerlab.models.base import GenerationParams

    text = _read_prompt(prompt)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": text}] if system else text
    params = GenerationParams(
        max_new_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed, stop=tuple(stop or ())
    )
    loaded = _load(model, device, dtype)
    result = loaded.generate_one(messages, params)
    if as_json:
        console.print_json(json.dumps({**result.__dict__, "model": loaded.info()}))
        return
    console.print(result.text, markup=False, highlight=False)
    err_console.print(
        f"[dim]{result.input_tokens} in, {result.output_tokens} out, {result.latency_s:.2f} s, "
        f"finish={result.finish_reason}[/dim]"
    )


@app.command()
def classify(
    text: Annotated[str, typer.Argument(help="The text to classify, or - for standard input.")],
    labels: Annotated[str, typer.Option("--labels", "-l", help="Comma-separated label set.")],
    model: ModelOption = DEFAULT_MODEL,
    instruction: Annotated[
        str, typer.Option(help="What to decide; the label list is appended.")
    ] = "Classify the text into exactly one of these labels",
    device: DeviceOption = "auto",
    dtype: DtypeOption = "auto",
    as_json: JsonOption = False,
) -> None:
    """Rank labels by the model's probability for each, in one forward pass (no sampling).

    Example: [bold]steerlab classify "My card was charged twice" -l billing,shipping,login[/bold]
    """
    label_list = [label.strip() for label in labels.split(",") if label.strip()]
    if len(label_list) < 2:
        raise SteerlabError(
            "--labels needs at least two comma-separated labels", hint="e.g. -l billing,shipping"
        )
    body = _read_prompt(text)
    prompt = f"{instruction}: {', '.join(label_list)}.\n\nText: {body}\n\nAnswer with the label only."
    loaded = _load(model, device, dtype)
    scores = loaded.score_one(prompt, label_list)
    if as_json:
        console.print_json(
            json.dumps({"label": scores.best, "confidence": scores.confidence, "ranked": scores.ranked()})
        )
        return
    table = Table(title=f"{loaded.name}: label probabilities")
    table.add_column("label")
    table.add_column("probability", justify="right")
    for label, prob in scores.ranked():
        table.add_row(label, f"{prob:.3f}")
    console.print(table)
    console.print(f"[bold]{scores.best}[/bold] ({scores.confidence:.0%})")
