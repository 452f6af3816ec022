"""Split text lines into cell tokens, whatever the layout: tab-separated rows, one cell per line,
" |" after each cell, markdown pipe tables, or grid rows rendered by the ingesters."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from review.extract.layouts import view
from review.models import Document
from review.text import Num, is_na, norm, parse_number

_PIPE_ONLY = re.compile(r"^[\s|:\-]*$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_PLACEHOLDER_CHARS = set("■□�?？*＊●○#")
# A short label cell with a number written after it: OCR joined two cells ("行政事业性收费 0").
_LABEL_NUM = re.compile(r"^(?P<label>\S.*?[\u4e00-\u9fff）)])\s+(?P<num>[+-]?[\d.,]+(?:\s*(?:万元|元|件))?)$")


@dataclass(slots=True)
class Tok:
    text: str  # the cell as written, stripped
    n: str  # normalised (NFKC, no whitespace)
    line: int  # 1-based line number
    col: Optional[int]  # position in a multi-cell line, None for a line holding one cell
    grid: bool  # from a real table (HTML, DOCX, PDF): positions are certain
    num: Optional[Num]
    kind: str  # num | na | blank | text

    @property
    def is_value(self) -> bool:
        return self.kind in ("num", "na")

    def placeholder(self) -> bool:
        """A short garbled cell where a number should be (OCR noise, an unreadable glyph)."""
        if self.kind != "text" or len(self.n) > 3:
            return False
        return not _CJK.search(self.n) or any(c in _PLACEHOLDER_CHARS for c in self.n)

    def label_like(self) -> bool:
        return self.kind == "text" and len(self.n) <= 80 and "。" not in self.n


_LONG = 120  # a cell longer than this is prose: never a number, never a row label


def _kind(text: str) -> tuple[str, Optional[Num]]:
    if not text:
        return "blank", None
    if len(text) > _LONG:
        return "text", None
    num = parse_number(text)
    if num is not None:
        return "num", num
    if is_na(text):
        return "na", None
    return "text", None


def _cells(line: str) -> list[str]:
    if "\t" in line:
        return line.split("\t")
    s = line.strip()
    if "|" in s and (s.startswith("|") or s.endswith("|")):
        if _PIPE_ONLY.match(s):
            return []
        if s.startswith("|"):
            s = s[1:]
        if s.endswith("|"):
            s = s[:-1]
        return s.split("|")
    return [line]


def _split_joined(text: str) -> list[str]:
    """'行政事业性收费 0' -> ['行政事业性收费', '0']; '0 0 0' -> ['0', '0', '0']; else [text]."""
    if " " not in text.strip() or len(text) > 40:
        return [text]
    parts = text.split()
    if len(parts) > 1 and all(parse_number(p) is not None for p in parts):
        return parts
    m = _LABEL_NUM.match(text.strip())
    if m and parse_number(m.group("num")) is not None:
        return [m.group("label"), m.group("num")]
    return [text]


@lru_cache(maxsize=4096)  # cells repeat across reports: the template's labels, small numbers, "/"
def _pieces(raw: str, grid: bool) -> tuple[tuple[str, str, str, Optional[Num]], ...]:
    """A stripped cell as (text, normalised, kind, number) pieces: a real table's cell is one piece; a text
    cell may be two joined ones (_split_joined)."""
    out = []
    for piece in ((raw,) if grid else _split_joined(raw)):
        kind, num = _kind(piece)
        out.append((piece, norm(piece) if len(piece) <= _LONG else piece, kind, num))  # prose: matched against nothing
    return tuple(out)


def tokenize(doc: Document) -> list[Tok]:
    grid_lines = set(doc.grid_lines)
    toks: list[Tok] = []
    append = toks.append
    for i, line in view(doc):  # the document's lines, text layouts normalised (review/extract/layouts.py)
        if not line.strip():
            continue
        cells = _cells(line)
        multi = len(cells) > 1
        grid = i in grid_lines
        for c, raw in enumerate(cells):
            raw = raw.strip()
            if len(raw) > _LONG:  # prose: one text token
                append(Tok(raw, raw, i, c if multi else None, grid, None, "text"))
                continue
            col = c if multi else None
            for piece, n, kind, num in _pieces(raw, grid):
                if kind == "blank" and not multi:
                    continue
                append(Tok(piece, n, i, col, grid, num, kind))
    return toks
