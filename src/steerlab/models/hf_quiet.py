"""Keep transformers' own progress bars and advisory warnings out of steerlab's output.

steerlab shows its own progress for long work; transformers' per-load bars (for a 2-second
load) and warnings aimed at library authors would interleave with it. Restored on exit, so
code around steerlab keeps its own settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["quiet_transformers"]


@contextmanager
def quiet_transformers() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
