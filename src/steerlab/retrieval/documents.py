"""Turn a knowledge-base folder into documents with plain, normalised text.

A knowledge base is whatever folder a user already has: Markdown notes, exported HTML pages,
PDFs, plain text. Every format is reduced to one text shape (Markdown-style ``#`` headings,
paragraphs separated by blank lines, ``\\n`` newlines) so chunking and citation work the same for
all of them. Real folders always hold a few files that cannot be read; those are reported as
skipped, with a reason a user can act on, and never stop the rest of the scan.

Documents are identified by their path relative to the folder, without suffix, so an id stays
stable across re-ingests and reads well in a citation. Each carries the sha256 of its bytes, so a
later ingest can tell which files changed without parsing them again.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from steerlab.errors import DataError
from steerlab.hashing import file_sha256

if TYPE_CHECKING:
    from bs4.element import Tag

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Document",
    "DocumentError",
    "Heading",
    "Scan",
    "SkippedFile",
    "file_sha256",
    "list_files",
    "markdown_headings",
    "read_document",
    "scan",
]

SUPPORTED_SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}

_SNIFF_BYTES = 8192
# charset_normalizer's "chaos" is the share of the decoded text that looks like mojibake; above
# this a guess is more likely to garble the text than to read it.
_MAX_CHAOS = 0.2
# Short legacy-encoded texts decode equally cleanly under several code pages (é is 0xE9 in most of
# them); Windows-1252 is by far the most common source of such files, so among near-equal guesses
# it wins.
_PREFERRED_LEGACY = "cp1252"
_LEGACY_MARGIN = 0.1


class DocumentError(DataError):
    """A file in the knowledge base cannot be turned into a document.

    ``reason`` is the short, one-line explanation that a scan reports for a skipped file.
    """

    def __init__(self, reason: str, *, path: str | Path, hint: str | None = None) -> None:
        self.reason = reason
        super().__init__(reason, path=path, hint=hint)


@dataclass(frozen=True)
class Document:
    """One knowledge-base file, reduced to normalised text."""

    id: str
    title: str
    source: str
    format: str
    text: str
    sha256: str


@dataclass(frozen=True)
class SkippedFile:
    source: str
    reason: str


@dataclass(frozen=True)
class Scan:
    """What a scan found: documents to (re)index, unchanged and removed ids, and skipped files."""

    documents: list[Document] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


class Heading(NamedTuple):
    """An ATX heading line: ``text[start:end]`` is the whole line, without its newline."""

    level: int
    title: str
    start: int
    end: int


_HEADING_LINE = re.compile(r" {0,3}(#{1,6})[ \t]+(.*)")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")


def markdown_headings(text: str) -> list[Heading]:
    """The ATX headings of ``text`` in order, ignoring ``#`` lines inside fenced code blocks.

    Fences matter because code samples in a knowledge base are full of ``# comment`` lines that
    would otherwise cut sections in the middle of a code block.
    """
    headings: list[Heading] = []
    fence: str | None = None
    offset = 0
    for line in text.split("\n"):
        start, offset = offset, offset + len(line) + 1
        fence_match = _FENCE.fullmatch(line)
        if fence is not None:
            # A fence closes with the same character, at least as long, and nothing after it.
            if fence_match and fence_match[1].startswith(fence) and not fence_match[2].strip():
                fence = None
            continue
        if fence_match:
            fence = fence_match[1]
            continue
        heading = _HEADING_LINE.fullmatch(line)
        if heading:
            title = _CLOSING_HASHES.sub("", heading[2]).strip()
            headings.append(Heading(len(heading[1]), title, start, start + len(line)))
    return headings


def _hidden(name: str) -> bool:
    return name.startswith(".")


def list_files(root: Path) -> list[Path]:
    """Every regular file under ``root`` (or ``[root]`` for a file), sorted by relative POSIX path.

    Hidden files and folders are left out: they are editor, VCS and OS droppings (``.git``,
    ``.DS_Store``), never knowledge. Sorting makes ingest order, and so chunk order, reproducible.
    """
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DataError("no such file or folder", path=root, hint="Point at a knowledge-base folder.")
    files: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [name for name in dirs if not _hidden(name)]
        for name in names:
            path = Path(folder, name)
            if not _hidden(name) and path.is_file():
                files.append(path)
    return sorted(files, key=lambda path: path.relative_to(root).as_posix())


def _source(path: Path, root: Path) -> str:
    if path == root or root.is_file():
        return path.name
    return path.relative_to(root).as_posix()


def _document_id(source: str) -> str:
    suffix = Path(source).suffix
    return source[: len(source) - len(suffix)] if suffix else source


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fallback_title(path: Path) -> str:
    words = " ".join(re.sub(r"[-_]+", " ", path.stem).split())
    return words[:1].upper() + words[1:] if words else path.name


def _decode(data: bytes, path: Path) -> str:
    """Bytes to text: UTF-8 first (most files), a confident legacy guess second, else refuse.

    A wrong guess would put mojibake into the index where it silently never matches a query, so
    an unsure guess is a skip, not a best effort.
    """
    from charset_normalizer import from_bytes

    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # UTF-16 with a byte-order mark (Windows "Unicode" text) is text, despite its NUL bytes.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise DocumentError("unknown encoding", path=path) from None
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise DocumentError("binary file", path=path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise DocumentError("binary file", path=path)
    if best.chaos >= _MAX_CHAOS:
        raise DocumentError("unknown encoding", path=path, hint="Save the file as UTF-8.")
    for match in matches:
        if (
            _PREFERRED_LEGACY in match.could_be_from_charset
            and match.chaos < _MAX_CHAOS
            and match.chaos <= best.chaos + _LEGACY_MARGIN
        ):
            return data.decode(_PREFERRED_LEGACY)
    return str(best)


def _tidy(text: str) -> str:
    """One newline convention, no trailing whitespace: offsets then mean the same in every format."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n"))


def _markdown_title(text: str) -> str | None:
    return next((h.title for h in markdown_headings(text) if h.level == 1 and h.title), None)


# Elements whose text is never content a user would ask about.
_HTML_DROP = ("script", "style", "nav", "footer", "head", "noscript", "template")
_HTML_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_HTML_BLOCKS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "caption", "dd", "details", "dialog", "div"),
        *("dl", "dt", "fieldset", "figcaption", "figure", "form", "header", "hr", "li", "main"),
        *("ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul"),
    }
)
_HTML_CELLS = frozenset({"td", "th"})


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _inline_text(node: Tag) -> str:
    """The text of an element on one line: ``<br>`` is a space, inline tags join without one."""
    from bs4.element import NavigableString, PreformattedString, Tag

    parts = []
    for child in node.descendants:
        if isinstance(child, Tag) and child.name == "br":
            parts.append(" ")
        elif isinstance(child, NavigableString) and not isinstance(child, PreformattedString):
            parts.append(str(child))
    return _collapse("".join(parts))


def _html_text(markup: str, path: Path) -> tuple[str, str | None]:
    """HTML to Markdown-shaped text and its title.

    Headings become ``#`` lines so HTML pages get the same sections and passages as Markdown;
    every block element becomes its own paragraph so chunking can pack them.
    """
    from bs4 import BeautifulSoup
    from bs4.element import NavigableString, PreformattedString, Tag

    try:
        soup = BeautifulSoup(markup, "lxml")
    except Exception as exc:  # a parser failure is a property of this file, not a bug here
        raise DocumentError(f"unreadable HTML: {_one_line(exc)}", path=path) from exc
    title = _collapse(soup.title.get_text()) if soup.title is not None else ""
    for tag in soup.find_all(list(_HTML_DROP)):
        tag.decompose()
    if not title and (h1 := soup.find("h1")) is not None:
        title = _inline_text(h1)

    blocks: list[str] = []
    buffer: list[str] = []

    def flush() -> None:
        paragraph = _collapse("".join(buffer))
        if paragraph:
            blocks.append(paragraph)
        buffer.clear()

    # An explicit stack instead of recursion: deeply nested pages must not hit the recursion limit.
    # ``None`` marks the end of a block element.
    stack: list[object] = [soup]
    while stack:
        node = stack.pop()
        if node is None:
            flush()
        elif isinstance(node, PreformattedString):  # comments, doctypes, CDATA
            continue
        elif isinstance(node, NavigableString):
            buffer.append(str(node))
        elif isinstance(node, Tag):
            name = node.name
            children = list(reversed(node.contents))
            if name in _HTML_HEADINGS:
                flush()
                heading = _inline_text(node)
                if heading:
                    blocks.append("#" * _HTML_HEADINGS[name] + " " + heading)
            elif name == "br":
                buffer.append(" ")
            elif name in _HTML_CELLS:
                if _collapse("".join(buffer)):
                    buffer.append(" | ")
                stack.extend(children)
            elif name in _HTML_BLOCKS:
                flush()
                stack.append(None)
                stack.extend(children)
            else:
                stack.extend(children)
    flush()
    return "\n\n".join(blocks), title or None


def _pdf_text(data: bytes, path: Path) -> tuple[str, str | None]:
    """Text of every page, pages separated by a blank line, and the metadata title."""
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise DocumentError(
                "encrypted PDF: needs a password", path=path, hint="Save an unprotected copy."
            )
        title = None
        metadata = reader.metadata
        if metadata is not None and metadata.title:
            title = _collapse(str(metadata.title)) or None
        pages = [page.extract_text() or "" for page in reader.pages]
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files; all mean the same here
        raise DocumentError(f"corrupt PDF: {_one_line(exc)}", path=path) from exc
    return "\n\n".join(page.replace("\x00", "") for page in pages), title


def _parse(path: Path, source: str, fmt: str, data: bytes, digest: str) -> Document:
    title: str | None = None
    if fmt == "pdf":
        text, title = _pdf_text(data, path)
    else:
        text = _decode(data, path)
        if fmt == "html":
            text, title = _html_text(text, path)
    text = _tidy(text)
    if not text.strip():
        reason = "empty: no text (a scanned PDF needs OCR first)" if fmt == "pdf" else "empty: no text"
        raise DocumentError(reason, path=path)
    if fmt == "markdown":
        title = _markdown_title(text)
    return Document(
        id=_document_id(source),
        title=title or _fallback_title(path),
        source=source,
        format=fmt,
        text=text,
        sha256=digest,
    )


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kind = suffix if suffix else "(no suffix)"
        raise DocumentError(
            f"unsupported file type {kind}",
            path=path,
            hint="Supported: " + ", ".join(sorted(SUPPORTED_SUFFIXES)) + ".",
        )
    return SUPPORTED_SUFFIXES[suffix]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read: {_one_line(exc)}", path=path) from exc


def read_document(path: Path, root: Path) -> Document:
    """Read one file of the knowledge base at ``root``; raise ``DocumentError`` if it is unusable."""
    fmt = _format(path)
    data = _read_bytes(path)
    return _parse(path, _source(path, root), fmt, data, hashlib.sha256(data).hexdigest())


def scan(root: Path, *, known: Mapping[str, str] | None = None) -> Scan:
    """Read every document under ``root``, skipping (and reporting) files that cannot be used.

    With ``known`` (document id -> sha256 from a previous ingest) only new and changed files are
    parsed; files whose bytes are unchanged are hashed and listed in ``unchanged``, and known ids
    that no longer yield a document (deleted, renamed, or now unreadable) are listed in ``removed``.
    """
    result = Scan()
    owners: dict[str, str] = {}  # document id -> source of the file that provides it
    for path in list_files(root):
        source = _source(path, root)
        try:
            fmt = _format(path)
            doc_id = _document_id(source)
            if doc_id in owners:
                raise DocumentError(
                    f"duplicate document id {doc_id!r}: {owners[doc_id]} already provides it",
                    path=path,
                    hint="Rename one of the files.",
                )
            data = _read_bytes(path)
            digest = hashlib.sha256(data).hexdigest()
            if known is not None and known.get(doc_id) == digest:
                result.unchanged.append(doc_id)
            else:
                result.documents.append(_parse(path, source, fmt, data, digest))
        except DocumentError as exc:
            result.skipped.append(SkippedFile(source, exc.reason))
            continue
        owners[doc_id] = source
    if known is not None:
        result.removed.extend(sorted(set(known) - owners.keys()))
    return result
