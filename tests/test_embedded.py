"""Embedded model assembly: chunk lookup through package metadata, hashes, nothing half-written.

Corruption is simulated with a throwaway distribution installed on ``sys.path`` (a dist-info
folder and its data files), so the real lookup and verification code runs end to end.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from steerlab.errors import IntegrityError, ModelNotFoundError
from steerlab.models.catalog import pull_embedded
from steerlab.models.embedded import EMBEDDED_MODELS, Chunk, EmbeddedSpec
from steerlab.paths import models_dir


def install_fake_distribution(root: Path, name: str, files: dict[str, bytes]) -> None:
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"  # the normalised form the finder expects
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fake_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A two-chunk spec whose bytes can be corrupted after the hashes are pinned."""
    site = tmp_path / "site"
    good = {"fakemodel_chunks/data/part00": b"GGUF" + b"a" * 1000, "fakemodel_chunks/data/part01": b"b" * 777}
    install_fake_distribution(site, "fakemodel-chunks", good)
    monkeypatch.syspath_prepend(str(site))

    def make(whole_sha: str | None = None) -> EmbeddedSpec:
        chunks = tuple(
            Chunk("fakemodel-chunks", relative, sha(data), len(data)) for relative, data in good.items()
        )
        return EmbeddedSpec(
            name="fake-model",
            description="test",
            license="none",
            parameters=0,
            chat_template=False,
            gguf_filename="fake.gguf",
            sha256=whole_sha or sha(b"".join(good.values())),
            chunks=chunks,
        )

    return site, make


def assert_cache_is_clean() -> None:
    leftovers = sorted(p.name for p in models_dir().iterdir())
    assert leftovers == [], f"half-written files left in the cache: {leftovers}"


def test_corrupted_chunk_is_named_and_nothing_is_left(fake_spec) -> None:
    site, make = fake_spec
    spec = make()
    broken = site / "fakemodel_chunks/data/part01"
    broken.write_bytes(b"c" * 777)  # same size, different bytes
    with pytest.raises(IntegrityError) as caught:
        pull_embedded(spec)
    assert str(broken) in caught.value.message
    assert "corrupt" in caught.value.message
    assert "pip install --force-reinstall fakemodel-chunks" in (caught.value.hint or "")
    assert_cache_is_clean()


def test_truncated_chunk_is_named(fake_spec) -> None:
    site, make = fake_spec
    spec = make()
    broken = site / "fakemodel_chunks/data/part00"
    broken.write_bytes(b"GGUF")
    with pytest.raises(IntegrityError, match="expected 1004"):
        pull_embedded(spec)
    assert_cache_is_clean()


def test_wrong_whole_file_hash_names_the_file(fake_spec) -> None:
    _, make = fake_spec
    with pytest.raises(IntegrityError) as caught:
        pull_embedded(make(whole_sha="0" * 64))
    assert "fake.gguf" in caught.value.message and "0" * 64 in caught.value.message
    assert_cache_is_clean()


def test_a_file_that_is_not_a_model_fails_conversion_cleanly(fake_spec) -> None:
    _, make = fake_spec
    with pytest.raises(IntegrityError, match=r"could not read fake\.gguf"):
        pull_embedded(make())  # hashes match, but the bytes are no GGUF model
    assert_cache_is_clean()


def test_missing_package_says_how_to_install() -> None:
    spec = EmbeddedSpec(
        "ghost", "", "", 0, False, "g.gguf", "0" * 64, (Chunk("no-such-dist", "x/y", "0", 1),)
    )
    with pytest.raises(ModelNotFoundError) as caught:
        pull_embedded(spec)
    assert "steerlab[embedded]" in (caught.value.hint or "")
    assert_cache_is_clean()


def test_installed_chunks_match_the_pinned_sizes() -> None:
    """The embedded extra is installed by the test command; its files must be what we pin."""
    for spec in EMBEDDED_MODELS:
        assert spec.size == sum(chunk.size for chunk in spec.chunks)
        for chunk in spec.chunks:
            path = chunk.locate()
            assert path.is_file(), path
            assert path.stat().st_size == chunk.size, path


def test_a_pull_killed_mid_way_is_cleaned_up_by_the_next(tmp_path: Path) -> None:
    """SIGKILL skips ``finally``; the next pull must sweep what the dead process left."""
    import os
    import signal
    import subprocess
    import sys

    from steerlab.models.cache import staging

    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from steerlab.models.cache import staging\n"
            "with staging('victim') as path:\n"
            "    (path / 'half.gguf').write_bytes(b'x' * 1000)\n"
            "    print(path, flush=True)\n"
            "    time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert child.stdout is not None
    left_behind = Path(child.stdout.readline().strip())
    assert left_behind.is_dir()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert left_behind.is_dir()  # the kill left it there
    with staging("next") as fresh:
        assert not left_behind.exists()
        assert fresh.is_dir()
    assert_cache_is_clean()
