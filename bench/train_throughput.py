"""Training throughput: steerlab's LoRA loop against stock PEFT + transformers ``Trainer``.

Same base model, same LoRA settings (rank, alpha, dropout, target modules), same precision, same
training sequences (BANKING77 train examples rendered through the ``classify-compact`` template
the tuned candidate uses), same batch size, side by side in one process:

- steerlab: ``steerlab.tuning.trainer.train``: loss on the answer tokens only, the output head
  applied only where an answer token is predicted, length-grouped batches;
- stock: ``get_peft_model`` + ``Trainer`` with ``DataCollatorForLanguageModeling`` (the usual
  recipe): loss on every token, the head on every position, random batches padded to their
  longest sequence.

Throughput is real (non-padding) training tokens per second over the measured steps, after
warm-up steps. Also printed: this CPU's bf16 matmul peak, measured here, and the fraction of it
each loop achieves, counting the work training needs: 4 x body parameters per token (forward,
and the backward pass into the activations; frozen weights need no weight gradients) plus
4 x hidden x vocabulary per answer position for the head. The same count is used for both
loops, so the fractions compare like the token rates do.

    python bench/train_throughput.py [--model gemma-3-270m] [--steps 20] [--warmup 3] [--batch-size 8]
        [--dropout P]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

from steerlab.data.example import Example
from steerlab.models.catalog import pull
from steerlab.models.local import TransformersModel
from steerlab.prompts import load_template
from steerlab.task import load_task
from steerlab.tuning.batches import epoch_batches, padding_fraction
from steerlab.tuning.config import TrainConfig, find_target_modules
from steerlab.tuning.examples import encode_examples
from steerlab.tuning.trainer import train

ROOT = Path(__file__).resolve().parents[1]
BANKING77 = ROOT.parent / "shared" / "data" / "banking77"


def matmul_peak(dtype: torch.dtype, seconds: float = 3.0) -> float:
    """Best FLOP/s of square matmuls in ``dtype`` on this CPU with the current thread count."""
    best = 0.0
    for size in (1024, 2048, 3072):
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        a @ b  # warm-up
        runs, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds / 3:
            a @ b
            runs += 1
        best = max(best, 2 * size**3 * runs / (time.perf_counter() - started))
    return best


def body_parameters(causal_lm) -> int:
    """Parameters outside the token embedding and the output head (tied in small models)."""
    skip = {id(causal_lm.get_input_embeddings().weight), id(causal_lm.get_output_embeddings().weight)}
    return sum(p.numel() for p in causal_lm.parameters() if id(p) not in skip)


def lora_config(causal_lm, config: TrainConfig):
    from peft import LoraConfig

    return LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=find_target_modules(causal_lm, config.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


def run_steerlab(model: TransformersModel, sequences, config: TrainConfig, warmup: int) -> tuple[int, float]:
    """Tokens and seconds over the steps after ``warmup``, read from the batch plan and the clock."""
    stamps: list[float] = []

    def progress(step: int, total: int, loss: float, rate: float, eta: float) -> None:
        stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        train(model, sequences, run_dir, config, progress=progress)
    stamps.insert(0, start)
    lengths = [len(s) for s in sequences]
    batches = epoch_batches(lengths, config.batch_size, config.seed, 0)
    measured = batches[warmup : config.max_steps]
    tokens = sum(lengths[i] for batch in measured for i in batch)
    return tokens, stamps[config.max_steps] - stamps[warmup]


def run_stock(source: Path, dtype: torch.dtype, sequences, config: TrainConfig, warmup: int, bf16: bool):
    """Tokens and seconds of the same steps with get_peft_model + Trainer (full-sequence loss)."""
    from peft import get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    base = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    peft_model = get_peft_model(base, lora_config(base, config))
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    batch_tokens: list[int] = []

    def collate(features):
        batch = collator(features)
        batch_tokens.append(int(batch["attention_mask"].sum()))
        return batch

    stamps: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if not stamps:
                stamps.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            stamps.append(time.perf_counter())

    data = [{"input_ids": list(s.input_ids)} for s in sequences]
    with tempfile.TemporaryDirectory() as out:
        arguments = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=config.batch_size,
            max_steps=config.max_steps,
            learning_rate=config.learning_rate,
            warmup_steps=0,
            bf16=bf16,
            use_cpu=True,
            save_strategy="no",
            logging_steps=10_000,
            report_to=[],
            disable_tqdm=True,
            dataloader_num_workers=0,
            seed=config.seed,
        )
        trainer = Trainer(
            model=peft_model, args=arguments, train_dataset=data, data_collator=collate, callbacks=[Clock()]
        )
        trainer.train()
    tokens = sum(batch_tokens[warmup : config.max_steps])
    return tokens, stamps[config.max_steps] - stamps[warmup]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--steps", type=int, default=20, help="measured optimizer steps per loop")
    parser.add_argument("--warmup", type=int, default=3, help="steps run before the clock starts")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--examples", type=int, default=2000, help="BANKING77 train examples to draw from")
    parser.add_argument(
        "--dropout",
        type=float,
        default=None,
        help="LoRA dropout for both loops (default: steerlab's default)",
    )
    args = parser.parse_args()
    if not BANKING77.is_dir():
        print(f"BANKING77 not found at {BANKING77}", file=sys.stderr)
        return 2
    task = load_task(ROOT / "examples" / "banking77")
    with (BANKING77 / "train.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows = random.Random(0).sample(rows, min(args.examples, len(rows)))
    examples = [Example({"text": r["text"]}, r["category"]) for r in rows]
    source = pull(args.model)
    model = TransformersModel(source, name=args.model)
    template = load_template("classify-compact")
    sequences = encode_examples(model, task, template, examples).sequences
    config = TrainConfig.for_task(
        "classify",
        len(sequences),
        batch_size=args.batch_size,
        max_steps=args.warmup + args.steps,
        checkpoint_every=10_000,
        eval_every=0,
        **({} if args.dropout is None else {"dropout": args.dropout}),
    )
    dtype = next(model.model.parameters()).dtype
    targets = find_target_modules(model.model, config.target_modules)
    ours_tokens, ours_s = run_steerlab(model, sequences, config, args.warmup)
    precision = "bf16" if config.precision == "auto" and model.placement.dtype == torch.bfloat16 else "fp32"
    bf16 = precision == "bf16"
    stock_tokens, stock_s = run_stock(source, dtype, sequences, config, args.warmup, bf16)

    causal_lm = model.model.get_base_model() if hasattr(model.model, "get_base_model") else model.model
    body = body_parameters(causal_lm)
    embeddings = causal_lm.get_output_embeddings().weight
    vocab, hidden = embeddings.shape
    answer_share = sum(len(s.answer_ids) for s in sequences) / sum(len(s) for s in sequences)
    work_per_token = 4 * body + 4 * hidden * vocab * answer_share  # FLOPs training needs, per token
    peak = matmul_peak(torch.bfloat16 if bf16 else torch.float32)
    lengths = [len(s) for s in sequences]
    grouped = padding_fraction(lengths, epoch_batches(lengths, args.batch_size, 0, 0))
    shuffled = list(range(len(lengths)))
    random.Random(1).shuffle(shuffled)
    random_batches = [shuffled[i : i + args.batch_size] for i in range(0, len(shuffled), args.batch_size)]
    padded = padding_fraction(lengths, random_batches)

    ours, stock = ours_tokens / ours_s, stock_tokens / stock_s
    threads = torch.get_num_threads()
    print(f"# {args.model} ({dtype}, {precision} compute), torch {torch.__version__}, {threads} threads")
    print(
        f"# {len(sequences)} BANKING77 sequences, mean {sum(lengths) / len(lengths):.1f} tokens, "
        f"answer tokens {answer_share:.1%}; batch {args.batch_size}, {args.steps} measured steps "
        f"after {args.warmup}; LoRA r={config.rank}, dropout {config.dropout} on {', '.join(targets)}"
    )
    print(f"# padding: length-grouped {grouped:.1%}, random batches {padded:.1%}")
    print(f"# {precision} matmul peak on this CPU: {peak / 1e9:.1f} GFLOP/s")
    print(
        f"steerlab loop:       {ours:7.0f} tok/s  ({ours * work_per_token / peak:.1%} of peak)\n"
        f"PEFT + Trainer:      {stock:7.0f} tok/s  ({stock * work_per_token / peak:.1%} of peak)\n"
        f"ratio: {ours / stock:.2f}x"
    )
    print(
        json.dumps(
            {
                "model": args.model,
                "steerlab_tok_s": round(ours, 1),
                "stock_tok_s": round(stock, 1),
                "ratio": round(ours / stock, 3),
                "peak_gflops": round(peak / 1e9, 1),
                "steerlab_peak_fraction": round(ours * work_per_token / peak, 4),
                "stock_peak_fraction": round(stock * work_per_token / peak, 4),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
