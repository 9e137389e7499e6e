"""The feedback loop: reviewers' corrections of served requests become a new dataset version.

A pilot served on prompts is also a data-collection run: every request a reviewer corrects is a
real input with the output a person says is right, which is exactly what a later fine-tune
lacks. Corrections are stored beside the requests (:meth:`RequestLog.add_feedback`) and
:func:`apply_feedback` turns them into a dataset version that evaluation and tuning read like any
other. The rules, and why:

- Corrections go to **train only**. Dev and test stay the base version's, example for example,
  so a score measured before and after the feedback is measured on the same questions.
- A feedback version is always *base + every correction to date*, never stacked on the previous
  feedback version. The base is the last version ``steerlab data check`` wrote (recorded in the
  manifest), so the version id is a function of the base and the corrections: applying the same
  corrections twice gives the same id, and a correction that was since replaced is replaced in
  the dataset too.
- Inputs get the redaction the task's ``cleaning`` asks for, as the data check would give them:
  the server redacted them before logging, but perhaps with other kinds.
- Corrections are cleaned like any data (empty or over-long inputs, conflicting corrections of
  the same input) and then skipped, and reported, when their input is already an example of the
  base version (exact match after the data check's normalisation) or is a near-duplicate of a
  test example, which would be leakage.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steerlab.atomic import atomic_write_text
from steerlab.data.check import (
    OUTPUT_KINDS,
    _cleaning_settings,
    _dataset_version,
    _findings_summary,
    _label_summary,
    _redact,
    current_dataset,
    workspace_for,
    write_version,
)
from steerlab.data.cleaning import Finding, clean
from steerlab.data.dataset import Dataset, load_dataset
from steerlab.data.example import Example
from steerlab.data.leakage import find_leaks
from steerlab.data.similarity import normalise_text
from steerlab.errors import ConfigError

if TYPE_CHECKING:
    from steerlab.serving.requestlog import RequestLog
    from steerlab.task import Task

__all__ = ["FeedbackApplied", "apply_feedback", "parse_output", "record_feedback"]

SOURCE_PREFIX = "feedback:"
LINEAGE_NOTE = (
    "Reviewers' corrections of served requests (steerlab feedback), added to train only: dev and "
    "test are the base version's, unchanged, so scores stay comparable with it."
)


@dataclass(frozen=True)
class FeedbackApplied:
    """What :func:`apply_feedback` made: ``version`` is the base itself when nothing was added."""

    version: str
    base: str
    path: Path
    corrections: int
    added: int
    skipped: list[dict[str, str]] = field(default_factory=list)
    """One ``{"request_id", "check", "reason"}`` per correction left out; ``check`` names the
    rule (as the data card's findings do), ``reason`` explains it to a person."""
    reused: bool = False


def parse_output(task: Task, text: str) -> Any:
    """A correction typed on the command line, as the task's output: a label (bare or as a JSON
    string), a JSON object for extract tasks, or the text itself for answer and generate tasks."""
    if task.kind == "extract":
        try:
            value = json.loads(text)
        except ValueError as error:
            raise ConfigError(
                f"--output must be a JSON object for an extract task: {error}",
                hint='quote it for the shell, e.g. --output \'{"order_id": "A-17"}\'',
            ) from error
        return value
    if task.kind == "classify":
        stripped = text.strip()
        if stripped.startswith('"'):
            try:
                value = json.loads(stripped)
            except ValueError:
                return stripped
            return value
        return stripped
    return text


def record_feedback(
    log: RequestLog,
    task: Task,
    request_id: str,
    output: Any,
    reviewer: str,
    note: str | None = None,
) -> dict[str, Any]:
    """Store a reviewer's correction of a logged request, for the CLI and the HTTP endpoint.

    Every problem a caller can fix (unknown request, another task's request, an output outside
    the contract, no reviewer) is a :class:`ConfigError`, so an endpoint can answer it with a 4xx
    and its message. Returns the stored correction (see :meth:`RequestLog.add_feedback`).
    """
    if not isinstance(request_id, str) or not request_id.strip():
        raise ConfigError("a correction needs the id of the request it corrects")
    if note is not None and not isinstance(note, str):
        raise ConfigError("a correction's note must be text")
    return log.add_feedback(request_id.strip(), output, reviewer, note, task=task)


def apply_feedback(task: Task, log: RequestLog, *, workspace: str | Path | None = None) -> FeedbackApplied:
    """Write the dataset version *base + the task's corrections* and make it the current one.

    The base is the task's current version, or the version it was built from when the current
    one is itself a feedback version. Nothing is written when no correction can be added; the
    base is then (again) the current version.
    """
    from steerlab.serving.requestlog import output_problem

    started = time.perf_counter()
    root = workspace_for(task, workspace)
    datasets = root / "datasets"
    current = current_dataset(task, root)
    base_version = (current.manifest.get("feedback") or {}).get("base") or current.version
    base = current if base_version == current.version else load_dataset(root, task.name, base_version)
    records = log.feedback(task.name)

    names = [f.name for f in task.inputs]
    skipped: list[dict[str, str]] = []
    findings: list[Finding] = []
    candidates: list[Example] = []
    for record in records:
        rid = record["request_id"]
        inputs = record["inputs"]
        if not isinstance(inputs, dict) or any(not isinstance(inputs.get(n), str) for n in names):
            skipped.append(_skip(rid, "inputs", f"the logged inputs are not the task's {names}"))
            continue
        problem = output_problem(task, record["output"])
        if problem is not None:  # the contract changed since the correction was accepted
            skipped.append(_skip(rid, "contract", f"the correction {problem}"))
            continue
        meta = {"feedback": {"request_id": rid, "reviewer": record["reviewer"], "ts": record["ts"]}}
        candidates.append(
            Example({n: inputs[n] for n in names}, record["output"], SOURCE_PREFIX + rid, None, meta)
        )

    pii = _scan_pii(task, candidates)
    if pii["scanned"] and task.cleaning.redact_pii:
        candidates = pii.pop("examples")
    pii.pop("examples", None)

    # The data check's own cleaning, contract errors dropped rather than raised (checked above).
    settings = replace(_cleaning_settings(task), on_invalid_output="drop")
    cleaned = clean(
        candidates,
        settings=settings,
        labels=task.label_names or None,
        schema=task.json_schema,
        output_field=task.output.field,
    )
    findings += cleaned.findings
    skipped += [_skip(f.where, f.check, f.detail) for f in cleaned.findings if f.action == "dropped"]

    existing: dict[str, tuple[str, Example]] = {}
    for split in ("train", "dev", "test"):
        for example in getattr(base, split):
            existing.setdefault(normalise_text(example.input_text), (split, example))
    added: list[Example] = []
    for example in cleaned.kept:
        match = existing.get(normalise_text(example.input_text))
        if match is None:
            added.append(example)
            continue
        split, other = match
        same = "same" if other.output == example.output else "different"
        detail = f"same input as {split} example {other.where} ({same} output)"
        findings.append(Finding("feedback_duplicate", example.where, example.id, detail, "dropped"))
        skipped.append(
            _skip(example.where, "feedback_duplicate", f"duplicates a {split} example ({same} output)")
        )
    leaks = find_leaks(base.test, added, against="feedback", threshold=settings.near_duplicate_threshold)
    for example in added:
        if example.id in leaks.leaked_ids:
            detail = "near-duplicate of a test example"
            findings.append(Finding("leakage_feedback", example.where, example.id, detail, "dropped"))
            skipped.append(_skip(example.where, "leakage_feedback", detail))
    added = [ex for ex in added if ex.id not in leaks.leaked_ids]

    if not added:
        if current.version != base.version:
            atomic_write_text(datasets / f"{task.name}.current", base.version + "\n")
        return FeedbackApplied(base.version, base.version, base.path, len(records), 0, skipped, reused=True)

    splits = {"train": [*base.train, *added], "dev": list(base.dev), "test": list(base.test)}
    base_card = json.loads((base.path / "card.json").read_text(encoding="utf-8"))
    settings_record = {**base_card["settings"], "feedback": {"base": base.version}}
    version = _dataset_version(splits, settings_record)
    all_findings = _read_findings(base) + findings
    card = _card(task, base, base_card, records, splits, all_findings, pii, settings_record)
    card.update(
        version=version,
        seconds=round(time.perf_counter() - started, 2),
        feedback={
            "base": base.version,
            "note": LINEAGE_NOTE,
            "corrections": len(records),
            "added": len(added),
            "skipped": len(skipped),
            "skipped_why": dict(Counter(s["check"] for s in skipped)),
            # A count, not names: the card is meant to be shareable without any personal data.
            "reviewers": len({r["reviewer"] for r in records}),
        },
    )
    lineage = {"feedback": {"base": base.version, "added": len(added)}}
    target, reused = write_version(datasets, task, version, splits, all_findings, card, card["pii"], lineage)
    return FeedbackApplied(version, base.version, target, len(records), len(added), skipped, reused=reused)


def _skip(where: str, check: str, reason: str) -> dict[str, str]:
    return {"request_id": where.removeprefix(SOURCE_PREFIX), "check": check, "reason": reason}


def _scan_pii(task: Task, examples: list[Example]) -> dict[str, Any]:
    """The data check's PII pass over the corrections: tallies, and redacted copies in ``examples``."""
    kinds = list(task.cleaning.pii_kinds)
    if not kinds or not examples:
        return {"scanned": False, "found": {}, "examples_with_pii": 0, "where": []}
    from steerlab.data.pii import PiiScanner

    redacted, tally = _redact(examples, OUTPUT_KINDS[task.kind] == "text", PiiScanner(kinds=kinds))
    return {"scanned": True, **tally, "examples": redacted}


def _read_findings(dataset: Dataset) -> list[Finding]:
    path = dataset.path / "findings.jsonl"
    if not path.is_file():
        return []
    return [Finding(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _card(
    task: Task,
    base: Dataset,
    base_card: dict[str, Any],
    records: list[dict[str, Any]],
    splits: dict[str, list[Example]],
    findings: list[Finding],
    pii: dict[str, Any],
    settings_record: dict[str, Any],
) -> dict[str, Any]:
    """The base version's card, updated for the added corrections (same keys, so it renders and
    reads like any data card)."""
    base_pii = base_card["pii"]
    merged_pii = {
        **base_pii,
        "scanned": bool(base_pii.get("scanned") or pii["scanned"]),
        "found": dict(Counter(base_pii.get("found", {})) + Counter(pii["found"])),
        "examples_with_pii": base_pii.get("examples_with_pii", 0) + pii["examples_with_pii"],
        "where": (base_pii.get("where", []) + pii["where"])[:50],
    }
    if pii["scanned"] and not base_pii.get("scanned"):
        merged_pii.update(redacted=bool(task.cleaning.redact_pii), kinds=list(task.cleaning.pii_kinds))
    source = {"path": "request log", "format": "feedback", "rows": len(records), "role": "train"}
    return {
        **base_card,
        "task": {"name": task.name, "kind": task.kind, "spec_hash": task.content_hash()},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": [*base_card["sources"], source],
        "rows_read": base_card["rows_read"] + len(records),
        "splits": {name: len(rows) for name, rows in splits.items()},
        "total": sum(len(rows) for rows in splits.values()),
        "labels": _label_summary(task, splits),
        "findings": _findings_summary(findings),
        "removed": dict(Counter(f.check for f in findings if f.action == "dropped")),
        "pii": merged_pii,
        "settings": settings_record,
        "split_policy": f"{base_card['split_policy']}; reviewers' corrections added to train "
        f"(dev and test are {base.version}'s)",
    }
