"""Small real files for the file-text tests, made with the libraries that make such files.

PDFs come from reportlab (a text layer as a word processor writes it; a page that is only an
image, as a scanner writes it; RC4 encryption with a user password), DOCX from python-docx.
Nothing here writes PDF syntax by hand, so pypdf reads what real producers emit.
"""

from __future__ import annotations

from io import BytesIO

import docx
from PIL import Image, ImageDraw
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas


def pdf_with_text(pages: list[list[str]], *, encrypt: str | None = None) -> bytes:
    """A PDF with one page per list of lines, written as text."""
    out = BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, encrypt=encrypt, invariant=True)
    for lines in pages:
        text = pdf.beginText(72, 770)
        text.setFont("Helvetica", 11)
        for line in lines:
            text.textLine(line)
        pdf.drawText(text)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def scanned_pdf(pages: int = 2) -> bytes:
    """A PDF whose pages are only images of text, with no text layer: what a scanner makes."""
    image = Image.new("L", (620, 200), color=255)
    ImageDraw.Draw(image).text((20, 80), "Geachte voorzitter, hierbij ontvangt u de brief.", fill=0)
    out = BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=True)
    for _ in range(pages):
        pdf.drawImage(ImageReader(image), 40, 500, width=520, height=170)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def docx_file(heading: str, paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    document = docx.Document()
    document.add_heading(heading, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = BytesIO()
    document.save(out)
    return out.getvalue()
