"""The source beside the finding: the report's text around the line a finding (or a citation) points at, that
line highlighted; for a PDF, the page with the cell's box drawn on it.

A PDF's table cell is found again with pdfplumber: the table row whose cells read as the report line's cells
(the ingester renders each grid row as one tab-joined line), then the cell at the value's position in that row;
a line of text is found with page.search. The page is rendered locally with pypdfium2 and the box drawn with
Pillow. Nothing here reads a number as a finding: it only shows where the report says what it says.
"""
import io
import re
import tempfile
from pathlib import Path
from typing import Optional

from review.ui.render import esc

CONTEXT = 12  # lines shown above and below the target line
SCALE = 1.6  # page image: pixels per PDF point


def _norm(s) -> str:
    return re.sub(r"\s+", "", str(s or ""))


def cell_of(result, table: Optional[str], selector: dict):
    """The table cell a finding's cell selector names (None if the report has no such cell)."""
    if not table or not selector:
        return None
    for c in getattr(result.tables, table, []) or []:
        if all(getattr(c, k, None) == v for k, v in selector.items()):
            return c
    return None


def target(result, finding) -> tuple[Optional[int], Optional[object]]:
    """(line, cell) to show for a finding: its first cell with a line, else its line or its evidence's."""
    for sel in finding.cells:
        c = cell_of(result, finding.table, sel)
        if c is not None and c.line:
            return c.line, c
    if finding.line:
        return finding.line, None
    line = next((e.line for e in finding.evidence if e.line), None)
    return line, None


def text_html(lines: list[str], line: Optional[int], title: str = "") -> str:
    """The lines around `line`, numbered, that line highlighted (all of it escaped)."""
    if not line or not (1 <= line <= len(lines)):
        return "<div class='nb-muted' id='nb-src-text'>这条审核发现没有指向原文的某一行（例如缺少的行、全文性的检查）。</div>"
    lo, hi = max(1, line - CONTEXT), min(len(lines), line + CONTEXT)
    rows = "".join(f"<div class='{'sel' if n == line else ''}' data-line='{n}'><span class='ln'>{n}</span>"
                   f"{esc(lines[n - 1])}</div>" for n in range(lo, hi + 1))
    head = f"<div class='nb-meta'><b>原文第 {line} 行</b>{('　' + esc(title)) if title else ''}</div>"
    return f"{head}<div class='nb-lines nb-src' id='nb-src-text'>{rows}</div>"


def _find_row(pdf, cells_text: list[str]):
    """(page, table row) of the PDF table row that reads as these cells."""
    want = [_norm(c) for c in cells_text if _norm(c)]
    if not want:
        return None
    for page in pdf.pages:
        for table in page.find_tables():
            for row, texts in zip(table.rows, table.extract()):
                got = [_norm(t) for t in texts if _norm(t)]
                if got == want or (len(want) >= 3 and got[-len(want):] == want):
                    return page, row, texts
    return None


def _box_for(pdf, line_text: str, raw: Optional[str], column_from_end: Optional[int]):
    """(page number, box) of a cell (when raw is given) or of a line of text in the PDF."""
    cells = line_text.split("\t")
    found = _find_row(pdf, cells)
    if found is not None:
        page, row, texts = found
        box = row.bbox
        if raw is not None:
            idx = [i for i, t in enumerate(texts) if _norm(t) == _norm(raw)]
            if column_from_end is not None and len(texts) - column_from_end in idx:
                idx = [len(texts) - column_from_end]
            if idx and row.cells[idx[0]] is not None:
                box = row.cells[idx[0]]
        return page.page_number, box
    probe = max(cells, key=lambda c: len(_norm(c)))[:40].strip()
    if len(_norm(probe)) >= 4:
        for page in pdf.pages:
            hits = page.search(probe, regex=False)
            if hits:
                h = hits[0]
                return page.page_number, (h["x0"], h["top"], h["x1"], h["bottom"])
    return None


def page_image(data: bytes, page_number: int, box, out_dir: Path, name: str) -> Path:
    """The page rendered (pypdfium2) with the box drawn (Pillow), saved as PNG under out_dir."""
    import pypdfium2 as pdfium
    from PIL import ImageDraw
    doc = pdfium.PdfDocument(data)
    try:
        image = doc[page_number - 1].render(scale=SCALE).to_pil().convert("RGB")
    finally:
        doc.close()
    if box is not None:
        x0, top, x1, bottom = (v * SCALE for v in box)
        draw = ImageDraw.Draw(image)
        for w in range(4):
            draw.rectangle((x0 - 3 - w, top - 3 - w, x1 + 3 + w, bottom + 3 + w), outline=(220, 38, 38))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}-p{page_number}.png"
    image.save(path)
    return path


def column_position(result, table: Optional[str], cell) -> Optional[int]:
    """The cell's position counted from the end of its row line (the values close a table row)."""
    if cell is None or table != "applications":
        return None
    cols = []
    for c in result.tables.applications:
        if c.column not in cols:
            cols.append(c.column)
    return len(cols) - cols.index(cell.column) if cell.column in cols else None


def pdf_view(data: bytes, lines: list[str], line: int, cell, result, table, out_dir: Path, name: str):
    """(png path, caption) of the PDF page holding the line (and the cell's box), or (None, why)."""
    import pdfplumber
    text = lines[line - 1] if 1 <= line <= len(lines) else ""
    if not text.strip():
        return None, "原文这一行是空行，无法在页面上定位。"
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            found = _box_for(pdf, text, getattr(cell, "raw", None) if cell is not None else None,
                             column_position(result, table, cell))
    except Exception:  # a PDF pdfplumber cannot re-open: the text view still shows the line
        return None, "无法在 PDF 中重新定位这一行（文件无法再次打开）。"
    if found is None:
        return None, "在 PDF 页面上没有找到这一行（文字可能经过重排），请看左侧原文。"
    page, box = found
    try:
        path = page_image(data, page, box, out_dir, name)
    except Exception:
        return None, "无法渲染 PDF 页面。"
    what = "单元格" if cell is not None else "这一行"
    return path, f"PDF 第 {page} 页，红框为{what}所在位置（原文第 {line} 行）"


def out_dir() -> Path:
    """Where page images go: Gradio serves files from its temporary folder."""
    import os
    base = os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()
    return Path(base) / "nb-pages"
