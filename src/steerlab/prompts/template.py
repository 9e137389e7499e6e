"""Prompt templates: versioned files with named parts, rendered deterministically into messages.

A template is a small YAML file whose parts (role, goal, constraints, refusal, format,
self-check) are Jinja snippets. Naming the parts makes two prompt variants diffable part by part
("only the format instruction changed"), which is what a prompt experiment needs to be readable.
The version is a hash of the file's content, so an edited template is a new candidate and the
prediction cache never mixes answers from two wordings.

Rendering is a pure function of (template, task, example, shots, sources): a system message from
role, goal, constraints and refusal; few-shot examples as earlier user/assistant turns (chat
models follow demonstrated turns better than examples pasted into one message); then the input
with the format and self-check instructions.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steerlab.data.example import Example, canonical_json
from steerlab.errors import ConfigError, DataError

if TYPE_CHECKING:
    from steerlab.task import Task

__all__ = ["PART_NAMES", "PromptTemplate", "diff_templates", "format_output", "load_template"]

PART_NAMES = ("role", "goal", "constraints", "refusal", "format", "self_check")
SYSTEM_PARTS = ("role", "goal", "constraints", "refusal")


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    kind: str
    parts: dict[str, str]
    source: str

    @property
    def version(self) -> str:
        """``name@hash`` of the parts: any wording change is a new version."""
        digest = hashlib.sha256(canonical_json({"name": self.name, "parts": self.parts}).encode()).hexdigest()
        return f"{self.name}@{digest[:12]}"

    def render(
        self,
        task: Task,
        example: Example,
        *,
        shots: Sequence[Example] = (),
        sources: Sequence[tuple[str, str]] = (),
        answer_prefix: str | None = None,
    ) -> list[dict[str, str]]:
        """Chat messages for one example. ``answer_prefix`` opens the assistant turn (label scoring)."""
        context = _context(task, sources)
        rendered = {part: _render(self, part, self.parts.get(part, ""), context) for part in PART_NAMES}
        system = "\n\n".join(rendered[p] for p in SYSTEM_PARTS if rendered[p])
        messages = [{"role": "system", "content": system}] if system else []
        for shot in shots:
            messages.append({"role": "user", "content": _input_text(task, shot)})
            messages.append({"role": "assistant", "content": format_output(task, shot.output, self.name)})
        body = _input_text(task, example)
        if sources:
            listed = "\n\n".join(f"[{chunk_id}] {text}" for chunk_id, text in sources)
            body = f"Sources:\n{listed}\n\nQuestion: {body}"
        closing = "\n".join(rendered[p] for p in ("format", "self_check") if rendered[p])
        messages.append({"role": "user", "content": f"{body}\n\n{closing}" if closing else body})
        if answer_prefix is not None:
            messages.append({"role": "assistant", "content": answer_prefix})
        return messages


def _input_text(task: Task, example: Example) -> str:
    if len(example.inputs) == 1:
        return next(iter(example.inputs.values()))
    return "\n".join(f"{name}: {value}" for name, value in example.inputs.items())


def format_output(task: Task, output: Any, template_name: str = "") -> str:
    """How a gold output is shown in a few-shot answer turn (and in fine-tuning targets)."""
    if isinstance(output, dict):
        return json.dumps(output, ensure_ascii=False)
    if template_name.endswith("-reasoning") and task.kind == "classify":
        return f"Label: {output}"
    return str(output)


def _context(task: Task, sources: Sequence[tuple[str, str]]) -> dict[str, Any]:
    names = [field.name for field in task.inputs]
    return {
        "task": {"name": task.name, "description": task.description, "kind": task.kind},
        "input_names": names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1],
        "labels": [{"name": n, "description": task.label_descriptions.get(n, "")} for n in task.label_names],
        "other_label": task.output.other_label,
        "schema_json": json.dumps(task.json_schema, indent=2) if task.json_schema else "",
        "sources": list(sources),
    }


@lru_cache(maxsize=256)
def _compiled(source: str, part: str, text: str) -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    environment = SandboxedEnvironment(undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    try:
        return environment.from_string(text)
    except Exception as error:  # jinja2.TemplateSyntaxError and friends
        raise ConfigError(f"{source}: part {part!r} is not a valid template: {error}") from error


def _render(template: PromptTemplate, part: str, text: str, context: dict[str, Any]) -> str:
    if not text:
        return ""
    try:
        return _compiled(template.source, part, text).render(**context).strip()
    except ConfigError:
        raise
    except Exception as error:  # undefined variables, type errors inside the template
        raise ConfigError(f"{template.source}: part {part!r} failed to render: {error}") from error


def _builtin_dir() -> Path:
    return Path(str(files("steerlab.prompts").joinpath("templates")))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in _builtin_dir().glob("*.yaml"))


def load_template(name_or_path: str, task_dir: Path | None = None) -> PromptTemplate:
    """A template by file path, by name in ``TASK_DIR/prompts/``, or by built-in name."""
    candidates = [Path(name_or_path)]
    if task_dir is not None:
        candidates.append(task_dir / "prompts" / f"{name_or_path}.yaml")
    candidates.append(_builtin_dir() / f"{name_or_path}.yaml")
    path = next((p for p in candidates if p.suffix in (".yaml", ".yml") and p.is_file()), None)
    if path is None:
        raise ConfigError(
            f"no prompt template called {name_or_path!r}",
            hint=f"built-in templates: {', '.join(builtin_names())}; or put NAME.yaml in TASK_DIR/prompts/",
        )
    return _parse(path)


def _parse(path: Path) -> PromptTemplate:
    from ruamel.yaml import YAML, YAMLError

    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise DataError(f"invalid YAML: {error}", path=path, line=mark.line + 1 if mark else None) from error
    if not isinstance(data, dict) or not isinstance(data.get("parts"), dict):
        raise DataError("a prompt template needs a 'parts' mapping", path=path, field="parts")
    unknown = sorted(set(data["parts"]) - set(PART_NAMES))
    if unknown:
        raise DataError(
            f"unknown part {unknown[0]!r}; parts are {', '.join(PART_NAMES)}",
            path=path,
            field=f"parts.{unknown[0]}",
        )
    parts = {part: str(data["parts"].get(part) or "") for part in PART_NAMES}
    return PromptTemplate(str(data.get("name") or path.stem), str(data.get("kind") or ""), parts, str(path))


def diff_templates(a: PromptTemplate, b: PromptTemplate) -> str:
    """A unified diff, part by part, of two templates (empty when they are the same)."""
    out: list[str] = []
    for part in PART_NAMES:
        left, right = a.parts.get(part, "").splitlines(), b.parts.get(part, "").splitlines()
        if left != right:
            out += list(
                difflib.unified_diff(left, right, f"{a.version}:{part}", f"{b.version}:{part}", lineterm="")
            )
    return "\n".join(out)
