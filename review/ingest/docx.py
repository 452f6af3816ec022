"""DOCX: the body in document order; paragraphs give lines, tables give expanded grids
(w:gridSpan horizontally, w:vMerge vertically)."""
from __future__ import annotations

import io
import zipfile

import docx
from docx.oxml.ns import nsmap, qn
from docx.text.paragraph import Paragraph

from review.models import IngestError

from . import limits
from ._common import Parsed, clean, make_grid

_P, _TBL, _TR, _TC = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc")
_VAL = qn("w:val")
_NS = {"w": nsmap["w"]}


def read(data: bytes, name: str) -> Parsed:
    _check_package(data, name)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise IngestError(
            f"DOCX 文件已损坏，无法打开（{type(exc).__name__}）："
            "请用 Word 或 WPS 打开后重新另存为 .docx",
            f"The DOCX file is corrupt and cannot be opened ({type(exc).__name__}): "
            "open it in Word or WPS and save it again as .docx",
            source=name,
        ) from exc
    body = document.element.body
    # counted in C before any Python object per paragraph or cell is made
    limits.check_lines(int(body.xpath("count(.//w:p)")))
    limits.check_cells(int(body.xpath("count(.//w:tc)")))
    out = Parsed()
    max_lines = limits.current().max_lines
    for block in _blocks(document.element.body):
        limits.tick()
        if len(out.lines) > max_lines:
            limits.check_lines(len(out.lines))
        if block.tag == _P:
            for line in Paragraph(block, None).text.split("\n"):
                out.add_line(line)
        else:
            out.add_grid(*_grid(block))
    return out


def _check_package(data: bytes, name: str) -> None:
    """A .docx is a zip holding word/document.xml; say plainly when it is not."""
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise IngestError(
            "该文件是加密的 Word 文档或旧版 .doc 格式："
            "请解除密码，或用 Word/WPS 另存为 .docx 或 .pdf",
            "The file is a password-protected Word document or an old .doc: remove the password, "
            "or save it as .docx or .pdf in Word/WPS",
            source=name,
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            has_body = "word/document.xml" in package.namelist()
            limits.check_zip(package.infolist())  # sizes and ratios, before anything is decompressed
            if has_body:  # paragraphs and cells counted in the bytes, before the XML tree is built
                body = package.read("word/document.xml")
                limits.check_lines(sum(body.count(t) for t in (b"<w:p>", b"<w:p ", b"<w:p/>")))
                limits.check_cells(sum(body.count(t) for t in (b"<w:tc>", b"<w:tc ", b"<w:tc/>")))
    except zipfile.BadZipFile:
        has_body = None
    if not has_body:
        raise IngestError(
            "文件不是有效的 Word（.docx）文档"
            + ("（压缩包中没有 word/document.xml）" if has_body is False else "（不是 zip 格式）")
            + "：请用 Word 或 WPS 打开后重新另存为 .docx",
            "The file is not a valid Word (.docx) document"
            + (" (the zip has no word/document.xml)" if has_body is False else " (not a zip file)")
            + ": open it in Word or WPS and save it again as .docx",
            source=name,
        )


def _blocks(parent):
    """Paragraphs and tables of the body, looking through wrappers (content controls...)."""
    for child in parent.iterchildren():
        if child.tag in (_P, _TBL):
            yield child
        else:
            yield from _blocks(child)


def _grid(tbl) -> tuple[list[list[str]], list[list[bool]]]:
    placed: list[list] = []  # [row, column, rows, columns, text], rows grown by vMerge
    open_cells: dict[int, list] = {}  # start column -> the placed cell a vMerge may continue
    n_rows = n_cols = 0
    budget = limits.CellBudget()
    for r, tr in enumerate(tbl.iterchildren(_TR)):
        limits.tick()
        c = limits.span(_prop_int(tr, "w:trPr/w:gridBefore", 0))
        for tc in tr.iterchildren(_TC):
            width = max(1, limits.span(_prop_int(tc, "w:tcPr/w:gridSpan", 1)))
            budget.take(width)
            above = open_cells.get(c)
            if _continues(tc) and above is not None and above[0] + above[2] == r:
                above[2] += 1
            else:
                open_cells[c] = [r, c, 1, width, _cell_text(tc)]
                placed.append(open_cells[c])
            c += width
        n_rows, n_cols = r + 1, max(n_cols, c)
    limits.check_table(n_rows, n_cols)  # before the grid is built: rows x columns bounded
    return make_grid([tuple(cell) for cell in placed], n_rows, n_cols)


def _prop_int(element, path: str, default: int) -> int:
    """The integer w:val of the property at `path`; `default` when missing, unreadable or lower."""
    found = element.find(path, _NS)
    try:
        return max(int(found.get(_VAL)), default)
    except (AttributeError, TypeError, ValueError):
        return default


def _continues(tc) -> bool:
    """w:vMerge without val="restart" continues the merged cell above."""
    merge = tc.find("w:tcPr/w:vMerge", _NS)
    return merge is not None and merge.get(_VAL, "continue") == "continue"


def _cell_text(tc) -> str:
    """All paragraphs of the cell, nested tables included, collapsed into one line."""
    return clean("\n".join(Paragraph(p, None).text for p in tc.iter(_P)))
