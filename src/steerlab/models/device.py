"""Which device and number format a local model runs in, and why.

bf16 halves memory traffic and, on CPUs with AVX512-BF16 or AMX, runs matmuls in hardware; on
CPUs without it, PyTorch emulates bf16 and fp32 is faster and exact. CUDA gets bf16 when the GPU
supports it and fp16 otherwise. The reason is kept so ``--verbose`` can show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from steerlab.errors import ConfigError

__all__ = ["Placement", "choose_placement"]

DeviceName = Literal["auto", "cpu", "cuda"]
DtypeName = Literal["auto", "bfloat16", "float16", "float32"]

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


@dataclass(frozen=True)
class Placement:
    device: torch.device
    dtype: torch.dtype
    reason: str

    def describe(self) -> str:
        return f"{self.device.type} in {str(self.dtype).removeprefix('torch.')} ({self.reason})"


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matmul (AVX512-BF16 or AMX), as oneDNN reports it."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def choose_placement(device: str = "auto", dtype: str = "auto") -> Placement:
    """Resolve ``auto`` settings against this machine; explicit settings are honoured as given."""
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda, got {device!r}")
    if dtype not in ("auto", *_DTYPES):
        raise ConfigError(f"dtype must be auto, bfloat16, float16 or float32, got {dtype!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is visible", hint="use --device cpu")

    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    target = torch.device("cuda" if use_cuda else "cpu")
    if dtype != "auto":
        return Placement(target, _DTYPES[dtype], "set explicitly")
    if use_cuda:
        if torch.cuda.is_bf16_supported():
            return Placement(target, torch.bfloat16, f"GPU {torch.cuda.get_device_name()} supports bf16")
        return Placement(target, torch.float16, "GPU lacks bf16")
    if cpu_supports_bf16():
        return Placement(target, torch.bfloat16, "CPU has native bf16 (AVX512-BF16/AMX)")
    return Placement(target, torch.float32, "CPU lacks native bf16, fp32 is faster there")
