"""Retrieved chunks into a prompt, and the answer's citations back to chunk ids.

Sources are numbered [1], [2], ... in the prompt rather than shown with their chunk ids
("returns:3"): a short number is what a small model copies reliably, and the mapping back to
chunk ids is exact because it is this prompt's own list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from steerlab.retrieval.index import Hit

__all__ = ["numbered_sources", "split_citations"]

_MARK = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def numbered_sources(hits: Sequence[Hit]) -> list[tuple[str, str]]:
    """(number, text) per hit, the text headed by its document title and section."""
    sources = []
    for number, hit in enumerate(hits, start=1):
        chunk = hit.chunk
        heading = chunk.section or chunk.title  # the section path starts with the document's title
        sources.append((str(number), f"({heading}) {chunk.text}" if heading else chunk.text))
    return sources


def split_citations(text: str, hits: Sequence[Hit]) -> tuple[str, list[str]]:
    """The answer without its [n] marks, and the chunk ids it cites (in order, no repeats).

    A number outside the source list cites nothing: it is dropped from the text and not counted
    as a citation, so citation precision measures real sources only.
    """
    cited: list[str] = []
    for match in _MARK.finditer(text):
        for number in re.split(r"\s*,\s*", match.group(1)):
            index = int(number) - 1
            if 0 <= index < len(hits) and hits[index].chunk.id not in cited:
                cited.append(hits[index].chunk.id)
    clean = re.sub(r"\s+([.,;:!?])", r"\1", _MARK.sub("", text))
    return " ".join(clean.split()), cited
