"""Evaluation throughput: steerlab's label-scoring path against a plain ``generate`` loop.

Same model, same rendered prompts (BANKING77 test examples, zero-shot classify template with all
77 intents listed), side by side in one process:

- steerlab: ``TransformersModel.score_labels`` in batches (over a shared-prefix KV cache; with
  more than 16 labels, two-stage scoring reads only the label branches that could win, see
  ``steerlab.models.label_search``; ``--full`` scores every label in one packed pass instead);
- stock: ``model.generate`` one prompt at a time, greedy, ``max_new_tokens`` enough for the
  longest label, then the text parsed to a label (the usual way to classify with an LLM).

Prints examples/s for both, the ratio, and both accuracies on the slice (the stock path can
also produce text that is no label at all).

    python bench/eval_throughput.py [--model NAME] [--examples 24] [--batch-size 8] [--labels N] [--full]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import torch

from steerlab.data.example import Example
from steerlab.evaluation.parsing import parse_label
from steerlab.models.catalog import pull
from steerlab.models.local import TransformersModel
from steerlab.prompts import load_template
from steerlab.task import load_task

ROOT = Path(__file__).resolve().parents[1]
BANKING77 = ROOT.parent / "shared" / "data" / "banking77"


def _with_labels(task, labels: list[str]):  # -> Task
    from steerlab.task import Task

    data = task.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["output"].pop("labels_file", None)
    data["output"]["labels"] = labels
    return Task.model_validate(data, context={"task_dir": task.dir})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--examples", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--labels", type=int, default=0, help="keep only the first N intents (0: all 77)")
    parser.add_argument(
        "--full", action="store_true", help="score every label (no two-stage pruning), for the ablation"
    )
    args = parser.parse_args()
    if not BANKING77.is_dir():
        print(f"BANKING77 not found at {BANKING77}", file=sys.stderr)
        return 2
    task = load_task(ROOT / "examples" / "banking77")
    with (BANKING77 / "test.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if args.labels:
        # The same data with a small label set, the common case for a business task.
        keep = task.label_names[: args.labels]
        rows = [r for r in rows if r["category"] in keep]
        task = _with_labels(task, keep)
    step = max(1, len(rows) // args.examples)
    examples = [Example({"text": r["text"]}, r["category"]) for r in rows[::step][: args.examples]]
    template = load_template("classify")
    prompts = [template.render(task, ex) for ex in examples]
    labels = task.label_names
    model = TransformersModel(pull(args.model), name=args.model, batch_size=args.batch_size)
    if args.full:
        model.prune_labels_above = len(labels)
    print(f"# {args.model} on {model.placement.describe()}, torch {torch.__version__}")
    print(
        f"# {len(examples)} BANKING77 examples, {len(labels)} labels, "
        f"{model.count_tokens(prompts[0])}-token prompt"
    )

    model.score_labels(prompts[:1], labels)  # warm-up both paths
    started = time.perf_counter()
    scores = model.score_labels(prompts, labels)
    ours_s = time.perf_counter() - started
    ours_correct = sum(s.best == ex.output for s, ex in zip(scores, examples, strict=True))

    longest = max(len(model.tokenizer(label)["input_ids"]) for label in labels) + 2
    stock_correct = stock_valid = 0
    started = time.perf_counter()
    for prompt, example in zip(prompts, examples, strict=True):
        text, templated = model.render(prompt)
        ids = model.tokenizer(text, add_special_tokens=not templated, return_tensors="pt").to(
            model.placement.device
        )
        with torch.inference_mode():
            out = model.model.generate(**ids, max_new_tokens=longest, do_sample=False)
        answer = model.tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        label = parse_label(answer, labels)
        stock_valid += label is not None
        stock_correct += label == example.output
    stock_s = time.perf_counter() - started

    n = len(examples)
    print(
        f"steerlab label scoring: {n / ours_s:.2f} ex/s, accuracy {ours_correct / n:.1%}, valid 100%\n"
        f"stock generate + parse: {n / stock_s:.2f} ex/s, accuracy {stock_correct / n:.1%}, "
        f"valid {stock_valid / n:.0%}\n"
        f"ratio: {(n / ours_s) / (n / stock_s):.2f}x"
    )
    print(json.dumps({"examples": n, "steerlab_ex_s": n / ours_s, "stock_ex_s": n / stock_s}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
