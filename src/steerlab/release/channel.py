"""Which release of a task is live: promote, roll back, and the pointer a server polls.

``WORKSPACE/releases/channels/TASK.json`` holds the active release id, a generation counter and
the history of every promote and rollback. It is small and replaced in one rename, so a server
can re-read it on every request or poll it (or its mtime) and never see half a file; the
generation rises by one with every change, so "did anything change?" is one integer compare,
and the server switches release without a restart.

Rollback undoes the last promotion: the history replays as a stack (promote pushes, rollback
pops), so promote A, promote B, rollback returns to A, and a second rollback finds nothing before
A and says so instead of guessing. Promoting the release already active changes nothing (no new
generation, so servers do not reload). Both re-check every pin of the target first
(:func:`~steerlab.release.record.verify_release`): rolling back to a release whose adapter has
been overwritten would trade one incident for another.

A canary (A/B split) sends a share of the traffic to a second release while the active one keeps
the rest: ``canary`` holds its id and weight. Promoting or rolling back ends the experiment (the
canary is cleared), since the comparison was against the release that is no longer primary;
promoting the canary itself is how it graduates.

Changes take an exclusive lock on ``releases/.lock`` so two concurrent promotions cannot both
read generation N and write N+1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steerlab.atomic import atomic_write_text
from steerlab.errors import ConfigError, IntegrityError
from steerlab.release.record import Release, load_release, locked, now_iso, releases_dir, verify_release

if TYPE_CHECKING:
    from steerlab.task import Task

__all__ = [
    "ChannelState",
    "active_release",
    "active_state",
    "channel_path",
    "promote",
    "rollback",
    "set_canary",
]

CHANNELS = "channels"
CHANNEL_FORMAT = 1


@dataclass(frozen=True)
class ChannelState:
    """A task's channel: the active release (None before the first promotion) and its history."""

    task: str
    active: str | None
    generation: int
    updated: str | None
    history: tuple[dict[str, Any], ...]
    canary: dict[str, Any] | None = None
    """``{"id": release id, "weight": share of requests in (0, 1)}`` while an A/B split runs."""

    @property
    def previous(self) -> str | None:
        """The release a rollback would return to."""
        stack = _stack(self.history)
        return stack[-2] if len(stack) >= 2 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CHANNEL_FORMAT,
            "task": self.task,
            "active": self.active,
            "generation": self.generation,
            "updated": self.updated,
            "history": list(self.history),
            "canary": self.canary,
        }


def _stack(history: tuple[dict[str, Any], ...]) -> list[str]:
    stack: list[str] = []
    for event in history:
        if event["action"] == "promote":
            stack.append(event["id"])
        elif event["action"] == "rollback" and stack:
            stack.pop()
    return stack


def channel_path(workspace: str | Path, task_name: str) -> Path:
    return releases_dir(workspace) / CHANNELS / f"{task_name}.json"


def active_state(workspace: str | Path, task_name: str) -> ChannelState:
    """The channel as it is now: one small file read, cheap enough for a server to poll."""
    path = channel_path(workspace, task_name)
    if not path.is_file():
        return ChannelState(task_name, None, 0, None, ())
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ChannelState(
            task_name,
            data["active"],
            int(data["generation"]),
            data["updated"],
            tuple(data["history"]),
            data.get("canary"),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise IntegrityError(f"cannot read the release channel {path}: {error}", path=path) from error


def active_release(workspace: str | Path, task_name: str) -> Release | None:
    """The active release's record (its id checked against its content), or None if none is.

    Pins are not re-hashed here; they were when it was promoted.
    """
    state = active_state(workspace, task_name)
    return load_release(workspace, state.active) if state.active else None


def _write(
    workspace: str | Path,
    state: ChannelState,
    event: dict[str, Any],
    *,
    active: str | None = None,
    canary: dict[str, Any] | None = None,
) -> ChannelState:
    """Append ``event``; ``active`` defaults to the event's release, and the canary is cleared
    unless one is given."""
    now = now_iso()
    generation = state.generation + 1
    new = ChannelState(
        state.task,
        active or event["id"],
        generation,
        now,
        (*state.history, {"generation": generation, "at": now, **event}),
        canary,
    )
    atomic_write_text(
        channel_path(workspace, state.task), json.dumps(new.to_dict(), indent=1, ensure_ascii=False)
    )
    from steerlab.release.changelog import write_changelog

    write_changelog(workspace)
    return new


def promote(workspace: str | Path, task: Task, release_id: str, *, note: str = "") -> ChannelState:
    """Make ``release_id`` (or a unique prefix of it) the task's active release, pins verified."""
    release = load_release(workspace, release_id)
    verify_release(workspace, release, task)
    with locked(workspace):
        state = active_state(workspace, task.name)
        if state.active == release.id and state.canary is None:
            return state
        event = {"action": "promote", "id": release.id, "from": state.active, "note": note}
        return _write(workspace, state, event)


def rollback(workspace: str | Path, task: Task, *, note: str = "") -> ChannelState:
    """Return to the release that was active before the last promotion, pins verified."""
    with locked(workspace):
        state = active_state(workspace, task.name)
        target = state.previous
        if target is None:
            where = channel_path(workspace, task.name)
            if state.active is None:
                raise ConfigError(
                    f"task {task.name!r} has no active release to roll back from",
                    hint="promote one with `steerlab release promote TASK_DIR ID`",
                    path=where,
                )
            raise ConfigError(
                f"nothing to roll back to: {state.active} is the first release promoted for "
                f"{task.name!r} (history in {where})",
                hint="promote another release instead",
                path=where,
            )
        verify_release(workspace, load_release(workspace, target), task)
        event = {"action": "rollback", "id": target, "from": state.active, "note": note}
        return _write(workspace, state, event)


def set_canary(
    workspace: str | Path, task: Task, release_id: str | None, *, weight: float = 0.1, note: str = ""
) -> ChannelState:
    """Send ``weight`` of the traffic to ``release_id`` (pins verified) beside the active release;
    ``None`` ends the split and sends everything back to the active release."""
    with locked(workspace):
        state = active_state(workspace, task.name)
        if state.active is None:
            raise ConfigError(
                f"task {task.name!r} has no active release to split traffic with",
                hint="promote one first: `steerlab release promote TASK_DIR ID`",
            )
        if release_id is None:
            if state.canary is None:
                return state
            event = {"action": "canary-stop", "id": state.canary["id"], "note": note}
            return _write(workspace, state, event, active=state.active)
        if not 0 < weight < 1:
            raise ConfigError(f"a canary weight is a share of traffic strictly between 0 and 1, not {weight}")
        release = load_release(workspace, release_id)
        if release.id == state.active:
            raise ConfigError(f"{release.id} is the active release already; a canary is a different one")
        verify_release(workspace, release, task)
        canary = {"id": release.id, "weight": weight}
        if state.canary == canary:
            return state
        event = {"action": "canary", "id": release.id, "weight": weight, "note": note}
        return _write(workspace, state, event, active=state.active, canary=canary)
