"""The fast PDF path (PDFium's characters and rules handed to pdfplumber, the table finder only on ruled pages,
a linear dedupe) reads every PDF the tests know exactly as the reference path (pdfminer and pdfplumber's own
steps, as the reader worked before): the same cells, spans and pages, the same text lines."""
from __future__ import annotations

import io
import unicodedata
from difflib import SequenceMatcher
from pathlib import Path

import pytest
from reportlab.pdfgen import canvas

import fixturegen as fg
from review.ingest import load, pdf
from review.models import IngestError
from test_ingest import FONT, _pdf_with, report_pdf  # noqa: F401  (report_pdf is a fixture: the wrapped, split, merged-header PDF)

ROOT = Path(__file__).parent.parent
REAL = ROOT / "fixtures" / "huaian_city_2024.pdf"


def _only_symbols_added(reference: str, fast: str) -> bool:
    """`fast` is `reference` with, at most, symbols added that pdfminer leaves out (a glyph its font has no
    Unicode map for, e.g. ☐ or · in the generated seeds): never a letter, digit or CJK character changed."""
    for op, a0, a1, b0, b1 in SequenceMatcher(None, reference, fast, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if op != "insert":
            return False
        if any(unicodedata.category(ch)[0] in "LN" for ch in fast[b0:b1]):
            return False
    return True


def _compare(data: bytes, name: str) -> None:
    ref = pdf.read(data, name, engine="pdfminer")
    new = pdf.read(data, name)
    assert new.pages == ref.pages
    assert [(g.rows, g.spans, g.page) for g in new.tables] == [(g.rows, g.spans, g.page) for g in ref.tables], name
    for g in new.tables:  # each grid is where its lines say
        assert new.lines[g.line - 1] == "\t".join(t if keep else "" for t, keep in zip(g.rows[0], g.spans[0]))
    if new.lines != ref.lines:
        assert _only_symbols_added("\n".join(ref.lines), "\n".join(new.lines)), name


def test_real_wps_pdf_reads_the_same():
    _compare(REAL.read_bytes(), REAL.name)


@pytest.mark.parametrize("seed", fg.SEEDS)
def test_generated_pdf_reads_the_same(seed, generated):
    path = generated[(seed, "pdf")]
    _compare(path.read_bytes(), path.name)


def test_wrapped_split_and_merged_pdf_reads_the_same(report_pdf):  # noqa: F811
    _compare(report_pdf.read_bytes(), report_pdf.name)
    assert len(pdf.read(report_pdf.read_bytes(), "r.pdf").tables) == 2  # the split table joined, the header


def test_generated_pdfs_really_have_tables(generated):
    """The comparison above means something: every generated PDF has its three tables as real grids."""
    for seed in fg.SEEDS:
        assert len(pdf.read(generated[(seed, "pdf")].read_bytes(), seed).tables) >= 3


def test_page_without_rules_skips_the_table_finder(monkeypatch):
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer)
    c.setFont(FONT, 12)
    c.drawString(72, 700, "一、总体情况")
    c.line(72, 690, 500, 690)  # one rule: not a table
    c.showPage()
    c.save()
    calls = []
    import pdfplumber.page
    real = pdfplumber.page.Page.find_tables
    monkeypatch.setattr(pdfplumber.page.Page, "find_tables", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    parsed = pdf.read(buffer.getvalue(), "x.pdf")
    assert parsed.lines == ["一、总体情况"] and not parsed.tables and calls == []
    pdf.read(buffer.getvalue(), "x.pdf", engine="pdfminer")
    assert calls == [1]


def test_rotated_page_falls_back_to_pdfminer_and_reads_the_same():
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer)
    c.setPageRotation(90)
    c.setFont(FONT, 12)
    c.drawString(72, 700, "二、主动公开政府信息情况")
    c.showPage()
    c.save()
    data = buffer.getvalue()
    assert pdf.read(data, "r.pdf").lines == pdf.read(data, "r.pdf", engine="pdfminer").lines != []


@pytest.mark.parametrize("kind, zh", [("rectangle", "OCR"), ("encrypted", "加密")])
def test_unreadable_pdfs_say_the_same(kind, zh):
    with pytest.raises(IngestError) as e:
        load(_pdf_with(kind), name=f"{kind}.pdf")
    assert zh in e.value.zh
