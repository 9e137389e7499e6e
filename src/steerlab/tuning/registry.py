"""The adapter registry: ``WORKSPACE/adapters/<id>/``, each adapter with the lineage that made it.

An adapter is only meaningful with the base model it was trained on, and a measurement only
trustworthy if one can say what the adapter saw. So each entry holds the PEFT files plus
``lineage.json``: base model name and content hash, dataset version, template name and version,
hyper-parameters, training curve, dev metrics and timing. The id is a short hash of what
determines the weights (base hash, task, dataset, template, hyper-parameters, precision), so
registering the same training twice gives the same id, and a candidate naming an id names
exactly one recipe.

Entries are built in a staging folder and renamed into place (:mod:`steerlab.atomic`), so an
``adapters/<id>/`` folder is always complete; the adapter weights' sha256 is recorded and checked
on load.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steerlab.atomic import publish_directory, staging_directory
from steerlab.data.example import canonical_json
from steerlab.errors import ConfigError, IntegrityError, ModelNotFoundError
from steerlab.models.cache import MANIFEST, read_manifest

if TYPE_CHECKING:
    from steerlab.models.local import TransformersModel
    from steerlab.prompts.template import PromptTemplate
    from steerlab.tuning.config import TrainConfig
    from steerlab.tuning.trainer import TrainResult

__all__ = [
    "AdapterRecord",
    "base_model_hash",
    "list_adapters",
    "load_adapter",
    "merge_adapter",
    "model_hash",
    "register",
]

ADAPTERS = "adapters"
LINEAGE = "lineage.json"
WEIGHTS = "adapter_model.safetensors"
LINEAGE_FORMAT = 1


@dataclass(frozen=True)
class AdapterRecord:
    """One registered adapter: its id, its folder (PEFT files + lineage.json) and its lineage."""

    id: str
    path: Path
    lineage: dict[str, Any]

    @property
    def task(self) -> str:
        return self.lineage["task"]

    @property
    def base_model(self) -> str:
        return self.lineage["base_model"]["name"]

    @property
    def base_model_sha256(self) -> str:
        return self.lineage["base_model"]["sha256"]

    @property
    def dataset_version(self) -> str:
        return self.lineage["dataset_version"]

    @property
    def template_version(self) -> str:
        return self.lineage["template"]["version"]

    @property
    def config(self) -> TrainConfig:
        from steerlab.tuning.config import TrainConfig

        return TrainConfig.from_dict(self.lineage["hyperparameters"])

    @property
    def dev_metrics(self) -> dict[str, Any]:
        return self.lineage["dev_metrics"]

    @property
    def total_wall_s(self) -> float:
        """Training time of this adapter and every adapter it continued from."""
        return float(self.lineage.get("total_wall_s", self.lineage["wall_s"]))

    @property
    def created(self) -> str:
        return self.lineage["created"]


def _sha256_file(path: Path, digest: Any | None = None) -> Any:
    digest = digest or hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(4 * 1024 * 1024):
            digest.update(block)
    return digest


def model_hash(model_dir: str | Path) -> str:
    """Content hash of a model directory: what makes two bases the same model.

    A steerlab cache entry converted from a GGUF is identified by the GGUF's sha256 and the
    conversion (transformers version, stored dtype) recorded in its manifest, which costs nothing
    to read. Any other directory is hashed file by file: weights, configs and tokenizer files
    (a changed tokenizer or chat template changes what an adapter was trained on), not READMEs.
    """
    path = Path(model_dir)
    if (path / MANIFEST).is_file():
        manifest = read_manifest(path)
        if manifest.get("gguf_sha256"):
            keys = ("gguf_sha256", "transformers", "stored_dtype")
            return hashlib.sha256(canonical_json({k: manifest.get(k) for k in keys}).encode()).hexdigest()
    files = sorted(
        f
        for f in path.iterdir()
        if f.is_file() and not f.name.startswith(".") and f.suffix != ".md" and f.name != MANIFEST
    )
    if not any(f.suffix in (".safetensors", ".bin") for f in files):
        raise IntegrityError(f"{path} holds no model weights (*.safetensors or *.bin)", path=path)
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0")
        _sha256_file(file, digest)
    return digest.hexdigest()


def base_model_hash(model: TransformersModel) -> str:
    """:func:`model_hash` of a loaded model's local directory: the base an adapter must match."""
    return model_hash(_model_dir(model.source))


def _model_dir(source: str) -> Path:
    """The local directory of a model source: itself, or the Hugging Face cache's snapshot of a hub id."""
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source, local_files_only=True))
    except Exception as error:  # not a hub id, or not in the local cache
        raise ModelNotFoundError(
            f"base model {source!r} is not a local directory or a cached hub model",
            hint="adapters are registered and merged against a local copy of their base model",
        ) from error


def _adapters_dir(workspace: str | Path) -> Path:
    return Path(workspace) / ADAPTERS


def register(
    workspace: str | Path,
    result: TrainResult,
    *,
    base_model: TransformersModel,
    task_name: str,
    dataset_version: str,
    template: PromptTemplate,
    train_limit: int | None = None,
    parent: AdapterRecord | None = None,
) -> AdapterRecord:
    """Publish the adapter a training run produced, with its lineage, and return its record.

    ``parent``: the adapter this run continued from; its id is part of the recipe, and the
    lineage's ``total_wall_s`` adds its training time, which is what the adapter cost.
    Registering a recipe already present returns the existing entry unchanged.
    """
    import peft
    import torch
    import transformers

    weights = result.adapter_dir / WEIGHTS
    if not weights.is_file():
        raise IntegrityError(f"training run has no adapter weights at {weights}", path=result.adapter_dir)
    base_dir = _model_dir(base_model.source)
    recipe = {
        "task": task_name,
        "base_model_sha256": model_hash(base_dir),
        "dataset_version": dataset_version,
        "template_version": template.version,
        "hyperparameters": result.config.to_dict(),
        "target_modules": result.target_modules,
        "precision": result.precision,
    }
    if result.world_size > 1:  # N processes: each step's batch is N times larger
        recipe["world_size"] = result.world_size
    if train_limit is not None:  # a subset of the train split, for a learning curve
        recipe["train_limit"] = train_limit
    if parent is not None:  # continued training: the starting weights are part of the recipe
        recipe["init_adapter"] = parent.id
    adapter_id = "lora-" + hashlib.sha256(canonical_json(recipe).encode()).hexdigest()[:12]
    lineage = {
        "format": LINEAGE_FORMAT,
        "id": adapter_id,
        "task": task_name,
        "base_model": {
            "name": base_model.name,
            "source": str(base_dir),
            "sha256": recipe["base_model_sha256"],
        },
        "dataset_version": dataset_version,
        "train_limit": train_limit,
        "template": {"name": template.name, "version": template.version},
        "hyperparameters": recipe["hyperparameters"],
        "target_modules": result.target_modules,
        "precision": result.precision,
        "training": {
            "steps": result.steps,
            "total_steps": result.total_steps,
            "best_step": result.best_step,
            "stopped_early": result.stopped_early,
            "train_examples": result.train_examples,
            "dev_examples": result.dev_examples,
            "tokens_trained": result.tokens_trained,
            "answer_tokens": result.answer_tokens,
            "wall_s": round(result.wall_s, 3),
            "world_size": result.world_size,
            "curve": [vars(p) for p in result.curve],
            "evals": [vars(p) for p in result.evals],
        },
        "dev_metrics": {"metric": result.dev_metric, "loss": result.dev_loss},
        "wall_s": round(result.wall_s, 3),
        "init_adapter": parent.id if parent is not None else None,
        "total_wall_s": round(result.wall_s + (parent.total_wall_s if parent is not None else 0.0), 3),
        "adapter_sha256": _sha256_file(weights).hexdigest(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": {
            "peft": peft.__version__,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
        },
    }
    root = _adapters_dir(workspace)
    target = root / adapter_id
    if not (target / LINEAGE).is_file():
        with staging_directory(root, adapter_id) as work:
            built = work / adapter_id
            shutil.copytree(result.adapter_dir, built)
            (built / LINEAGE).write_text(json.dumps(lineage, indent=1, ensure_ascii=False))
            publish_directory(built, target)
    return load_adapter(workspace, adapter_id)


def list_adapters(workspace: str | Path) -> list[AdapterRecord]:
    """Every registered adapter, oldest first."""
    root = _adapters_dir(workspace)
    if not root.is_dir():
        return []
    records = [
        AdapterRecord(p.name, p, json.loads((p / LINEAGE).read_text()))
        for p in root.iterdir()
        if p.is_dir() and (p / LINEAGE).is_file()
    ]
    return sorted(records, key=lambda r: (r.created, r.id))


def load_adapter(workspace: str | Path, adapter_id: str) -> AdapterRecord:
    """The record of ``adapter_id`` (or of the one adapter whose id starts with it), verified.

    ``record.path`` is a PEFT adapter folder: ``PeftModel.from_pretrained(base, record.path)``.
    """
    root = _adapters_dir(workspace)
    path = root / adapter_id
    if not (path / LINEAGE).is_file():
        matches = [r for r in list_adapters(workspace) if r.id.startswith(adapter_id)] if adapter_id else []
        if len(matches) != 1:
            known = ", ".join(r.id for r in list_adapters(workspace)) or "none"
            problem = "matches several adapters" if matches else "is not in the registry"
            raise ConfigError(
                f"adapter {adapter_id!r} {problem} at {root}", hint=f"registered adapters: {known}"
            )
        path = matches[0].path
    lineage = json.loads((path / LINEAGE).read_text())
    weights = path / WEIGHTS
    if not weights.is_file() or _sha256_file(weights).hexdigest() != lineage["adapter_sha256"]:
        raise IntegrityError(
            f"adapter {path.name}: weights are missing or do not match lineage.json", path=path
        )
    return AdapterRecord(path.name, path, lineage)


def merge_adapter(
    workspace: str | Path, adapter_id: str, out_dir: str | Path, *, dtype: str = "float32"
) -> Path:
    """Write base model + adapter as one standalone model directory (``TransformersModel`` loads it).

    The merge is done and stored in fp32 by default: a LoRA update is small next to the weights
    it is added to, and rounding the sum to bf16 (8 bits of mantissa) drops a visible part of it.
    Pass ``dtype="bfloat16"`` for half the size when that is acceptable. The base is checked
    against the hash in the lineage first, so an adapter is never merged into another model.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from steerlab.models.hf_quiet import quiet_transformers

    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    if dtype not in dtypes:
        raise ConfigError(f"merge dtype must be float32 or bfloat16, got {dtype!r}")
    record = load_adapter(workspace, adapter_id)
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConfigError(
            f"{out_dir} already exists and is not empty", hint="choose a new folder to merge into"
        )
    base_dir = _model_dir(record.lineage["base_model"]["source"])
    if model_hash(base_dir) != record.base_model_sha256:
        raise IntegrityError(
            f"the base model at {base_dir} is not the one adapter {record.id} was trained on (hash differs)",
            path=base_dir,
        )
    with quiet_transformers():
        base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=dtypes[dtype])
        tokenizer = AutoTokenizer.from_pretrained(base_dir)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # peft calls a name transformers 5 deprecated
            merged = PeftModel.from_pretrained(base, record.path).merge_and_unload()
        if out_dir.exists():
            out_dir.rmdir()
        with staging_directory(out_dir.parent, out_dir.name) as work:
            built = work / "model"
            merged.save_pretrained(built)
            tokenizer.save_pretrained(built)
            (built / "adapter-lineage.json").write_text(
                json.dumps(record.lineage, indent=1, ensure_ascii=False)
            )
            publish_directory(built, out_dir)
    return out_dir
