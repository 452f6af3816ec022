"""PDF: ruled tables become expanded grids, the text around them becomes lines in reading order; wrapped
paragraph lines are reflowed and tables split across pages are rejoined.

The characters and the ruling lines of each page come from PDFium (pypdfium2, installed with pdfplumber),
several times faster than pdfminer, which parses every content stream in Python; they are handed to pdfplumber
as the page's objects, so its table finder, cell text and text lines work on them unchanged, and the table
finder runs only on pages with at least two horizontal and two vertical rules. A page PDFium cannot place the
way pdfminer does (rotated, or a media box not at the origin), or a file PDFium cannot open, is read by pdfminer
as before (`engine="pdfminer"` reads every page that way: tests/test_pdf_engine.py checks both give the same).
"""
from __future__ import annotations

import ctypes
import io
import math
import re
from dataclasses import dataclass, replace
from typing import Any, Optional, Union

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError

from review.models import IngestError

from . import limits
from ._common import Parsed, Placed, clean, make_grid, wrap_glue

# A bare page number: "3", "- 3 -", "第 3 页", "第3页 共9页", "3/9", "Page 3 of 9".
_PAGE_NUMBER = re.compile(
    r"[-—–－]?\s*\d{1,4}\s*[-—–－]?|第\s*\d+\s*页(\s*[,，/]?\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+"
    r"|page\s*\d+(\s*of\s*\d+)?",
    re.I,
)
_FURNITURE_ZONE = 0.12  # page numbers sit in the top or bottom 12% of the page
# A line that starts a heading or a list item never continues the line before it.
_NEW_ITEM = re.compile(
    r"\s*(?:[一二三四五六七八九十百]+[、.．]|[（(][一二三四五六七八九十百\d]+[）)]"
    r"|\d+[.．、](?!\d)|第[一二三四五六七八九十百\d]+[章节条部分项]|[一二三四五六七八九十]+是"
    r"|[●■◆▲•·*]|附件|注[:：])"
)
_NUMBER = re.compile(r"[-+]?\d[\d,.，]*\s*(%|件|条|个|项|次|人|元|万元|亿元)?")
# A line ending in two space-separated numbers is a row of an unruled table, not prose.
_ROW_END = re.compile(r"[-+]?\d[\d,.]*%?\s+[-+]?\d[\d,.]*%?$")
_EPS = 1.0  # points: tolerance when matching cell edges to grid lines


@dataclass
class _Line:
    text: str
    x0: float
    x1: float
    top: float
    size: float  # the line's height, roughly the font size
    width: float  # the page's width: margins are measured per page size


@dataclass
class _Table:
    rows: list[list[str]]
    spans: list[list[bool]]
    page: int
    last_page: int
    top: float


_Element = Union[_Line, _Table]


def read(data: bytes, name: str, *, engine: str = "pdfium") -> Parsed:
    """`engine`: "pdfium" (the default: PDFium's characters and rules, pdfminer for pages it cannot place) or
    "pdfminer" (every page through pdfminer, as before; the reference the tests compare with)."""
    try:
        pdf = pdfplumber.open(io.BytesIO(data))
    except Exception as exc:
        raise _open_error(exc, name) from exc
    with pdf:
        limits.check_pages(len(pdf.pages))  # before any page is read
        fast = _PdfiumSource.open(data) if engine == "pdfium" else None
        try:
            pages = [_read_page(page, number, fast, reference=engine == "pdfminer")
                     for number, page in enumerate(pdf.pages, 1) if limits.tick() is None]
        except Exception as exc:
            raise _open_error(exc, name) from exc
        finally:
            if fast is not None:
                fast.close()
        out = Parsed(pages=len(pdf.pages))
    for element in _reflow(_join_split_tables(pages)):
        if isinstance(element, _Line):
            out.add_line(element.text)
        else:
            out.add_grid(element.rows, element.spans, element.page)
    return out


def _open_error(exc: Exception, name: str) -> IngestError:
    """Encrypted or corrupt: pdfplumber wraps pdfminer's exception, so look at the cause."""
    cause = exc.__cause__ or (exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc)
    if isinstance(cause, PDFEncryptionError):
        return IngestError(
            "PDF 文件已加密（需要密码）：请解除密码保护后再提交",
            "The PDF is encrypted (password protected): remove the password and try again",
            source=name,
        )
    return IngestError(
        f"PDF 文件已损坏或不是有效的 PDF（{type(cause).__name__}）：请重新导出或下载原文件",
        f"The PDF is corrupt or not a valid PDF ({type(cause).__name__}): export or download it again",
        source=name,
    )


# --------------------------------------------------------------------------- one page

_PDF_LITERAL = re.compile(rb"\((?:\\.|[^\\()])*\)", re.S)
_PDF_HEX = re.compile(rb"<[0-9A-Fa-f\s]+>")
_PDF_INLINE_IMAGE = re.compile(rb"\bBI\b.*?\bID\b.*?\bEI\b", re.S)


def _glyph_estimate(page) -> int:
    """About how many glyphs the page's content streams show: the bytes of their string operands (a hex digit is
    half a byte), read before pdfminer interprets them at some 0.2 ms a glyph. Text inside form XObjects is not
    counted here: the character count after interpretation and the time limit bound it."""
    from pdfminer.pdftypes import resolve1, stream_value
    total = 0
    for ref in getattr(page.page_obj, "contents", None) or []:
        try:
            data = stream_value(resolve1(ref)).get_data()
        except Exception:  # not a stream, or a broken one: pdfminer will say so when it reads the page
            continue
        data = _PDF_INLINE_IMAGE.sub(b"", data)
        total += sum(len(m) - 2 for m in _PDF_LITERAL.findall(data))
        total += sum(len(m) - 2 for m in _PDF_HEX.findall(data)) // 2
    return total


def _dedupe_chars(page):
    """page.dedupe_chars() (the same characters kept, in the same order) in n·log n: pdfplumber orders the kept
    characters with list.index, quadratic — 31 s for a page of 10,000 characters, hours for a hostile page."""
    from itertools import groupby
    from operator import itemgetter

    from pdfplumber.utils import cluster_objects
    chars = page.chars
    where = {id(c): i for i, c in enumerate(chars)}
    key, pos_key = itemgetter("upright", "text", "fontname", "size"), itemgetter("doctop", "x0")
    kept = []
    for _, group in groupby(sorted(chars, key=key), key=key):
        for y_cluster in cluster_objects(list(group), itemgetter("doctop"), 1):
            for x_cluster in cluster_objects(y_cluster, itemgetter("x0"), 1):
                kept.append(min(x_cluster, key=pos_key))
    kept.sort(key=lambda c: where[id(c)])
    out = page.filter(lambda obj: True)
    out._objects = {kind: objs for kind, objs in page.objects.items()}  # as pdfplumber's own dedupe_chars does
    out._objects["char"] = kept
    return out


def _read_page(page, number: int, fast: Optional["_PdfiumSource"] = None, reference: bool = False) -> list[_Element]:
    """The page's tables and text lines, sorted top to bottom, bare page numbers dropped. Characters and rules come
    from PDFium when `fast` can place the page (see _with_objects). `reference`: exactly pdfplumber's own steps
    (its dedupe, the table finder on every page), which the faster ones must equal (tests/test_pdf_engine.py)."""
    limits.check_page_chars(_glyph_estimate(page) // 2, number)  # before pdfminer makes an object per glyph
    page = _with_objects(page, fast, number - 1)
    limits.check_page_chars(len(page.chars), number)  # before the per-character work below
    page = page.dedupe_chars() if reference else _dedupe_chars(page)
    found = [(t.bbox, _expand(t)) for t in page.find_tables()] if reference or _has_rules(page) else []
    tables = [(bbox, grid) for bbox, grid in found if grid]
    boxes = [bbox for bbox, _ in tables]

    def outside_tables(obj) -> bool:
        if obj.get("object_type") != "char":
            return True
        cx, cy = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
        return not any(x0 <= cx <= x1 and top <= cy <= bottom for x0, top, x1, bottom in boxes)

    text_page = page.filter(outside_tables) if boxes else page
    elements: list[_Element] = [
        _Table(rows, spans, number, number, bbox[1]) for bbox, (rows, spans) in tables
    ]
    for line in text_page.extract_text_lines(return_chars=False):
        if not _is_page_number(line, page.height):
            elements.append(_Line(line["text"], line["x0"], line["x1"], line["top"],
                                  line["bottom"] - line["top"], round(page.width)))
    return sorted(elements, key=lambda e: e.top)


def _has_rules(page) -> bool:
    """At least two horizontal and two vertical rules (of pdfplumber's minimum length): a ruled table needs
    them, so a page without them skips the table finder."""
    h = v = 0
    for edge in page.edges:
        if edge["orientation"] == "h" and edge["width"] >= 3:
            h += 1
        elif edge["orientation"] == "v" and edge["height"] >= 3:
            v += 1
        if h >= 2 and v >= 2:
            return True
    return False


def _is_page_number(line: dict, height: float) -> bool:
    zone = height * _FURNITURE_ZONE
    in_margin = line["bottom"] < zone or line["top"] > height - zone
    return in_margin and _PAGE_NUMBER.fullmatch(line["text"].strip()) is not None


def _expand(table) -> Optional[tuple[list[list[str]], list[list[bool]]]]:
    """The table as a full grid. pdfplumber gives a merged cell once (None elsewhere); its bbox
    says exactly which grid rows and columns it covers. A one-cell box (a frame) is no table."""
    cells = table.cells
    if len(cells) < 2:
        return None
    xs = sorted({cell[0] for cell in cells})
    ys = sorted({cell[1] for cell in cells})
    texts = table.extract()  # rows follow ys and columns follow xs
    placed: list[Placed] = []
    for x0, top, x1, bottom in cells:
        r, c = ys.index(top), xs.index(x0)
        n_r = sum(1 for y in ys if top <= y < bottom - _EPS)
        n_c = sum(1 for x in xs if x0 <= x < x1 - _EPS)
        placed.append((r, c, n_r, n_c, clean(texts[r][c] or "", wrapped=True)))
    rows, spans = make_grid(placed, len(ys), len(xs))
    return (rows, spans) if any(any(row) for row in rows) else None


# --------------------------------------------------------------------------- across pages

def _join_split_tables(pages: list[list[_Element]]) -> list[_Element]:
    """Flatten the pages; a table that opens a page and has as many columns as the table that
    closed the previous page is its continuation: one grid."""
    stream: list[_Element] = []
    for elements in pages:
        for i, element in enumerate(elements):
            prev = stream[-1] if stream else None
            if (i == 0 and isinstance(element, _Table) and isinstance(prev, _Table)
                    and prev.last_page == element.page - 1
                    and len(prev.rows[0]) == len(element.rows[0])):
                _append_rows(prev, element)
            else:
                stream.append(element)
    return stream


def _append_rows(table: _Table, more: _Table) -> None:
    repeated = _repeated_header(table.rows, more.rows)
    rows, spans = more.rows[repeated:], more.spans[repeated:]
    if _is_split_row(table.rows[-1], rows[0]):
        table.rows[-1] = [
            clean(a + "\n" + b, wrapped=True) if b and origin else a
            for a, b, origin in zip(table.rows[-1], rows[0], spans[0])
        ]
        rows, spans = rows[1:], spans[1:]
    table.rows += rows
    table.spans += spans
    table.last_page = more.page


def _repeated_header(rows: list[list[str]], continued: list[list[str]]) -> int:
    """How many top rows of `continued` repeat the first rows of `rows` (a header the writer
    repeats on every page); at least one row is left."""
    count, limit = 0, min(len(continued) - 1, len(rows))
    while count < limit and continued[count] == rows[count]:
        count += 1
    return count


def _is_split_row(last: list[str], first: list[str]) -> bool:
    """A row cut in two by the page break: the continuation's first row has an empty label cell,
    does not start a new numbered item, and the number cells are filled in only one of the halves."""
    numbered = [c for c in range(len(first)) if _is_number(last[c]) or _is_number(first[c])]
    labels = [text for text in first if text and not _is_number(text)]
    return (
        first[0] == ""
        and bool(numbered)
        and not (labels and _NEW_ITEM.match(labels[0]))
        and (all(first[c] == "" for c in numbered) or all(last[c] == "" for c in numbered))
    )


def _is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text) is not None


# --------------------------------------------------------------------------- reflow

def _reflow(stream: list[_Element]) -> list[_Element]:
    """Join a line wrapped at the right margin with the line that continues it."""
    margins = _margins([e for e in stream if isinstance(e, _Line)])
    out: list[_Element] = []
    for element in stream:
        prev = out[-1] if out else None
        if isinstance(prev, _Line) and isinstance(element, _Line) and _continues(prev, element, margins):
            text = prev.text + wrap_glue(prev.text[-1], element.text[0]) + element.text
            out[-1] = replace(element, text=text, x0=prev.x0)
        else:
            out.append(element)
    return out


def _margins(lines: list[_Line]) -> dict[float, tuple[float, float]]:
    """The text column's (left, right) edges per page width: the extreme x of the text lines."""
    margins: dict[float, tuple[float, float]] = {}
    for line in lines:
        left, right = margins.get(line.width, (line.x0, line.x1))
        margins[line.width] = (min(left, line.x0), max(right, line.x1))
    return margins


def _continues(a: _Line, b: _Line, margins: dict[float, tuple[float, float]]) -> bool:
    """`a` runs to the right margin (within 10% of the column width) from the left margin (a
    paragraph indent allowed), `b` starts flush left and does not open a heading or item, and
    neither is a row of an unruled table."""
    if a.width != b.width:
        return False
    left, right = margins[a.width]
    return (
        a.x1 >= right - 0.1 * (right - left)
        and a.x0 <= left + 3 * a.size
        and b.x0 <= left + 0.8 * b.size
        and not _NEW_ITEM.match(b.text)
        and not _ROW_END.search(a.text)
        and not _ROW_END.search(b.text)
    )


# --------------------------------------------------------------------------- PDFium: characters and rules

_R: Any = None  # pypdfium2.raw, imported with the first PDF


class _PdfiumSource:
    """One PDF open in PDFium; `objects(i, page)` gives page i's characters and paths as pdfplumber objects."""

    def __init__(self, doc):
        self.doc = doc
        self._fonts: dict[int, str] = {}

    @classmethod
    def open(cls, data: bytes) -> Optional["_PdfiumSource"]:
        global _R
        try:
            import pypdfium2
            import pypdfium2.raw as raw
            _R = raw
            return cls(pypdfium2.PdfDocument(data))
        except Exception:  # not installed, or PDFium cannot open it: pdfminer reads it (and reports what is wrong)
            return None

    def close(self) -> None:
        self.doc.close()

    def objects(self, index: int, page) -> Optional[dict[str, list[dict]]]:
        """None when this page is not in the same coordinates as pdfplumber's (rotated, media box not at 0,0)."""
        if page.rotation or any(abs(v) > 1e-6 for v in page.mediabox[:2]):
            return None
        pp = self.doc[index]
        try:
            height = pp.get_height()
            if abs(height - float(page.height)) > 0.01 or any(abs(v) > 1e-6 for v in pp.get_mediabox()[:2]):
                return None
            tp = pp.get_textpage()
            try:
                chars = self._chars(tp.raw, height, page)
            finally:
                tp.close()
            objs: dict[str, list[dict]] = {"char": chars, "line": [], "rect": [], "curve": []}
            ident = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
            for i in range(_R.FPDFPage_CountObjects(pp.raw)):
                self._paths(_R.FPDFPage_GetObject(pp.raw, i), ident, height, page, objs, 0)
            return objs
        finally:
            pp.close()

    def _font(self, textobj) -> str:
        key = ctypes.cast(textobj, ctypes.c_void_p).value or 0
        name = self._fonts.get(key)
        if name is None:
            font = _R.FPDFTextObj_GetFont(textobj)
            buf = ctypes.create_string_buffer(256)
            n = _R.FPDFFont_GetBaseFontName(font, buf, 256) if font else 0
            name = buf.value.decode("utf-8", "replace") if n else ""
            self._fonts[key] = name
        return name

    def _chars(self, tp, height: float, page) -> list[dict]:
        R = _R
        out = []
        box = R.FS_RECTF()
        m = R.FS_MATRIX()
        number, doctop = page.page_number, page.initial_doctop
        for i in range(R.FPDFText_CountChars(tp)):
            if R.FPDFText_IsGenerated(tp, i):
                continue  # spaces and line breaks PDFium adds between words and lines
            code = R.FPDFText_GetUnicode(tp, i)
            if code in (0, 0xFFFE, 0xFFFF) or code in (10, 13) or 0xD800 <= code <= 0xDFFF:
                continue
            if not R.FPDFText_GetLooseCharBox(tp, i, box):
                continue
            R.FPDFText_GetMatrix(tp, i, m)
            upright = abs(m.b) < 1e-9 and abs(m.c) < 1e-9 and m.a * m.d > 0
            scale = abs(m.d) if upright else math.sqrt(abs(m.a * m.d - m.b * m.c))
            size = R.FPDFText_GetFontSize(tp, i) * scale if scale else box.top - box.bottom
            # pdfminer's box: from the font's descent up by the font size (PDFium's loose box has the same
            # bottom and the same advance, but ascends by the font's ascent)
            bottom = height - box.bottom
            top = bottom - size
            x0, x1 = box.left, box.right
            out.append({
                "object_type": "char", "page_number": number, "text": chr(code),
                "fontname": self._font(R.FPDFText_GetTextObject(tp, i)), "size": size, "upright": upright,
                "x0": x0, "x1": x1, "y0": box.bottom, "y1": box.bottom + size, "width": x1 - x0, "height": size,
                "top": top, "bottom": bottom, "doctop": doctop + top,
            })
        return out

    def _paths(self, obj, ctm, height: float, page, objs: dict, depth: int) -> None:
        R = _R
        kind = R.FPDFPageObj_GetType(obj)
        if kind not in (R.FPDF_PAGEOBJ_PATH, R.FPDF_PAGEOBJ_FORM) or depth > 8:
            return
        m = R.FS_MATRIX()
        R.FPDFPageObj_GetMatrix(obj, m)
        a, b, c, d, e, f = ctm
        # this object's matrix, then the enclosing forms' (row vectors: p' = p * M_obj * M_ctm)
        mat = (m.a * a + m.b * c, m.a * b + m.b * d, m.c * a + m.d * c, m.c * b + m.d * d,
               m.e * a + m.f * c + e, m.e * b + m.f * d + f)
        if kind == R.FPDF_PAGEOBJ_FORM:
            for i in range(R.FPDFFormObj_CountObjects(obj)):
                self._paths(R.FPDFFormObj_GetObject(obj, i), mat, height, page, objs, depth + 1)
            return
        fillmode, stroke = ctypes.c_int(), ctypes.c_int()
        if R.FPDFPath_GetDrawMode(obj, fillmode, stroke) and not fillmode.value and not stroke.value:
            return  # not painted (pdfminer sees only painted paths)
        x, y = ctypes.c_float(), ctypes.c_float()
        ops: list[tuple[str, tuple[float, float]]] = []  # pdfminer's view: one point per operator
        start: Optional[tuple[float, float]] = None
        bezier = 0
        for i in range(R.FPDFPath_CountSegments(obj)):
            seg = R.FPDFPath_GetPathSegment(obj, i)
            R.FPDFPathSegment_GetPoint(seg, x, y)
            pt = (mat[0] * x.value + mat[2] * y.value + mat[4], mat[1] * x.value + mat[3] * y.value + mat[5])
            t = R.FPDFPathSegment_GetType(seg)
            if t == R.FPDF_SEGMENT_MOVETO:
                ops.append(("m", pt))
                start, bezier = pt, 0
            elif t == R.FPDF_SEGMENT_BEZIERTO:
                bezier += 1  # PDFium gives a curve as its two control points and its end point
                if bezier % 3 == 0:
                    ops.append(("c", pt))
            else:
                ops.append(("l", pt))
            if R.FPDFPathSegment_GetClose(seg) and start is not None and (t != R.FPDF_SEGMENT_BEZIERTO or bezier % 3 == 0):
                ops.append(("h", start))
        for sub in re.finditer(r"m[^m]+", "".join(op for op, _ in ops)):
            _paint(ops[sub.start():sub.end()], height, page, objs)


def _paint(ops: list[tuple[str, tuple[float, float]]], height: float, page, objs: dict) -> None:
    """One subpath as pdfminer's converter classifies it (pdfminer.converter.PDFLayoutAnalyzer.paint_path): a
    single segment is a line, a closed axis-aligned four-sided box a rect, anything else a curve through its
    points; pdfplumber makes table edges of each."""
    shape = "".join(op for op, _ in ops)
    pts = [pt for _, pt in ops]
    if len(shape) > 3 and shape[-2:] == "lh" and pts[-2] == pts[0]:
        shape = shape[:-2] + "h"
        pts.pop()
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    obj = {"x0": x0, "x1": x1, "y0": y0, "y1": y1, "width": x1 - x0, "height": y1 - y0,
           "top": height - y1, "bottom": height - y0, "doctop": page.initial_doctop + height - y1,
           "page_number": page.page_number}
    if shape in ("mlh", "ml"):
        objs["line"].append({**obj, "object_type": "line", "pts": [(px, height - py) for px, py in pts[:2]]})
        return
    if shape in ("mlllh", "mllll"):
        (ax, ay), (bx, by), (cx, cy), (dx, dy), _ = pts
        if pts[0] == pts[4] and ((ax == bx and by == cy and cx == dx and dy == ay)
                                 or (ay == by and bx == cx and cy == dy and dx == ax)):
            objs["rect"].append({**obj, "object_type": "rect"})
            return
    objs["curve"].append({**obj, "object_type": "curve", "pts": [(px, height - py) for px, py in pts]})


def _with_objects(page, fast: Optional[_PdfiumSource], index: int):
    """The pdfplumber page with PDFium's objects in place of pdfminer's where PDFium can place them."""
    if fast is not None:
        objs = fast.objects(index, page)
        if objs is not None:
            page._objects = objs
    return page
