"""Knowledge-base indexes with the real embedded MiniLM, Qdrant local mode and bm25s."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steerlab.retrieval import index as index_module
from steerlab.retrieval.citations import numbered_sources, split_citations
from steerlab.retrieval.index import ChunkSettings, KnowledgeBase, ingest, list_versions
from steerlab.retrieval.metrics import retrieval_scores
from steerlab.testing import KB_DOCS as DOCS
from steerlab.testing import write_kb


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    kb, workspace = write_kb(tmp_path / "kb"), tmp_path / "ws"
    ingest(kb, workspace)
    return kb, workspace


def test_search_finds_the_passage_by_meaning_and_by_keyword(built: tuple[Path, Path]) -> None:
    _, workspace = built
    with KnowledgeBase.open(workspace) as knowledge:
        meaning = knowledge.search("how long do I have to send back a canoe?", k=2, fusion="dense")
        assert meaning[0].chunk.passage == "returns#kayaks-and-canoes"
        keyword = knowledge.search("FERNBAL", k=1, fusion="bm25")
        assert keyword[0].chunk.doc_id == "gift-cards"
        fused = knowledge.search("which cities do orders ship from", k=3)
        assert fused[0].chunk.passage == "shipping#warehouses"
        assert fused[0].dense_rank is not None and fused[0].lexical_rank is not None
        assert [h.score for h in fused] == sorted((h.score for h in fused), reverse=True)


def test_reingest_parses_and_embeds_only_what_changed(built: tuple[Path, Path]) -> None:
    kb, workspace = built
    first = KnowledgeBase.open(workspace).version
    again = ingest(kb, workspace)
    assert again.already_built and again.version == first and again.embedded == 0
    assert sorted(again.unchanged) == ["gift-cards", "returns", "shipping"]

    (kb / "shipping.md").write_text(DOCS["shipping.md"] + "\n## Pickup\n\nPickup is free at every store.\n")
    (kb / "gift-cards.txt").unlink()
    changed = ingest(kb, workspace)
    assert changed.version != first
    assert changed.parsed == ["shipping"] and changed.removed == ["gift-cards"]
    assert changed.embedded == 1  # only the new Pickup chunk; unchanged chunk texts come from the cache
    assert KnowledgeBase.open(workspace).version == changed.version
    assert [m["version"] for m in list_versions(workspace)] == [first, changed.version]
    old = KnowledgeBase.open(workspace, version=first)
    assert any(c.doc_id == "gift-cards" for c in old.chunks)  # old versions stay searchable


def test_bad_documents_are_skipped_by_name(tmp_path: Path) -> None:
    bad = {
        "broken.pdf": b"%PDF-1.4\n1 0 obj<<>>\ngarbage without xref",
        "image.md": bytes(range(256)) * 4,
        "empty.txt": b"   \n",
        "notes.docx": b"PK\x03\x04",
    }
    kb = write_kb(tmp_path / "kb", {**DOCS, **bad})
    report = ingest(kb, tmp_path / "ws")
    skipped = {s.source: s.reason for s in report.skipped}
    assert set(skipped) == set(bad)
    assert "PDF" in skipped["broken.pdf"] and "empty" in skipped["empty.txt"]
    assert report.documents == 3
    manifest = json.loads((report.path / "manifest.json").read_text())
    assert {s["source"] for s in manifest["skipped"]} == set(bad)


def test_a_failed_build_leaves_the_previous_index_current(
    built: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    kb, workspace = built
    before = KnowledgeBase.open(workspace).version
    (kb / "returns.md").write_text(DOCS["returns.md"] + "\n## Tents\n\nTents have 90 days.\n")

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(index_module, "_fill_collection", crash)
    with pytest.raises(OSError, match="disk full"):
        ingest(kb, workspace)
    versions = workspace / "kb" / "default" / "versions"
    assert [p.name for p in versions.iterdir()] == [before]  # no half-written version, no staging
    assert KnowledgeBase.open(workspace).version == before


def test_an_interrupted_ingest_resumes_without_embedding_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steerlab.embeddings import default_embedder

    real = default_embedder()
    calls: list[int] = []

    class Flaky:
        def encode(self, texts: list[str]):
            if calls:
                raise KeyboardInterrupt  # killed after the first batch was written
            calls.append(len(texts))
            return real.encode(texts)

    monkeypatch.setattr(index_module, "EMBED_BATCH", 2)
    kb = write_kb(tmp_path / "kb")
    with pytest.raises(KeyboardInterrupt):
        ingest(kb, tmp_path / "ws", embedder=Flaky())
    resumed = ingest(kb, tmp_path / "ws", embedder=real)
    assert resumed.embedded == resumed.chunks - 2


def test_chunk_settings_change_the_version(built: tuple[Path, Path]) -> None:
    kb, workspace = built
    first = KnowledgeBase.open(workspace).version
    other = ingest(kb, workspace, settings=ChunkSettings(size=60, overlap=10))
    assert other.version != first and other.chunks > 5


def test_citations_map_numbers_back_to_chunks(built: tuple[Path, Path]) -> None:
    _, workspace = built
    with KnowledgeBase.open(workspace) as knowledge:
        hits = knowledge.search("boat return fee", k=3)
    sources = numbered_sources(hits)
    assert [number for number, _ in sources] == ["1", "2", "3"]
    assert sources[0][1].startswith("(Returns")
    text, cited = split_citations("A $65 fee applies [1]. See also [2, 1] and [9].", hits)
    assert text == "A $65 fee applies. See also and."
    assert cited == [hits[0].chunk.id, hits[1].chunk.id]


def test_retrieval_scores_on_a_known_example() -> None:
    retrieved = [["a", "b", "c"], ["x", "a", "y"], ["x", "y", "z"], ["q"]]
    gold = [["a"], ["a"], ["a"], []]  # the last question has no gold passage: not scored
    scores = retrieval_scores(retrieved, gold, k=3)
    assert scores.questions == 3
    assert scores.hit_rate[0] == pytest.approx(2 / 3)
    assert scores.mrr[0] == pytest.approx((1 + 0.5 + 0) / 3)
    assert scores.context_precision[0] == pytest.approx((1 / 3 + 1 / 3 + 0) / 3)
    assert scores.hit_rate[1] <= scores.hit_rate[0] <= scores.hit_rate[2]
