"""Text from the files parliamentary documents come as: PDF (pypdf) and DOCX (python-docx).

A scan without a text layer is not an error but a fact worth keeping: the result says
``needs_ocr`` and carries no text, so the document is still stored (and alertable) on its
metadata. An encrypted or broken file raises ``FileEncrypted`` or ``FileCorrupt``; the source
records that code on the document instead of losing it (RELIABILITY C7).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from io import BytesIO

import docx
from docx.table import Table
import pypdf

from monitor.errors import FileCorrupt, FileEncrypted

PDF = "pdf"
DOCX = "docx"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# Fewer letters and digits per page than this is a scanned image or an empty cover sheet: a text
# layer of a real page of prose has hundreds.
MIN_CHARS_PER_PAGE = 25


@dataclass(frozen=True)
class FileText:
    """The text of one file, and what is worth knowing about how it was read."""

    text: str
    format: str  # PDF or DOCX
    pages: int | None = None  # pages in the file (PDF only)
    pages_read: int | None = None  # fewer than ``pages`` when the page cap cut it short
    needs_ocr: bool = False  # no text layer: the text is empty, the file wants OCR

    @property
    def truncated(self) -> bool:
        return self.pages is not None and self.pages_read is not None and self.pages_read < self.pages

    def meta(self) -> dict[str, object]:
        """The facts a Document's ``meta`` keeps about its file."""
        out: dict[str, object] = {"file_format": self.format}
        if self.pages is not None:
            out["file_pages"] = self.pages
        if self.needs_ocr:
            out["needs_ocr"] = True
        if self.truncated:
            out["file_pages_read"] = self.pages_read
        return out


def file_format(content: bytes, content_type: str = "") -> str | None:
    """PDF, DOCX or None, from the bytes first: servers label files application/octet-stream."""
    if content.lstrip()[:5] == b"%PDF-":
        return PDF
    if content[:4] == b"PK\x03\x04" and (content_type == DOCX_TYPE or b"word/document.xml" in content[:65536]):
        return DOCX
    return None


def extract_text(content: bytes, content_type: str = "", *, max_pages: int,
                 max_unpacked_bytes: int) -> FileText | None:
    """The text of a PDF or DOCX file; None for a format this module does not read."""
    fmt = file_format(content, content_type)
    if fmt == PDF:
        return pdf_text(content, max_pages=max_pages)
    if fmt == DOCX:
        return docx_text(content, max_unpacked_bytes=max_unpacked_bytes)
    return None


def document_text(content: bytes, content_type: str = "", *, max_pages: int,
                  max_unpacked_bytes: int) -> tuple[str, str, dict[str, object]]:
    """``(text, text_quality, meta)`` for a Document whose text is this file. A file that cannot
    be read leaves the document on its metadata, with the reason in meta (C7), not an error."""
    try:
        extracted = extract_text(content, content_type, max_pages=max_pages, max_unpacked_bytes=max_unpacked_bytes)
    except (FileEncrypted, FileCorrupt) as exc:
        return "", "metadata", {"file_error": exc.code, "file_error_message": str(exc)}
    if extracted is None:
        return "", "metadata", {"file_error": "file.unsupported", "file_type": content_type}
    return extracted.text, "extracted" if extracted.text else "metadata", extracted.meta()


def pdf_text(content: bytes, *, max_pages: int) -> FileText:
    # A PDF ends with %%EOF; without it the file was cut short in transit or at the source, and
    # pypdf's recovery would hand back the first pages as if they were the whole document.
    if b"%%EOF" not in content[-2048:]:
        raise FileCorrupt("the PDF is truncated (no %%EOF at the end)")
    try:
        reader = pypdf.PdfReader(BytesIO(content), strict=False)
        # Many official PDFs are encrypted only against editing, with an empty user password.
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileEncrypted("the PDF is encrypted with a password")
        total = len(reader.pages)
        texts = [reader.pages[i].extract_text() or "" for i in range(min(total, max_pages))]
    except FileEncrypted:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises anything from KeyError to zlib.error on a broken file
        raise FileCorrupt(f"the PDF cannot be read: {type(exc).__name__}: {exc}") from None
    text = _tidy("\n\n".join(texts))
    read = len(texts)
    if read and sum(ch.isalnum() for ch in text) < MIN_CHARS_PER_PAGE * read:
        return FileText(text="", format=PDF, pages=total, pages_read=read, needs_ocr=True)
    return FileText(text=text, format=PDF, pages=total, pages_read=read)


def docx_text(content: bytes, *, max_unpacked_bytes: int) -> FileText:
    try:
        with zipfile.ZipFile(BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > max_unpacked_bytes:
            raise FileCorrupt(f"the DOCX unpacks to {unpacked} bytes (cap {max_unpacked_bytes})")
        document = docx.Document(BytesIO(content))
        blocks = []
        for block in document.iter_inner_content():
            blocks.extend(_table_rows(block) if isinstance(block, Table) else [block.text.strip()])
    except FileCorrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken zip or XML part surfaces as many exception types
        raise FileCorrupt(f"the DOCX cannot be read: {type(exc).__name__}: {exc}") from None
    return FileText(text="\n\n".join(block for block in blocks if block), format=DOCX)


def _table_rows(table: Table) -> list[str]:
    """A table's text, a row a line, each cell once. python-docx hands out a merged cell at every
    grid position it covers (across a row for gridSpan, down the rows for vMerge); the cell's
    ``<w:tc>`` element is the same at each, so it is read where it is first met."""
    seen: set[object] = set()
    rows = []
    for row in table.rows:
        cells = []
        for cell in row.cells:
            if cell._tc in seen:
                continue
            seen.add(cell._tc)
            cells.append(cell.text.strip())
        rows.append("\t".join(cells))
    return rows


def _tidy(text: str) -> str:
    lines = (line.rstrip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
