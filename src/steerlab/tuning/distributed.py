"""Data-parallel training across processes started by ``accelerate launch`` or ``torchrun``.

The launchers say who a process is through the environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``), so the same ``steerlab tune`` command runs
alone or as one of N processes without a flag. With one process every function here is a no-op.

Why gradients are all-reduced by hand instead of wrapping the model in
``DistributedDataParallel``: DDP synchronises inside the wrapped module's ``forward``, but the
answer-only loss (:mod:`steerlab.tuning.loss`) calls the decoder and the head separately. LoRA
has a few million trainable values, so one flattened all-reduce per optimizer step costs little
and gives exactly DDP's result: every process applies the gradient of the whole global batch.

Backend: gloo on CPUs, NCCL when each process has a GPU (``LOCAL_RANK`` picks it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "World",
    "all_reduce_gradients",
    "barrier",
    "broadcast",
    "current_world",
    "gather",
    "main_first",
    "sum_across",
]


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """The process that writes checkpoints, results and the registry, and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def current_world() -> World:
    """The world this process is in, joining the process group on first use when launched as one
    of several processes."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    world = World(
        rank=int(os.environ.get("RANK", "0")),
        size=size,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )
    import torch.distributed as dist

    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(world.local_rank)
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return world


def _dist() -> Any:
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def sum_across(values: Sequence[float]) -> list[float]:
    """Element-wise sums over all processes (the values themselves with one process)."""
    dist = _dist()
    if dist is None:
        return [float(v) for v in values]
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def all_reduce_gradients(params: Sequence[torch.nn.Parameter]) -> None:
    """Sum every parameter's gradient over all processes, in one flattened all-reduce.

    A process whose share of the step was empty contributes zeros, so the sum is still the
    gradient of exactly the examples the step trained on.
    """
    dist = _dist()
    if dist is None or not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1).float() for g in grads])
    dist.all_reduce(flat)
    offset = 0
    for param in params:
        count = param.numel()
        param.grad = flat[offset : offset + count].view_as(param).to(param.dtype)
        offset += count


def broadcast(value: Any, src: int = 0) -> Any:
    """``value`` as process ``src`` has it (any picklable object)."""
    dist = _dist()
    if dist is None:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def gather(value: Any) -> list[Any]:
    """Every process's ``value``, in rank order, on every process."""
    dist = _dist()
    if dist is None:
        return [value]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return out


@contextmanager
def main_first(world: World) -> Iterator[None]:
    """Run the block on the main process first, then on the others.

    For work with a shared on-disk result (converting a GGUF model, building a dataset
    version): the others then find it done instead of all doing it at once.
    """
    dist = _dist()
    if dist is None:
        yield
        return
    if not world.is_main:
        dist.barrier()
    yield
    if world.is_main:
        dist.barrier()


def barrier() -> None:
    dist = _dist()
    if dist is not None:
        dist.barrier()
