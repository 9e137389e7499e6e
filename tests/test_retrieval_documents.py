"""Document ingest: every format reads to normalised text, and bad files are skipped with a reason."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from steerlab.errors import DataError
from steerlab.retrieval import documents
from steerlab.retrieval.documents import (
    Document,
    DocumentError,
    file_sha256,
    list_files,
    markdown_headings,
    read_document,
    scan,
)


def write(root: Path, name: str, content: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("latin-1") + b")"


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A minimal, valid PDF with one Helvetica text line per string, built object by object."""
    objects: list[bytes] = []  # object n is objects[n - 1]
    page_ids = [3 + 2 * index for index in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = b" ".join(b"%d 0 R" % page_id for page_id in page_ids)
    objects.append(b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(pages))
    font_id = 3 + 2 * len(pages)
    for page_id, lines in zip(page_ids, pages, strict=True):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font_id, page_id + 1)
        )
        body = b"BT /F1 12 Tf 14 TL 72 720 Td " + b" ".join(_pdf_string(line) + b" Tj T*" for line in lines)
        body += b" ET"
        objects.append(b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    info = b""
    if title is not None:
        objects.append(b"<< /Title " + _pdf_string(title) + b" >>")
        info = b" /Info %d 0 R" % len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    return bytes(out)


# -- formats -------------------------------------------------------------------------------------


def test_markdown_keeps_its_text_and_takes_the_first_h1_as_title(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "policies/returns.md",
        "\ufeffIntro line   \r\n\r\n```\n# not a title\n```\n\n"
        "# Returns Policy #\r\n\r\n## Kayaks\n\nText.\t\n",
    )
    document = read_document(path, tmp_path)
    assert document.id == "policies/returns"
    assert document.source == "policies/returns.md"
    assert document.format == "markdown"
    assert document.title == "Returns Policy"
    assert (
        document.text == "Intro line\n\n```\n# not a title\n```\n\n# Returns Policy #\n\n## Kayaks\n\nText.\n"
    )
    assert document.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == file_sha256(path)


def test_text_file_title_comes_from_the_file_name(tmp_path: Path) -> None:
    document = read_document(
        write(tmp_path, "store_hours-and-days.txt", "Open 9 to 5.\rClosed Sundays."), tmp_path
    )
    assert document.format == "text"
    assert document.title == "Store hours and days"
    assert document.text == "Open 9 to 5.\nClosed Sundays."


def test_html_becomes_markdown_shaped_text(tmp_path: Path) -> None:
    html = """<!DOCTYPE html>
    <html><head><title>  Fernhill   Events </title><style>p { color: red }</style></head>
    <body>
      <nav><a href="/">Home</a> <a href="/shop">Shop</a></nav>
      <script>var tracking = "secret";</script>
      <!-- a comment -->
      <h1>Events &amp; Classes</h1>
      <p>Every store hosts a
         free <b>clinic</b>.</p>
      <h2>Guided<br>Trips</h2>
      <ul><li>Day hikes: $55</li><li>Overnight: <em>$185</em></li></ul>
      <table><tr><th>Class</th><th>Price</th></tr><tr><td>Kayak basics</td><td>$40</td></tr></table>
      <div>Loose text in a div</div>
      <footer>Copyright Fernhill</footer>
    </body></html>"""
    document = read_document(write(tmp_path, "events.htm", html), tmp_path)
    assert document.format == "html"
    assert document.title == "Fernhill Events"
    assert document.text == (
        "# Events & Classes\n\n"
        "Every store hosts a free clinic.\n\n"
        "## Guided Trips\n\n"
        "Day hikes: $55\n\n"
        "Overnight: $185\n\n"
        "Class | Price\n\n"
        "Kayak basics | $40\n\n"
        "Loose text in a div"
    )
    for dropped in ("Home", "tracking", "color", "Copyright", "comment"):
        assert dropped not in document.text


def test_html_title_falls_back_to_the_first_h1(tmp_path: Path) -> None:
    document = read_document(
        write(tmp_path, "page.html", "<h2>Sub</h2><h1>Main <i>Heading</i></h1><p>x</p>"), tmp_path
    )
    assert document.title == "Main Heading"
    assert document.text == "## Sub\n\n# Main Heading\n\nx"


def test_pdf_text_of_every_page_and_metadata_title(tmp_path: Path) -> None:
    data = make_pdf(
        [["Kayak returns within 14 days.", "A restocking fee applies."], ["Second page about canoes."]],
        title="Boat Policy",
    )
    document = read_document(write(tmp_path, "boats.pdf", data), tmp_path)
    assert document.format == "pdf"
    assert document.title == "Boat Policy"
    first, second = document.text.split("\n\n")
    assert "Kayak returns within 14 days." in first
    assert "restocking fee" in first
    assert "canoes" in second


def test_pdf_without_metadata_title_uses_the_file_name(tmp_path: Path) -> None:
    document = read_document(write(tmp_path, "warranty_terms.pdf", make_pdf([["Two years."]])), tmp_path)
    assert document.title == "Warranty terms"


def test_encrypted_pdf_with_empty_user_password_is_read(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(write(tmp_path, "plain.pdf", make_pdf([["Open secret text."]]))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    path = tmp_path / "open.pdf"
    with path.open("wb") as out:
        writer.write(out)
    assert "Open secret text." in read_document(path, tmp_path).text


def test_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(write(tmp_path, "plain.pdf", make_pdf([["Hidden."]]))))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as out:
        writer.write(out)
    with pytest.raises(DocumentError, match="encrypted PDF"):
        read_document(path, tmp_path)


def test_cp1252_text_is_decoded_when_the_guess_is_confident(tmp_path: Path) -> None:
    text = "Café crème brûlée à la française, déjà vu, naïve façade. Où est la gare? " * 5
    document = read_document(write(tmp_path, "menu.txt", text.encode("cp1252")), tmp_path)
    assert document.text == text.rstrip()


def test_utf16_with_bom_is_text_not_binary(tmp_path: Path) -> None:
    document = read_document(write(tmp_path, "notes.txt", "Größe: 42\r\n".encode("utf-16")), tmp_path)
    assert document.text == "Größe: 42\n"


# -- bad files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "corrupt PDF: "),
        ("fake.pdf", b"just some text", "corrupt PDF: "),
        ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("empty.md", b"", "empty: no text"),
        ("blank.txt", b"  \n\n\t\n", "empty: no text"),
        (
            "blank.html",
            b"<html><head><title>T</title></head><body><script>x()</script></body></html>",
            "empty",
        ),
        ("report.docx", b"PK\x03\x04", "unsupported file type .docx"),
        ("Makefile", b"all:\n", "unsupported file type (no suffix)"),
    ],
)
def test_bad_files_raise_document_error_with_a_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(DocumentError) as caught:
        read_document(path, tmp_path)
    assert caught.value.reason.startswith(reason)
    assert "\n" not in caught.value.reason
    assert caught.value.path == path
    assert isinstance(caught.value, DataError)
    assert str(path) in str(caught.value)


def test_image_only_pdf_is_empty(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="empty: no text"):
        read_document(write(tmp_path, "scan.pdf", make_pdf([[]])), tmp_path)


def test_random_bytes_without_nul_are_not_read_as_text(tmp_path: Path) -> None:
    data = random.Random(0).randbytes(4000).replace(b"\x00", b"\x01")
    with pytest.raises(DocumentError) as caught:
        read_document(write(tmp_path, "noise.txt", data), tmp_path)
    assert caught.value.reason in {"unknown encoding", "binary file"}


def test_unsure_encoding_guess_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Guess:
        chaos = 0.5
        could_be_from_charset = ("cp1252",)

    class Matches(list):
        def best(self) -> Guess:
            return self[0]

    monkeypatch.setattr("charset_normalizer.from_bytes", lambda data: Matches([Guess()]))
    with pytest.raises(DocumentError, match="unknown encoding"):
        read_document(write(tmp_path, "odd.txt", b"caf\xe9 \xff\xfe"), tmp_path)


# -- listing and scanning ------------------------------------------------------------------------


def test_list_files_is_sorted_and_skips_hidden(tmp_path: Path) -> None:
    for name in ("b.md", "a/z.md", "a/b/c.txt", ".hidden.md", ".git/config", "a/.cache/x.md", "B.md"):
        write(tmp_path, name, "x")
    relative = [path.relative_to(tmp_path).as_posix() for path in list_files(tmp_path)]
    assert relative == ["B.md", "a/b/c.txt", "a/z.md", "b.md"]
    single = tmp_path / "b.md"
    assert list_files(single) == [single]
    with pytest.raises(DataError, match="no such file"):
        list_files(tmp_path / "missing")


def test_scan_reads_good_files_and_reports_every_bad_one(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "# A\n\nAlpha.")
    write(tmp_path, "a.txt", "Also a.")
    write(tmp_path, "b.pdf", b"%PDF-1.4 garbage")
    write(tmp_path, "c.bin.md", b"\x00\x01\x02")
    write(tmp_path, "d.docx", b"PK")
    write(tmp_path, "e/f.html", "<p>Eff</p>")
    write(tmp_path, "g.md", "")
    result = scan(tmp_path)
    assert [document.id for document in result.documents] == ["a", "e/f"]
    reasons = {skipped.source: skipped.reason for skipped in result.skipped}
    assert reasons.keys() == {"a.txt", "b.pdf", "c.bin.md", "d.docx", "g.md"}
    assert reasons["a.txt"] == "duplicate document id 'a': a.md already provides it"
    assert reasons["b.pdf"].startswith("corrupt PDF: ")
    assert reasons["c.bin.md"] == "binary file"
    assert reasons["d.docx"] == "unsupported file type .docx"
    assert reasons["g.md"] == "empty: no text"
    assert result.unchanged == result.removed == []


def test_a_skipped_file_does_not_claim_its_id(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "")
    write(tmp_path, "a.txt", "The text version.")
    result = scan(tmp_path)
    assert [(d.id, d.source) for d in result.documents] == [("a", "a.txt")]
    assert [s.source for s in result.skipped] == ["a.md"]


def test_scan_of_a_single_file(tmp_path: Path) -> None:
    path = write(tmp_path, "kb/only.md", "Just this.")
    result = scan(path)
    assert [(d.id, d.source) for d in result.documents] == [("only", "only.md")]


def test_incremental_scan_parses_only_new_and_changed_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "same.md", "Same text.")
    write(tmp_path, "changed.md", "Old text.")
    write(tmp_path, "gone.md", "Deleted soon.")
    write(tmp_path, "broken.md", "Fine for now.")
    first = scan(tmp_path)
    known = {document.id: document.sha256 for document in first.documents}
    assert set(known) == {"same", "changed", "gone", "broken"}

    write(tmp_path, "changed.md", "New text.")
    (tmp_path / "gone.md").unlink()
    write(tmp_path, "broken.md", b"\x00binary now")
    write(tmp_path, "new.txt", "Brand new.")
    parsed: list[str] = []
    real_parse = documents._parse

    def spy(path: Path, *args: object) -> Document:
        parsed.append(path.name)
        return real_parse(path, *args)

    monkeypatch.setattr(documents, "_parse", spy)
    second = scan(tmp_path, known=known)
    assert sorted(parsed) == ["broken.md", "changed.md", "new.txt"]
    assert [(d.id, d.text) for d in second.documents] == [("changed", "New text."), ("new", "Brand new.")]
    assert second.unchanged == ["same"]
    assert second.removed == ["broken", "gone"]
    assert [(s.source, s.reason) for s in second.skipped] == [("broken.md", "binary file")]


def test_markdown_headings_respect_fences_and_closing_hashes() -> None:
    # A fence closes only with the same character, at least as long: ``` does not close ````.
    text = "# Top ##\n````python\n# comment\n```\n# still code\n````\n~~~\n## tilde\n~~~\n## Real\n#NoSpace\n"
    headings = markdown_headings(text)
    assert [(h.level, h.title) for h in headings] == [(1, "Top"), (2, "Real")]
    assert all(text[h.start : h.end].lstrip().startswith("#") for h in headings)
    assert text[headings[1].start : headings[1].end] == "## Real"
