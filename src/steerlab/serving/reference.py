"""What a release was measured on, as drift monitoring compares live traffic with it.

A release's reference profile holds the sentence embeddings (all-MiniLM-L6-v2) of the inputs of
the evaluation split it was measured on (of the dataset version it pins), and its evaluation
predictions: valid or not, confidence, and category (classify: the label; extract: each enum
field of the schema). It is computed once per release and cached at
``WORKSPACE/releases/profiles/RELEASE.npz`` in one atomic write: a release never changes, so
neither does its profile, and a release's own folder is never modified.

Predictions come from the prediction cache, keyed by the release's fingerprint over the split's
examples (what the evaluation computed, plus any other example of the split that recipe was run
on). When the cache was cleaned, the release's copy of its evaluation still gives the predicted
label counts (the confusion matrix's columns) and the invalid count; confidences are then unknown.

Reference inputs are redacted as the request log redacts live ones
(:meth:`~steerlab.serving.guardrails.Guardrails.for_log`), so an address in the evaluation data
and ``<EMAIL>`` in a logged request do not read as drift.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from steerlab.atomic import atomic_write_bytes
from steerlab.errors import ConfigError

if TYPE_CHECKING:
    from steerlab.release import Release
    from steerlab.task import Task

__all__ = [
    "NOVEL_QUANTILE",
    "ReferenceProfile",
    "TextEmbedder",
    "input_text",
    "output_categories",
    "profile_path",
    "reference_profile",
]

PROFILE_FORMAT = 1
MAX_REFERENCE = 2000
"""Reference inputs embedded at most (a seeded sample beyond): MMD's kernel grows as n²."""
SEED = 0
NOVEL_QUANTILE = 0.05
"""An input is novel when its nearest evaluation input is further than this quantile of the
evaluation inputs' own nearest-neighbour similarities (so about 5% are novel without drift)."""


class TextEmbedder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


def input_text(task: Task, inputs: dict[str, Any]) -> str:
    """One string per request or example, the same way for both: fields in task order, joined."""
    return "\n".join(str(inputs.get(f.name, "")) for f in task.inputs)


@dataclass(frozen=True)
class ReferenceProfile:
    """What a release was measured on: its evaluation inputs (embedded) and its predictions.

    ``predictions`` holds, per evaluation prediction, ``valid``, ``confidence`` and
    ``categories`` (signal name to category). When the prediction cache no longer holds them,
    ``summary`` holds what the saved evaluation does (label counts, failures, n) instead.
    """

    release: str
    task: str
    kind: str
    dataset_version: str
    split: str
    embedder: str
    embeddings: np.ndarray
    n_inputs: int
    novelty_cutoff: float
    predictions: list[dict[str, Any]]
    summary: dict[str, Any] | None = None

    @property
    def source(self) -> str:
        return "predictions" if self.predictions else "evaluation summary"

    def _kept(self, threshold: float | None) -> list[dict[str, Any]]:
        """Predictions the server would have answered with: valid, and over the threshold."""
        return [
            p
            for p in self.predictions
            if p["valid"] and (threshold is None or p["confidence"] is None or p["confidence"] >= threshold)
        ]

    def categories(self, threshold: float | None) -> dict[str, dict[str, int]]:
        if not self.predictions:
            return dict((self.summary or {}).get("categories", {}))
        counts: dict[str, Counter[str]] = {}
        for p in self._kept(threshold):
            for signal, category in p["categories"].items():
                counts.setdefault(signal, Counter())[category] += 1
        return {signal: dict(c) for signal, c in counts.items()}

    def confidences(self, threshold: float | None) -> list[float]:
        return [p["confidence"] for p in self._kept(threshold) if p["confidence"] is not None]

    def failures(self, threshold: float | None) -> tuple[int, int]:
        """(predictions the server would not have answered, predictions): the escalation (or
        fallback) rate the evaluation leads one to expect."""
        if not self.predictions:
            summary = self.summary or {}
            return int(summary.get("failures", 0)), int(summary.get("n", 0))
        return len(self.predictions) - len(self._kept(threshold)), len(self.predictions)


def profile_path(workspace: str | Path, release_id: str) -> Path:
    from steerlab.release.record import releases_dir

    return releases_dir(workspace) / "profiles" / f"{release_id}.npz"


def _enum_fields(task: Task) -> list[str]:
    properties = (task.json_schema or {}).get("properties", {})
    return [name for name, spec in properties.items() if isinstance(spec, dict) and "enum" in spec]


def _category(value: Any) -> str:
    if value is None:
        return "(none)"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def output_categories(task: Task, output: Any) -> dict[str, str]:
    """Signal name to category for one answer: ``labels`` for classify, ``field NAME`` for each
    enum field of an extract schema; nothing for free text."""
    if task.kind == "classify":
        return {"labels": output} if isinstance(output, str) else {}
    if task.kind == "extract" and isinstance(output, dict):
        return {f"field {name}": _category(output.get(name)) for name in _enum_fields(task)}
    return {}


def _novelty_cutoff(embeddings: np.ndarray) -> float:
    if len(embeddings) < 2:
        return -1.0
    similarity = embeddings @ embeddings.T
    np.fill_diagonal(similarity, -np.inf)
    return float(np.quantile(similarity.max(axis=1), NOVEL_QUANTILE))


def _reference_predictions(workspace: Path, task: Task, release: Release, ids: list[str]) -> list[dict]:
    from steerlab.evaluation.cache import PredictionCache

    path = workspace / "predictions.sqlite"
    if not path.is_file():
        return []
    cache = PredictionCache(path)
    try:
        found = cache.get(release.fingerprint, ids)
    finally:
        cache.close()
    return [
        {
            "valid": bool(p.valid and p.output is not None),
            "confidence": None if p.confidence is None else float(p.confidence),
            "categories": output_categories(task, p.output) if p.valid else {},
        }
        for p in (found[i] for i in ids if i in found)
    ]


def _evaluation_summary(task: Task, release: Release) -> dict[str, Any]:
    """Label counts and failures from the release's copy of its evaluation, for when the
    prediction cache was cleaned: a confusion matrix's columns are the predicted labels."""
    from steerlab.evaluation.results import EvalResults
    from steerlab.release.record import EVALUATION

    results = EvalResults.load(release.path / EVALUATION)
    result = next(c for c in results.candidates if c.name == release.candidate_name)
    confusion = result.details.get("confusion") or {}
    if confusion:
        columns: Counter[str] = Counter()
        for row in confusion.values():
            columns.update(row)
        invalid = columns.pop("<invalid>", 0)
        return {"categories": {"labels": dict(columns)}, "failures": invalid, "n": result.n}
    return {"categories": {}, "failures": round((1 - result.validity_rate) * result.n), "n": result.n}


def _build_profile(workspace: Path, task: Task, release: Release, embedder: TextEmbedder) -> ReferenceProfile:
    from steerlab.data.dataset import load_dataset
    from steerlab.embeddings import EMBEDDING_MODEL

    version = release.pins["dataset"]["version"]
    split = release.evaluation["split"]
    examples = sorted(getattr(load_dataset(workspace, task.name, version), split), key=lambda ex: ex.id)
    if not examples:
        raise ConfigError(f"the {split} split of dataset {version} is empty: nothing to compare with")
    sample = examples
    if len(examples) > MAX_REFERENCE:
        chosen = np.random.default_rng(SEED).choice(len(examples), MAX_REFERENCE, replace=False)
        sample = [examples[i] for i in sorted(chosen)]
    from steerlab.serving.guardrails import Guardrails

    as_logged = Guardrails(task).for_log
    texts = [input_text(task, as_logged(dict(ex.inputs))) for ex in sample]
    embeddings = np.asarray(embedder.encode(texts), np.float32)
    predictions = _reference_predictions(workspace, task, release, [ex.id for ex in examples])
    return ReferenceProfile(
        release=release.id,
        task=task.name,
        kind=task.kind,
        dataset_version=version,
        split=split,
        embedder=EMBEDDING_MODEL,
        embeddings=embeddings,
        n_inputs=len(examples),
        novelty_cutoff=_novelty_cutoff(embeddings),
        predictions=predictions,
        summary=None if predictions else _evaluation_summary(task, release),
    )


def _save_profile(path: Path, profile: ReferenceProfile) -> None:
    meta = {k: v for k, v in asdict(profile).items() if k != "embeddings"}
    meta.update(format=PROFILE_FORMAT, max_reference=MAX_REFERENCE)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        embeddings=profile.embeddings,
        meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
    )
    atomic_write_bytes(path, buffer.getvalue())


def _load_profile(path: Path, release_id: str) -> ReferenceProfile | None:
    """The cached profile, or None when there is none or it was made another way (another
    format, embedder or cap) and must be rebuilt."""
    from steerlab.embeddings import EMBEDDING_MODEL

    try:
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes().decode("utf-8"))
            embeddings = np.asarray(data["embeddings"], dtype=np.float32)
    except (OSError, ValueError, KeyError):
        return None
    expected = {
        "format": PROFILE_FORMAT,
        "release": release_id,
        "embedder": EMBEDDING_MODEL,
        "max_reference": MAX_REFERENCE,
    }
    if any(meta.get(key) != value for key, value in expected.items()):
        return None
    fields = {k: meta[k] for k in ReferenceProfile.__dataclass_fields__ if k != "embeddings"}
    return ReferenceProfile(embeddings=embeddings, **fields)


def reference_profile(
    workspace: str | Path,
    task: Task,
    release: Release,
    *,
    embedder: TextEmbedder | None = None,
    rebuild: bool = False,
) -> ReferenceProfile:
    """The release's reference profile, built and cached on first use (a release never changes,
    so neither does its profile)."""
    path = profile_path(workspace, release.id)
    if not rebuild:
        cached = _load_profile(path, release.id) if path.is_file() else None
        if cached is not None:
            return cached
    if embedder is None:
        from steerlab.embeddings import default_embedder

        embedder = default_embedder()
    profile = _build_profile(Path(workspace), task, release, embedder)
    _save_profile(path, profile)
    return profile
