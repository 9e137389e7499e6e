"""Knowledge-base indexes: versioned folders of chunks, dense vectors (Qdrant) and BM25.

Layout under ``WORKSPACE/kb/NAME/``::

    versions/kb-<hash>/      one complete index, never modified once published
        manifest.json        version, settings, counts, skipped files, embedder
        documents.json       id -> sha256, title, source, format, chunk count
        chunks.jsonl         one Chunk per line, in (document, ordinal) order
        embeddings.npy       float32 (chunks, 384), unit length; row i is chunk i
        bm25/                bm25s index over the same text
        qdrant/              Qdrant local-mode collection "chunks" (point id = row)
    embedding-cache/         vectors by sha256 of the embedded text, shard per batch
    current                  the version `kb search` and candidates use by default

A version is the hash of its documents' contents and the settings, like a dataset version. It
is built in a staging folder and published with one rename; the ``current`` pointer moves
last, so a killed ingest leaves the previous index in place. Embeddings are written to the
cache batch by batch, so a killed ingest resumes without embedding those chunks again, and a
re-ingest embeds only chunks whose text changed.

Qdrant: its local mode keeps a collection in a folder with the same client API as a Qdrant
server, so a team outgrowing one machine points ``STEERLAB_QDRANT_URL`` at a server and keeps
the code (the collection there is named ``steerlab-NAME-VERSION``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from steerlab.atomic import atomic_write_bytes, atomic_write_text, publish_directory, staging_directory
from steerlab.data.example import canonical_json
from steerlab.errors import ConfigError, SteerlabError
from steerlab.retrieval.chunking import Chunk, chunk_document
from steerlab.retrieval.documents import Document, SkippedFile, scan

__all__ = [
    "RRF_K",
    "ChunkSettings",
    "Hit",
    "IngestReport",
    "KnowledgeBase",
    "ingest",
    "kb_dir",
    "list_versions",
]

RRF_K = 60
"""Reciprocal rank fusion constant (Cormack, Clarke & Büttcher 2009, SIGIR), as most systems use."""

EMBED_BATCH = 256
COLLECTION = "chunks"

ProgressFn = Callable[[str, int, int], None]
Reranker = Callable[[str, list["Hit"]], list["Hit"]]


@dataclass(frozen=True)
class ChunkSettings:
    size: int = 800
    overlap: int = 120


@dataclass
class IngestReport:
    name: str
    version: str
    path: Path
    documents: int
    chunks: int
    parsed: list[str]
    unchanged: list[str]
    removed: list[str]
    skipped: list[SkippedFile]
    embedded: int
    seconds: float
    already_built: bool = False

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None


def kb_dir(workspace: Path, name: str = "default") -> Path:
    if not name or "/" in name or name.startswith("."):
        raise ConfigError(f"knowledge-base name {name!r} must be a plain folder name")
    return Path(workspace) / "kb" / name


def list_versions(workspace: Path, name: str = "default") -> list[dict[str, Any]]:
    """Every published version, oldest first, with its manifest."""
    versions = kb_dir(workspace, name) / "versions"
    found = []
    for path in sorted(versions.glob("kb-*")) if versions.is_dir() else []:
        manifest = json.loads((path / "manifest.json").read_text())
        found.append(manifest)
    return sorted(found, key=lambda m: m["created_ns"])


def _embedded_text(chunk: Chunk) -> str:
    """What retrieval matches against: the chunk with its document title and section path,
    which carry words a question uses ("returns", "warranty") that the paragraph may not."""
    heading = " > ".join(part for part in (chunk.title, chunk.section) if part)
    return f"{heading}\n{chunk.text}" if heading else chunk.text


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _EmbeddingCache:
    """Vectors by sha256 of their text, one .npz shard per written batch (atomic writes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        for shard in sorted(path.glob("*.npz")) if path.is_dir() else []:
            try:
                with np.load(shard) as data:
                    for key, vector in zip(data["keys"], data["vectors"], strict=True):
                        self.vectors[str(key)] = vector
            except (OSError, ValueError, KeyError):
                shard.unlink(missing_ok=True)  # a damaged shard is only lost work

    def add(self, keys: list[str], vectors: np.ndarray) -> None:
        import io

        buffer = io.BytesIO()
        np.savez(buffer, keys=np.array(keys), vectors=vectors)
        atomic_write_bytes(self.path / f"{_text_key(''.join(keys))[:16]}.npz", buffer.getvalue())
        self.vectors.update(zip(keys, vectors, strict=True))


def ingest(
    source: Path,
    workspace: Path,
    *,
    name: str = "default",
    settings: ChunkSettings | None = None,
    embedder: Any = None,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Build (or find) the index version for the documents under ``source`` and make it current."""
    started = time.perf_counter()
    settings = settings or ChunkSettings()
    source = Path(source)
    if not source.exists():
        raise ConfigError(f"knowledge base {source} does not exist", path=source)
    root = kb_dir(workspace, name)
    previous = _read_current(root)
    previous_docs: dict[str, dict[str, Any]] = {}
    previous_chunks: dict[str, list[Chunk]] = {}
    if previous is not None and _manifest(previous).get("settings") == asdict(settings):
        previous_docs = json.loads((previous / "documents.json").read_text())
        for chunk in _read_chunks(previous / "chunks.jsonl"):
            previous_chunks.setdefault(chunk.doc_id, []).append(chunk)
    found = scan(source, known={doc_id: info["sha256"] for doc_id, info in previous_docs.items()})
    documents: dict[str, dict[str, Any]] = {}
    chunks: list[Chunk] = []
    for doc_id in found.unchanged:
        documents[doc_id] = previous_docs[doc_id]
        chunks.extend(previous_chunks.get(doc_id, []))
    for document in found.documents:
        made = chunk_document(document, size=settings.size, overlap=settings.overlap)
        documents[document.id] = _document_info(document, len(made))
        chunks.extend(made)
    if not chunks:
        raise SteerlabError(
            f"no readable documents under {source}",
            hint="a knowledge base holds .md, .txt, .html or .pdf files"
            + (f"; skipped: {', '.join(s.source for s in found.skipped)}" if found.skipped else ""),
        )
    chunks.sort(key=lambda c: (c.doc_id, int(c.id.rsplit(":", 1)[1])))
    version = (
        "kb-"
        + _text_key(
            canonical_json(
                {
                    "settings": asdict(settings),
                    "embedder": _embedder_id(),
                    "documents": sorted((d, info["sha256"]) for d, info in documents.items()),
                }
            )
        )[:12]
    )
    target = root / "versions" / version
    report = IngestReport(
        name=name,
        version=version,
        path=target,
        documents=len(documents),
        chunks=len(chunks),
        parsed=[d.id for d in found.documents],
        unchanged=list(found.unchanged),
        removed=list(found.removed),
        skipped=list(found.skipped),
        embedded=0,
        seconds=0.0,
    )
    if target.is_dir():
        report.already_built = True
    else:
        vectors, report.embedded = _embed(chunks, root / "embedding-cache", embedder, progress)
        with staging_directory(root / "versions", version) as staging:
            _write_index(staging, chunks, vectors, documents, found.skipped, settings, version, name)
            publish_directory(staging, target)
    atomic_write_text(root / "current", version + "\n")
    report.seconds = time.perf_counter() - started
    return report


def _document_info(document: Document, n_chunks: int) -> dict[str, Any]:
    return {
        "sha256": document.sha256,
        "title": document.title,
        "source": document.source,
        "format": document.format,
        "chunks": n_chunks,
    }


def _embedder_id() -> str:
    from steerlab.embeddings import EMBEDDING_MODEL

    return EMBEDDING_MODEL


def _embed(
    chunks: list[Chunk], cache_dir: Path, embedder: Any, progress: ProgressFn | None
) -> tuple[np.ndarray, int]:
    texts = [_embedded_text(c) for c in chunks]
    keys = [_text_key(t) for t in texts]
    cache = _EmbeddingCache(cache_dir)
    todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cache.vectors}.items())
    if progress:
        progress("embed", 0, len(todo))
    if todo:
        if embedder is None:
            from steerlab.embeddings import default_embedder

            embedder = default_embedder()
        for start in range(0, len(todo), EMBED_BATCH):
            batch = todo[start : start + EMBED_BATCH]
            cache.add([k for k, _ in batch], embedder.encode([t for _, t in batch]))
            if progress:
                progress("embed", min(start + EMBED_BATCH, len(todo)), len(todo))
    return np.stack([cache.vectors[k] for k in keys]).astype(np.float32), len(todo)


def _write_index(
    folder: Path,
    chunks: list[Chunk],
    vectors: np.ndarray,
    documents: dict[str, dict[str, Any]],
    skipped: list[SkippedFile],
    settings: ChunkSettings,
    version: str,
    name: str,
) -> None:
    import bm25s

    with (folder / "chunks.jsonl").open("w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
    (folder / "documents.json").write_text(json.dumps(documents, indent=1, sort_keys=True))
    np.save(folder / "embeddings.npy", vectors)
    lexical = bm25s.BM25()
    lexical.index(_lexical_tokens([_embedded_text(c) for c in chunks]), show_progress=False)
    lexical.save(str(folder / "bm25"))
    client = _local_client(folder / "qdrant")
    try:
        _fill_collection(client, COLLECTION, vectors)
    finally:
        client.close()
    url = os.environ.get("STEERLAB_QDRANT_URL")
    if url:
        from qdrant_client import QdrantClient

        remote = QdrantClient(url=url)
        try:
            _fill_collection(remote, f"steerlab-{name}-{version}", vectors)
        finally:
            remote.close()
    manifest = {
        "name": name,
        "version": version,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "created_ns": time.time_ns(),
        "settings": asdict(settings),
        "embedder": _embedder_id(),
        "dimensions": int(vectors.shape[1]),
        "documents": len(documents),
        "chunks": len(chunks),
        "skipped": [asdict(s) for s in skipped],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def _local_client(path: Path) -> Any:
    from qdrant_client import QdrantClient

    return QdrantClient(path=str(path))


def _fill_collection(client: Any, collection: str, vectors: np.ndarray) -> None:
    from qdrant_client import models

    if client.collection_exists(collection):
        client.delete_collection(collection)
    client.create_collection(
        collection,
        # The vectors are unit length, so the dot product is the cosine; Qdrant's local mode
        # would otherwise renormalise all 10k stored vectors on every query (12 ms vs 4.5 ms).
        vectors_config=models.VectorParams(size=int(vectors.shape[1]), distance=models.Distance.DOT),
    )
    client.upload_collection(collection, vectors=vectors, ids=list(range(len(vectors))), batch_size=512)


def _lexical_tokens(texts: Sequence[str]) -> Any:
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG

    return bm25s.tokenize(list(texts), stopwords="en", show_progress=False)


def _read_current(root: Path) -> Path | None:
    pointer = root / "current"
    if not pointer.is_file():
        return None
    path = root / "versions" / pointer.read_text().strip()
    return path if path.is_dir() else None


def _manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / "manifest.json").read_text())


def _read_chunks(path: Path) -> Iterator[Chunk]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            yield Chunk(**json.loads(line))


@dataclass
class KnowledgeBase:
    """One published index version, opened for search."""

    path: Path
    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectors: np.ndarray
    embedder: Any = None
    _lexical: Any = field(default=None, repr=False)
    _client: Any = field(default=None, repr=False)
    _collection: str = COLLECTION

    @classmethod
    def open(
        cls, workspace: Path, name: str = "default", version: str | None = None, embedder: Any = None
    ) -> KnowledgeBase:
        root = kb_dir(workspace, name)
        if version in (None, "", "current"):
            path = _read_current(root)
            if path is None:
                raise ConfigError(
                    f"knowledge base {name!r} has no index in {workspace}",
                    hint="build one with: steerlab kb ingest TASK_DIR",
                )
        else:
            path = root / "versions" / str(version)
            if not path.is_dir():
                known = ", ".join(m["version"] for m in list_versions(workspace, name)) or "none"
                raise ConfigError(f"knowledge base {name!r} has no version {version!r} (known: {known})")
        return cls(
            path=path,
            manifest=_manifest(path),
            chunks=list(_read_chunks(path / "chunks.jsonl")),
            vectors=np.load(path / "embeddings.npy"),
            embedder=embedder,
        )

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def passage_of(self) -> dict[str, str]:
        return {c.id: c.passage for c in self.chunks}

    @property
    def chunk_text(self) -> dict[str, str]:
        return {c.id: c.text for c in self.chunks}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _dense(self, queries: list[str], depth: int) -> list[list[tuple[int, float]]]:
        if self.embedder is None:
            from steerlab.embeddings import default_embedder

            self.embedder = default_embedder()
        if self._client is None:
            self._client, self._collection = self._connect()
        from qdrant_client import models
        from threadpoolctl import threadpool_limits

        vectors = self.embedder.encode(queries)
        # Qdrant's local mode scores with numpy; multi-threaded BLAS there keeps spinning after
        # the call and starves torch's threads in the next query's embedding (measured: a query
        # took 118 ms instead of 25 on 2 cores). One BLAS thread for a 10k x 384 product is enough.
        with threadpool_limits(limits=1, user_api="blas"):
            answers = self._client.query_batch_points(
                self._collection,
                requests=[models.QueryRequest(query=v.tolist(), limit=depth) for v in vectors],
            )
        return [[(int(p.id), float(p.score)) for p in a.points] for a in answers]

    def _connect(self) -> tuple[Any, str]:
        url = os.environ.get("STEERLAB_QDRANT_URL")
        if url:
            from qdrant_client import QdrantClient

            return QdrantClient(url=url), f"steerlab-{self.manifest['name']}-{self.version}"
        try:
            return _local_client(self.path / "qdrant"), COLLECTION
        except (RuntimeError, OSError, ValueError):
            # Local mode allows one client per folder; a second process (eval beside serve)
            # loads the same vectors into memory instead.
            from qdrant_client import QdrantClient

            client = QdrantClient(":memory:")
            _fill_collection(client, COLLECTION, self.vectors)
            return client, COLLECTION

    def _bm25(self, queries: list[str], depth: int) -> list[list[tuple[int, float]]]:
        import bm25s

        if self._lexical is None:
            self._lexical = bm25s.BM25.load(str(self.path / "bm25"))
        tokens = bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False)
        depth = min(depth, len(self.chunks))
        found, scores = self._lexical.retrieve(tokens, k=depth, show_progress=False, n_threads=1)
        return [
            [(int(i), float(s)) for i, s in zip(row, row_scores, strict=True) if s > 0]
            for row, row_scores in zip(found, scores, strict=True)
        ]

    def search(
        self, query: str, k: int = 4, fusion: str = "rrf", reranker: Reranker | None = None
    ) -> list[Hit]:
        return self.search_many([query], k=k, fusion=fusion, reranker=reranker)[0]

    def search_many(
        self, queries: Sequence[str], k: int = 4, fusion: str = "rrf", reranker: Reranker | None = None
    ) -> list[list[Hit]]:
        """Top-k chunks per query: dense, BM25, or both fused by reciprocal rank.

        Each ranking is read ``max(4k, 20)`` deep before fusion, so a chunk ranked well by one
        method and outside the other's top k can still win; a ``reranker`` sees that whole
        fused candidate list and returns it reordered (it may drop hits).
        """
        if fusion not in ("rrf", "dense", "bm25"):
            raise ConfigError(f"fusion must be rrf, dense or bm25, not {fusion!r}")
        queries = list(queries)
        depth = max(4 * k, 20)
        dense = self._dense(queries, depth) if fusion in ("rrf", "dense") else [[] for _ in queries]
        lexical = self._bm25(queries, depth) if fusion in ("rrf", "bm25") else [[] for _ in queries]
        results = []
        for query, d, lx in zip(queries, dense, lexical, strict=True):
            d_rank = {row: rank for rank, (row, _) in enumerate(d, start=1)}
            l_rank = {row: rank for rank, (row, _) in enumerate(lx, start=1)}
            if fusion == "rrf":
                scores = {
                    row: sum(1.0 / (RRF_K + r[row]) for r in (d_rank, l_rank) if row in r)
                    for row in d_rank.keys() | l_rank.keys()
                }
            else:
                scores = dict(d if fusion == "dense" else lx)
            ranked = sorted(scores, key=lambda row: (-scores[row], row))
            hits = [Hit(self.chunks[row], scores[row], d_rank.get(row), l_rank.get(row)) for row in ranked]
            if reranker is not None:
                hits = reranker(query, hits)
            results.append(hits[:k])
        return results

    def stats(self) -> dict[str, Any]:
        lengths = [len(c.text) for c in self.chunks]
        return {
            **{key: self.manifest[key] for key in ("name", "version", "created", "documents", "chunks")},
            "settings": self.manifest["settings"],
            "embedder": self.manifest["embedder"],
            "chunk_chars": {
                "min": min(lengths),
                "median": int(np.median(lengths)),
                "max": max(lengths),
            },
            "skipped": self.manifest["skipped"],
            "path": str(self.path),
        }
