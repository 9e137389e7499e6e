"""Shared fixtures: tiny random-weight models built once per session, and an isolated cache.

Every test gets its own ``STEERLAB_HOME`` so nothing touches the user's cache and tests cannot
see each other's models. Slow tests (real embedded models) share one session-wide home so each
model is pulled once per run.

Request-log tests run on SQLite and on a real PostgreSQL server (``log_url``); each PostgreSQL
test gets a fresh schema, so no test sees another's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
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


# Releases over real saved results (tests/test_release.py, tests/test_serving.py).


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory, tiny_chat_dir: Path) -> Path:
    """A task, a registered adapter and one saved evaluation of three candidates (one tuned)."""
    from steerlab.candidate import Candidate, FewShot
    from steerlab.data.check import check_data
    from steerlab.data.dataset import load_dataset
    from steerlab.evaluation.evaluate import evaluate
    from steerlab.models.local import TransformersModel
    from steerlab.prompts import load_template
    from steerlab.task import load_task
    from steerlab.tuning.config import TrainConfig
    from steerlab.tuning.examples import encode_splits
    from steerlab.tuning.registry import register
    from steerlab.tuning.trainer import train
    from test_runner import make_task

    root = tmp_path_factory.mktemp("release")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STEERLAB_HOME", str(root / "home"))
        task = load_task(make_task(root / "task", rows=45))
        workspace = root / "ws"
        check_data(task, workspace=workspace)
        dataset = load_dataset(workspace, task.name)
        template = load_template("classify")
        # Named by its folder, as a candidate names it, so the release resolves and hashes it.
        model = TransformersModel(tiny_chat_dir, name=str(tiny_chat_dir), dtype="float32")
        train_set, dev_set = encode_splits(model, task, template, dataset)
        config = TrainConfig(rank=4, alpha=8, epochs=1, max_steps=2, batch_size=8, precision="float32")
        result = train(model, train_set, root / "run", config, dev_set=dev_set)
        adapter = register(
            workspace,
            result,
            base_model=model,
            task_name=task.name,
            dataset_version=dataset.version,
            template=template,
        )
        evaluate(
            task,
            [
                Candidate(name="zero", model=str(tiny_chat_dir)),
                Candidate(name="two-shot", model=str(tiny_chat_dir), few_shot=FewShot(strategy="fixed", k=2)),
                Candidate(name="tuned", model=str(tiny_chat_dir), adapter=adapter.id),
            ],
            workspace=workspace,
            limit=6,
        )
    return root


@pytest.fixture
def space(measured: Path, tmp_path: Path):
    """A private copy of the measured task and workspace (tests promote, roll back and tamper)."""
    import shutil

    from steerlab.task import load_task

    shutil.copytree(measured / "task", tmp_path / "task")
    shutil.copytree(measured / "ws", tmp_path / "ws")
    return load_task(tmp_path / "task"), tmp_path / "ws"


# The request log on both databases (tests/test_requestlog.py, tests/test_feedback.py).


@pytest.fixture(params=["sqlite", "postgres"])
def log_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The ``url`` for ``RequestLog.for_workspace(workspace, url)``: None (the workspace's SQLite
    file) or a PostgreSQL URL whose search path is a schema made for this test and dropped after.

    PostgreSQL needs ``STEERLAB_TEST_POSTGRES_URL`` (``.ci/postgres start DIR`` prints one); without
    it the case is skipped, unless ``STEERLAB_REQUIRE_POSTGRES=1`` (CI), where it fails instead:
    a CI run that silently skipped the server would prove nothing about it.
    """
    if request.param == "sqlite":
        yield None
        return
    server = os.environ.get("STEERLAB_TEST_POSTGRES_URL")
    if not server:
        if os.environ.get("STEERLAB_REQUIRE_POSTGRES") == "1":
            pytest.fail("STEERLAB_REQUIRE_POSTGRES=1 but STEERLAB_TEST_POSTGRES_URL is not set")
        pytest.skip(
            "no PostgreSQL server: set STEERLAB_TEST_POSTGRES_URL (.ci/postgres start DIR prints one)"
        )
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in server else "?"
    yield f"{server}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
