"""Releases: a measured candidate frozen with every version it depends on, and which one is live.

A recommendation is only worth shipping if what ships is exactly what was measured. A release
pins the candidate's recipe and fingerprint, the model's content hash, the adapter and its
weights' hash, the prompt template version, the knowledge-base index version, the dataset
version and the evaluation that justified it; the server loads nothing that is not pinned.

On disk, under ``WORKSPACE/releases/``::

    rel-<hash>/                 one release, complete once published, never modified
        release.json            the pins, the evaluation summary, created, note
        evaluation.json         a copy of the results file that justified it
        prompts/NAME.yaml       a copy of the prompt template it renders with
    channels/TASK.json          which release of TASK is active, a generation counter, history
    CHANGELOG.md                generated from the two above; edits are overwritten

Channels are per task because a workspace may be shared by several tasks (``STEERLAB_WORKSPACE``),
as adapters and runs already are. See :mod:`steerlab.release.record` for what is pinned and how
it is checked, and :mod:`steerlab.release.channel` for promote, rollback and what a server polls.
"""

from steerlab.release.channel import (
    ChannelState,
    active_release,
    active_state,
    promote,
    rollback,
    set_canary,
)
from steerlab.release.record import Release, create_release, list_releases, load_release, verify_release

__all__ = [
    "ChannelState",
    "Release",
    "active_release",
    "active_state",
    "create_release",
    "list_releases",
    "load_release",
    "promote",
    "rollback",
    "set_canary",
    "verify_release",
]
