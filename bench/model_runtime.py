"""Model runtime benchmark: steerlab against stock transformers, side by side in one process.

Three measurements on an embedded model (default qwen2.5-coder-0.5b-instruct):

1. label scoring over the 77 BANKING77 intents: steerlab's packed single pass per input against
   the stock way, one full forward pass per (input, label), on the same prompts and weights;
2. generation: steerlab ``generate`` (length-sorted batches) against plain ``model.generate`` one
   prompt at a time, greedy, same prompts and token budget;
3. loading: the converted cache directory against ``from_pretrained(gguf_file=...)``.

Both sides share one loaded model, so the ratios compare methods, not loads. Prints a table of
absolute numbers and ratios (higher = steerlab faster); record them in bench/RESULTS.md.

    python bench/model_runtime.py [--model NAME] [--queries 8] [--naive-queries 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from steerlab.models.base import GenerationParams
from steerlab.models.catalog import pull
from steerlab.models.embedded import assemble, embedded_spec
from steerlab.models.local import TransformersModel

BANKING77 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "banking77"


def banking77(n: int) -> tuple[list[str], list[str]]:
    labels = json.loads((BANKING77 / "categories.json").read_text())
    with (BANKING77 / "test.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Spread over labels: every 40th row of the label-sorted test file is a different intent.
    return labels, [rows[i * 40]["text"] for i in range(n)]


def prompt_for(text: str, labels: list[str]) -> str:
    return (
        "Classify the banking customer's message into exactly one intent.\n"
        f"Intents: {', '.join(labels)}\n\nMessage: {text}\n\nAnswer with the intent only."
    )


@torch.inference_mode()
def stock_label_scores(model: TransformersModel, prompt: str, labels: list[str]) -> list[float]:
    """The stock approach: for each label, one forward over prompt+label, full logits."""
    text, templated = model.render(prompt)
    prompt_ids = model.tokenizer(text, add_special_tokens=not templated)["input_ids"]
    means = []
    for label in labels:
        cont = model._continuation_ids(text, label)
        ids = torch.tensor([prompt_ids + cont], device=model.placement.device)
        logprobs = torch.log_softmax(model.model(input_ids=ids).logits[0].float(), dim=-1)
        means.append(
            float(torch.stack([logprobs[len(prompt_ids) - 1 + j, t] for j, t in enumerate(cont)]).mean())
        )
    return means


def bench_scoring(model: TransformersModel, queries: int, naive_queries: int) -> dict[str, float]:
    labels, texts = banking77(queries)
    prompts = [prompt_for(t, labels) for t in texts]
    model.score_labels(prompts[:1], labels)  # warm-up
    started = time.perf_counter()
    packed = model.score_labels(prompts, labels)
    packed_s = (time.perf_counter() - started) / len(prompts)
    started = time.perf_counter()
    stock = [stock_label_scores(model, p, labels) for p in prompts[:naive_queries]]
    stock_s = (time.perf_counter() - started) / naive_queries
    gap = max(
        abs(a - b) for s, n in zip(packed, stock, strict=False) for a, b in zip(s.logprobs, n, strict=True)
    )
    return {
        "packed_s_per_input": packed_s,
        "stock_s_per_input": stock_s,
        "speedup": stock_s / packed_s,
        "max_abs_diff": gap,
    }


@torch.inference_mode()
def bench_generation(model: TransformersModel, n: int, new_tokens: int) -> dict[str, float]:
    _, texts = banking77(n)
    prompts = [f"Write a one-sentence reply to this bank customer: {t}" for t in texts]
    params = GenerationParams(max_new_tokens=new_tokens)
    model.generate(prompts[:1], params)  # warm-up
    started = time.perf_counter()
    ours = model.generate(prompts, params)
    ours_s = time.perf_counter() - started
    tokens = sum(g.output_tokens for g in ours)
    started = time.perf_counter()
    stock_tokens = 0
    for prompt in prompts:
        text, templated = model.render(prompt)
        ids = model.tokenizer(text, add_special_tokens=not templated, return_tensors="pt").to(
            model.placement.device
        )
        out = model.model.generate(**ids, max_new_tokens=new_tokens, do_sample=False)
        stock_tokens += out.shape[1] - ids["input_ids"].shape[1]
    stock_s = time.perf_counter() - started
    return {
        "steerlab_tok_s": tokens / ours_s,
        "stock_tok_s": stock_tokens / stock_s,
        "speedup": (tokens / ours_s) / (stock_tokens / stock_s),
    }


def bench_load(name: str) -> dict[str, float]:
    from transformers import AutoModelForCausalLM, GgufConfig

    spec = embedded_spec(name)
    cached = pull(name)
    times = []
    for _ in range(2):
        started = time.perf_counter()
        TransformersModel(cached, name=name)
        times.append(time.perf_counter() - started)
    if spec is None:
        return {"cached_load_s": min(times)}
    with tempfile.TemporaryDirectory() as scratch:
        gguf = assemble(spec, Path(scratch) / spec.gguf_filename)
        started = time.perf_counter()
        AutoModelForCausalLM.from_pretrained(
            gguf.parent,
            gguf_file=gguf.name,
            dtype=torch.bfloat16,
            quantization_config=GgufConfig(dequantize=True),
        )
        gguf_s = time.perf_counter() - started
    return {"cached_load_s": min(times), "gguf_load_s": gguf_s, "speedup": gguf_s / min(times)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--queries", type=int, default=8, help="inputs scored by steerlab")
    parser.add_argument("--naive-queries", type=int, default=3, help="inputs scored the stock way (slow)")
    parser.add_argument("--gen-prompts", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    if not BANKING77.is_dir():
        print(f"BANKING77 not found at {BANKING77}", file=sys.stderr)
        return 2
    model = TransformersModel(pull(args.model), name=args.model)
    print(
        f"# {args.model} on {model.placement.describe()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    scoring = bench_scoring(model, args.queries, args.naive_queries)
    print(
        f"label scoring, 77 labels: steerlab {scoring['packed_s_per_input']:.2f} s/input, "
        f"stock {scoring['stock_s_per_input']:.2f} s/input -> {scoring['speedup']:.1f}x "
        f"(max |diff| {scoring['max_abs_diff']:.3g} nats)"
    )
    generation = bench_generation(model, args.gen_prompts, args.new_tokens)
    print(
        f"generation, {args.gen_prompts} prompts x {args.new_tokens} tokens: "
        f"steerlab {generation['steerlab_tok_s']:.1f} tok/s, "
        f"stock {generation['stock_tok_s']:.1f} tok/s -> {generation['speedup']:.2f}x"
    )
    if not args.skip_load:
        load = bench_load(args.model)
        print(
            f"load: cached {load['cached_load_s']:.1f} s, "
            f"from GGUF {load.get('gguf_load_s', float('nan')):.1f} s "
            f"-> {load.get('speedup', float('nan')):.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
