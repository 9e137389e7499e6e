"""Retrieval: ingest a knowledge base, cut it into citable chunks, and rank them for a query."""

from steerlab.retrieval.chunking import Chunk, chunk_document, slugify
from steerlab.retrieval.documents import (
    SUPPORTED_SUFFIXES,
    Document,
    DocumentError,
    Heading,
    Scan,
    SkippedFile,
    file_sha256,
    list_files,
    markdown_headings,
    read_document,
    scan,
)

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Chunk",
    "Document",
    "DocumentError",
    "Heading",
    "Scan",
    "SkippedFile",
    "chunk_document",
    "file_sha256",
    "list_files",
    "markdown_headings",
    "read_document",
    "scan",
    "slugify",
]
