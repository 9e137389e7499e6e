"""Dynamic batching: concurrent requests share one forward pass.

On a CPU (and even more on a GPU) one forward pass over 8 prompts costs far less than 8 passes
over one, so a server that answers each request alone wastes most of its hardware under load.
:class:`DynamicBatcher` queues requests, and a single worker takes whatever has arrived (up to
``max_batch``, waiting at most ``max_wait_s`` for the batch to fill once the first request is
in) and hands it to a blocking function in one call, off the event loop. One worker also means
one model call at a time, which is what a local model holding one set of weights needs.

``max_batch=1`` turns batching off, for the side-by-side measurement in bench/.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["BatchStats", "DynamicBatcher"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class BatchStats:
    batches: int = 0
    items: int = 0
    busy_s: float = 0.0

    @property
    def mean_batch(self) -> float:
        return self.items / self.batches if self.batches else 0.0


class DynamicBatcher(Generic[T, R]):
    """Runs ``fn(items) -> results`` (aligned, same length) over batches of submitted items.

    An exception from ``fn`` fails every request of that batch, and only that batch: the
    caller decides what a failure means (fall back, escalate), the batcher keeps serving.
    """

    def __init__(
        self, fn: Callable[[Sequence[T]], Sequence[R]], *, max_batch: int = 8, max_wait_s: float = 0.005
    ) -> None:
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError("max_batch must be >= 1 and max_wait_s >= 0")
        self.fn = fn
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.stats = BatchStats()
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] | None = None
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Queue ``item`` and wait for its result."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run())
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def close(self) -> None:
        """Finish what is queued, then stop the worker (requests in flight are answered)."""
        if self._queue is not None and self._worker is not None:
            await self._queue.join()
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._queue = self._worker = None

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            deadline = loop.time() + self.max_wait_s
            while len(batch) < self.max_batch:
                remaining = deadline - loop.time()
                try:
                    if remaining <= 0:
                        batch.append(queue.get_nowait())
                    else:
                        batch.append(await asyncio.wait_for(queue.get(), remaining))
                except (asyncio.QueueEmpty, TimeoutError):
                    break
            live = [(item, future) for item, future in batch if not future.cancelled()]
            try:
                if live:
                    started = time.perf_counter()
                    results = await asyncio.to_thread(self.fn, [item for item, _ in live])
                    self.stats.busy_s += time.perf_counter() - started
                    self.stats.batches += 1
                    self.stats.items += len(live)
                    if len(results) != len(live):
                        raise RuntimeError(f"got {len(results)} results for {len(live)} items")
                    for (_, future), result in zip(live, results, strict=True):
                        if not future.done():
                            future.set_result(result)
            except Exception as error:
                for _, future in live:
                    if not future.done():
                        future.set_exception(error)
            finally:
                for _ in batch:
                    queue.task_done()
