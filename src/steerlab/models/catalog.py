"""Names to models: the embedded defaults, local directories and GGUF files, hub ids, endpoints.

One function, :func:`load_model`, turns whatever a user typed after ``--model`` into a
:class:`~steerlab.models.base.Model`:

- an embedded default (``gemma-3-270m``, ``qwen2.5-coder-0.5b-instruct``), pulled on first use;
- a local transformers directory (anything with a ``config.json``);
- a local ``.gguf`` file, converted once and cached by content hash;
- ``openai:MODEL`` for any OpenAI-compatible endpoint (base URL and key from options or env);
- any other ``org/name`` is a Hugging Face hub id, resolved by transformers (its own cache first).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steerlab.errors import ModelNotFoundError
from steerlab.hashing import file_sha256
from steerlab.models import cache
from steerlab.models.base import Model
from steerlab.models.embedded import EMBEDDED_MODELS, EmbeddedSpec, ProgressFn, assemble, embedded_spec
from steerlab.paths import models_dir

__all__ = ["CatalogEntry", "list_models", "load_model", "pull", "pull_embedded"]

OPENAI_PREFIX = "openai:"


@dataclass(frozen=True)
class CatalogEntry:
    """One row of ``steerlab models list``."""

    name: str
    source: str
    description: str
    license: str | None
    parameters: int | None
    chat_template: bool | None
    cached: bool
    size_bytes: int | None
    path: Path | None


def list_models() -> list[CatalogEntry]:
    """The embedded defaults (pulled or not), then every other model already in the cache."""
    rows: list[CatalogEntry] = []
    for spec in EMBEDDED_MODELS:
        path = cache.cached_dir(spec.name)
        rows.append(
            CatalogEntry(
                name=spec.name,
                source="embedded",
                description=spec.description,
                license=spec.license,
                parameters=spec.parameters,
                chat_template=spec.chat_template,
                cached=path is not None,
                size_bytes=cache.dir_size(path) if path else None,
                path=path,
            )
        )
    embedded = {spec.name for spec in EMBEDDED_MODELS}
    for path in sorted(models_dir().iterdir()):
        if path.name in embedded or not (path / cache.MANIFEST).is_file():
            continue
        manifest = cache.read_manifest(path)
        rows.append(
            CatalogEntry(
                name=path.name,
                source=manifest.get("source", "gguf"),
                description=manifest.get("description", ""),
                license=manifest.get("license"),
                parameters=manifest.get("parameters"),
                chat_template=manifest.get("chat_template"),
                cached=True,
                size_bytes=cache.dir_size(path),
                path=path,
            )
        )
    return rows


def pull(name: str, *, progress: ProgressFn | None = None) -> Path:
    """Make a model available offline and return its cached directory.

    ``name`` is an embedded model name or a path to a ``.gguf`` file. Pulling something already
    cached returns at once.
    """
    spec = embedded_spec(name)
    if spec is not None:
        return pull_embedded(spec, progress)
    path = Path(name).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return _pull_gguf_file(path, progress)
    raise ModelNotFoundError(
        f"cannot pull {name!r}: it is neither an embedded model nor a .gguf file",
        hint=f"embedded models: {', '.join(s.name for s in EMBEDDED_MODELS)}",
    )


def pull_embedded(spec: EmbeddedSpec, progress: ProgressFn | None = None) -> Path:
    """Assemble, verify and convert one embedded spec into the cache (idempotent)."""
    existing = cache.cached_dir(spec.name)
    if existing is not None:
        return existing
    started = time.perf_counter()
    with cache.staging(spec.name) as work:
        gguf = assemble(spec, work / spec.gguf_filename, progress)
        built = work / "model"
        facts = cache.convert_gguf(gguf, built, progress)
        manifest = {
            **facts,
            "name": spec.name,
            "source": "embedded",
            "description": spec.description,
            "license": spec.license,
            "gguf_sha256": spec.sha256,
            "packages": sorted({chunk.distribution for chunk in spec.chunks}),
            "convert_seconds": round(time.perf_counter() - started, 1),
        }
        return cache.write_entry(built, spec.name, manifest)


def _pull_gguf_file(path: Path, progress: ProgressFn | None) -> Path:
    sha = file_sha256(path)
    name = f"{path.stem.lower()}-{sha[:12]}"
    existing = cache.cached_dir(name)
    if existing is not None:
        return existing
    started = time.perf_counter()
    with cache.staging(name) as work:
        built = work / "model"
        facts = cache.convert_gguf(path.resolve(), built, progress)
        manifest = {
            **facts,
            "name": name,
            "source": "gguf",
            "description": f"converted from {path.resolve()}",
            "gguf_sha256": sha,
            "convert_seconds": round(time.perf_counter() - started, 1),
        }
        return cache.write_entry(built, name, manifest)


def load_model(
    name: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    progress: ProgressFn | None = None,
    **options: Any,
) -> Model:
    """Resolve ``name`` (see the module docstring) and return a ready model.

    ``options`` go to the backend: ``base_url``, ``api_key``, ``timeout``… for endpoints.
    """
    if name.startswith(OPENAI_PREFIX):
        from steerlab.models.openai_compat import OpenAICompatModel

        return OpenAICompatModel(name.removeprefix(OPENAI_PREFIX), **options)

    from steerlab.models.local import TransformersModel

    spec = embedded_spec(name)
    if spec is not None:
        return TransformersModel(
            pull(name, progress=progress), name=name, device=device, dtype=dtype, **options
        )
    cached = cache.cached_dir(name)
    if cached is not None:
        return TransformersModel(cached, name=name, device=device, dtype=dtype, **options)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"{path} is a directory but not a transformers model (no config.json)",
                hint="point --model at a folder made by save_pretrained, or at a .gguf file",
                path=path,
            )
        return TransformersModel(path, name=str(path), device=device, dtype=dtype, **options)
    if path.suffix == ".gguf" and path.is_file():
        return TransformersModel(
            pull(name, progress=progress), name=path.name, device=device, dtype=dtype, **options
        )
    if "/" in name and not path.exists() and not name.startswith((".", "/", "~")):
        return TransformersModel(name, name=name, device=device, dtype=dtype, **options)
    known = ", ".join(row.name for row in list_models())
    raise ModelNotFoundError(
        f"no model called {name!r}",
        hint=f"use one of: {known}; a local model directory or .gguf file; a hub id like org/name; "
        "or openai:MODEL for an OpenAI-compatible endpoint",
    )
