"""Shared fixtures: tiny random-weight models built once per session, and an isolated cache.

Every test gets its own ``STEERLAB_HOME`` so nothing touches the user's cache and tests cannot
see each other's models. Slow tests (real embedded models) share one session-wide home so each
model is pulled once per run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from steerlab.models.local import TransformersModel
from steerlab.testing import build_tiny_model


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread, for modules that train: on a shared 2-core machine, OpenMP threads
    spin-waiting for a descheduled sibling made each step ~16x slower (measured: 36 s vs 2.2 s
    for test_tuning_trainer's run). Use with ``pytestmark = pytest.mark.usefixtures(...)``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def slow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("steerlab-home-slow")


@pytest.fixture(autouse=True)
def _isolated_home(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    if request.node.get_closest_marker("slow"):
        home = request.getfixturevalue("slow_home")
    else:
        home = tmp_path / "steerlab-home"
    monkeypatch.setenv("STEERLAB_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_chat_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-chat") / "model", flavour="chat")


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-base") / "model", flavour="base")


@pytest.fixture(scope="session")
def tiny_chat(tiny_chat_dir: Path) -> TransformersModel:
    # fp32 keeps batched and single results bit-comparable across CPUs.
    return TransformersModel(tiny_chat_dir, name="tiny-chat", dtype="float32", batch_size=4)


@pytest.fixture(scope="session")
def tiny_base(tiny_base_dir: Path) -> TransformersModel:
    return TransformersModel(tiny_base_dir, name="tiny-base", dtype="float32", batch_size=4)
