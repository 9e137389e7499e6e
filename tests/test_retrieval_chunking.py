"""Chunking: exact offsets, sections never crossed, bounded overlap at word boundaries."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest

from steerlab.retrieval.chunking import Chunk, chunk_document, slugify
from steerlab.retrieval.documents import Document, markdown_headings


def doc(text: str, doc_id: str = "policies/returns") -> Document:
    return Document(
        id=doc_id, title="Returns", source=f"{doc_id}.md", format="markdown", text=text, sha256="0" * 64
    )


def check(document: Document, chunks: list[Chunk], size: int, overlap: int) -> None:
    """The invariants every chunking must satisfy."""
    text = document.text
    headings = markdown_headings(text)
    assert [c.id for c in chunks] == [f"{document.id}:{n}" for n in range(len(chunks))]
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text and chunk.text == chunk.text.strip()
        assert len(chunk.text) <= size
        assert (chunk.doc_id, chunk.title, chunk.source) == (document.id, document.title, document.source)
        # Never crosses a heading: a heading line can only open a chunk.
        assert not any(chunk.start < h.start < chunk.end for h in headings)
        above = [h for h in headings if h.start <= chunk.start]
        if above:
            assert chunk.passage == f"{document.id}#{slugify(above[-1].title)}"
            assert chunk.section.split(" > ")[-1] == above[-1].title
        else:
            assert (chunk.passage, chunk.section) == (document.id, "")
    for previous, chunk in pairwise(chunks):
        assert chunk.start > previous.start and chunk.end > previous.end
        if chunk.section == previous.section and chunk.passage == previous.passage:
            assert chunk.start >= previous.end - overlap
            if chunk.start < previous.end:
                assert text[chunk.start - 1].isspace(), "overlap must start at a word boundary"
        else:
            assert chunk.start >= previous.end
    # Nothing is lost: every non-space character outside heading-only sections is in a chunk.
    covered = [False] * len(text)
    for chunk in chunks:
        covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
    heading_only = set()
    for index, heading in enumerate(headings):
        following = headings[index + 1].start if index + 1 < len(headings) else len(text)
        if not text[heading.end : following].strip():
            heading_only.update(range(heading.start, heading.end))
    missing = [
        i for i, ch in enumerate(text) if not ch.isspace() and not covered[i] and i not in heading_only
    ]
    assert not missing, f"uncovered text at {missing[:5]}: {text[missing[0] : missing[0] + 40]!r}"


SENTENCES = [
    "Kayaks may be returned within fourteen days.",
    "A restocking fee of $65 applies to every boat.",
    "Boats cannot be mailed back to us?",
    "Bring the receipt!",
    "Refunds go to the original payment method within six business days.",
    "Store credit is valued at the lowest price of the last ninety days.",
]


def paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(rng.choice(SENTENCES) for _ in range(sentences))


def test_sections_passages_and_heading_paths() -> None:
    text = (
        "Preamble before any heading.\n\n"
        "# Returns\n\n"
        "General rules.\n\n"
        "## Kayaks and canoes\n\n"
        "Boats within 14 days.\n\n"
        "### Fees!\n\n"
        "A $65 fee.\n\n"
        "## Footwear & Boots\n\n"
        "Exchange only.\n"
    )
    document = doc(text)
    chunks = chunk_document(document)
    check(document, chunks, 800, 120)
    assert [(c.passage, c.section, c.text) for c in chunks] == [
        ("policies/returns", "", "Preamble before any heading."),
        ("policies/returns#returns", "Returns", "# Returns\n\nGeneral rules."),
        (
            "policies/returns#kayaks-and-canoes",
            "Returns > Kayaks and canoes",
            "## Kayaks and canoes\n\nBoats within 14 days.",
        ),
        ("policies/returns#fees", "Returns > Kayaks and canoes > Fees!", "### Fees!\n\nA $65 fee."),
        (
            "policies/returns#footwear-boots",
            "Returns > Footwear & Boots",
            "## Footwear & Boots\n\nExchange only.",
        ),
    ]


def test_heading_only_sections_make_no_chunk() -> None:
    document = doc("# Returns and Exchanges\n\n## Kayaks\n\nBoats.\n\n## Empty\n\n")
    chunks = chunk_document(document)
    assert [(c.section, c.text) for c in chunks] == [
        ("Returns and Exchanges > Kayaks", "## Kayaks\n\nBoats.")
    ]


def test_hashes_inside_fenced_code_do_not_start_sections() -> None:
    text = (
        "## Setup\n\nRun this:\n\n```bash\n# install the tool\npip install x\n```\n\nDone.\n\n## Next\n\nMore"
    )
    document = doc(text)
    chunks = chunk_document(document)
    check(document, chunks, 800, 120)
    assert [c.section for c in chunks] == ["Setup", "Next"]
    assert "# install the tool" in chunks[0].text


def test_paragraphs_are_packed_and_never_split_when_they_fit() -> None:
    rng = random.Random(1)
    paragraphs = [paragraph(rng, 2) for _ in range(8)]  # each well under 200 characters
    document = doc("## Kayaks\n\n" + "\n\n".join(paragraphs))
    chunks = chunk_document(document, size=250, overlap=40)
    check(document, chunks, 250, 40)
    for text in paragraphs:
        assert any(text in chunk.text for chunk in chunks)
    assert chunks[0].text.startswith("## Kayaks\n\n")
    assert len(chunks) < len(paragraphs)  # packed: some chunks hold two paragraphs


def test_long_paragraph_is_split_at_sentence_ends() -> None:
    rng = random.Random(2)
    document = doc("# Policy\n\n" + paragraph(rng, 40))
    chunks = chunk_document(document, size=300, overlap=60)
    check(document, chunks, 300, 60)
    assert len(chunks) > 5
    assert chunks[0].text.startswith("# Policy\n\n")  # the heading stays with its text
    for chunk in chunks[:-1]:
        assert chunk.text[-1] in ".?!"
    assert chunks[-1].end == len(document.text)


def test_overlap_is_bounded_and_prefers_sentence_starts() -> None:
    rng = random.Random(3)
    document = doc(paragraph(rng, 60))
    chunks = chunk_document(document, size=400, overlap=120)
    check(document, chunks, 400, 120)
    overlaps = [prev.end - chunk.start for prev, chunk in pairwise(chunks)]
    assert all(0 <= length <= 120 for length in overlaps)
    assert sum(length > 0 for length in overlaps) >= len(overlaps) // 2
    sentence_starts = [c for c, o in zip(chunks[1:], overlaps, strict=False) if o > 0]
    assert sum(document.text[c.start - 2] in ".?!" for c in sentence_starts) >= len(sentence_starts) // 2


def test_no_overlap_when_zero() -> None:
    rng = random.Random(4)
    document = doc(paragraph(rng, 30))
    chunks = chunk_document(document, size=200, overlap=0)
    check(document, chunks, 200, 0)
    assert all(chunk.start >= prev.end for prev, chunk in pairwise(chunks))


def test_run_on_sentence_is_split_at_whitespace() -> None:
    words = " ".join(f"word{n}" for n in range(200))
    document = doc(words)
    chunks = chunk_document(document, size=100, overlap=20)
    check(document, chunks, 100, 20)
    for chunk in chunks:
        assert chunk.start == 0 or document.text[chunk.start - 1] == " "
        assert chunk.end == len(document.text) or document.text[chunk.end] == " "


def test_unbreakable_text_is_cut_hard_at_size() -> None:
    document = doc("x" * 250)
    chunks = chunk_document(document, size=100, overlap=20)
    check(document, chunks, 100, 20)
    assert [(c.start, c.end) for c in chunks] == [(0, 100), (100, 200), (200, 250)]


def test_short_lead_in_is_packed_with_a_following_long_paragraph() -> None:
    rng = random.Random(5)
    document = doc("Note:\n\n" + paragraph(rng, 20))
    chunks = chunk_document(document, size=200, overlap=0)
    check(document, chunks, 200, 0)
    assert chunks[0].text.startswith("Note:\n\n") and len(chunks[0].text) > 100


def test_offsets_stay_exact_with_crlf_free_odd_whitespace() -> None:
    text = "\n\n  Lead in.  \n\n\n# Title\n\n\tIndented para.\n\n\n\n## Next\n  \nLast words.   "
    document = doc(text)
    chunks = chunk_document(document, size=50, overlap=10)
    check(document, chunks, 50, 10)
    assert [c.text for c in chunks] == ["Lead in.", "# Title\n\n\tIndented para.", "## Next\n  \nLast words."]


@pytest.mark.parametrize("seed", range(12))
def test_random_documents_keep_every_invariant(seed: int) -> None:
    rng = random.Random(seed)
    parts = []
    for _ in range(rng.randint(1, 12)):
        kind = rng.random()
        if kind < 0.25:
            parts.append(
                "#" * rng.randint(1, 4) + " " + rng.choice(["Kayaks", "Fees & refunds", "Boots", "?!"])
            )
        elif kind < 0.35:
            parts.append("```\n# code comment\n\nmore code\n```")
        elif kind < 0.45:
            parts.append(" ".join("w" * rng.randint(1, 30) for _ in range(rng.randint(1, 60))))
        else:
            parts.append(paragraph(rng, rng.randint(1, 25)))
    document = doc(("\n" * rng.randint(1, 3)).join(parts))
    size = rng.choice([50, 80, 200, 800])
    overlap = rng.randrange(0, size // 2)
    chunks = chunk_document(document, size=size, overlap=overlap)
    check(document, chunks, size, overlap)
    assert chunk_document(document, size=size, overlap=overlap) == chunks  # deterministic


def test_empty_and_whitespace_documents_make_no_chunks() -> None:
    assert chunk_document(doc("   \n\n  ")) == []


@pytest.mark.parametrize(
    ("size", "overlap"),
    [(49, 0), (50, -1), (100, 50), (100, 200), (100.0, 10), (True, 0), (100, 1.5)],
)
def test_bad_parameters_are_refused(size: object, overlap: object) -> None:
    with pytest.raises(ValueError, match=r"chunk (size|overlap)"):
        chunk_document(doc("Some text."), size=size, overlap=overlap)  # type: ignore[arg-type]


def test_boundary_parameters_are_accepted() -> None:
    assert chunk_document(doc("Some text."), size=50, overlap=24)[0].text == "Some text."


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Kayaks & Canoes!", "kayaks-canoes"),
        ("  Returns -- Policy  ", "returns-policy"),
        ("snake_case_name", "snake-case-name"),
        ("Größe und Rückgabe", "größe-und-rückgabe"),
        ("", "section"),
        ("!!!", "section"),
    ],
)
def test_slugify(heading: str, slug: str) -> None:
    assert slugify(heading) == slug
