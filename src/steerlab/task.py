"""The task: what a model must do, how it is judged, and what it may cost.

A task is one ``task.yaml`` in a folder beside its data. Everything downstream (data checks,
candidates, evaluation, the decision) reads the validated :class:`Task`, never the raw file, so a
mistake is caught once, here, and reported where the user fixes it: the file, the line of the key,
the dotted field path and what was expected. That is why the YAML is read with ruamel's
round-trip loader (it remembers the line of every key and list item) rather than PyYAML, and why
every model forbids unknown keys (a typo must not silently become a default).

The same object is YAML and Python: ``Task(**mapping)`` validates exactly what ``load_task``
does, with relative paths resolved against the working directory instead of the task folder
(pass ``context={"task_dir": folder}`` to ``Task.model_validate`` to choose).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from steerlab.errors import DataError

__all__ = [
    "DEFAULT_METRICS",
    "METRICS_BY_KIND",
    "PII_KINDS",
    "TASK_FILE",
    "TASK_KINDS",
    "CleaningSpec",
    "DataSpec",
    "HardwarePrice",
    "InputField",
    "Label",
    "MetricsSpec",
    "ModelPrice",
    "OutputSpec",
    "PolicySpec",
    "PricesSpec",
    "RefusalRule",
    "SplitSpec",
    "TargetsSpec",
    "Task",
    "TaskKind",
    "VolumeSpec",
    "load_task",
]

TASK_FILE = "task.yaml"

TaskKind = Literal["classify", "extract", "answer", "generate"]
TASK_KINDS: tuple[str, ...] = get_args(TaskKind)

DataFormat = Literal["auto", "jsonl", "csv", "parquet", "chat"]
PiiKind = Literal["EMAIL", "PHONE", "CARD", "IBAN", "ACCOUNT", "IP", "PERSON"]
PII_KINDS: tuple[str, ...] = get_args(PiiKind)

# Which metrics make sense for which kind of output. A metric from the wrong family (accuracy on
# free text) would run and mislead, so the task refuses it up front.
METRICS_BY_KIND: dict[str, tuple[str, ...]] = {
    "classify": ("accuracy", "macro_f1", "weighted_f1"),
    "extract": ("field_f1", "exact_match", "schema_validity"),
    "answer": ("answer_correctness", "citation_precision"),
    "generate": ("rouge_l", "chrf"),
}

# (primary, guards) when metrics are not given. Guards catch what the primary hides: macro F1
# exposes a rare label sacrificed for accuracy, schema validity a parser that "wins" on fields.
DEFAULT_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "classify": ("accuracy", ("macro_f1",)),
    "extract": ("field_f1", ("schema_validity",)),
    "answer": ("answer_correctness", ("citation_precision",)),  # only with a knowledge base
    "generate": ("rouge_l", ("chrf",)),
}

_RULE = "task_rule"  # pydantic error type for cross-field rules; ctx carries (loc, message) pairs
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
_INIT_HINT = "`steerlab init` writes a commented example of every key."

Loc = tuple[str | int, ...]


class _Spec(BaseModel):
    """Shared config: unknown keys are errors, NaN is not a number, a validated spec stays put."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


def _rule_error(problems: list[tuple[Loc, str]]) -> PydanticCustomError:
    """One error carrying every broken rule with its own location, so all are reported at once.

    A model validator can only raise once, and its error is located at the model; the real
    locations ride in ``ctx`` and :func:`load_task` maps each to its own YAML line.
    """
    detail = "; ".join(f"{_dotted(loc)}: {message}" if loc else message for loc, message in problems)
    return PydanticCustomError(_RULE, "{detail}", {"detail": detail, "problems": problems})


def _named_items(value: Any) -> Any:
    """Let bare names stand for ``{name: ...}`` objects, and a mapping for ``{name: description}``.

    Numbers are taken as names (sentiment 1-5 is common); YAML would otherwise make them ints.
    """

    def name(item: Any) -> Any:
        return str(item) if isinstance(item, int) and not isinstance(item, bool) else item

    if isinstance(value, Mapping):
        return [{"name": name(k), "description": "" if v is None else v} for k, v in value.items()]
    if isinstance(value, list | tuple):
        return [item if isinstance(item, Mapping) else {"name": name(item)} for item in value]
    return value


class InputField(_Spec):
    """One input the model reads, named as it appears in the data files."""

    name: str = Field(
        min_length=1,
        description="The column (CSV, Parquet) or key (JSONL) that holds this input in the data files.",
    )
    description: str = Field(
        "",
        description="What this input is. Prompts show it to the model, so write it for a reader.",
    )


class Label(_Spec):
    """One class of a classify task."""

    name: str = Field(min_length=1, description="The label exactly as it appears in the data's output field.")
    description: str = Field(
        "",
        description="What the label means and when to choose it. Prompts show it to the model.",
    )


class OutputSpec(_Spec):
    """The output contract: where the expected output is in the data, and what shape it has."""

    field: str = Field(
        "output",
        min_length=1,
        description="The column or key holding the expected output in the data files.",
    )
    labels: tuple[Label, ...] | None = Field(
        None,
        description=(
            "classify: the label set, as a list of names, a list of {name, description}, or a "
            "{name: description} mapping. Descriptions are shown to the model: they are the "
            "cheapest lever there is."
        ),
    )
    labels_file: Path | None = Field(
        None,
        description=(
            "classify, instead of labels: a JSON file holding a list of names or a "
            "{name: description} object, relative to the task folder."
        ),
    )
    other_label: str | None = Field(
        None,
        description=(
            "classify: the label meaning 'none of these' (out of scope, abstain), if the label set "
            "has one; it must be one of the labels. Metrics and fallbacks treat it specially."
        ),
    )
    json_schema: dict[str, Any] | None = Field(
        None,
        alias="schema",
        description=(
            "extract: the JSON schema (draft 2020-12) every output object must satisfy; type must be object."
        ),
    )
    schema_file: Path | None = Field(
        None,
        description=(
            "extract, instead of schema: a JSON file holding the schema, relative to the task folder."
        ),
    )
    passages_field: str | None = Field(
        None,
        description=(
            "answer: the column or key listing the knowledge-base passages (DOC#section ids) that "
            "support each answer, for citation precision and retrieval hit rate; [] when the "
            "knowledge base does not hold the answer."
        ),
    )

    @field_validator("labels", mode="before")
    @classmethod
    def _accept_names(cls, value: Any) -> Any:
        return _named_items(value)

    @model_validator(mode="after")
    def _one_source_each(self) -> OutputSpec:
        problems: list[tuple[Loc, str]] = []
        if self.labels is not None and self.labels_file is not None:
            problems.append((("labels_file",), "give labels or labels_file, not both"))
        if self.json_schema is not None and self.schema_file is not None:
            problems.append((("schema_file",), "give schema or schema_file, not both"))
        if problems:
            raise _rule_error(problems)
        return self


class DataSpec(_Spec):
    """Where the examples are. Paths are relative to the task folder."""

    train: tuple[Path, ...] = Field(
        min_length=1,
        description=(
            "The labelled examples: one file or a list of files. Unless test is given, the dev "
            "and test splits are cut from these."
        ),
    )
    test: tuple[Path, ...] = Field(
        (),
        description=(
            "Optional held-out test file(s), used as-is: no test split is cut from train, so "
            "results stay comparable with anyone else using the same test set."
        ),
    )
    format: DataFormat = Field(
        "auto",
        description=(
            "auto (from each file's extension), jsonl, csv, parquet, or chat (JSONL of "
            "{messages: [...]} as fine-tuning APIs take it)."
        ),
    )
    knowledge_base: Path | None = Field(
        None,
        description=(
            "Optional folder (or one file) of documents (md, txt, html, pdf) that retrieval may "
            "search and answers may cite."
        ),
    )

    @field_validator("train", "test", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str | Path):
            return [value]
        return () if value is None and info.field_name == "test" else value


class SplitSpec(_Spec):
    """How examples are split when the data does not fix it. Fixed by seed: every run sees the same."""

    test_fraction: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Share of the examples held out for the final test (ignored when data.test is given).",
    )
    dev_fraction: float = Field(
        0.1,
        ge=0,
        lt=1,
        description=(
            "Share held out for development: choosing prompts, few-shot examples and training "
            "checkpoints, so the test split is only read once. 0 turns it off."
        ),
    )
    seed: int = Field(13, description="Seed for the shuffle; change it to check a result is not luck.")
    stratify: bool = Field(True, description="classify: keep each label's share the same in every split.")

    @model_validator(mode="after")
    def _room_for_training(self) -> SplitSpec:
        if self.test_fraction + self.dev_fraction >= 1:
            raise _rule_error(
                [
                    (
                        ("dev_fraction",),
                        f"test_fraction + dev_fraction must be below 1 (the rest trains); "
                        f"got {self.test_fraction} + {self.dev_fraction}",
                    )
                ]
            )
        return self


class CleaningSpec(_Spec):
    """What ``steerlab data check`` removes or redacts before anything trains or evaluates."""

    drop_exact_duplicates: bool = Field(
        True, description="Keep one copy of examples whose inputs and output are identical."
    )
    near_duplicate_threshold: float = Field(
        0.9,
        gt=0,
        le=1,
        description=(
            "Similarity (0-1) above which two inputs count as near-duplicates. The data card lists "
            "them, and a test example this close to a training one is leakage that inflates scores."
        ),
    )
    drop_near_duplicates: bool = Field(
        False, description="Also drop near-duplicates within a split, rather than only report them."
    )
    drop_conflicts: bool = Field(
        True,
        description="Drop inputs that appear with different outputs: they cap any model's score.",
    )
    max_input_chars: int = Field(
        4000, gt=0, description="Inputs longer than this are dropped, and listed in the data card."
    )
    on_invalid_output: Literal["error", "drop"] = Field(
        "error",
        description=(
            "Rows whose output breaks the contract (a label not in the set, JSON failing the "
            "schema): error stops and lists them, since the data or the task is wrong; drop removes "
            "and reports them."
        ),
    )
    redact_pii: bool = Field(
        True,
        description="Replace personal data in inputs with placeholders before any model sees them.",
    )
    pii_kinds: tuple[PiiKind, ...] = Field(
        PII_KINDS,
        description=f"Which kinds of personal data to find and redact: any of {', '.join(PII_KINDS)}.",
    )


class MetricsSpec(_Spec):
    """How candidates are scored. Allowed metrics depend on the task kind."""

    primary: str | None = Field(
        None,
        description=(
            "The metric candidates are ranked by and targets.quality applies to. null: the kind's default."
        ),
    )
    guards: tuple[str, ...] | None = Field(
        None,
        description=(
            "Metrics that must not get worse when the primary improves. null: the kind's "
            "defaults; [] for none."
        ),
    )


class TargetsSpec(_Spec):
    """The KPIs a candidate must meet to be recommended. null means no limit."""

    quality: float | None = Field(
        None, ge=0, le=1, description="The lowest acceptable score on the primary metric (0-1)."
    )
    p95_latency_ms: float | None = Field(
        None, gt=0, description="The highest acceptable 95th-percentile latency per request, in ms."
    )
    cost_per_1k_usd: float | None = Field(
        None, ge=0, description="The highest acceptable cost per 1,000 requests, in US dollars."
    )


class VolumeSpec(_Spec):
    """Expected traffic: turns per-request costs into a monthly bill and a break-even point."""

    monthly_requests: int = Field(
        10_000,
        ge=0,
        description="Requests per month in production; decides when one-off training pays for itself.",
    )


class ModelPrice(_Spec):
    """What a hosted model charges, per million tokens."""

    input_per_1m_tokens_usd: float = Field(ge=0, description="US dollars per million prompt tokens.")
    output_per_1m_tokens_usd: float = Field(ge=0, description="US dollars per million generated tokens.")


class HardwarePrice(_Spec):
    """What a machine costs to run, per hour, whether busy or idle."""

    per_hour_usd: float = Field(ge=0, description="US dollars per hour for this machine.")


class PricesSpec(_Spec):
    """Prices for the cost model. Prices change: copy them from your provider's price list."""

    models: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description=(
            "Hosted models by name (as used in candidates, e.g. gpt-4o-mini), each with "
            "input_per_1m_tokens_usd and output_per_1m_tokens_usd."
        ),
    )
    hardware: dict[str, HardwarePrice] = Field(
        default_factory=dict,
        description="Machines that serve local models, by name, each with per_hour_usd.",
    )
    training_one_off_usd: float = Field(
        0.0,
        ge=0,
        description="One-off cost of fine-tuning (compute, labelling), spread over the monthly volume.",
    )


class RefusalRule(_Spec):
    """A request the service declines by policy, whatever a model would answer."""

    name: str = Field(min_length=1, description="A short name, logged with each refusal.")
    when: tuple[str, ...] = Field(
        min_length=1,
        description=(
            "Regular expressions (case-insensitive) over the input fields; any match refuses the "
            "request. Prefer whole phrases with \\b word boundaries: a refusal is never retried."
        ),
    )
    message: str = Field(
        min_length=1, description="What the client is told instead of an answer, e.g. where to go instead."
    )

    @field_validator("when")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"not a valid regular expression: {pattern!r} ({error})") from None
        return patterns


class PolicySpec(_Spec):
    """What ``steerlab serve`` screens and refuses before a model sees a request."""

    injection: Literal["block", "escalate", "off"] = Field(
        "block",
        description=(
            "Inputs that look like a prompt-injection attempt: block answers 400, escalate sends "
            "them to the human queue, off lets them through. Retrieved passages that look like one "
            "are always left out of the prompt."
        ),
    )
    refusals: tuple[RefusalRule, ...] = Field(
        (),
        description="Requests refused by policy: a list of {name, when: [regex, ...], message}.",
    )


class Task(_Spec):
    """A validated ``task.yaml``: the single source of truth for what is being built."""

    name: str = Field(
        description=(
            "A short slug (lowercase letters, digits, '-' and '_') naming the task in runs, "
            "reports and releases."
        )
    )
    kind: TaskKind = Field(
        description=(
            "What the model does: classify (pick one label), extract (fill a JSON object), "
            "answer (answer questions, optionally from a knowledge base) or generate (write text)."
        )
    )
    description: str = Field(
        "",
        description="The job in a sentence or two. Prompts start from it, so write it for the model too.",
    )
    inputs: tuple[InputField, ...] = Field(
        min_length=1,
        description=(
            "The input fields, named as in the data files: a list of names or of {name, description}."
        ),
    )
    output: OutputSpec = Field(description="The output contract: where the answer lives and its shape.")
    data: DataSpec = Field(description="Where the examples and the knowledge base are.")
    split: SplitSpec = Field(default_factory=SplitSpec, description="How dev and test splits are cut.")
    cleaning: CleaningSpec = Field(
        default_factory=CleaningSpec,
        description="What is removed or redacted before anything trains or evaluates.",
    )
    metrics: MetricsSpec = Field(
        default_factory=MetricsSpec,
        description="The primary metric and the guard metrics.",
    )
    targets: TargetsSpec = Field(
        default_factory=TargetsSpec,
        description="What a candidate must achieve to be recommended.",
    )
    volume: VolumeSpec = Field(default_factory=VolumeSpec, description="Expected production traffic.")
    prices: PricesSpec = Field(
        default_factory=PricesSpec,
        description="Prices of hosted models, hardware and training, for cost per 1k and break-even.",
    )
    policy: PolicySpec = Field(
        default_factory=PolicySpec,
        description="Guardrails of the served release: injection screening and policy refusals.",
    )

    _dir: Path = PrivateAttr(default_factory=Path.cwd)
    _labels: tuple[Label, ...] = PrivateAttr(default=())
    _schema: dict[str, Any] | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.fullmatch(value) or len(value) > 64:
            raise ValueError(
                "expected a slug of at most 64 characters: lowercase letters, digits, '-' and '_', "
                f"starting with a letter or digit (e.g. 'ticket-routing'); got {value!r}"
            )
        return value

    @field_validator("inputs", mode="before")
    @classmethod
    def _accept_names(cls, value: Any) -> Any:
        return _named_items([value] if isinstance(value, str) else value)

    @field_validator("split", "cleaning", "targets", "volume", "prices", "policy", mode="before")
    @classmethod
    def _empty_section(cls, value: Any) -> Any:
        """A section left empty (``split:`` and nothing under it) means its defaults."""
        return {} if value is None else value

    @model_validator(mode="before")
    @classmethod
    def _default_metrics(cls, data: Any) -> Any:
        """Fill the kind's default metrics, so a validated task always names them."""
        kind = data.get("kind") if isinstance(data, Mapping) else None
        if not isinstance(kind, str) or kind not in DEFAULT_METRICS:
            return data
        metrics = data.get("metrics")
        if isinstance(metrics, MetricsSpec):
            metrics = metrics.model_dump(exclude_none=True)
        if metrics is None:
            metrics = {}
        if not isinstance(metrics, Mapping):
            return data
        primary, guards = DEFAULT_METRICS[kind]
        primary = metrics.get("primary") or primary
        source = data.get("data")
        has_kb = isinstance(source, Mapping | DataSpec) and bool(
            source.get("knowledge_base") if isinstance(source, Mapping) else source.knowledge_base
        )
        guards = tuple(g for g in guards if g != primary and (g != "citation_precision" or has_kb))
        given = {k: v for k, v in metrics.items() if v is not None}
        return {**data, "metrics": {"primary": primary, "guards": guards, **given}}

    @model_validator(mode="after")
    def _check_rules(self, info: ValidationInfo) -> Task:
        """Rules that span sections or read files; all broken rules are reported together."""
        context = info.context if isinstance(info.context, Mapping) else {}
        self._dir = Path(context.get("task_dir") or Path.cwd()).expanduser().resolve()
        problems: list[tuple[Loc, str]] = []
        self._labels, self._schema = _check_output(self, problems)
        _check_inputs(self, problems)
        _check_metrics(self, problems)
        _check_data_files(self, problems)
        if problems:
            raise _rule_error(problems)
        return self

    @property
    def dir(self) -> Path:
        """The task folder: relative paths in the spec are resolved against it."""
        return self._dir

    @property
    def label_names(self) -> list[str]:
        """classify: the label names in file order (from labels or labels_file); else empty."""
        return [label.name for label in self._labels]

    @property
    def label_descriptions(self) -> dict[str, str]:
        """classify: label name to description ('' where none was given); else empty."""
        return {label.name: label.description for label in self._labels}

    @property
    def json_schema(self) -> dict[str, Any] | None:
        """extract: the output schema, inline or read from schema_file; else None."""
        return self._schema

    @property
    def data_paths(self) -> dict[str, list[Path]]:
        """Absolute paths by role: always ``train``; ``test`` and ``knowledge_base`` when given."""
        paths = {"train": [self.resolve(p) for p in self.data.train]}
        if self.data.test:
            paths["test"] = [self.resolve(p) for p in self.data.test]
        if self.data.knowledge_base is not None:
            paths["knowledge_base"] = [self.resolve(self.data.knowledge_base)]
        return paths

    @property
    def knowledge_base_path(self) -> Path | None:
        """The knowledge base folder (or file), absolute; None when the task has none."""
        kb = self.data.knowledge_base
        return None if kb is None else self.resolve(kb)

    def resolve(self, path: str | Path) -> Path:
        """A path from the spec, made absolute against the task folder.

        ``${NAME}`` and ``${NAME:-default}`` are read from the environment first, so a task can
        point at data that must stay outside the repository (a licensed or shared data set)
        without anyone editing the YAML; an unset variable without a default is a ValueError.
        """
        return (self._dir / Path(expand_env(str(path))).expanduser()).resolve()

    def content_hash(self) -> str:
        """Stable 16-hex hash of the spec, including labels and schema read from files.

        Paths enter as written, so moving the task folder keeps the hash; the data files' contents
        do not enter (that is the dataset version's job), nor does the serving policy, which
        changes no measurement.
        """
        payload = {
            "spec": self.model_dump(mode="json", by_alias=True, exclude={"policy"}),
            "labels": [[label.name, label.description] for label in self._labels],
            "schema": self._schema,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- cross-field rules -------------------------------------------------------------------------


def _check_output(task: Task, problems: list[tuple[Loc, str]]) -> tuple[tuple[Label, ...], dict | None]:
    out, kind = task.output, task.kind
    if kind != "classify":
        for key in ("labels", "labels_file", "other_label"):
            if getattr(out, key) is not None:
                problems.append((("output", key), f"only classify tasks have labels; this task is {kind!r}"))
    if kind != "extract":
        for key, attr in (("schema", "json_schema"), ("schema_file", "schema_file")):
            if getattr(out, attr) is not None:
                problems.append((("output", key), f"only extract tasks have a schema; this task is {kind!r}"))
    labels: tuple[Label, ...] = ()
    schema: dict[str, Any] | None = None
    if kind == "classify":
        labels = _classify_labels(task, problems)
    elif kind == "extract":
        schema = _extract_schema(task, problems)
    return labels, schema


def _classify_labels(task: Task, problems: list[tuple[Loc, str]]) -> tuple[Label, ...]:
    out = task.output
    if out.labels is not None:
        labels, where = out.labels, ("output", "labels")
    elif out.labels_file is not None:
        where = ("output", "labels_file")
        try:
            labels = _read_labels_file(task.resolve(out.labels_file))
        except ValueError as exc:
            problems.append((where, str(exc)))
            return ()
    else:
        problems.append(
            (
                ("output", "labels"),
                "classify tasks need a label set: give labels (names or {name, description}) or labels_file",
            )
        )
        return ()
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        if label.name in seen:
            loc = (*where, i) if out.labels is not None else where
            problems.append((loc, f"duplicate label {label.name!r} (also item {seen[label.name]})"))
        seen.setdefault(label.name, i)
    if len(seen) < 2:
        problems.append((where, f"a classify task needs at least 2 labels; got {len(seen)}"))
    if out.other_label is not None and out.other_label not in seen:
        hint = _did_you_mean(out.other_label, seen)
        problems.append((("output", "other_label"), f"{out.other_label!r} is not one of the labels{hint}"))
    return labels


def _read_labels_file(file: Path) -> tuple[Label, ...]:
    raw = _read_json(file)
    if not isinstance(raw, list | dict):
        raise ValueError(f"{file} must hold a JSON list of names or a {{name: description}} object")
    try:
        return tuple(Label.model_validate(item) for item in _named_items(raw))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise ValueError(f"{file}: a label {_expected(first)}") from None


def _extract_schema(task: Task, problems: list[tuple[Loc, str]]) -> dict[str, Any] | None:
    out = task.output
    if out.json_schema is not None:
        schema, where = out.json_schema, ("output", "schema")
    elif out.schema_file is not None:
        where = ("output", "schema_file")
        try:
            schema = _read_json(task.resolve(out.schema_file))
        except ValueError as exc:
            problems.append((where, str(exc)))
            return None
        if not isinstance(schema, dict):
            problems.append((where, f"{out.schema_file} must hold a JSON object (a JSON schema)"))
            return None
    else:
        problems.append((("output", "schema"), "extract tasks need a JSON schema: schema or schema_file"))
        return None
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        # For an inline schema, point at the offending key inside it.
        loc = (*where, *exc.path) if out.json_schema is not None else where
        problems.append((loc, f"not a valid JSON schema (draft 2020-12): {exc.message}"))
        return None
    if schema.get("type") != "object":
        loc = (*where, "type") if out.json_schema is not None else where
        problems.append((loc, "extract outputs are JSON objects: the schema needs type: object"))
        return None
    return schema


def _read_json(file: Path) -> Any:
    if not file.is_file():
        raise ValueError(f"file not found: {file}")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{file}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {file}: {exc}") from None


def _check_inputs(task: Task, problems: list[tuple[Loc, str]]) -> None:
    seen: set[str] = set()
    for i, field in enumerate(task.inputs):
        if field.name in seen:
            problems.append((("inputs", i), f"duplicate input field {field.name!r}"))
        seen.add(field.name)
    if task.output.field in seen:
        problems.append(
            (("output", "field"), f"{task.output.field!r} is also an input; the output needs its own field")
        )


def _check_metrics(task: Task, problems: list[tuple[Loc, str]]) -> None:
    allowed = METRICS_BY_KIND[task.kind]
    primary, guards = task.metrics.primary, task.metrics.guards or ()
    named: list[tuple[Loc, str]] = [(("metrics", "primary"), primary or "")]
    named += [(("metrics", "guards", i), g) for i, g in enumerate(guards)]
    for loc, metric in named:
        if metric not in allowed:
            problems.append((loc, _unknown_metric(metric, task.kind)))
        elif metric == "citation_precision" and task.data.knowledge_base is None:
            problems.append((loc, "citation_precision needs a knowledge base (data.knowledge_base)"))
    for i, guard in enumerate(guards):
        if guard == primary:
            problems.append((("metrics", "guards", i), f"{guard!r} is already the primary metric"))
        elif guard in guards[:i]:
            problems.append((("metrics", "guards", i), f"duplicate guard metric {guard!r}"))


def _unknown_metric(metric: str, kind: str) -> str:
    allowed = METRICS_BY_KIND[kind]
    owner = next((k for k, names in METRICS_BY_KIND.items() if metric in names), None)
    text = f"{metric!r} is a {owner} metric" if owner else f"unknown metric {metric!r}"
    return f"{text}; a {kind} task offers {', '.join(allowed)}{_did_you_mean(metric, allowed)}"


def _check_data_files(task: Task, problems: list[tuple[Loc, str]]) -> None:
    for split in ("train", "test"):
        for i, path in enumerate(getattr(task.data, split)):
            try:
                file = task.resolve(path)
            except ValueError as exc:
                problems.append((("data", split, i), str(exc)))
                continue
            if not file.exists():
                problems.append((("data", split, i), f"file not found: {file}"))
            elif file.is_dir():
                problems.append((("data", split, i), f"expected a file, found a folder: {file}"))
    kb = task.data.knowledge_base
    if kb is None:
        return
    try:
        folder = task.resolve(kb)
    except ValueError as exc:
        problems.append((("data", "knowledge_base"), str(exc)))
        return
    if not folder.exists():
        problems.append((("data", "knowledge_base"), f"not found: {folder}"))


_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(text: str) -> str:
    """``text`` with each ``${NAME}`` or ``${NAME:-default}`` replaced from the environment
    (the default also stands in for an empty value, as in the shell)."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found:
            return found
        if default is not None:
            return default
        raise ValueError(
            f"environment variable {name} is not set (write ${{{name}:-DEFAULT}} for a fallback)"
        )

    return _ENV_REFERENCE.sub(value, text)


# --- loading and error reporting ---------------------------------------------------------------


def load_task(path: str | Path) -> Task:
    """Read and validate a task folder or ``task.yaml``; every problem becomes one DataError.

    The error lists every problem found, one per line, each as ``file:line: field 'a.b[2]': ...``
    so a user fixes them in one pass instead of one run per typo.
    """
    path = Path(path)
    file = path / TASK_FILE if path.is_dir() else path
    if not file.is_file():
        raise DataError("no task file here", path=file, hint=_INIT_HINT)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start})", path=file) from None
    root = _parse_yaml(text, file)
    try:
        return Task.model_validate(_plain(root), context={"task_dir": file.parent})
    except ValidationError as exc:
        raise _data_error(exc, file, root) from None


def _parse_yaml(text: str, file: Path) -> CommentedMap:
    try:
        root = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark, context = exc.problem_mark or exc.context_mark, exc.context_mark
        message = f"invalid YAML: {exc.problem or exc.context}"
        if exc.context and exc.problem and context is not None and mark is not None:
            message += f" ({exc.context}, started on line {context.line + 1})"
        raise DataError(
            message,
            path=file,
            line=mark.line + 1 if mark is not None else None,
            hint="check the indentation (spaces, not tabs) and the brackets and quotes around this line",
        ) from None
    except YAMLError as exc:
        raise DataError(f"YAML syntax error: {exc}", path=file) from None
    if root is None:
        raise DataError(
            "the file is empty; a task needs at least name, kind, inputs, output and data",
            path=file,
            hint=_INIT_HINT,
        )
    if not isinstance(root, CommentedMap):
        found = "a list" if isinstance(root, CommentedSeq) else f"{type(root).__name__} {root!r}"
        line = root.lc.line + 1 if isinstance(root, CommentedSeq) else 1
        raise DataError(
            f"expected a mapping of keys (name, kind, inputs, ...) at the top level; found {found}",
            path=file,
            line=line,
            hint=_INIT_HINT,
        )
    return root


def _plain(node: Any) -> Any:
    """ruamel's commented containers and scalar subclasses as plain Python values."""
    if isinstance(node, Mapping):
        return {(_plain(k) if isinstance(k, str | int | float) else k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool | ScalarBoolean):
        return bool(node)
    for kind in (int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


def _data_error(exc: ValidationError, file: Path, root: CommentedMap) -> DataError:
    """Every pydantic error as ``(line, field, message)``, sorted by line, in one DataError."""
    raw: list[tuple[Loc, str, str]] = []  # (loc, type, message)
    for err in exc.errors(include_url=False):
        if err["type"] == _RULE:
            raw += [(tuple(err["loc"]) + tuple(loc), _RULE, msg) for loc, msg in err["ctx"]["problems"]]
        else:
            raw.append((tuple(err["loc"]), err["type"], _explain(err)))
    # A typo'd key also makes the real key "missing"; the did-you-mean already says both.
    suggested = {
        (*loc[:-1], s)
        for loc, kind, _ in raw
        if kind == "extra_forbidden"
        for s in _close(str(loc[-1]), _allowed_keys(loc[:-1]))
    }
    kept = [(loc, msg) for loc, kind, msg in raw if not (kind == "missing" and loc in suggested)]
    problems = sorted(((*_locate(root, loc), msg) for loc, msg in kept), key=lambda p: p[0])
    (line, field, message), rest = problems[0], problems[1:]
    for other_line, other_field, other_message in rest:
        where = f"field {other_field!r}: " if other_field else ""
        message += f"\n{file}:{other_line}: {where}{other_message}"
    return DataError(message, path=file, line=line, field=field or None, hint=_INIT_HINT)


def _locate(root: CommentedMap, loc: Loc) -> tuple[int, str]:
    """The 1-based line of the deepest part of ``loc`` present in the YAML, and the field to name.

    A missing key is named in full but placed on its parent's line. Where the validator reshaped
    the input (a bare name standing for ``{name: ...}``) the path stops at what the user wrote.
    """
    line = root.lc.line + 1
    node: Any = root
    shown: list[str | int] = []
    for part in loc:
        if part == "[key]":  # pydantic's marker for an invalid mapping key: already on its line
            break
        try:
            if isinstance(node, CommentedMap) and part in node:
                line, node = node.lc.key(part)[0] + 1, node[part]
                part = str(part)  # a mapping key, even if YAML read it as a number
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                line, node = node.lc.item(part)[0] + 1, node[part]
            elif node is None or (isinstance(node, CommentedMap) and isinstance(part, str)):
                node = None  # a missing key (and anything below it)
            else:
                break
        except (KeyError, IndexError, TypeError, AttributeError):
            node = None
        shown.append(part)
    return line, _dotted(shown)


def _dotted(loc: Iterable[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _explain(err: Mapping[str, Any]) -> str:
    loc, kind = tuple(err["loc"]), err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        suggestion = _did_you_mean(str(loc[-1]), allowed)
        return f"unknown key {loc[-1]!r}{suggestion or '.'} Expected one of: {', '.join(allowed)}."
    if kind == "missing":
        info = _field_info(loc)
        about = f": {info.description}" if info is not None and info.description else ""
        return f"missing required key {loc[-1]!r}{about}"
    message = _expected(err)
    if kind == "literal_error" and isinstance(err.get("input"), str):
        choices = re.findall(r"'([^']*)'", err.get("ctx", {}).get("expected", ""))
        message += _did_you_mean(err["input"], choices)
    return message


def _expected(err: Mapping[str, Any]) -> str:
    """Pydantic's message phrased as what was expected, with what was found."""
    message = str(err["msg"]).removeprefix("Value error, ")
    message = re.sub(r" or instance of \w+", "", message)
    for old, new in (
        ("Input should be greater", "expected a number greater"),
        ("Input should be less", "expected a number less"),
        ("Input should be", "expected"),
        ("a valid dictionary", "a mapping"),
        ("a valid tuple", "a list"),
        ("a valid list", "a list"),
        ("Tuple should", "the list should"),
        ("String should", "the text should"),
        ("Keys should be strings", "expected a text key"),
    ):
        message = message.replace(old, new)
    value = err.get("input")
    if err["type"] in ("value_error", "missing", "extra_forbidden"):
        return message
    if isinstance(value, Mapping):
        return f"{message}; got a mapping"
    if isinstance(value, list | tuple):
        return f"{message}; got a list"
    return f"{message}; got {json.dumps(value) if value is None or isinstance(value, bool) else repr(value)}"


def _close(word: str, choices: Iterable[str]) -> list[str]:
    return difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    match = _close(word, choices)
    return f"; did you mean {match[0]!r}?" if match else ""


def unwrap_annotation(annotation: Any) -> Any:
    """``X | None`` as ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _annotation_at(loc: Loc) -> Any:
    """The type the spec expects at ``loc`` (walking models, lists and mappings), or None."""
    annotation: Any = Task
    for part in loc:
        annotation = unwrap_annotation(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found = [i for n, i in annotation.model_fields.items() if part in (n, i.alias)]
            if not found:
                return None
            annotation = found[0].annotation
        elif get_origin(annotation) in (tuple, list) and isinstance(part, int):
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return None
    return unwrap_annotation(annotation)


def _allowed_keys(loc: Loc) -> list[str]:
    model = _annotation_at(loc)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _field_info(loc: Loc) -> FieldInfo | None:
    model = _annotation_at(loc[:-1])
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    return next((i for n, i in model.model_fields.items() if loc[-1] in (n, i.alias)), None)
