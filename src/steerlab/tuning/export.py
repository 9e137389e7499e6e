"""Training data as chat JSONL, the format hosted fine-tuning APIs accept.

Each line is ``{"messages": [system?, user, assistant]}``: the prompt the task's template renders
(zero-shot, as a tuned candidate is asked) and the gold answer formatted as in few-shot turns.
Rendering through the same template keeps a hosted fine-tune comparable with the local adapter
and the prompt baselines. Data leaves the machine this way, so unredacted PII is refused exactly
as for local training.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from steerlab.atomic import atomic_write_text
from steerlab.errors import DataError
from steerlab.prompts.template import format_output

if TYPE_CHECKING:
    from steerlab.data.dataset import Dataset
    from steerlab.data.example import Example
    from steerlab.prompts.template import PromptTemplate
    from steerlab.task import Task

__all__ = ["chat_record", "export_chat_jsonl"]


def chat_record(task: Task, template: PromptTemplate, example: Example) -> dict[str, list[dict[str, str]]]:
    """One example as ``{"messages": [...]}`` with the answer as the closing assistant turn."""
    messages = template.render(task, example)
    messages.append({"role": "assistant", "content": format_output(task, example.output, template.name)})
    return {"messages": messages}


def export_chat_jsonl(
    dataset: Dataset,
    task: Task,
    template: PromptTemplate,
    out_path: str | Path,
    *,
    split: Literal["train", "dev"] = "train",
    allow_unredacted_pii: bool = False,
) -> int:
    """Write the train (or dev, as a validation file) split as chat JSONL, atomically; return the line count.

    The test split is not offered: a model tuned on it could not be measured on it.
    """
    if split not in ("train", "dev"):
        raise DataError(f"only the train and dev splits can be exported, not {split!r}")
    dataset.check_trainable(allow_unredacted_pii=allow_unredacted_pii)
    examples: Sequence[Example] = getattr(dataset, split)
    if not examples:
        raise DataError(f"dataset {dataset.version} has no {split} examples", path=dataset.path)
    lines = [json.dumps(chat_record(task, template, ex), ensure_ascii=False) for ex in examples]
    atomic_write_text(Path(out_path), "\n".join(lines) + "\n")
    return len(lines)
