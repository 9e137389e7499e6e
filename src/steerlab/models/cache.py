"""Converted model directories in the steerlab cache.

Loading a GGUF file through transformers unpacks every quantized tensor (~30-40 s for the
embedded models); loading the same weights saved as safetensors takes a second or two. So a GGUF
is converted once into ``$STEERLAB_HOME/models/NAME`` and later loads read that.

A cache entry is complete only when its ``steerlab-model.json`` manifest exists. Entries are
built in a staging directory beside the final one and renamed into place in one step, so a crash
or a kill mid-way never leaves a half-written model that looks finished.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from steerlab.errors import IntegrityError
from steerlab.models.hf_quiet import quiet_transformers
from steerlab.paths import models_dir

__all__ = [
    "MANIFEST",
    "cached_dir",
    "convert_gguf",
    "dir_size",
    "read_manifest",
    "staging",
    "sweep_abandoned_staging",
    "write_entry",
]

MANIFEST = "steerlab-model.json"


def cached_dir(name: str) -> Path | None:
    """The finished cache entry for ``name``, or None when there is none."""
    path = models_dir() / name
    return path if (path / MANIFEST).is_file() else None


def read_manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / MANIFEST).read_text())


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@contextmanager
def staging(name: str) -> Iterator[Path]:
    """A scratch directory on the same filesystem as the cache, always removed afterwards.

    Its name carries this process's id, so a later pull can tell an abandoned one (its process
    was killed, which skips ``finally``) from one another process is still filling.
    """
    root = models_dir()
    sweep_abandoned_staging(root)
    path = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-{name}-", dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def sweep_abandoned_staging(root: Path, older_than_s: float = 24 * 3600) -> list[Path]:
    """Remove staging directories whose process is gone (or that are a day old); return them."""
    removed = []
    now = time.time()
    for path in root.glob(".staging-*"):
        owner = path.name.split("-")[1]
        try:
            abandoned = not owner.isdigit() or not _process_alive(int(owner))
            abandoned = abandoned or now - path.stat().st_mtime > older_than_s
        except FileNotFoundError:
            continue
        if abandoned:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def write_entry(built: Path, name: str, manifest: dict[str, Any]) -> Path:
    """Publish a built model directory as the cache entry ``name`` in one rename."""
    (built / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    target = models_dir() / name
    if target.exists():
        # An incomplete entry (no manifest) from an older steerlab, or a concurrent pull that won.
        if (target / MANIFEST).is_file():
            shutil.rmtree(built, ignore_errors=True)
            return target
        shutil.rmtree(target)
    os.replace(built, target)
    return target


@contextmanager
def _tensor_progress(progress: Callable[[str, int, int | None], None] | None) -> Iterator[None]:
    """Route transformers' per-tensor dequantization loop to our progress callback.

    transformers drives that loop with a module-level ``tqdm``; swapping it for the duration of
    the load gives a real tensor count instead of a second, competing progress bar. If a future
    transformers moves it, this quietly does nothing.
    """
    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    original = getattr(gguf_utils, "tqdm", None)
    if original is None:
        yield
        return

    def tracked(iterable, *args, **kwargs):
        items = list(iterable)
        for done, item in enumerate(items, start=1):
            yield item
            if progress:
                progress("convert", done, len(items))

    gguf_utils.tqdm = tracked
    try:
        yield
    finally:
        gguf_utils.tqdm = original


def convert_gguf(
    gguf_path: Path, out_dir: Path, progress: Callable[[str, int, int | None], None] | None = None
) -> dict[str, Any]:
    """Unpack a GGUF file into a dense transformers directory (safetensors + tokenizer).

    Weights are dequantized (``GgufConfig(dequantize=True)``) rather than kept in GGUF blocks:
    packed weights cannot be saved, cannot be trained with LoRA, and the CPU kernels for them are
    fetched from a hub at run time. Stored in bf16: the values came from 4-6 bit blocks, so bf16
    keeps everything the file had at half the size of fp32.
    """
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    with quiet_transformers():
        try:
            if progress:
                progress("tokenizer", 0, None)
            tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
            if progress:
                progress("tokenizer", 1, 1)
            with _tensor_progress(progress):
                model = AutoModelForCausalLM.from_pretrained(
                    gguf_path.parent,
                    gguf_file=gguf_path.name,
                    dtype=torch.bfloat16,
                    quantization_config=GgufConfig(dequantize=True),
                )
        except (ValueError, KeyError, OSError, RuntimeError) as error:
            raise IntegrityError(
                f"transformers could not read {gguf_path.name} as a model: {error}",
                hint="check that the file is a complete GGUF of an architecture transformers supports",
                path=gguf_path,
            ) from error
        if progress:
            progress("save", 0, None)
        model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
        if progress:
            progress("save", 1, 1)
    return {
        "architecture": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "chat_template": tokenizer.chat_template is not None,
        "transformers": transformers.__version__,
        "stored_dtype": "bfloat16",
    }
