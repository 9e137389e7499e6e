"""``steerlab data check``: from a task's raw files to a cleaned, split, versioned dataset.

Order matters and is fixed: load (strict) → redact PII → clean each source split on its own →
split → remove leakage → version → write. PII goes first so that texts differing only in an
email address are recognised as duplicates, and nothing downstream ever holds raw PII. A
user-provided test split is respected: it is checked and reported on, never de-duplicated,
re-split or trimmed, because published numbers are computed on it as given; leakage is fixed on
the training side instead.

The dataset version is a content hash of the cleaned examples in each split plus the cleaning
and split settings, so re-running on unchanged inputs reuses the stored version, and any change
to data or settings gives a new one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steerlab.atomic import atomic_write_text, publish_directory, staging_directory
from steerlab.data.card import render_markdown
from steerlab.data.cleaning import CleaningResult, CleaningSettings, Finding, clean
from steerlab.data.example import Example, canonical_json
from steerlab.data.leakage import LeakageReport, find_leaks, find_leaks_in_documents
from steerlab.data.loaders import OutputKind, detect_format, load_examples
from steerlab.data.splits import split_examples

if TYPE_CHECKING:
    from steerlab.task import Task

__all__ = ["DataCheckResult", "check_data", "current_dataset", "workspace_for", "write_version"]

ProgressFn = Callable[[str, int, int | None], None]
OUTPUT_KINDS: dict[str, OutputKind] = {
    "classify": "label",
    "extract": "json",
    "answer": "text",
    "generate": "text",
}
KB_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm")


@dataclass(frozen=True)
class DataCheckResult:
    version: str
    path: Path | None  # None on a dry run
    card: dict[str, Any]
    reused: bool


def workspace_for(task: Task, override: str | Path | None = None) -> Path:
    """The workspace holding this task's datasets, runs and releases (default: TASK_DIR/.steerlab)."""
    import os

    chosen = override or os.environ.get("STEERLAB_WORKSPACE")
    return Path(chosen).expanduser() if chosen else task.dir / ".steerlab"


def current_dataset(task: Task, workspace: str | Path | None = None) -> Any:
    """The task's current dataset version, running ``data check`` first when there is none
    (evaluating or tuning a fresh task should not need a separate command)."""
    from steerlab.data.dataset import load_dataset
    from steerlab.errors import DataError

    root = workspace_for(task, workspace)
    try:
        return load_dataset(root, task.name)
    except DataError:
        check_data(task, workspace=root)
        return load_dataset(root, task.name)


def _cleaning_settings(task: Task) -> CleaningSettings:
    c = task.cleaning
    return CleaningSettings(
        drop_exact_duplicates=c.drop_exact_duplicates,
        drop_conflicts=c.drop_conflicts,
        near_duplicate_threshold=c.near_duplicate_threshold,
        drop_near_duplicates=getattr(c, "drop_near_duplicates", False),
        max_input_chars=c.max_input_chars,
        on_invalid_output=getattr(c, "on_invalid_output", "error"),
    )


def _load_role(
    task: Task, paths: list[Path], role: str, kind: OutputKind
) -> tuple[list[Example], list[dict]]:
    examples: list[Example] = []
    sources = []
    fmt_setting = task.data.format
    for path in paths:
        fmt = detect_format(path) if fmt_setting == "auto" else fmt_setting
        rows = load_examples(
            path,
            inputs=[field.name for field in task.inputs],
            output_field=task.output.field,
            output_kind=kind,
            format=fmt,
            passages_field=task.output.passages_field,
        )
        examples += rows
        sources.append({"path": str(path), "format": fmt, "rows": len(rows), "role": role})
    return examples, sources


def _redact(examples: list[Example], redact_outputs: bool, scanner: Any) -> tuple[list[Example], dict]:
    """Scan every input field (and free-text outputs) in one batch; return redacted copies + tallies."""
    texts: list[str] = []
    for example in examples:
        texts += list(example.inputs.values())
        if redact_outputs and isinstance(example.output, str):
            texts.append(example.output)
    results = iter(scanner.redact_many(texts))
    found: Counter[str] = Counter()
    where: list[dict[str, str]] = []
    with_pii = 0
    out = []
    for example in examples:
        hits: list[str] = []
        inputs = {}
        for name in example.inputs:
            inputs[name], spans = next(results)
            hits += [span.kind for span in spans]
        output = example.output
        if redact_outputs and isinstance(output, str):
            output, spans = next(results)
            hits += [span.kind for span in spans]
        if hits:
            with_pii += 1
            found.update(str(kind) for kind in hits)
            if len(where) < 50:
                where.append({"where": example.where, "kinds": sorted({str(kind) for kind in hits})})
            out.append(replace(example, inputs=inputs, output=output))
        else:
            out.append(example)
    return out, {"found": dict(found), "examples_with_pii": with_pii, "where": where}


def _kb_documents(folder: Path) -> list[tuple[str, str]]:
    import html
    import re

    documents = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in KB_SUFFIXES or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # reported by the knowledge-base ingester; leakage only needs readable text
        if path.suffix.lower() in (".html", ".htm"):
            text = html.unescape(re.sub(r"<[^>]+>", " ", text))
        documents.append((str(path), text))
    return documents


def _dataset_version(splits: dict[str, list[Example]], settings: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(canonical_json(settings).encode())
    for name in ("train", "dev", "test"):
        digest.update(f"\n[{name}]\n".encode())
        for example in sorted(splits[name], key=lambda ex: ex.id):
            record = {"inputs": example.inputs, "output": example.output}
            if example.meta.get("passages") is not None:
                record["passages"] = example.meta["passages"]
            digest.update(canonical_json(record).encode())
            digest.update(b"\n")
    return "ds-" + digest.hexdigest()[:12]


def _label_summary(task: Task, splits: dict[str, list[Example]]) -> dict[str, Any] | None:
    names = task.label_names
    if not names:
        return None
    balance = {name: dict(Counter(ex.output for ex in rows)) for name, rows in splits.items()}
    train_counts = [balance["train"].get(label, 0) for label in names]
    present = {label for counts in balance.values() for label in counts}
    nonzero = [c for c in train_counts if c > 0]
    return {
        "count": len(names),
        "present": len(present),
        "names": list(names),
        "balance": balance,
        "missing_from_test": [label for label in names if balance["test"].get(label, 0) == 0],
        "imbalance_ratio": (max(nonzero) / min(nonzero)) if nonzero else 0.0,
    }


def _findings_summary(findings: list[Finding]) -> dict[str, Any]:
    by_check: dict[str, dict[str, int]] = {}
    for finding in findings:
        entry = by_check.setdefault(finding.check, {"found": 0, "dropped": 0, "kept": 0})
        entry["found"] += 1
        entry["dropped" if finding.action == "dropped" else "kept"] += 1
    return {"by_check": by_check, "examples": [f.as_dict() for f in findings[:15]]}


def check_data(
    task: Task,
    *,
    workspace: str | Path | None = None,
    dry_run: bool = False,
    progress: ProgressFn | None = None,
) -> DataCheckResult:
    """Run every data check for ``task`` and store the resulting dataset version.

    Raises :class:`~steerlab.errors.DataError` (naming file, line and field) on malformed input
    or outputs outside the task's contract; nothing is written in that case.
    """
    started = time.perf_counter()

    def step(name: str, done: int, total: int | None = None) -> None:
        if progress:
            progress(name, done, total)

    kind = OUTPUT_KINDS[task.kind]
    step("load", 0)
    train_raw, sources = _load_role(task, task.data_paths["train"], "train", kind)
    test_raw, test_sources = _load_role(task, task.data_paths.get("test", []), "test", kind)
    sources += test_sources
    step("load", 1, 1)

    # PII is always looked for (when any kind is configured), so a dataset knows what it holds;
    # it is replaced by placeholders only when cleaning.redact_pii is on.
    pii_card: dict[str, Any] = {"scanned": False, "redacted": False, "found": {}, "examples_with_pii": 0}
    kinds = list(task.cleaning.pii_kinds)
    if kinds:
        from steerlab.data.pii import PiiScanner

        step("pii", 0, len(train_raw) + len(test_raw))
        scanner = PiiScanner(kinds=kinds)
        redact_outputs = kind == "text"
        redacted_train, train_pii = _redact(train_raw, redact_outputs, scanner)
        redacted_test, test_pii = _redact(test_raw, redact_outputs, scanner)
        if task.cleaning.redact_pii:
            train_raw, test_raw = redacted_train, redacted_test
        pii_card = {
            "scanned": True,
            "redacted": bool(task.cleaning.redact_pii),
            "found": dict(Counter(train_pii["found"]) + Counter(test_pii["found"])),
            "examples_with_pii": train_pii["examples_with_pii"] + test_pii["examples_with_pii"],
            "where": (train_pii["where"] + test_pii["where"])[:50],
            "kinds": kinds,
        }
        step("pii", 1, 1)

    step("clean", 0)
    settings = _cleaning_settings(task)
    labels = task.label_names or None
    schema = task.json_schema
    cleaned_train: CleaningResult = clean(
        train_raw, settings=settings, labels=labels, schema=schema, output_field=task.output.field
    )
    findings = list(cleaned_train.findings)
    given_test = None
    if test_raw:
        report_only = replace(
            settings, drop_exact_duplicates=False, drop_conflicts=False, drop_near_duplicates=False
        )
        cleaned_test = clean(
            test_raw, settings=report_only, labels=labels, schema=schema, output_field=task.output.field
        )
        # Duplicates and empty or over-long test rows are reported, but the given split stays whole.
        given_test = list(test_raw)
        findings += [Finding(f.check, f.where, f.example_id, f.detail, "kept") for f in cleaned_test.findings]
    step("clean", 1, 1)

    split = split_examples(
        cleaned_train.kept,
        dev_fraction=task.split.dev_fraction,
        test_fraction=task.split.test_fraction,
        seed=task.split.seed,
        stratify=task.split.stratify and task.kind == "classify",
        given_test=given_test,
    )
    splits = {"train": list(split.train), "dev": list(split.dev), "test": list(split.test)}

    step("leakage", 0)
    threshold = settings.near_duplicate_threshold
    leakage: list[dict[str, Any]] = []
    for other in ("train", "dev"):
        report: LeakageReport = find_leaks(splits["test"], splits[other], against=other, threshold=threshold)
        if report.leaked_ids:
            for example in splits[other]:
                if example.id in report.leaked_ids:
                    findings.append(
                        Finding(
                            f"leakage_{other}",
                            example.where,
                            example.id,
                            "overlaps a test example",
                            "dropped",
                        )
                    )
            splits[other] = [ex for ex in splits[other] if ex.id not in report.leaked_ids]
        leakage.append({**report.as_dict(), "action": f"removed {len(report.leaked_ids)} from {other}"})
    kb_folder = task.data_paths.get("knowledge_base")
    if kb_folder:
        report = find_leaks_in_documents(splits["test"], _kb_documents(kb_folder[0]), threshold=threshold)
        leakage.append({**report.as_dict(), "action": "reported only"})
    step("leakage", 1, 1)

    settings_record = {
        "cleaning": task.cleaning.model_dump(mode="json"),
        "split": task.split.model_dump(mode="json"),
        "test_split": "given" if given_test is not None else "carved",
    }
    version = _dataset_version(splits, settings_record)
    total = sum(len(rows) for rows in splits.values())
    card: dict[str, Any] = {
        "version": version,
        "task": {"name": task.name, "kind": task.kind, "spec_hash": task.content_hash()},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": sources,
        "rows_read": sum(s["rows"] for s in sources),
        "splits": {name: len(rows) for name, rows in splits.items()},
        "total": total,
        "split_policy": (
            f"test split given by the user ({len(splits['test']):,} rows, kept as is); "
            f"dev = {task.split.dev_fraction:.0%} of the cleaned training rows, "
            f"stratified, seed {task.split.seed}"
            if given_test is not None
            else f"stratified by label, seed {task.split.seed}: "
            f"test {task.split.test_fraction:.0%}, dev {task.split.dev_fraction:.0%}"
        ),
        "labels": _label_summary(task, splits),
        "findings": _findings_summary(findings),
        "removed": dict(Counter(f.check for f in findings if f.action == "dropped")),
        "pii": pii_card,
        "leakage": leakage,
        "settings": settings_record,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if dry_run:
        return DataCheckResult(version, None, card, reused=False)

    target, reused = write_version(
        workspace_for(task, workspace) / "datasets", task, version, splits, findings, card, pii_card
    )
    return DataCheckResult(version, target, card, reused=reused)


def write_version(
    datasets: Path,
    task: Task,
    version: str,
    splits: dict[str, list[Example]],
    findings: list[Finding],
    card: dict[str, Any],
    pii_card: dict[str, Any],
    manifest_extra: dict[str, Any] | None = None,
) -> tuple[Path, bool]:
    """Store a dataset version in ``datasets`` and make it the task's current one.

    Shared by ``data check`` and the feedback loop (:mod:`steerlab.serving.feedback`) so every
    version has the same files and is published the same way: built in a staging folder and
    renamed into place, so a reader never sees half a version. Returns (folder, reused): a
    version id is a content hash, so an existing folder already holds exactly these examples.
    """
    target = datasets / version
    reused = target.exists()
    if not reused:
        with staging_directory(datasets, version) as work:
            for name, rows in splits.items():
                lines = [
                    canonical_json(
                        {
                            "id": ex.id,
                            "inputs": ex.inputs,
                            "output": ex.output,
                            "source": ex.source,
                            "line": ex.line,
                            **({"meta": ex.meta} if ex.meta else {}),
                        }
                    )
                    for ex in rows
                ]
                (work / f"{name}.jsonl").write_text(
                    "\n".join(lines) + ("\n" if lines else ""), encoding="utf-8"
                )
            (work / "findings.jsonl").write_text(
                "".join(canonical_json(f.as_dict()) + "\n" for f in findings), encoding="utf-8"
            )
            (work / "card.json").write_text(json.dumps(card, indent=2, sort_keys=True), encoding="utf-8")
            (work / "card.md").write_text(render_markdown(card), encoding="utf-8")
            manifest = {
                "version": version,
                "task": task.name,
                "kind": task.kind,
                "splits": card["splits"],
                "pii": {
                    "scanned": pii_card["scanned"],
                    "redacted": pii_card["redacted"],
                    "found": pii_card["found"],
                },
                "created": card["created"],
                **(manifest_extra or {}),
            }
            # Written last: a folder with a manifest is complete.
            (work / "manifest.json").write_text(
                json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8"
            )
            publish_directory(work, target)
    atomic_write_text(datasets / f"{task.name}.current", version + "\n")
    return target, reused
