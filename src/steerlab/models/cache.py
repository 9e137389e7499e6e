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
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from steerlab.atomic import publish_directory, staging_directory
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
    """A scratch directory beside the cache entries, removed afterwards (see :mod:`steerlab.atomic`)."""
    with staging_directory(models_dir(), name) as path:
        yield path


def write_entry(built: Path, name: str, manifest: dict[str, Any]) -> Path:
    """Publish a built model directory as the cache entry ``name`` in one rename.

    The manifest goes in last, so an entry with a manifest is complete by construction. An
    existing folder without one is debris from an older steerlab and is replaced.
    """
    (built / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    target = models_dir() / name
    if target.exists() and not (target / MANIFEST).is_file():
        shutil.rmtree(target)
    return publish_directory(built, target)


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
