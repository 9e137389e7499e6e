"""Progress bars that keep reporting when nobody watches a terminal.

rich draws a live bar only on a terminal. Writing to a file (CI logs, ``nohup``, a pipe) it
prints the bar once, when the work ends, so an hour of training shows nothing until it is over
and a stalled run looks like a running one. :class:`LoggedProgress` draws the same live bar on a
terminal and elsewhere writes one plain line per task every ``STEERLAB_PROGRESS_EVERY`` seconds
(30 by default), and one when a task finishes. Off a terminal rich's own end-of-work render of
every bar is dropped: the finish lines already say where each task ended, and a task that never
reported (a tuning run found in the registry) leaves no empty ``0/?`` bar behind.
"""

from __future__ import annotations

import os
import time
from typing import Any

from rich.progress import Progress, Task, TaskID

__all__ = ["DEFAULT_EVERY_S", "LoggedProgress", "progress_line"]

DEFAULT_EVERY_S = 30.0


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _field(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def progress_line(task: Task) -> str:
    """One line a log reader can follow: what, how far, how long so far and to go, and the
    task's own fields (loss, rate) as the live bar shows them."""
    if task.total:
        done = f"{task.completed:g}/{task.total:g} ({task.percentage:.0f}%)"
    else:
        done = f"{task.completed:g}"
    parts = [f"{task.description}: {done}", f"elapsed {_clock(task.elapsed)}"]
    if task.total and not task.finished:
        parts.append(f"remaining {_clock(task.time_remaining)}")
    parts += [
        f"{key} {_field(value)}"
        for key, value in task.fields.items()
        if not isinstance(value, bool) and value not in ("", None)
    ]
    return ", ".join(parts)


class LoggedProgress(Progress):
    """A rich ``Progress`` that also logs plain lines where the console is not a terminal."""

    def __init__(self, *columns: Any, every_s: float | None = None, **kwargs: Any) -> None:
        super().__init__(*columns, **kwargs)
        if every_s is None:
            every_s = float(os.environ.get("STEERLAB_PROGRESS_EVERY", DEFAULT_EVERY_S))
        self.every_s = every_s
        self._logged: dict[TaskID, float] = {}
        self._finished: set[TaskID] = set()

    def stop(self) -> None:
        if self.console.is_terminal:
            super().stop()
            return
        # Off a terminal rich would print every bar again, then a blank line: the lines say it all.
        self.live.transient = True
        self.live.stop()

    def update(self, task_id: TaskID, **kwargs: Any) -> None:  # type: ignore[override]
        super().update(task_id, **kwargs)
        self._log(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._log(task_id)

    def _log(self, task_id: TaskID) -> None:
        if self.disable or self.console.is_terminal:
            return
        task = self._tasks[task_id]
        now = time.monotonic()
        finished_now = task.finished and task_id not in self._finished
        last = self._logged.get(task_id)
        if not finished_now and last is not None and now - last < self.every_s:
            return  # the first update always logs: monotonic time may start near zero at boot
        if task.finished:
            self._finished.add(task_id)
        self._logged[task_id] = now
        self.console.print(progress_line(task), highlight=False, soft_wrap=True)
