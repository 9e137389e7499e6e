"""The commented example task that ``steerlab init`` writes, for each task kind.

The comments are generated from the spec's own field descriptions and defaults, so the example
cannot drift from what :func:`steerlab.task.load_task` accepts (a test loads every kind).
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from steerlab.atomic import atomic_write_text
from steerlab.errors import ConfigError, DataError
from steerlab.task import DEFAULT_METRICS, METRICS_BY_KIND, TASK_FILE, TASK_KINDS, Task, unwrap_annotation

__all__ = ["example_task_yaml", "write_example_task"]


_SHARED_EXAMPLE: dict[str, Any] = {
    "volume": {"monthly_requests": 100_000},
    "prices": {
        "models": {"gpt-4o-mini": {"input_per_1m_tokens_usd": 0.15, "output_per_1m_tokens_usd": 0.6}},
        "hardware": {"cpu-2core": {"per_hour_usd": 0.1}},
        "training_one_off_usd": 0.0,
    },
}

_EXAMPLES: dict[str, dict[str, Any]] = {
    "classify": {
        "name": "ticket-routing",
        "kind": "classify",
        "description": "Route a customer support message to the team that should handle it.",
        "inputs": [{"name": "text", "description": "the customer's message, as sent"}],
        "output": {
            "field": "label",
            "labels": [
                {"name": "billing", "description": "charges, refunds, invoices and payment methods"},
                {"name": "technical", "description": "errors, crashes and anything not working as it should"},
                {"name": "account", "description": "sign-in, passwords, profile changes, closing accounts"},
                {"name": "other", "description": "anything else, including messages that need no action"},
            ],
            "other_label": "other",
        },
        "data": {"train": "data/train.jsonl", "format": "auto"},
        "targets": {"quality": 0.9, "p95_latency_ms": 300, "cost_per_1k_usd": 0.5},
    },
    "extract": {
        "name": "order-details",
        "kind": "extract",
        "description": "Read a customer's order message and fill in the product, quantity and size.",
        "inputs": [{"name": "text", "description": "the order message, as sent"}],
        "output": {
            "field": "order",
            "schema": {
                "type": "object",
                "properties": {
                    "product": {"type": "string", "description": "the product, singular, lower case"},
                    "quantity": {"type": "integer", "minimum": 1},
                    "size": {"type": ["string", "null"], "enum": ["S", "M", "L", "XL", None]},
                },
                "required": ["product", "quantity", "size"],
                "additionalProperties": False,
            },
        },
        "data": {"train": "data/train.jsonl", "format": "auto"},
        "targets": {"quality": 0.9, "p95_latency_ms": 800, "cost_per_1k_usd": 1.0},
    },
    "answer": {
        "name": "policy-qa",
        "kind": "answer",
        "description": "Answer customers' questions on returns, shipping and warranty from the policy pages.",
        "inputs": [{"name": "question", "description": "the customer's question"}],
        "output": {"field": "answer"},
        "data": {"train": "data/train.jsonl", "format": "auto", "knowledge_base": "kb/"},
        "targets": {"quality": 0.8, "p95_latency_ms": 2000, "cost_per_1k_usd": 2.0},
    },
    "generate": {
        "name": "ticket-summary",
        "kind": "generate",
        "description": "Summarise a customer support message in one short sentence for the ticket list.",
        "inputs": [{"name": "text", "description": "the customer's message, as sent"}],
        "output": {"field": "summary"},
        "data": {"train": "data/train.jsonl", "format": "auto"},
        "targets": {"quality": 0.35, "p95_latency_ms": 1500, "cost_per_1k_usd": 1.0},
    },
}

# Keys shown commented out, with a value to un-comment, rather than set.
_ALTERNATIVES: dict[str, str] = {
    "output.labels_file": "labels.json",
    "output.schema_file": "schema.json",
    "data.test": "data/test.jsonl",
    "data.knowledge_base": "kb/",
}
_KIND_ONLY: dict[str, str] = {
    "output.labels": "classify",
    "output.labels_file": "classify",
    "output.other_label": "classify",
    "output.schema": "extract",
    "output.schema_file": "extract",
    "split.stratify": "classify",
}

_ROWS: dict[str, list[tuple[str, Any]]] = {
    "classify": [
        ("I was charged twice for my subscription this month.", "billing"),
        ("Can I get a refund for the order I cancelled yesterday?", "billing"),
        ("Please send me an invoice that shows our company's VAT number.", "billing"),
        ("The app crashes every time I open the settings page.", "technical"),
        ("Uploads larger than 10 MB just stop at 99%.", "technical"),
        ("Your API has returned a 500 error since this morning.", "technical"),
        ("How do I change the email address on my account?", "account"),
        ("I forgot my password and the reset link never arrives.", "account"),
        ("Please close my account and delete my data.", "account"),
        ("Do you have any job openings in your Berlin office?", "other"),
        ("Thanks, that solved it!", "other"),
        ("What are your opening hours on public holidays?", "other"),
    ],
    "extract": [
        ("I'd like two of the blue hoodies in size M, please.", ("blue hoodie", 2, "M")),
        ("Can you send me 1 canvas tote bag?", ("canvas tote bag", 1, None)),
        ("Three black t-shirts, large.", ("black t-shirt", 3, "L")),
        ("Please add a rain jacket in XL to my order.", ("rain jacket", 1, "XL")),
        ("I need 5 water bottles for the team.", ("water bottle", 5, None)),
        ("One pair of running socks, size S.", ("running socks", 1, "S")),
        ("Order 4 grey beanies.", ("grey beanie", 4, None)),
        ("Could I get a green fleece, medium?", ("green fleece", 1, "M")),
        ("2 x white polo shirt, size XL", ("white polo shirt", 2, "XL")),
        ("Just one coffee mug, thanks.", ("coffee mug", 1, None)),
        ("Ten stickers please", ("sticker", 10, None)),
        ("A denim jacket in small.", ("denim jacket", 1, "S")),
    ],
    "answer": [
        ("How long do I have to return an item?", "30 days from delivery."),
        ("Can I get a refund on a sale item?", "No. Sale items can be exchanged but not refunded."),
        ("Do returned items need their original packaging?", "Yes, unused and in the original packaging."),
        ("How long does standard shipping take?", "3 to 5 working days."),
        ("When is shipping free?", "On orders over 50 euros."),
        ("What does standard shipping cost on a small order?", "4.90 euros on orders of 50 euros or less."),
        ("How fast is express shipping?", "One working day."),
        ("How much is express shipping?", "12 euros."),
        ("Do you ship outside the EU?", "No, only to EU countries."),
        ("How long is the warranty on electronics?", "Two years from delivery."),
        ("Does the warranty cover accidental damage?", "No, only manufacturing defects."),
        ("How do I make a warranty claim?", "Use the support form, with the order number and a photo."),
    ],
    "generate": [
        ("I was charged twice for my subscription this month.", "Double charge on subscription."),
        ("The app crashes every time I open the settings page on my phone.", "App crashes on settings page."),
        ("I ordered a blue hoodie but got a red one. Can you swap it?", "Wrong colour hoodie delivered."),
        ("My parcel was supposed to arrive on Monday and it is now Friday.", "Parcel delayed by four days."),
        ("How do I change the email address on my account?", "Asks how to change account email."),
        ("The reset link for my password never arrives.", "Password reset email not arriving."),
        ("Your API has returned a 500 error since this morning.", "API returning 500 errors."),
        ("Can I get a refund for the order I cancelled yesterday?", "Refund request for cancelled order."),
        ("The discount code SPRING does not work at checkout.", "Discount code rejected at checkout."),
        ("Please close my account and delete my data.", "Account closure and data deletion request."),
        ("The jacket is too small, can I swap it for a larger size?", "Size exchange request for jacket."),
        ("Thanks, the new charger works perfectly!", "Thanks; charger works."),
    ],
}

_KB_POLICIES = """\
# Returns
Items can be returned within 30 days of delivery for a full refund. Items must be unused and in
their original packaging. Sale items can be exchanged but not refunded.

# Shipping
Standard shipping takes 3 to 5 working days. It is free on orders over 50 euros and costs 4.90
euros on orders of 50 euros or less. Express shipping takes one working day and costs 12 euros.
We ship to all EU countries and nowhere else.

# Warranty
Electronics carry a two-year warranty from delivery. It covers manufacturing defects, not
accidental damage. To make a claim, use the support form with your order number and a photo of
the defect.
"""


def _example_rows(kind: str) -> list[dict[str, Any]]:
    spec = _EXAMPLES[kind]
    source, target = spec["inputs"][0]["name"], spec["output"]["field"]
    rows = []
    for text, output in _ROWS[kind]:
        if kind == "extract":
            output = dict(zip(("product", "quantity", "size"), output, strict=True))
        rows.append({source: text, target: output})
    return rows


def example_task_yaml(kind: str = "classify") -> str:
    """A complete, commented task.yaml for ``kind``: every key, what it does and its default.

    The comments come from the models' field descriptions, so the example cannot drift from the
    validator; data it points at is written by :func:`write_example_task`.
    """
    if kind not in _EXAMPLES:
        raise ConfigError(f"unknown task kind {kind!r}; expected one of: {', '.join(TASK_KINDS)}")
    primary, guards = DEFAULT_METRICS[kind]
    values = {
        **_EXAMPLES[kind],
        "metrics": {"primary": primary, "guards": list(guards)},
        **_SHARED_EXAMPLE,
    }
    header = [
        "# steerlab task: what the model must do, how it is judged and what it may cost.",
        "# Every key is shown with a comment and its default; delete what you do not need.",
        "# Lines like '# key: value' are alternatives: un-comment them to use them.",
        "# Paths are relative to the folder holding this file.",
        "",
    ]
    return "\n".join(header + _render_model(Task, values, 0, "", kind)) + "\n"


def _render_model(
    model: type[BaseModel], values: Mapping[str, Any], indent: int, path: str, kind: str
) -> list[str]:
    pad, lines = " " * indent, []
    for name, info in model.model_fields.items():
        key = info.alias or name
        dotted = path + key
        if _KIND_ONLY.get(dotted, kind) != kind:
            continue
        if indent == 0 and lines:
            lines.append("")
        lines += _comment(info, dotted, kind, indent)
        annotation = unwrap_annotation(info.annotation)
        if key not in values and dotted in _ALTERNATIVES:
            lines.append(f"{pad}# {key}: {_ALTERNATIVES[dotted]}")
            continue
        value = values[key] if key in values else info.get_default(call_default_factory=True)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            section = value.model_dump(by_alias=True) if isinstance(value, BaseModel) else value
            lines.append(f"{pad}{key}:")
            lines += _render_model(annotation, section, indent + 2, dotted + ".", kind)
        else:
            lines += _render_data({key: value}, indent)
    return lines


def _is_section(info: FieldInfo) -> bool:
    inner = unwrap_annotation(info.annotation)
    return isinstance(inner, type) and issubclass(inner, BaseModel)


def _comment(info: FieldInfo, dotted: str, kind: str, indent: int) -> list[str]:
    text = info.description or ""
    if dotted == "metrics.primary":
        text += f" For {kind}: one of {', '.join(METRICS_BY_KIND[kind])}; default {DEFAULT_METRICS[kind][0]}."
    elif dotted == "metrics.guards":
        text += f" For {kind}, default {_flow(DEFAULT_METRICS[kind][1])}."
    elif info.is_required():
        text += " Required."
    elif not (
        isinstance(unwrap_annotation(info.annotation), type)
        and issubclass(unwrap_annotation(info.annotation), BaseModel)
    ):
        default = info.get_default(call_default_factory=True)
        shown = _flow(default) if isinstance(default, list | tuple | dict) else _scalar(default)
        text += f" Default: {shown}."
    width = max(40, 100 - indent)
    return [" " * indent + "# " + line for line in textwrap.wrap(text, width)]


def _render_data(value: Mapping[str, Any], indent: int) -> list[str]:
    pad, lines = " " * indent, []
    for key, item in value.items():
        if isinstance(item, Mapping) and item:
            lines.append(f"{pad}{key}:")
            lines += _render_data(item, indent + 2)
        elif isinstance(item, list | tuple) and item and all(isinstance(i, Mapping) for i in item):
            lines.append(f"{pad}{key}:")
            for entry in item:
                block = _render_data(entry, indent + 4)
                lines += [f"{pad}  - {block[0].lstrip()}", *block[1:]]
        elif isinstance(item, list | tuple | Mapping):
            lines.append(f"{pad}{key}: {_flow(item)}")
        else:
            lines.append(f"{pad}{key}: {_scalar(item)}")
    return lines


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_ .,/()'-]*[A-Za-z0-9_./)]|[A-Za-z_]")
_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = value.as_posix() if isinstance(value, Path) else str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def write_example_task(dir: Path, kind: str = "classify", force: bool = False) -> Path:
    """Write a commented task.yaml and the small data it points at into ``dir``; return its path.

    Refuses to overwrite anything (task file or data) unless ``force``: an example must never
    replace a user's real data. Each file is written to a temporary sibling and renamed, so an
    interrupted init leaves no half-written file.
    """
    dir = Path(dir)
    rows = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in _example_rows(kind))
    files = {Path("data/train.jsonl"): rows}
    if kind == "answer":
        files[Path("kb/policies.md")] = _KB_POLICIES
    files[Path(TASK_FILE)] = example_task_yaml(kind)  # last: a task.yaml implies its data exists
    existing = [str(p) for p in files if (dir / p).exists()]
    if existing and not force:
        raise DataError(
            f"refusing to overwrite {', '.join(existing)}",
            path=dir / existing[0],
            hint="pick an empty folder, or force overwriting (`steerlab init --force`)",
        )
    for relative, text in files.items():
        atomic_write_text(dir / relative, text)
    return dir / TASK_FILE
