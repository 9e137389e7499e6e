"""Cut documents into overlapping, citable chunks.

Chunks are what retrieval ranks and what a prompt quotes, so each one should be a coherent piece
of one topic: chunks never cross a heading, prefer to end where a paragraph or sentence ends, and
carry the heading path they sit under. Every chunk records exact character offsets into its
document's text, so a citation can be checked against (and highlighted in) the source.

Neighbouring chunks of a section share up to ``overlap`` characters, so a fact that straddles a
cut is still whole in at least one chunk. Overlap is given up rather than splitting a paragraph
that would otherwise fit in one chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from steerlab.retrieval.documents import Document, markdown_headings

__all__ = ["Chunk", "chunk_document", "slugify"]

MIN_SIZE = 50

# How good a cut is, best first: the rest of the section fits, a paragraph ends, a sentence ends,
# a word ends, or nothing better was found within ``size`` characters.
_FITS, _PARAGRAPH, _SENTENCE, _WORD, _HARD, _IMPOSSIBLE = 4, 3, 2, 1, 0, -1

_BLANK_LINES = re.compile(r"\n\s*\n")
# A cut goes right after sentence punctuation (and any closing quotes or brackets) that is
# followed by whitespace, or at the end of a line.
_SENTENCE_END = re.compile(r"[.?!][\"'\u201d\u2019)\]]*(?=\s)|\S(?=\n)")
_WORD_END = re.compile(r"\S(?=\s)")
_SENTENCE_PUNCT = ".?!\"'\u201d\u2019)]"


@dataclass(frozen=True)
class Chunk:
    """A span of a document: ``document.text[start:end] == text``."""

    id: str
    doc_id: str
    passage: str
    title: str
    section: str
    source: str
    start: int
    end: int
    text: str


def slugify(heading: str) -> str:
    """A heading as a URL-fragment-style slug: ``"Kayaks & Canoes!"`` -> ``"kayaks-canoes"``.

    Letters of any script are kept, so non-English headings get readable passage ids too.
    """
    slug = re.sub(r"[\W_]+", "-", heading.lower()).strip("-")
    return slug or "section"


@dataclass(frozen=True)
class _Section:
    start: int
    end: int
    path: tuple[str, ...]
    heading_end: int | None  # end of the heading line, None for text before the first heading


def _sections(text: str) -> list[_Section]:
    sections: list[_Section] = []
    if not (headings := markdown_headings(text)) or headings[0].start > 0:
        first = headings[0].start if headings else len(text)
        sections.append(_Section(0, first, (), None))
    stack: list[tuple[int, str]] = []
    for index, heading in enumerate(headings):
        while stack and stack[-1][0] >= heading.level:
            stack.pop()
        stack.append((heading.level, heading.title))
        end = headings[index + 1].start if index + 1 < len(headings) else len(text)
        sections.append(_Section(heading.start, end, tuple(title for _, title in stack), heading.end))
    return sections


def _skip_space(text: str, position: int, end: int) -> int:
    while position < end and text[position].isspace():
        position += 1
    return position


def _last_cut(pattern: re.Pattern[str], text: str, start: int, limit: int, after: int) -> int | None:
    """The last match end of ``pattern`` in ``(after, limit]``, searching from ``start``."""
    cut = None
    # One character past the limit so lookaheads can see what follows a cut at the limit.
    for match in pattern.finditer(text, start, limit + 1):
        if after < match.end() <= limit:
            cut = match.end()
    return cut


def _find_cut(text: str, start: int, end: int, size: int, after: int, glued: int | None) -> tuple[int, int]:
    """Where a chunk starting at ``start`` should end, and how good that cut is.

    The cut lies in ``(after, start + size]`` so every chunk brings new text (``text[after]`` is
    the first character not yet in a chunk); ``_IMPOSSIBLE`` when that range is empty. ``glued`` is
    the end of a heading line: a heading is never cut off from the text it introduces.
    """
    limit = start + size
    if limit <= after:
        return after, _IMPOSSIBLE
    if end - start <= size:
        return end, _FITS
    paragraph = None
    for match in _BLANK_LINES.finditer(text, start, limit + 1):
        if after < match.start() and match.start() != glued:
            paragraph = match
    if paragraph is not None:
        # A short lead-in paragraph followed by one too long for any chunk is better packed with
        # that paragraph's first sentences than left as a near-empty chunk of its own.
        following = _BLANK_LINES.search(text, paragraph.end(), end)
        following_end = following.start() if following else end
        if paragraph.start() - start >= size // 4 or following_end - paragraph.end() <= size:
            return paragraph.start(), _PARAGRAPH
    for pattern, quality in ((_SENTENCE_END, _SENTENCE), (_WORD_END, _WORD)):
        cut = _last_cut(pattern, text, start, limit, after)
        if cut is not None:
            return cut, quality
    return limit, _HARD


def _overlap_starts(text: str, low: int, high: int) -> list[int]:
    """Candidate starts for an overlapping chunk in ``[low, high)``: sentence starts, then word
    starts, each earliest (longest overlap) first."""
    sentences, words = [], []
    for position in range(max(low, 1), high):
        if text[position].isspace() or not text[position - 1].isspace():
            continue
        before = position - 1
        while before > 0 and text[before].isspace():
            before -= 1
        gap = text[before + 1 : position]
        if "\n" in gap or (text[before] in _SENTENCE_PUNCT and _ends_sentence(text, before)):
            sentences.append(position)
        else:
            words.append(position)
    return sentences + words


def _ends_sentence(text: str, position: int) -> bool:
    """Whether the closing characters ending at ``position`` include sentence punctuation."""
    while position >= 0 and text[position] in "\"'\u201d\u2019)]":
        position -= 1
    return position >= 0 and text[position] in ".?!"


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _section_spans(text: str, section: _Section, size: int, overlap: int) -> list[tuple[int, int]]:
    start = _skip_space(text, section.start, section.end)
    if section.heading_end is not None and _skip_space(text, section.heading_end, section.end) >= section.end:
        return []  # a heading with nothing under it says nothing a query could be answered from
    if start >= section.end:
        return []
    cut, _ = _find_cut(text, start, section.end, size, start, section.heading_end)
    spans = [_strip(text, start, cut)]
    while True:
        previous_start, previous_end = spans[-1]
        fresh = _skip_space(text, previous_end, section.end)
        if fresh >= section.end:
            return spans
        start, (cut, quality) = fresh, _find_cut(text, fresh, section.end, size, fresh, None)
        if overlap:
            low = max(previous_end - overlap, previous_start + 1)
            for candidate in _overlap_starts(text, low, previous_end):
                candidate_cut, candidate_quality = _find_cut(text, candidate, section.end, size, fresh, None)
                # Overlap only when it costs no cut quality (e.g. it does not split a paragraph
                # that would fit in one chunk without it).
                if candidate_quality >= quality:
                    start, cut = candidate, candidate_cut
                    break
        spans.append(_strip(text, start, cut))


def chunk_document(document: Document, *, size: int = 800, overlap: int = 120) -> list[Chunk]:
    """Cut ``document`` into chunks of at most ``size`` characters, overlapping by up to ``overlap``.

    Output depends only on the text and the two parameters, so re-ingesting an unchanged
    document reproduces the same chunk ids.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < MIN_SIZE:
        raise ValueError(f"chunk size must be an integer of at least {MIN_SIZE} characters, got {size!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < size // 2:
        raise ValueError(
            f"chunk overlap must be an integer from 0 to less than half the chunk size "
            f"({size // 2}), got {overlap!r}"
        )
    text = document.text
    chunks: list[Chunk] = []
    for section in _sections(text):
        passage = f"{document.id}#{slugify(section.path[-1])}" if section.path else document.id
        for start, end in _section_spans(text, section, size, overlap):
            chunks.append(
                Chunk(
                    id=f"{document.id}:{len(chunks)}",
                    doc_id=document.id,
                    passage=passage,
                    title=document.title,
                    section=" > ".join(section.path),
                    source=document.source,
                    start=start,
                    end=end,
                    text=text[start:end],
                )
            )
    return chunks
