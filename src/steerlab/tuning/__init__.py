"""LoRA fine-tuning: training sequences, the training loop, the adapter registry, chat-JSONL export.

Names are imported on first use: training pulls in torch and peft (seconds), which a CLI's
``--help`` or a JSONL export should not pay for.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "AdapterRecord",
    "CurvePoint",
    "EvalPoint",
    "SequenceSet",
    "TrainConfig",
    "TrainResult",
    "TrainingSequence",
    "chat_record",
    "encode_examples",
    "encode_splits",
    "export_chat_jsonl",
    "list_adapters",
    "load_adapter",
    "merge_adapter",
    "model_hash",
    "register",
    "train",
]

_HOMES = {
    "SequenceSet": "examples",
    "TrainingSequence": "examples",
    "encode_examples": "examples",
    "encode_splits": "examples",
    "TrainConfig": "config",
    "CurvePoint": "trainer",
    "EvalPoint": "trainer",
    "TrainResult": "trainer",
    "train": "trainer",
    "AdapterRecord": "registry",
    "list_adapters": "registry",
    "load_adapter": "registry",
    "merge_adapter": "registry",
    "model_hash": "registry",
    "register": "registry",
    "chat_record": "export",
    "export_chat_jsonl": "export",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"steerlab.tuning.{_HOMES[name]}"), name)
