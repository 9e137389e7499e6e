"""Dynamic batching: concurrent submissions share calls, results go back to their callers."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from steerlab.serving.batching import DynamicBatcher


def test_concurrent_requests_share_calls_and_get_their_own_results() -> None:
    calls: list[list[int]] = []

    def square(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        time.sleep(0.02)  # a model call: requests arriving meanwhile queue up for the next one
        return [i * i for i in items]

    async def main() -> list[int]:
        batcher = DynamicBatcher(square, max_batch=4, max_wait_s=0.01)
        results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
        await batcher.close()
        return results

    assert asyncio.run(main()) == [i * i for i in range(10)]
    assert sorted(i for call in calls for i in call) == list(range(10))
    assert max(len(call) for call in calls) == 4 and len(calls) <= 4  # 10 items, batches of up to 4


def test_batching_off_calls_once_per_request_one_at_a_time() -> None:
    running, overlap = threading.Lock(), []

    def echo(items: Sequence[str]) -> list[str]:
        if not running.acquire(blocking=False):
            overlap.append(items)  # two model calls at once: never allowed
            return list(items)
        try:
            time.sleep(0.005)
            return list(items)
        finally:
            running.release()

    async def main() -> DynamicBatcher[str, str]:
        batcher: DynamicBatcher[str, str] = DynamicBatcher(echo, max_batch=1)
        assert await asyncio.gather(*(batcher.submit(str(i)) for i in range(6))) == [str(i) for i in range(6)]
        await batcher.close()
        return batcher

    batcher = asyncio.run(main())
    assert batcher.stats.batches == 6 and batcher.stats.mean_batch == 1.0
    assert not overlap


def test_a_failing_batch_fails_its_requests_only() -> None:
    def fragile(items: Sequence[int]) -> list[int]:
        if 13 in items:
            raise RuntimeError("backend down")
        return list(items)

    async def main() -> tuple[BaseException | int, int]:
        batcher = DynamicBatcher(fragile, max_batch=8, max_wait_s=0.0)
        first = await asyncio.gather(batcher.submit(13), return_exceptions=True)
        later = await batcher.submit(7)  # the worker survived the failure
        await batcher.close()
        return first[0], later

    failed, later = asyncio.run(main())
    assert isinstance(failed, RuntimeError) and "backend down" in str(failed)
    assert later == 7


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        DynamicBatcher(list, max_batch=0)
