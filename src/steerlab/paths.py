"""Where steerlab keeps things on disk.

One root (``STEERLAB_HOME``, default ``~/.cache/steerlab``) so that a user can see, move or
delete everything steerlab wrote, and tests can point it at a temporary directory.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["home", "models_dir"]


def home() -> Path:
    """The steerlab cache root; created on first use."""
    root = Path(os.environ.get("STEERLAB_HOME") or Path.home() / ".cache" / "steerlab").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def models_dir() -> Path:
    """Converted model directories, one per catalog name or GGUF hash."""
    path = home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path
