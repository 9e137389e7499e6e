"""What a release pins, how one is built from saved results, and how its pins are re-checked.

The id is ``rel-`` and 12 hex of the hash of everything pinned (task, candidate, pins,
evaluation). Creating a release again from the same candidate in the same results file, with
nothing changed underneath, therefore finds the existing one, which is returned as it is: a
release is immutable, keeps its first ``created`` and ``note``, and the change log gains no
second "created" entry, because nothing new exists (``--promote`` on a repeat still promotes,
and that is logged). ``created``, ``note`` and the steerlab version are annotations, kept out
of the hash. Any change to a pin (a retrained adapter, an edited template, a new index or
dataset, a fresh evaluation) is a new id.

The template and the results file are copied into the release, so neither a later edit of a
prompt file nor a cleaned ``runs/`` folder changes what the release renders or can show. The
model, adapter, index and dataset are too large to copy and already live content-addressed in
the workspace; the release holds their hashes and versions and checks them:

- at create: the recipe must still fingerprint as it did when evaluated (a template or task
  contract edited since makes the measurement about something else), and every pin must
  resolve: the adapter's weights match its lineage and it was trained on this model;
- at promote and rollback: all of that again against the release's own copies, so a release
  never goes live on weights, an index or a dataset other than the ones it was measured with.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steerlab.atomic import publish_directory, staging_directory
from steerlab.data.example import canonical_json
from steerlab.errors import ConfigError, IntegrityError, ModelNotFoundError, SteerlabError
from steerlab.hashing import file_sha256

if TYPE_CHECKING:
    from steerlab.candidate import Candidate
    from steerlab.evaluation.results import CandidateResult, EvalResults
    from steerlab.prompts import PromptTemplate
    from steerlab.task import Task

__all__ = [
    "Release",
    "create_release",
    "list_releases",
    "load_release",
    "locked",
    "now_iso",
    "releases_dir",
    "show_time",
    "verify_release",
]

RELEASES = "releases"
RECORD = "release.json"
EVALUATION = "evaluation.json"
PROMPTS = "prompts"
RECORD_FORMAT = 1
IDENTITY = ("task", "candidate", "pins", "evaluation")
"""The record's keys that make up its id; the others annotate it."""


@dataclass(frozen=True)
class Release:
    """One published release: its id, its folder and the content of its ``release.json``."""

    id: str
    path: Path
    record: dict[str, Any]

    @property
    def task(self) -> str:
        return self.record["task"]

    @property
    def candidate_name(self) -> str:
        return self.record["candidate"]["name"]

    @property
    def fingerprint(self) -> str:
        return self.record["candidate"]["fingerprint"]

    @property
    def pins(self) -> dict[str, Any]:
        return self.record["pins"]

    @property
    def evaluation(self) -> dict[str, Any]:
        return self.record["evaluation"]

    @property
    def threshold(self) -> float | None:
        """The confidence threshold fitted on dev when the candidate was evaluated; the server
        escalates answers below it unless told another. None: the evaluation fitted none."""
        calibration = self.evaluation.get("calibration") or {}
        return calibration.get("threshold")

    @property
    def created(self) -> str:
        return self.record["created"]

    @property
    def note(self) -> str:
        return self.record.get("note") or ""

    @property
    def template_path(self) -> Path:
        return self.path / PROMPTS / f"{self.pins['template']['name']}.yaml"

    def candidate(self) -> Candidate:
        """The frozen recipe, as the server builds it."""
        from steerlab.candidate import Candidate

        return Candidate.model_validate(self.record["candidate"]["recipe"])

    def template(self) -> PromptTemplate:
        """The release's own copy of the prompt template (not the task folder's current file)."""
        from steerlab.prompts import load_template

        return load_template(str(self.template_path))

    def threshold_summary(self) -> str:
        """``0.62 (dev: 91.0% accuracy served, 24% escalated; test: 89.5%, 27%)``, or why none."""
        calibration = self.evaluation.get("calibration")
        if not calibration:
            return "none calibrated (evaluate with calibration: steerlab run, or steerlab eval --calibrate)"
        if calibration["threshold"] is None:
            return f"none ({calibration['reason']})"
        measured = []
        for split in ("dev", "test"):
            point = calibration.get(split)
            if point and point.get("quality") is not None:
                measured.append(
                    f"{split}: {point['quality']:.1%} {calibration['metric']} served, "
                    f"{point['escalation_rate']:.0%} escalated"
                )
        return f"{calibration['threshold']:.4g}" + (f" ({'; '.join(measured)})" if measured else "")

    def primary_summary(self) -> str:
        """``accuracy 61.1% [45.0%, 75.0%] on 36 test examples``, for tables and the change log."""
        evaluation = self.evaluation
        value = evaluation["metrics"][evaluation["primary"]]
        return (
            f"{evaluation['primary']} {value['value']:.1%} [{value['low']:.1%}, {value['high']:.1%}] "
            f"on {evaluation['n']} {evaluation['split']} examples"
        )


def now_iso() -> str:
    """UTC time to the microsecond: records and events created within one second still sort."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def show_time(iso: str) -> str:
    """``2026-11-23 06:29:30 UTC`` from a stored timestamp, for people."""
    return iso[:19].replace("T", " ") + " UTC"


def releases_dir(workspace: str | Path) -> Path:
    return Path(workspace) / RELEASES


@contextmanager
def locked(workspace: str | Path) -> Iterator[None]:
    """Exclusive use of the registry for a read-modify-write (channel changes, the change log)."""
    root = releases_dir(workspace)
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("a") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; single-writer use is still safe
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _release_id(record: dict[str, Any]) -> str:
    body = {key: record.get(key) for key in IDENTITY}
    return "rel-" + hashlib.sha256(canonical_json(body).encode()).hexdigest()[:12]


def _find_candidate(results: EvalResults, name: str, results_file: Path) -> CandidateResult:
    found = next((c for c in results.candidates if c.name == name), None)
    if found is None:
        names = ", ".join(c.name for c in results.candidates) or "none"
        raise ConfigError(
            f"candidate {name!r} is not in {results_file}",
            hint=f"candidates evaluated there: {names}",
            path=results_file,
        )
    return found


def _recipe(result: CandidateResult, results_file: Path) -> Candidate:
    from pydantic import ValidationError

    from steerlab.candidate import Candidate
    from steerlab.errors import DataError

    try:
        return Candidate.model_validate(result.recipe)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DataError(first["msg"], path=results_file, field=f"{result.name}.recipe.{where}") from error


def _model_dir(name: str) -> Path:
    """Where a candidate's model lives on this machine, without loading it."""
    from steerlab.models import cache
    from steerlab.models.catalog import pull
    from steerlab.models.embedded import embedded_spec
    from steerlab.tuning import registry

    cached = cache.cached_dir(name)
    if cached is not None:
        return cached
    if embedded_spec(name) is not None:
        raise ModelNotFoundError(f"model {name!r} is not pulled", hint=f"steerlab models pull {name}")
    path = Path(name).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return pull(name)  # already converted when it was evaluated: this only hashes the file
    try:
        return registry._model_dir(name)  # a local folder, or a hub id in the local cache
    except ModelNotFoundError as error:
        raise ModelNotFoundError(
            f"model {name!r} is not available on this machine (not pulled, not a local folder, "
            "not a cached hub model)",
            hint="a release pins the model's content hash, so the model must be here to hash it",
        ) from error


def _model_pin(name: str) -> dict[str, Any]:
    """Name and content hash; an endpoint model (``openai:…``) has no weights here to hash."""
    from steerlab.models.catalog import OPENAI_PREFIX
    from steerlab.tuning.registry import model_hash

    if name.startswith(OPENAI_PREFIX):
        return {"name": name, "sha256": None}
    return {"name": name, "sha256": model_hash(_model_dir(name))}


def _adapter_pin(workspace: Path, adapter: str) -> tuple[dict[str, Any], str]:
    """The adapter's id and weights hash (verified against its lineage), and its base's hash."""
    from steerlab.tuning.registry import load_adapter

    record = load_adapter(workspace, adapter)
    return {"id": record.id, "sha256": record.lineage["adapter_sha256"]}, record.base_model_sha256


def _index_pin(workspace: Path, index: str) -> dict[str, Any]:
    from steerlab.retrieval.index import kb_dir

    name, _, version = index.partition("@")
    if name.startswith("kb-") and not version:
        name, version = "default", name
    if not version:
        raise ConfigError(
            f"retrieval index {index!r} names no version, so it cannot be pinned",
            hint="evaluate the candidate again: `steerlab eval` records the exact index version",
        )
    folder = kb_dir(workspace, name) / "versions" / version
    if not (folder / "manifest.json").is_file():
        raise IntegrityError(f"knowledge-base index {name}@{version} is missing", path=folder)
    return {"name": name, "version": version}


def _dataset_pin(workspace: Path, version: str) -> dict[str, Any]:
    folder = Path(workspace) / "datasets" / version
    if not (folder / "manifest.json").is_file():
        raise IntegrityError(f"dataset version {version} is missing", path=folder)
    return {"version": version}


def _pins(
    workspace: Path, recipe: Candidate, template: PromptTemplate, dataset_version: str
) -> dict[str, Any]:
    """Resolve every version the recipe depends on, checking each exists and holds together."""
    adapter = None
    model = _model_pin(recipe.model)
    if recipe.adapter:
        adapter, base_sha256 = _adapter_pin(workspace, recipe.adapter)
        if model["sha256"] != base_sha256:
            raise IntegrityError(
                f"adapter {adapter['id']} was trained on another model than {recipe.model!r} "
                "(the base model's hash differs)",
                path=Path(workspace) / "adapters" / adapter["id"],
            )
    return {
        "model": model,
        "adapter": adapter,
        "template": {"name": template.name, "version": template.version},
        "index": _index_pin(workspace, recipe.retrieval.index) if recipe.retrieval else None,
        "dataset": _dataset_pin(workspace, dataset_version),
    }


def _evaluation(results: EvalResults, result: CandidateResult, results_file: Path, sha256: str) -> dict:
    evaluation = {
        "results": results_file.name,
        "sha256": sha256,
        "dataset_version": results.dataset_version,
        "split": results.split,
        "n": result.n,
        "primary": results.primary,
        "metrics": {name: asdict(value) for name, value in result.metrics.items()},
        "validity_rate": result.validity_rate,
        "ops": result.ops,
    }
    calibration = results.calibration.get(result.name)
    if calibration is not None:
        # Only when there is one: results without it pin exactly what they pinned before, so
        # creating a release again from them still finds the same id.
        keys = ("threshold", "rule", "reason", "metric", "target", "max_escalation", "dev", "test")
        evaluation["calibration"] = {key: calibration.get(key) for key in keys}
    return evaluation


def _results_file(workspace: Path, task: Task, results_file: str | Path | None) -> Path:
    from steerlab.evaluation.results import latest_results_file

    if results_file is not None:
        return Path(results_file)
    found = latest_results_file(workspace / "runs", task.name)
    if found is None:
        raise ConfigError(
            f"no saved results for {task.name} in {workspace / 'runs'}",
            hint=f"run `steerlab eval {task.dir}` first, or pass --results FILE",
        )
    return found


def create_release(
    workspace: str | Path,
    task: Task,
    candidate: str,
    *,
    results_file: str | Path | None = None,
    note: str = "",
) -> tuple[Release, bool]:
    """Pin ``candidate`` as measured in ``results_file`` (default: the task's latest results).

    Returns the release and whether it is new (False: the same pins already made this release).
    """
    from steerlab.evaluation.results import EvalResults

    workspace = Path(workspace)
    path = _results_file(workspace, task, results_file)
    results = EvalResults.load(path)
    if results.task != task.name:
        raise ConfigError(f"{path} holds results for task {results.task!r}, not {task.name!r}", path=path)
    result = _find_candidate(results, candidate, path)
    recipe = _recipe(result, path)
    template = recipe.load_template(task)
    if "/" in template.name or "\\" in template.name or template.name.startswith("."):
        raise ConfigError(f"template name {template.name!r} cannot name a file", path=template.source)
    if recipe.fingerprint(task, template) != result.fingerprint:
        raise IntegrityError(
            f"candidate {candidate!r} in {path} was measured with another template or task contract "
            f"than the current {template.source} and task.yaml",
            hint=f"evaluate it again (`steerlab eval {task.dir}`) and release from the new results",
            path=path,
        )
    record: dict[str, Any] = {
        "format": RECORD_FORMAT,
        "task": task.name,
        "candidate": {"name": result.name, "fingerprint": result.fingerprint, "recipe": result.recipe},
        "pins": _pins(workspace, recipe, template, results.dataset_version),
        "evaluation": _evaluation(results, result, path, file_sha256(path)),
    }
    release_id = _release_id(record)
    root = releases_dir(workspace)
    target = root / release_id
    if (target / RECORD).is_file():
        return load_release(workspace, release_id), False
    from steerlab import __version__

    record = {
        "id": release_id,
        **record,
        "created": now_iso(),
        "note": note,
        "steerlab": __version__,
    }
    with staging_directory(root, release_id) as work:
        built = work / release_id
        (built / PROMPTS).mkdir(parents=True)
        shutil.copyfile(path, built / EVALUATION)
        shutil.copyfile(template.source, built / PROMPTS / f"{template.name}.yaml")
        (built / RECORD).write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
        _check_copies(Release(release_id, built, record), task)  # the files copied are the ones hashed
        publish_directory(built, target)
    from steerlab.release.changelog import write_changelog

    with locked(workspace):
        write_changelog(workspace)
    return load_release(workspace, release_id), True


def _check_copies(release: Release, task: Task) -> PromptTemplate:
    """The release's own evaluation and template are the pinned ones, and the task contract is
    the one measured; returns the template copy."""
    evaluation = release.path / EVALUATION
    if not evaluation.is_file() or file_sha256(evaluation) != release.evaluation["sha256"]:
        raise IntegrityError(f"release {release.id}: {EVALUATION} is missing or altered", path=evaluation)
    if not release.template_path.is_file():
        raise IntegrityError(
            f"release {release.id}: its template copy is missing", path=release.template_path
        )
    template = release.template()
    if release.candidate().fingerprint(task, template) != release.fingerprint:
        raise IntegrityError(
            f"release {release.id} no longer describes what was measured: its template copy or "
            f"the task contract in {task.dir / 'task.yaml'} (kind, inputs, labels, schema, "
            "description) changed",
            hint="restore task.yaml, or evaluate again and create a new release",
            path=release.path,
        )
    return template


def verify_release(workspace: str | Path, release: Release, task: Task) -> None:
    """Check every pin still holds on this machine; raise :class:`IntegrityError` naming the first
    that does not. Hashes the model folder, so this costs a read of its weights (the embedded
    and GGUF-converted models are identified by their manifest and cost nothing)."""
    workspace = Path(workspace)
    if release.task != task.name:
        raise ConfigError(f"release {release.id} is for task {release.task!r}, not {task.name!r}")
    template = _check_copies(release, task)
    try:
        now = _pins(workspace, release.candidate(), template, release.pins["dataset"]["version"])
    except SteerlabError as error:
        raise IntegrityError(
            f"release {release.id} cannot go live: {error.message}", hint=error.hint, path=error.path
        ) from error
    for key, pinned in release.pins.items():
        if now.get(key) != pinned:
            raise IntegrityError(
                f"release {release.id}: pins.{key} was {pinned}, is now {now.get(key)}",
                hint="the workspace no longer holds what this release was measured with",
                path=release.path / RECORD,
            )


def _read(path: Path) -> Release:
    try:
        record = json.loads((path / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IntegrityError(f"cannot read {path / RECORD}: {error}", path=path / RECORD) from error
    return Release(path.name, path, record)


def list_releases(workspace: str | Path, task: str | None = None) -> list[Release]:
    """Every published release (of ``task``, when given), oldest first; records are not re-hashed."""
    root = releases_dir(workspace)
    found = [_read(p) for p in sorted(root.glob("rel-*")) if (p / RECORD).is_file()] if root.is_dir() else []
    return sorted((r for r in found if task is None or r.task == task), key=lambda r: (r.created, r.id))


def load_release(workspace: str | Path, release_id: str) -> Release:
    """The release ``release_id`` (or the one whose id starts with it), its record checked
    against its id so an edited ``release.json`` is caught."""
    root = releases_dir(workspace)
    path = root / release_id
    if not release_id.startswith("rel-") or not (path / RECORD).is_file():
        matches = [r for r in list_releases(workspace) if r.id.startswith(release_id)] if release_id else []
        if len(matches) != 1:
            known = ", ".join(r.id for r in list_releases(workspace)) or "none"
            problem = "matches several releases" if matches else "is not a release"
            raise ConfigError(f"{release_id!r} {problem} in {root}", hint=f"releases: {known}")
        path = matches[0].path
    release = _read(path)
    if release.record.get("id") != release.id or _release_id(release.record) != release.id:
        raise IntegrityError(
            f"release {release.id}: {RECORD} was edited (its content no longer hashes to its id)",
            path=path / RECORD,
        )
    return release
